// USDBridgeComponent's style images (protocol 1.4, servers with an IP-Adapter): SetStyleFromTexture, SetStyleBlend,
// SetStyleSelection, thin Blueprint wrappers over FSDBridgeStreamer's style API (Private/SDBridgeStreamerStyle.cpp),
// which the editor's prompt preview panel uses too, and the serialized StyleTextures list sent on Connect through
// SetStyleFromTexture (each entry's weight joins the starting style_blend once its image is sent). Errors go to
// OnError / Status.LastError like every other call.
// Not compiled here (Unreal Engine is not available on the build machines): written against Epic's documented UE
// 5.3-5.5 APIs.
#include "SDBridgeComponent.h"

#include "Engine/Texture2D.h"  // complete for FSDBridgeStyleTexture::Texture (TObjectPtr -> UTexture2D*)
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

void USDBridgeComponent::SendStyleTextures()
{
	for (int32 Index = 0; Index < StyleTextures.Num(); ++Index)
	{
		const FSDBridgeStyleTexture& Entry = StyleTextures[Index];
		if (Entry.Name.IsNone() || Entry.Texture == nullptr)
		{
			ReportError(FString::Printf(TEXT("StyleTextures[%d]: %s is not set; give the entry a name and a UTexture2D, or ")
				TEXT("remove it (the entry was not sent)"), Index, Entry.Name.IsNone() ? TEXT("Name") : TEXT("Texture")));
			continue;
		}
		SetStyleFromTexture(Entry.Name, Entry.Texture, Entry.Weight);  // a bad weight is reported there, naming the range
	}
}

void USDBridgeComponent::TickStyleImages()
{
	FString Error;
	if (Streamer && !Streamer->TickStyleImages(Error))
	{
		ReportError(Error);
	}
}
