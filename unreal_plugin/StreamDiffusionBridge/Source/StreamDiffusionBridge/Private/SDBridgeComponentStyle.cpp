// USDBridgeComponent's style images (protocol 1.4, servers with an IP-Adapter): SetStyleFromTexture, SetStyleBlend,
// SetStyleSelection. FSDBridgeStyleImages reads the texture (editor source mip, or canvas draw + GPU readback: the
// path packaged builds use) and keeps the style_blend selection; this file sends through the core client
// (Client::SendStyleImage, then SetParams with the whole selection, so the image arrives before the weight naming it;
// the client replays both after a reconnect).
// Not compiled here (Unreal Engine is not available on the build machines): written against Epic's documented UE
// 5.3-5.5 APIs and the core's client.h.
#include "SDBridgeComponent.h"

#include "SDBridgeConversions.h"
#include "SDBridgeStreamer.h"
#include "SDBridgeStyleImages.h"

FSDBridgeStyleImages& USDBridgeComponent::GetStyleImages()
{
	if (!StyleImages)
	{
		StyleImages = MakeUnique<FSDBridgeStyleImages>();
	}
	return *StyleImages;
}

bool USDBridgeComponent::SetStyleFromTexture(FName Name, UTexture2D* Texture, float Weight)
{
	if (!Streamer)
	{
		ReportError(FString::Printf(TEXT("SetStyleFromTexture: not connected; call Connect first (style '%s')"), *Name.ToString()));
		return false;
	}
	FString Error;
	if (!GetStyleImages().Read(this, Name, Texture, Weight, Error))
	{
		ReportError(Error);
		return false;
	}
	return true;  // sent by TickStyleImages once the pixels are read
}

bool USDBridgeComponent::SetStyleBlend(FName Name, float Weight)
{
	const FString Error = FSDBridgeStyleImages::CheckWeight(Name, Weight);
	if (!Error.IsEmpty())
	{
		ReportError(TEXT("SetStyleBlend: ") + Error);
		return false;
	}
	GetStyleImages().SetWeight(Name, Weight);
	return SendStyleBlend();
}

bool USDBridgeComponent::SetStyleSelection(const TMap<FName, float>& Weights)
{
	for (const TPair<FName, float>& Pair : Weights)
	{
		const FString Error = FSDBridgeStyleImages::CheckWeight(Pair.Key, Pair.Value);
		if (!Error.IsEmpty())
		{
			ReportError(TEXT("SetStyleSelection: ") + Error);
			return false;
		}
	}
	GetStyleImages().SetSelection(Weights);
	return SendStyleBlend();
}

void USDBridgeComponent::TickStyleImages()
{
	if (StyleImages)
	{
		StyleImages->Tick([this](const FSDBridgeStylePixels& Pixels) { SendStyleImage(Pixels); });
	}
}

void USDBridgeComponent::SendStyleImage(const FSDBridgeStylePixels& Pixels)
{
	if (!Pixels.Error.IsEmpty())
	{
		ReportError(TEXT("SetStyleFromTexture: ") + Pixels.Error);
		return;
	}
	const std::shared_ptr<sdbridge::Client> Client = Streamer ? Streamer->GetClient() : nullptr;
	if (!Client)
	{
		ReportError(FString::Printf(TEXT("SetStyleFromTexture: disconnected before style '%s' was read; it was not sent"),
			*Pixels.Name.ToString()));
		return;
	}
	const sdbridge::Status Sent = Client->SendStyleImage(SDBridge::ToUtf8(Pixels.Name.ToString()), Pixels.Pixels.GetData(),
		static_cast<size_t>(Pixels.Pixels.Num()), static_cast<uint32_t>(Pixels.Width), static_cast<uint32_t>(Pixels.Height),
		static_cast<uint32_t>(Pixels.Stride), Pixels.Format, sdbridge::RowOrder::kTopDown);
	if (!Sent.ok())
	{
		ReportError(TEXT("SetStyleFromTexture: ") + SDBridge::FromUtf8(Sent.message()));  // e.g. no IP-Adapter on the server
		return;
	}
	GetStyleImages().SetWeight(Pixels.Name, Pixels.Weight);
	SendStyleBlend();
}

bool USDBridgeComponent::SendStyleBlend()
{
	const std::shared_ptr<sdbridge::Client> Client = Streamer ? Streamer->GetClient() : nullptr;
	if (!Client)
	{
		ReportError(TEXT("SetStyleBlend: not connected; call Connect first"));
		return false;
	}
	sdbridge::Params Params;
	Params.style_blend = GetStyleImages().GetWeights();
	const sdbridge::Status Sent = Client->SetParams(Params);
	if (!Sent.ok())
	{
		ReportError(TEXT("SetStyleBlend: ") + SDBridge::FromUtf8(Sent.message()));
	}
	return Sent.ok();
}
