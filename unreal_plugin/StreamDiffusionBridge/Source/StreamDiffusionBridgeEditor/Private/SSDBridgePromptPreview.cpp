// Not compiled here (Unreal Engine is not available on the build machines). Written against the
// documented Slate widgets (SVerticalBox, SHorizontalBox, SEditableTextBox, SMultiLineEditableTextBox,
// SButton, SCheckBox, STextBlock, SImage, SScaleBox), PropertyEditor's SObjectPropertyEntryBox and
// FPlatformProcess::LaunchURL; the style row uses GEditor->GetEditorWorldContext().World() as the world of the
// style read's render target (FSDBridgeStreamer::SetStyleFromTexture).
#include "SSDBridgePromptPreview.h"

#include "AssetRegistry/AssetData.h"
#include "Editor.h"
#include "Engine/Texture2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "Engine/World.h"  // complete UWorld for UWorld* -> UObject* (OnSetStyleClicked); Editor.h does not include it
#include "HAL/PlatformProcess.h"
#include "PropertyCustomizationHelpers.h"
#include "StreamDiffusionBridgeSettings.h"
#include "Widgets/Images/SImage.h"
#include "Widgets/Input/SButton.h"
#include "Widgets/Input/SCheckBox.h"
#include "Widgets/Input/SEditableTextBox.h"
#include "Widgets/Input/SMultiLineEditableTextBox.h"
#include "Widgets/Layout/SBox.h"
#include "Widgets/Layout/SScaleBox.h"
#include "Widgets/SBoxPanel.h"
#include "Widgets/Text/STextBlock.h"

#define LOCTEXT_NAMESPACE "SSDBridgePromptPreview"

