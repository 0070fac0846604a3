// The prompt preview panel: pick a render target (e.g. the one a SceneCapture2D in the level writes),
// type a prompt, and watch the server's stylized output update live in the editor. Uses the same
// FSDBridgeStreamer as the runtime component, so preview and play run identical code and parameters.
// "Open in browser" opens the server's preview page (sdbridge serve --preview-port) on this panel's own
// session, so the browser and the panel show the same stream; a prompt changed in the page updates the
// prompt box here (both arrive as Notices, see core/include/sdbridge/preview.h).
// "Generate from prompt (txt2img)" (protocol 1.2 servers) stops capturing the render target: the server generates
// frames from the prompt alone, one per credit (Params.txt2img), so a prompt can be previewed without a scene.
// "Style image" (protocol 1.4 servers with an IP-Adapter): pick a UTexture2D, name it and "Set style" sends it as a
// style image with weight 1 (FSDBridgeStreamer::SetStyleFromTexture; the pixels go out from Tick once read).
// Not compiled here (written against the documented Slate / PropertyEditor APIs of UE 5.3-5.5).
#pragma once

#include "CoreMinimal.h"
#include "SDBridgeStreamer.h"
#include "Styling/SlateBrush.h"
#include "Styling/SlateTypes.h"
#include "UObject/GCObject.h"
#include "Widgets/SCompoundWidget.h"

class UTexture2D;
class UTextureRenderTarget2D;
struct FAssetData;  // OnSourceChanged's parameter (AssetRegistry/AssetData.h, CoreUObject; included by the .cpp)

class SSDBridgePromptPreview : public SCompoundWidget, public FGCObject
{
public:
	SLATE_BEGIN_ARGS(SSDBridgePromptPreview) {}
	SLATE_END_ARGS()

	void Construct(const FArguments& InArgs);
	virtual ~SSDBridgePromptPreview() override;

	// SWidget
	virtual void Tick(const FGeometry& AllottedGeometry, const double InCurrentTime, const float InDeltaTime) override;

	// FGCObject
	virtual void AddReferencedObjects(FReferenceCollector& Collector) override;
	virtual FString GetReferencerName() const override { return TEXT("SSDBridgePromptPreview"); }

private:
	FReply OnConnectClicked();
	FReply OnSendPromptClicked();
	FReply OnOpenInBrowserClicked();
	FReply OnSetStyleClicked();
	FText GetStatusText() const;
	FText GetConnectLabel() const;
	FString GetSourcePath() const;
	void OnSourceChanged(const FAssetData& Asset);
	void OnTxt2imgChanged(ECheckBoxState State);
	void SendTxt2img();

	TUniquePtr<FSDBridgeStreamer> Streamer;
	TObjectPtr<UTexture2D> OutputTexture;
	TObjectPtr<UTextureRenderTarget2D> Source;
	TObjectPtr<UTexture2D> StyleTexture;  // the style row's texture
	FName StyleName = TEXT("style");
	FSlateBrush OutputBrush;
	FString Endpoint;
	FString Prompt;
	FString NegativePrompt;
	FString Status;
	FString PreviewAddress;  // the browser preview page of the current session; empty when the server has none
	FSDBridgeResultInfo LastInfo;
	bool bTxt2img = false;  // generated frames instead of the render target's
};
