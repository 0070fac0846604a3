// FSDBridgeStreamer's style images (protocol 1.4, servers with an IP-Adapter): FSDBridgeStyleImages reads the
// texture and keeps the style_blend selection; this file sends through the core client: Client::SendStyleImage, then
// SetParams with the whole selection (a style_blend replaces the session's), so the image arrives before the weight
// naming it. The client replays both after a reconnect. Used by USDBridgeComponent and the editor's preview panel.
// Not compiled here (Unreal Engine is not available on the build machines): written against Epic's documented UE
// 5.3-5.5 APIs and the core's client.h.
#include "SDBridgeStreamer.h"

#include "SDBridgeConversions.h"
#include "SDBridgeStyleImages.h"

FSDBridgeStyleImages& FSDBridgeStreamer::GetStyleImages()
{
	if (!StyleImages)
	{
		StyleImages = MakeUnique<FSDBridgeStyleImages>();
	}
	return *StyleImages;
}

bool FSDBridgeStreamer::SetStyleFromTexture(UObject* WorldContext, FName Name, UTexture2D* Texture, float Weight, FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SetStyleFromTexture: not started");
		return false;
	}
	if (!GetStyleImages().Read(WorldContext, Name, Texture, Weight, OutError))
	{
		OutError = TEXT("SetStyleFromTexture: ") + OutError;
		return false;
	}
	return true;
}

bool FSDBridgeStreamer::SetStyleBlend(FName Name, float Weight, FString& OutError)
{
	const FString Problem = FSDBridgeStyleImages::CheckWeight(Name, Weight);
	if (!Problem.IsEmpty())
	{
		OutError = TEXT("SetStyleBlend: ") + Problem;
		return false;
	}
	GetStyleImages().SetWeight(Name, Weight);
	return SendStyleBlend(OutError);
}

bool FSDBridgeStreamer::SetStyleSelection(const TMap<FName, float>& Weights, FString& OutError)
{
	for (const TPair<FName, float>& Pair : Weights)
	{
		const FString Problem = FSDBridgeStyleImages::CheckWeight(Pair.Key, Pair.Value);
		if (!Problem.IsEmpty())
		{
			OutError = TEXT("SetStyleSelection: ") + Problem;
			return false;
		}
	}
	GetStyleImages().SetSelection(Weights);
	return SendStyleBlend(OutError);
}

bool FSDBridgeStreamer::TickStyleImages(FString& OutError)
{
	if (!StyleImages)
	{
		return true;
	}
	bool bAllSent = true;
	StyleImages->Tick([this, &bAllSent, &OutError](const FSDBridgeStylePixels& Pixels)
		{
			FString Error;
			if (!SendStyle(Pixels, Error))
			{
				bAllSent = false;
				OutError = Error;  // the last failure of this tick (each is also logged by the caller)
			}
		});
	return bAllSent;
}

bool FSDBridgeStreamer::SendStyle(const FSDBridgeStylePixels& Pixels, FString& OutError)
{
	if (!Pixels.Error.IsEmpty())
	{
		OutError = TEXT("SetStyleFromTexture: ") + Pixels.Error;
		return false;
	}
	if (!Client)
	{
		OutError = FString::Printf(TEXT("SetStyleFromTexture: stopped before style '%s' was read; it was not sent"),
			*Pixels.Name.ToString());
		return false;
	}
	const sdbridge::Status Sent = Client->SendStyleImage(SDBridge::ToUtf8(Pixels.Name.ToString()), Pixels.Pixels.GetData(),
		static_cast<size_t>(Pixels.Pixels.Num()), static_cast<uint32_t>(Pixels.Width), static_cast<uint32_t>(Pixels.Height),
		static_cast<uint32_t>(Pixels.Stride), Pixels.Format, sdbridge::RowOrder::kTopDown);
	if (!Sent.ok())
	{
		OutError = TEXT("SetStyleFromTexture: ") + SDBridge::FromUtf8(Sent.message());  // e.g. no IP-Adapter on the server
		return false;
	}
	GetStyleImages().SetWeight(Pixels.Name, Pixels.Weight);
	return SendStyleBlend(OutError);
}

bool FSDBridgeStreamer::SendStyleBlend(FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SetStyleBlend: not started");
		return false;
	}
	sdbridge::Params Params;
	Params.style_blend = GetStyleImages().GetWeights();
	const sdbridge::Status Sent = Client->SetParams(Params);
	if (!Sent.ok())
	{
		OutError = TEXT("SetStyleBlend: ") + SDBridge::FromUtf8(Sent.message());
	}
	return Sent.ok();
}
