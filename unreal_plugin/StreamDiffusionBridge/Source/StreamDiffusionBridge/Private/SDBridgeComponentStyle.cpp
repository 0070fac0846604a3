// USDBridgeComponent's style images (protocol 1.4, servers with an IP-Adapter): SetStyleFromTexture, SetStyleBlend,
// SetStyleSelection, thin Blueprint wrappers over FSDBridgeStreamer's style API (Private/SDBridgeStreamerStyle.cpp),
// which the editor's prompt preview panel uses too. Errors go to OnError / Status.LastError like every other call.
// Not compiled here (Unreal Engine is not available on the build machines): written against Epic's documented UE
// 5.3-5.5 APIs.
#include "SDBridgeComponent.h"

#include "SDBridgeStreamer.h"

bool USDBridgeComponent::SetStyleFromTexture(FName Name, UTexture2D* Texture, float Weight)
{
	FString Error = TEXT("SetStyleFromTexture: not connected; call Connect first");
	if (Streamer && Streamer->SetStyleFromTexture(this, Name, Texture, Weight, Error))
	{
		return true;  // sent by TickStyleImages once the pixels are read
	}
	ReportError(Error);
	return false;
}

bool USDBridgeComponent::SetStyleBlend(FName Name, float Weight)
{
	FString Error = TEXT("SetStyleBlend: not connected; call Connect first");
	if (Streamer && Streamer->SetStyleBlend(Name, Weight, Error))
	{
		return true;
	}
	ReportError(Error);
	return false;
}

bool USDBridgeComponent::SetStyleSelection(const TMap<FName, float>& Weights)
{
	FString Error = TEXT("SetStyleSelection: not connected; call Connect first");
	if (Streamer && Streamer->SetStyleSelection(Weights, Error))
	{
		return true;
	}
	ReportError(Error);
	return false;
}

void USDBridgeComponent::TickStyleImages()
{
	FString Error;
	if (Streamer && !Streamer->TickStyleImages(Error))
	{
		ReportError(Error);
	}
}