void SSDBridgePromptPreview::Construct(const FArguments& InArgs)
{
	const USDBridgeSettings* Settings = USDBridgeSettings::Get();
	Endpoint = Settings->Endpoint;
	Prompt = Settings->DefaultPrompt;
	NegativePrompt = Settings->DefaultNegativePrompt;
	Status = TEXT("Not connected. Pick a render target, then Connect.");
	OutputBrush.DrawAs = ESlateBrushDrawType::Image;

	ChildSlot
	[
		SNew(SVerticalBox)
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().AutoWidth().VAlign(VAlign_Center).Padding(0, 0, 6, 0)
			[
				SNew(STextBlock).Text(LOCTEXT("Endpoint", "Server"))
			]
			+ SHorizontalBox::Slot().FillWidth(1.0f)
			[
				SNew(SEditableTextBox)
				.Text_Lambda([this]() { return FText::FromString(Endpoint); })
				.OnTextCommitted_Lambda([this](const FText& Text, ETextCommit::Type) { Endpoint = Text.ToString(); })
			]
			+ SHorizontalBox::Slot().AutoWidth().Padding(6, 0, 0, 0)
			[
				SNew(SButton)
				.Text_Raw(this, &SSDBridgePromptPreview::GetConnectLabel)
				.OnClicked_Raw(this, &SSDBridgePromptPreview::OnConnectClicked)
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().AutoWidth().VAlign(VAlign_Center).Padding(0, 0, 6, 0)
			[
				SNew(STextBlock).Text(LOCTEXT("Source", "Render target"))
			]
			+ SHorizontalBox::Slot().FillWidth(1.0f)
			[
				SNew(SObjectPropertyEntryBox)
				.AllowedClass(UTextureRenderTarget2D::StaticClass())
				.ObjectPath_Raw(this, &SSDBridgePromptPreview::GetSourcePath)
				.OnObjectChanged_Raw(this, &SSDBridgePromptPreview::OnSourceChanged)
				.AllowClear(true)
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SMultiLineEditableTextBox)
			.HintText(LOCTEXT("PromptHint", "Prompt, e.g. a watercolor castle at dusk"))
			.Text_Lambda([this]() { return FText::FromString(Prompt); })
			.OnTextChanged_Lambda([this](const FText& Text) { Prompt = Text.ToString(); })
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(1.0f)
			[
				SNew(SEditableTextBox)
				.HintText(LOCTEXT("NegativeHint", "Negative prompt"))
				.Text_Lambda([this]() { return FText::FromString(NegativePrompt); })
				.OnTextChanged_Lambda([this](const FText& Text) { NegativePrompt = Text.ToString(); })
			]
			+ SHorizontalBox::Slot().AutoWidth().Padding(6, 0, 0, 0)
			[
				SNew(SButton)
				.Text(LOCTEXT("SendPrompt", "Send prompt"))
				.OnClicked_Raw(this, &SSDBridgePromptPreview::OnSendPromptClicked)
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SCheckBox)
			.IsChecked_Lambda([this]() { return bTxt2img ? ECheckBoxState::Checked : ECheckBoxState::Unchecked; })
			.OnCheckStateChanged_Raw(this, &SSDBridgePromptPreview::OnTxt2imgChanged)
			.ToolTipText(LOCTEXT("Txt2imgTip", "The server generates frames from the prompt alone (no render target "
			                                   "needed); needs a protocol 1.2 server"))
			[
				SNew(STextBlock).Text(LOCTEXT("Txt2img", "Generate from prompt (txt2img)"))
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().AutoWidth().VAlign(VAlign_Center).Padding(0, 0, 6, 0)
			[
				SNew(STextBlock).Text(LOCTEXT("Style", "Style image"))
			]
			+ SHorizontalBox::Slot().FillWidth(1.0f)
			[
				SNew(SObjectPropertyEntryBox)
				.AllowedClass(UTexture2D::StaticClass())
				.ObjectPath_Lambda([this]() { return StyleTexture != nullptr ? StyleTexture->GetPathName() : FString(); })
				.OnObjectChanged_Lambda([this](const FAssetData& Asset) { StyleTexture = Cast<UTexture2D>(Asset.GetAsset()); })
				.AllowClear(true)
			]
			+ SHorizontalBox::Slot().AutoWidth().Padding(6, 0, 0, 0)
			[
				SNew(SEditableTextBox)
				.MinDesiredWidth(80.0f)
				.ToolTipText(LOCTEXT("StyleNameTip", "The style's name (Params.style_blend refers to it); weight 1"))
				.Text_Lambda([this]() { return FText::FromName(StyleName); })
				.OnTextCommitted_Lambda([this](const FText& Text, ETextCommit::Type) { StyleName = FName(*Text.ToString()); })
			]
			+ SHorizontalBox::Slot().AutoWidth().Padding(6, 0, 0, 0)
			[
				SNew(SButton)
				.Text(LOCTEXT("SetStyle", "Set style"))
				.ToolTipText(LOCTEXT("SetStyleTip", "Send the texture as a style image (servers with an IP-Adapter)"))
				.IsEnabled_Lambda([this]() { return Streamer.IsValid() && StyleTexture != nullptr; })
				.OnClicked_Raw(this, &SSDBridgePromptPreview::OnSetStyleClicked)
			]
		]
		+ SVerticalBox::Slot().AutoHeight().Padding(4)
		[
			SNew(SHorizontalBox)
			+ SHorizontalBox::Slot().FillWidth(1.0f).VAlign(VAlign_Center)
			[
				SNew(STextBlock).Text_Raw(this, &SSDBridgePromptPreview::GetStatusText).AutoWrapText(true)
			]
			+ SHorizontalBox::Slot().AutoWidth().Padding(6, 0, 0, 0)
			[
				SNew(SButton)
				.Text(LOCTEXT("OpenInBrowser", "Open in browser"))
				.ToolTipText_Lambda([this]()
				{
					return PreviewAddress.IsEmpty()
						? LOCTEXT("NoPreview", "Start the server with --preview-port 8765 to get a preview page for this session")
						: FText::FromString(PreviewAddress);
				})
				.IsEnabled_Lambda([this]() { return !PreviewAddress.IsEmpty(); })
				.OnClicked_Raw(this, &SSDBridgePromptPreview::OnOpenInBrowserClicked)
			]
		]
		+ SVerticalBox::Slot().FillHeight(1.0f).Padding(4)
		[
			SNew(SScaleBox).Stretch(EStretch::ScaleToFit)
			[
				SNew(SImage).Image(&OutputBrush)
			]
		]
	];
}

SSDBridgePromptPreview::~SSDBridgePromptPreview()
{
	if (Streamer)
	{
		Streamer->Stop();
	}
}

void SSDBridgePromptPreview::Tick(const FGeometry& AllottedGeometry, const double InCurrentTime, const float InDeltaTime)
{
	SCompoundWidget::Tick(AllottedGeometry, InCurrentTime, InDeltaTime);
	if (!Streamer)
	{
		return;
	}
	if (!bTxt2img && Source != nullptr && Streamer->GetState() == ESDBridgeConnectionState::Connected)
	{
		Streamer->CaptureFrom(Source);
	}
	bool bRecreated = false;
	if (Streamer->UpdateOutputTexture(OutputTexture, LastInfo, bRecreated))
	{
		if (bRecreated)
		{
			OutputBrush.SetResourceObject(OutputTexture);
			OutputBrush.SetImageSize(FVector2D(OutputTexture->GetSizeX(), OutputTexture->GetSizeY()));  // SlateBrush.h 5.3-5.5
		}
		Status = FString::Printf(TEXT("Connected. Frame %lld%s: inference %.1f ms, round trip %.1f ms"), LastInfo.FrameId,
			LastInfo.bIsWarmup ? TEXT(" (warm-up)") : TEXT(""), LastInfo.InferenceMs, LastInfo.RoundTripMs);
	}
	FString StyleError;
	if (!Streamer->TickStyleImages(StyleError))
	{
		Status = StyleError;  // a failed read, or a server without style images
	}
	FSDBridgeEvent Event;
	while (Streamer->PollEvent(Event))
	{
		if (Event.Kind == ESDBridgeEventKind::Connected)
		{
			PreviewAddress.Empty();  // a new session gets its own page address
		}
		if (!Event.PreviewAddress.IsEmpty())
		{
			PreviewAddress = Event.PreviewAddress;
			continue;
		}
		if (Event.bPromptFromPreview)
		{
			Prompt = Event.NewPrompt;  // changed in the browser: keep this panel in sync
			NegativePrompt = Event.NewNegativePrompt;
		}
		if (Event.Kind != ESDBridgeEventKind::Stats)
		{
			Status = Event.Message;
		}
	}
}

void SSDBridgePromptPreview::AddReferencedObjects(FReferenceCollector& Collector)
{
	Collector.AddReferencedObject(OutputTexture);
	Collector.AddReferencedObject(Source);
	Collector.AddReferencedObject(StyleTexture);
}

FReply SSDBridgePromptPreview::OnSetStyleClicked()
{
	FString Error;
	UWorld* World = GEditor != nullptr ? GEditor->GetEditorWorldContext().World() : nullptr;
	if (!Streamer)
	{
		Status = TEXT("Connect first.");
	}
	else if (!Streamer->SetStyleFromTexture(World, StyleName, StyleTexture, 1.0f, Error))
	{
		Status = Error;
	}
	else
	{
		Status = FString::Printf(TEXT("Style '%s' is being read and sent (weight 1)."), *StyleName.ToString());
	}
	return FReply::Handled();
}

FReply SSDBridgePromptPreview::OnConnectClicked()
{
	if (Streamer)
	{
		Streamer->Stop();
		Streamer.Reset();
		Status = TEXT("Disconnected.");
		PreviewAddress.Empty();
		return FReply::Handled();
	}
	FSDBridgeStreamerOptions Options = FSDBridgeStreamerOptions::FromSettings();
	Options.Endpoint = Endpoint;
	Options.ClientName = TEXT("StreamDiffusionBridge-Unreal/EditorPreview");
	Streamer = MakeUnique<FSDBridgeStreamer>(Options);
	FString Error;
	if (!Streamer->Start(Error))
	{
		Streamer.Reset();
		Status = Error;
		return FReply::Handled();
	}
	Status = FString::Printf(TEXT("Connecting to %s ..."), *Endpoint);
	if (!Prompt.IsEmpty())
	{
		Streamer->SetPrompt(Prompt, NegativePrompt, 0, Error);
	}
	if (bTxt2img)
	{
		SendTxt2img();
	}
	return FReply::Handled();
}

void SSDBridgePromptPreview::OnTxt2imgChanged(ECheckBoxState State)
{
	bTxt2img = State == ECheckBoxState::Checked;
	if (Streamer)
	{
		SendTxt2img();  // off: captures of the render target go out again
	}
}

void SSDBridgePromptPreview::SendTxt2img()
{
	FSDBridgeParams Params;
	Params.bSetTxt2img = true;
	Params.bTxt2img = bTxt2img;
	FString Error;
	if (!Streamer->SetParams(Params, Error))
	{
		Status = Error;
	}
}

FReply SSDBridgePromptPreview::OnSendPromptClicked()
{
	FString Error;
	if (!Streamer)
	{
		Status = TEXT("Connect first.");
	}
	else if (!Streamer->SetPrompt(Prompt, NegativePrompt, 0, Error))
	{
		Status = Error;
	}
	return FReply::Handled();
}

FReply SSDBridgePromptPreview::OnOpenInBrowserClicked()
{
	if (!PreviewAddress.IsEmpty())
	{
		FString Error;
		FPlatformProcess::LaunchURL(*PreviewAddress, nullptr, &Error);
		if (!Error.IsEmpty())
		{
			Status = FString::Printf(TEXT("Could not open %s: %s"), *PreviewAddress, *Error);
		}
	}
	return FReply::Handled();
}

FText SSDBridgePromptPreview::GetStatusText() const
{
	return FText::FromString(Status);
}

FText SSDBridgePromptPreview::GetConnectLabel() const
{
	return Streamer ? LOCTEXT("Disconnect", "Disconnect") : LOCTEXT("Connect", "Connect");
}

FString SSDBridgePromptPreview::GetSourcePath() const
{
	return Source != nullptr ? Source->GetPathName() : FString();
}

void SSDBridgePromptPreview::OnSourceChanged(const FAssetData& Asset)
{
	Source = Cast<UTextureRenderTarget2D>(Asset.GetAsset());
}

#undef LOCTEXT_NAMESPACE
