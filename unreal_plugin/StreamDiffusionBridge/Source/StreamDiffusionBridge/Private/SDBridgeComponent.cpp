// Not compiled here (Unreal Engine is not available on the build machines). Written against the
// documented UE 5.3-5.5 APIs: USceneCaptureComponent2D (CaptureSource = SCS_FinalColorLDR, TextureTarget,
// bCaptureEveryFrame), UTextureRenderTarget2D (RenderTargetFormat = RTF_RGBA8_SRGB, InitAutoFormat),
// UMaterialInstanceDynamic::SetTextureParameterValue, UActorComponent tick/BeginPlay/EndPlay.
#include "SDBridgeComponent.h"

#include "Components/SceneCaptureComponent2D.h"
#include "Engine/Texture2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "GameFramework/Actor.h"
#include "Materials/MaterialInstanceDynamic.h"
#include "SDBridgeStreamer.h"
#include "StreamDiffusionBridgeModule.h"
#include "StreamDiffusionBridgeSettings.h"

USDBridgeComponent::USDBridgeComponent()
{
	PrimaryComponentTick.bCanEverTick = true;
	PrimaryComponentTick.TickGroup = TG_PostUpdateWork;  // after the capture was queued for this frame
	PoseBoneNames = DefaultPoseBoneNames();              // Private/SDBridgeEnginePlanes.cpp
}

// Out of line: FSDBridgeStreamer is complete here (see the header). UActorComponent's FVTableHelper constructor is
// the one UHT declares for every UCLASS (DECLARE_VTABLE_PTR_HELPER_CTOR).
USDBridgeComponent::USDBridgeComponent(FVTableHelper& Helper)
	: Super(Helper)
{
}

USDBridgeComponent::~USDBridgeComponent() = default;  // ~FSDBridgeStreamer hands the client to a background stop

void USDBridgeComponent::BeginPlay()
{
	Super::BeginPlay();
	StartCaptureAndDisplay();  // Private/Rendering/SDBridgeComponentDisplay.cpp
	StartSceneCuts();          // Private/SDBridgeEnginePlanes.cpp
	if (bAutoConnect)
	{
		Connect();
	}
}

void USDBridgeComponent::EndPlay(const EEndPlayReason::Type Reason)
{
	Disconnect();
	StopSceneCuts();
	StopCaptureAndDisplay();
	Super::EndPlay(Reason);
}

bool USDBridgeComponent::Connect()
{
	if (Streamer)
	{
		return true;
	}
	FSDBridgeStreamerOptions Options = FSDBridgeStreamerOptions::FromSettings();
	if (!EndpointOverride.IsEmpty())
	{
		Options.Endpoint = EndpointOverride;
	}
	Options.ClientName = FString::Printf(TEXT("StreamDiffusionBridge-Unreal/%s"), *GetNameSafe(GetOwner()));
	Options.bOfferGameEvents = bOfferGameEvents;
	Streamer = MakeUnique<FSDBridgeStreamer>(Options);
	FString Error;
	if (!Streamer->Start(Error))
	{
		Streamer.Reset();
		ReportError(Error);
		return false;
	}
	const USDBridgeSettings* Settings = USDBridgeSettings::Get();
	if (!Settings->DefaultPrompt.IsEmpty())
	{
		SetPrompt(Settings->DefaultPrompt, Settings->DefaultNegativePrompt, 0);  // queued until the Welcome
	}
	SendStyleTextures();  // Private/SDBridgeComponentStyle.cpp: the client queues them until the Welcome
	return true;
}

void USDBridgeComponent::Disconnect()
{
	if (Streamer)
	{
		Streamer->Stop();
		Streamer.Reset();
	}
	if (LastState != ESDBridgeConnectionState::Stopped)
	{
		LastState = ESDBridgeConnectionState::Stopped;
		OnConnectionChanged.Broadcast(LastState, TEXT("disconnected"));
	}
}

ESDBridgeConnectionState USDBridgeComponent::GetConnectionState() const
{
	return Streamer ? Streamer->GetState() : ESDBridgeConnectionState::Stopped;
}

void USDBridgeComponent::TickComponent(float DeltaTime, ELevelTick TickType, FActorComponentTickFunction* ThisTickFunction)
{
	Super::TickComponent(DeltaTime, TickType, ThisTickFunction);
	RefreshStatus();
	TrackSceneCuts();
	TickStyleImages();  // Private/SDBridgeComponentStyle.cpp: finished style reads go to the client
	if (!Streamer)
	{
		UpdateCaptureAndDisplay();  // disconnected: nothing is captured, the live frame is shown
		return;
	}
	// 1) SceneCapture fallback: hand the newest finished GPU copy to the client and queue this frame's copy (render
	// thread; no waiting). The PlayerView capture does the same from its scene view extension.
	if (CaptureSource == ESDBridgeCaptureSource::SceneCapture && CaptureTarget != nullptr &&
		Streamer->GetState() == ESDBridgeConnectionState::Connected)
	{
		Streamer->CaptureFrom(CaptureTarget, bSceneCutPending);  // the fallback's frames carry scene cuts too
		bSceneCutPending = false;
	}
	// 2) Newest result into the persistent texture.
	FSDBridgeResultInfo Info;
	bool bRecreated = false;
	if (Streamer->UpdateOutputTexture(OutputTexture, Info, bRecreated))
	{
		if (bRecreated && DisplayMaterial != nullptr)
		{
			DisplayMaterial->SetTextureParameterValue(DisplayTextureParameter, OutputTexture);
		}
		LastResultSourceFrameId = Info.SourceFrameId;  // the frame it depicts: its camera and depth drive the reprojection
		OnResult.Broadcast(OutputTexture, Info);
	}
	UpdateCaptureAndDisplay();
	// 3) Events, in order.
	FSDBridgeEvent Event;
	while (Streamer && Streamer->PollEvent(Event))
	{
		HandleEvent(Event);
	}
	const ESDBridgeConnectionState State = GetConnectionState();
	if (State != LastState)
	{
		LastState = State;
		OnConnectionChanged.Broadcast(State, Event.Message);
	}
}

void USDBridgeComponent::HandleEvent(const FSDBridgeEvent& Event)
{
	// Event.Level comes from sdbridge::ConnectionLogPolicy (core, ctest): the first failure of an outage is an Error
	// whose message names the endpoint, the cause and the fix; its retries and repeated errors are Verbose.
	switch (Event.Level)
	{
	case ESDBridgeLogLevel::Verbose:
		UE_LOG(LogStreamDiffusionBridge, Verbose, TEXT("%s"), *Event.Message);
		break;
	case ESDBridgeLogLevel::Log:
		UE_LOG(LogStreamDiffusionBridge, Log, TEXT("%s%s"),
			Event.Kind == ESDBridgeEventKind::Notice ? TEXT("server notice: ") : TEXT(""), *Event.Message);
		break;
	case ESDBridgeLogLevel::Warning:
		UE_LOG(LogStreamDiffusionBridge, Warning, TEXT("%s"), *Event.Message);
		break;
	case ESDBridgeLogLevel::Error:
		UE_LOG(LogStreamDiffusionBridge, Error,
			TEXT("%s (repeats are logged at Verbose: `Log LogStreamDiffusionBridge Verbose` shows them; the component's "
				 "Status shows the state and the last error)"),
			*Event.Message);
		break;
	}
	switch (Event.Kind)
	{
	case ESDBridgeEventKind::Stats:
		OnStats.Broadcast(Event.FramesIn, Event.FramesOut, Event.FramesDropped, Event.ServerFpsOut);
		break;
	case ESDBridgeEventKind::Warning:
	case ESDBridgeEventKind::Error:
		if (!Event.bRepeat)
		{
			OnError.Broadcast(Event.Error);
		}
		break;
	default:
		break;
	}
}

void USDBridgeComponent::RefreshStatus()
{
	if (Streamer)
	{
		const FString LocalError = Status.LastError;  // e.g. a call made before Connect (ReportError)
		Status = Streamer->GetStatus();               // one short mutex in the core, no network wait
		if (Status.LastError.IsEmpty())
		{
			Status.LastError = LocalError;
		}
		return;
	}
	Status.ConnectionState = ESDBridgeConnectionState::Stopped;  // keep the last figures and error on display
	Status.ResultsPerSecond = 0.0f;
	Status.RoundTripMs = 0.0f;
}

void USDBridgeComponent::ReportError(const FString& Message)
{
	Status.LastError = Message;
	Status.SecondsSinceLastError = 0.0f;
	UE_LOG(LogStreamDiffusionBridge, Error, TEXT("%s"), *Message);
	FSDBridgeError Error;
	Error.Message = Message;
	OnError.Broadcast(Error);
}

bool USDBridgeComponent::SetPrompt(const FString& Prompt, const FString& NegativePrompt, int32 TransitionFrames)
{
	FString Error;
	if (!Streamer || !Streamer->SetPrompt(Prompt, NegativePrompt, TransitionFrames, Error))
	{
		ReportError(Streamer ? Error : TEXT("SetPrompt: not connected; call Connect first"));
		return false;
	}
	return true;
}

bool USDBridgeComponent::SetPromptBlend(const TArray<FSDBridgeWeightedPrompt>& Blend, const FString& NegativePrompt,
	int32 TransitionFrames)
{
	FString Error;
	if (!Streamer || !Streamer->SetPromptBlend(Blend, NegativePrompt, TransitionFrames, Error))
	{
		ReportError(Streamer ? Error : TEXT("SetPromptBlend: not connected; call Connect first"));
		return false;
	}
	return true;
}

bool USDBridgeComponent::SetParams(const FSDBridgeParams& Params)
{
	FString Error;
	if (!Streamer || !Streamer->SetParams(Params, Error))
	{
		ReportError(Streamer ? Error : TEXT("SetParams: not connected; call Connect first"));
		return false;
	}
	return true;
}

bool USDBridgeComponent::SendGameEvent(const FString& Name, const TMap<FString, FSDBridgeValue>& Payload)
{
	FString Error;
	if (!Streamer || !Streamer->SendGameEvent(Name, Payload, Error))
	{
		ReportError(Streamer ? Error : TEXT("SendGameEvent: not connected; call Connect first"));
		return false;
	}
	return true;
}

bool USDBridgeComponent::SetState(const TMap<FString, FSDBridgeValue>& Entries, bool bReplaceAll)
{
	FString Error;
	if (!Streamer || !Streamer->SetState(Entries, bReplaceAll, Error))
	{
		ReportError(Streamer ? Error : TEXT("SetState: not connected; call Connect first"));
		return false;
	}
	return true;
}

bool USDBridgeComponent::RequestStats()
{
	FString Error;
	if (!Streamer || !Streamer->RequestStats(Error))
	{
		ReportError(Streamer ? Error : TEXT("RequestStats: not connected; call Connect first"));
		return false;
	}
	return true;
}

int64 USDBridgeComponent::GetSkippedCaptures() const
{
	return Streamer ? static_cast<int64>(Streamer->GetSkippedCaptures()) : 0;
}
