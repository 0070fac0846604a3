// Not compiled here (Unreal Engine is not available on the build machines). Written against the
// documented UE 5.3-5.5 APIs: ENQUEUE_RENDER_COMMAND, UTextureRenderTarget2D::GameThread_GetRenderTargetResource,
// FTextureRenderTargetResource::GetRenderTargetTexture, UTexture2D::CreateTransient / UpdateResource /
// GetResource, FTextureResource::GetTexture2DRHI, FRHICommandListImmediate::UpdateTexture2D, FUpdateTextureRegion2D.
#include "SDBridgeStreamer.h"

#include "Engine/Texture2D.h"
#include "Engine/TextureRenderTarget2D.h"
#include "RHICommandList.h"
#include "RenderingThread.h"
#include "Runtime/Launch/Resources/Version.h"
#include "SDBridgeConversions.h"
#include "SDBridgeReadbackRing.h"
#include "SDBridgeStyleImages.h"  // complete for TUniquePtr<FSDBridgeStyleImages>'s destructor
#include "StreamDiffusionBridgeModule.h"
#include "StreamDiffusionBridgeSettings.h"
#include "UObject/Package.h"
#include "UObject/UObjectGlobals.h"
#include "sdbridge/engine_support.h"
#include "sdbridge/log_policy.h"
#include "sdbridge/openpose.h"
#include "sdbridge/preview.h"
#include "TextureResource.h"

static_assert(static_cast<int>(ESDBridgeLogLevel::Verbose) == static_cast<int>(sdbridge::LogLevel::kVerbose) &&
				  static_cast<int>(ESDBridgeLogLevel::Log) == static_cast<int>(sdbridge::LogLevel::kInfo) &&
				  static_cast<int>(ESDBridgeLogLevel::Warning) == static_cast<int>(sdbridge::LogLevel::kWarning) &&
				  static_cast<int>(ESDBridgeLogLevel::Error) == static_cast<int>(sdbridge::LogLevel::kError),
	"ESDBridgeLogLevel mirrors sdbridge::LogLevel");

FSDBridgeStreamerOptions FSDBridgeStreamerOptions::FromSettings()
{
	const USDBridgeSettings* Settings = USDBridgeSettings::Get();
	FSDBridgeStreamerOptions Options;
	Options.Endpoint = Settings->Endpoint;
	Options.HandshakeTimeoutMs = Settings->HandshakeTimeoutMs;
	Options.CurveServerKey = Settings->CurveServerKey.TrimStartAndEnd();
	Options.CurvePublicKey = Settings->CurvePublicKey.TrimStartAndEnd();
	Options.CurveSecretKey = Settings->CurveSecretKey.TrimStartAndEnd();
	Options.PeerTimeoutMs = Settings->PeerTimeoutMs;
	Options.ReadbackRingSize = Settings->ReadbackRingSize;
	return Options;
}

FSDBridgeStreamer::FSDBridgeStreamer(const FSDBridgeStreamerOptions& InOptions)
	: Options(InOptions)
	, LogPolicy(MakeUnique<sdbridge::ConnectionLogPolicy>())
{
}

FSDBridgeStreamer::~FSDBridgeStreamer()
{
	Stop();
}

bool FSDBridgeStreamer::Start(FString& OutError)
{
	if (Client)
	{
		OutError = TEXT("already started");
		return false;
	}
	if (!FStreamDiffusionBridgeModule::IsTransportAvailable())
	{
		OutError = TEXT("libzmq is not loaded: see the log and Plugins/StreamDiffusionBridge/Source/ThirdParty/README.md");
		return false;
	}
	sdbridge::ClientConfig Config;
	Config.endpoint = SDBridge::ToUtf8(Options.Endpoint);
	Config.client_name = SDBridge::ToUtf8(Options.ClientName);
	Config.engine_name = "Unreal";
	Config.engine_version = SDBridge::ToUtf8(FString::Printf(TEXT("%d.%d"), ENGINE_MAJOR_VERSION, ENGINE_MINOR_VERSION));
	Config.handshake_timeout = std::chrono::milliseconds(FMath::Max(Options.HandshakeTimeoutMs, 100));
	Config.peer_timeout = std::chrono::milliseconds(FMath::Max(Options.PeerTimeoutMs, 500));
	Config.curve_server_key = SDBridge::ToUtf8(Options.CurveServerKey);  // validated by Client::Start
	Config.curve_public_key = SDBridge::ToUtf8(Options.CurvePublicKey);
	Config.curve_secret_key = SDBridge::ToUtf8(Options.CurveSecretKey);
	Config.pixel_formats = {sdbridge::PixelFormat::kBGRA8, sdbridge::PixelFormat::kRGBA8};
	if (!Options.bOfferGameEvents)
	{
		Config.capabilities &= ~sdbridge::capability::kGameEvents;  // the core offers GameEvents by default
	}
	Client = std::make_shared<sdbridge::Client>(Config);
	const sdbridge::Status Status = Client->Start();
	if (!Status.ok())
	{
		OutError = SDBridge::FromUtf8(Status.message());
		Client.reset();
		return false;
	}
	Ring = MakeShared<FSDBridgeReadbackRing, ESPMode::ThreadSafe>(Options.ReadbackRingSize);
	return true;
}

void FSDBridgeStreamer::Stop()
{
	if (Client)
	{
		// Client::Stop joins the client's worker thread: never on the game thread. Render commands
		// still queued keep their own reference; their SubmitFrame calls then return kStopped.
		FStreamDiffusionBridgeModule::StopClientInBackground(MoveTemp(Client));
		Client.reset();
	}
	if (Ring)
	{
		// Release the readbacks on the render thread, after any capture command still queued. The capture is named
		// RingToRelease: a capture named Ring would shadow the member (C4458, an error in engine builds).
		ENQUEUE_RENDER_COMMAND(SDBridgeReleaseRing)(
			[RingToRelease = MoveTemp(Ring)](FRHICommandListImmediate&) mutable { RingToRelease.Reset(); });
		Ring.Reset();
	}
	StyleImages.Reset();  // a new Start is a new session: its reads still on the GPU are released on the render thread
}

ESDBridgeConnectionState FSDBridgeStreamer::GetState() const
{
	return Client ? SDBridge::ToBlueprint(Client->GetState()) : ESDBridgeConnectionState::Stopped;
}

void FSDBridgeStreamer::CaptureFrom(UTextureRenderTarget2D* Target, bool bSceneCut)
{
	check(IsInGameThread());
	if (!Client || !Ring || Target == nullptr || bTxt2img)
	{
		return;
	}
	FTextureRenderTargetResource* Resource = Target->GameThread_GetRenderTargetResource();
	if (Resource == nullptr)
	{
		return;
	}
	const uint64 CaptureTimeUs = sdbridge::NowMicros();
	ENQUEUE_RENDER_COMMAND(SDBridgeCapture)(
		[ClientRef = Client, RingRef = Ring, Resource, CaptureTimeUs, bSceneCut](FRHICommandListImmediate& RHICmdList)
		{
			// 1) The newest finished copy goes to the client (it copies the rows; latest frame wins).
			RingRef->ConsumeReady([&ClientRef](const FSDBridgeReadbackView& View) { SubmitReadback(*ClientRef, View); });
			// 2) Queue this frame's copy (skipped, never waited for, when the GPU is behind); a scene cut waits in the
			// ring for the next copy that is queued.
			if (bSceneCut)
			{
				RingRef->MarkSceneCut();
			}
			RingRef->EnqueueCopy(RHICmdList, Resource->GetRenderTargetTexture(), CaptureTimeUs);
		});
}

namespace
{
/** Draws the OpenPose image of the keypoints (the core's renderer) and adds it to Frame as a Control plane. */
sdbridge::Status AppendPosePlane(const TArray<float>& Keypoints, const FString& Name, FIntPoint Size,
	std::vector<uint8_t>* Image, sdbridge::FrameView* Frame)
{
	const uint32_t W = static_cast<uint32_t>(FMath::Max(Size.X, 0)), H = static_cast<uint32_t>(FMath::Max(Size.Y, 0));
	sdbridge::Status Status = sdbridge::ClearOpenPoseImage(W, H, Image);
	constexpr int32 PerBody = sdbridge::kOpenPoseKeypointCount * 2;
	for (int32 Start = 0; Status.ok() && Start + PerBody <= Keypoints.Num(); Start += PerBody)
	{
		sdbridge::OpenPoseBody Body{};
		for (int32 K = 0; K < sdbridge::kOpenPoseKeypointCount; ++K)
		{
			const float X = Keypoints[Start + 2 * K], Y = Keypoints[Start + 2 * K + 1];
			Body[static_cast<size_t>(K)] = sdbridge::OpenPosePoint{X, Y, !FMath::IsNaN(X) && !FMath::IsNaN(Y)};
		}
		Status = sdbridge::DrawOpenPose(Body, W, H, Image);
	}
	if (!Status.ok())
	{
		return Status;
	}
	sdbridge::PlaneView Plane;
	Plane.desc = sdbridge::PlaneDesc::Packed(sdbridge::PlaneKind::kControl, sdbridge::PlaneFormat::kRGBA8, W, H);
	Plane.desc.name = SDBridge::ToUtf8(Name);  // the KIND the server serves the OpenPose ControlNet under
	Plane.data = Image->data();
	Plane.size = Image->size();
	Frame->planes.push_back(Plane);
	return Status;
}
}  // namespace

uint64 FSDBridgeStreamer::SubmitReadback(sdbridge::Client& Target, const FSDBridgeReadbackView& View)
{
	// Layout policy (top-down rows, padded pitch, sRGB, alpha ignored) and its checks: sdbridge::MakeReadbackFrame.
	sdbridge::FrameView Frame;
	sdbridge::Status Status = sdbridge::MakeReadbackFrame(View.Data, static_cast<uint32_t>(FMath::Max(View.Size.X, 0)),
		static_cast<uint32_t>(FMath::Max(View.Size.Y, 0)), static_cast<uint32_t>(FMath::Max(View.RowPitchBytes, 0)),
		SDBridge::ToWire(View.Format), View.CaptureTimeUs, &Frame);
	uint64_t FrameId = 0;
	// Engine planes read back with this capture, then the OpenPose image drawn by the core from its keypoints.
	Frame.planes = View.Planes;
	Frame.scene_cut = View.bSceneCut;  // protocol 1.4: the server resets the session's temporal state before it
	std::vector<uint8_t> PoseImage;
	if (Status.ok() && View.Pose != nullptr)
	{
		Status = AppendPosePlane(*View.Pose, View.PoseName, View.Size, &PoseImage, &Frame);
	}
	if (Status.ok())
	{
		Status = Target.SubmitFrame(Frame, &FrameId);  // Target: not the member Client (C4458)
	}
	if (!Status.ok())
	{
		if (Status.code() != sdbridge::StatusCode::kStopped)
		{
			UE_LOG(LogStreamDiffusionBridge, Warning, TEXT("frame not submitted: %s"), *SDBridge::FromUtf8(Status.message()));
		}
		return 0;
	}
	return static_cast<uint64>(FrameId);
}

bool FSDBridgeStreamer::UpdateOutputTexture(TObjectPtr<UTexture2D>& InOutTexture, FSDBridgeResultInfo& OutInfo,
	bool& bOutTextureRecreated)
{
	check(IsInGameThread());
	bOutTextureRecreated = false;
	if (!Client)
	{
		return false;
	}
	sdbridge::FrameResult Result;
	if (!Client->TryGetLatestResult(&Result))
	{
		return false;
	}
	const sdbridge::PixelLayout& Layout = Result.header.layout;
	const EPixelFormat Format = SDBridge::ToTextureFormat(Layout.format);
	if (Format == PF_Unknown)
	{
		if (!bWarnedFormat)
		{
			UE_LOG(LogStreamDiffusionBridge, Error, TEXT("result pixel format %d cannot be shown (expected RGBA8 or BGRA8)"),
				static_cast<int32>(Layout.format));
			bWarnedFormat = true;
		}
		return false;
	}
	const int32 Width = static_cast<int32>(Layout.width);
	const int32 Height = static_cast<int32>(Layout.height);
	if (InOutTexture == nullptr || InOutTexture->GetSizeX() != Width || InOutTexture->GetSizeY() != Height ||
		InOutTexture->GetPixelFormat() != Format)
	{
		// A unique name in the transient package (CreateTransient's outer): a second component, or the editor's
		// preview beside PIE, must not replace this one's texture (MakeUniqueObjectName, UObjectGlobals.h, UE 5.x).
		const FName Name = MakeUniqueObjectName(GetTransientPackage(), UTexture2D::StaticClass(), TEXT("SDBridgeOutput"));
		UTexture2D* Texture = UTexture2D::CreateTransient(Width, Height, Format, Name);
		if (Texture == nullptr)
		{
			return false;  // CreateTransient logged why (size or format)
		}
		Texture->SRGB = true;
		Texture->Filter = TF_Bilinear;
		Texture->NeverStream = true;
		Texture->UpdateResource();
		InOutTexture = Texture;
		bOutTextureRecreated = true;
	}
	OutInfo = SDBridge::ToBlueprint(sdbridge::DescribeResult(Result));
	FTextureResource* TextureResource = InOutTexture->GetResource();
	if (TextureResource == nullptr)
	{
		return false;
	}
	const uint32 Stride = Layout.stride;
	ENQUEUE_RENDER_COMMAND(SDBridgeUpdateOutput)(
		// Pixels share the received ZeroMQ message (no copy); the lambda keeps them alive until the update ran.
		[TextureResource, Width, Height, Stride, Pixels = MoveTemp(Result.pixels)](FRHICommandListImmediate& RHICmdList)
		{
			FRHITexture* Rhi = TextureResource->GetTexture2DRHI();
			if (Rhi != nullptr)
			{
				// The command list's UpdateTexture2D (RHICommandList.h, FRHICommandListImmediate, UE 5.3-5.5): what the
				// global RHIUpdateTexture2D wrapper forwards to, on the command list this render command was given.
				const FUpdateTextureRegion2D Region(0, 0, 0, 0, static_cast<uint32>(Width), static_cast<uint32>(Height));
				RHICmdList.UpdateTexture2D(Rhi, 0, Region, Stride, Pixels.data());
			}
		});
	return true;
}

bool FSDBridgeStreamer::PollEvent(FSDBridgeEvent& OutEvent)
{
	if (!Client)
	{
		return false;
	}
	sdbridge::ClientEvent Event;
	if (!Client->TryGetEvent(&Event))
	{
		return false;
	}
	OutEvent = FSDBridgeEvent();
	OutEvent.Message = SDBridge::FromUtf8(Event.message);
	switch (Event.kind)
	{
	case sdbridge::ClientEventKind::kConnected: OutEvent.Kind = ESDBridgeEventKind::Connected; break;
	case sdbridge::ClientEventKind::kDisconnected: OutEvent.Kind = ESDBridgeEventKind::Disconnected; break;
	case sdbridge::ClientEventKind::kWarning: OutEvent.Kind = ESDBridgeEventKind::Warning; break;
	case sdbridge::ClientEventKind::kNotice:
		OutEvent.Kind = ESDBridgeEventKind::Notice;
		if (Event.notice.has_value())
		{
			if (const std::optional<std::string> Address = sdbridge::preview_address(*Event.notice))
			{
				OutEvent.PreviewAddress = SDBridge::FromUtf8(*Address);
			}
			if (const std::optional<sdbridge::Prompt> PagePrompt = sdbridge::prompt_from_preview(*Event.notice))
			{
				OutEvent.bPromptFromPreview = true;
				OutEvent.NewPrompt = SDBridge::FromUtf8(PagePrompt->text.value_or(std::string()));
				OutEvent.NewNegativePrompt = SDBridge::FromUtf8(PagePrompt->negative.value_or(std::string()));
			}
		}
		break;
	case sdbridge::ClientEventKind::kStats:
		OutEvent.Kind = ESDBridgeEventKind::Stats;
		if (Event.stats.has_value())
		{
			OutEvent.FramesIn = static_cast<int64>(Event.stats->frames_in);
			OutEvent.FramesOut = static_cast<int64>(Event.stats->frames_out);
			OutEvent.FramesDropped = static_cast<int64>(Event.stats->frames_dropped);
			OutEvent.ServerFpsOut = Event.stats->fps_out;
		}
		break;
	default: OutEvent.Kind = ESDBridgeEventKind::Error; break;
	}
	OutEvent.Error = SDBridge::ToBlueprint(sdbridge::DescribeEvent(Event));
	// How loudly to report it (sdbridge::ConnectionLogPolicy): one Error per outage with the endpoint, the cause and the
	// fix; retries and repeats at Verbose (tested in core/tests/status_test.cpp).
	OutEvent.Level = static_cast<ESDBridgeLogLevel>(LogPolicy->LevelFor(Event));
	OutEvent.bRepeat = OutEvent.Level == ESDBridgeLogLevel::Verbose &&
		(OutEvent.Kind == ESDBridgeEventKind::Error || OutEvent.Kind == ESDBridgeEventKind::Disconnected);
	return true;
}

namespace
{
bool Report(const sdbridge::Status& Status, FString& OutError)
{
	if (!Status.ok())
	{
		OutError = SDBridge::FromUtf8(Status.message());
	}
	return Status.ok();
}
}  // namespace

bool FSDBridgeStreamer::SetPrompt(const FString& Prompt, const FString& NegativePrompt, int32 TransitionFrames, FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SetPrompt: not started");
		return false;
	}
	sdbridge::Prompt P;
	P.text = SDBridge::ToUtf8(Prompt);
	P.negative = SDBridge::ToUtf8(NegativePrompt);
	P.transition_frames = static_cast<uint32_t>(FMath::Max(TransitionFrames, 0));
	return Report(Client->SetPrompt(P), OutError);
}

bool FSDBridgeStreamer::SetPromptBlend(const TArray<FSDBridgeWeightedPrompt>& Blend, const FString& NegativePrompt,
	int32 TransitionFrames, FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SetPromptBlend: not started");
		return false;
	}
	sdbridge::Prompt P;
	P.blend.emplace();
	for (const FSDBridgeWeightedPrompt& Entry : Blend)
	{
		P.blend->push_back(sdbridge::PromptWeight{SDBridge::ToUtf8(Entry.Text), Entry.Weight});
	}
	P.negative = SDBridge::ToUtf8(NegativePrompt);
	P.transition_frames = static_cast<uint32_t>(FMath::Max(TransitionFrames, 0));
	return Report(Client->SetPrompt(P), OutError);
}

bool FSDBridgeStreamer::SetParams(const FSDBridgeParams& Params, FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SetParams: not started");
		return false;
	}
	const bool bSent = Report(Client->SetParams(SDBridge::ToWire(Params)), OutError);
	if (bSent && Params.bSetTxt2img)
	{
		bTxt2img = Params.bTxt2img;  // on: no more captures (the client would refuse them)
	}
	return bSent;
}

bool FSDBridgeStreamer::SendGameEvent(const FString& Name, const TMap<FString, FSDBridgeValue>& Payload, FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SendGameEvent: not started");
		return false;
	}
	sdbridge::GameEvent E;
	E.name = SDBridge::ToUtf8(Name);
	E.payload = SDBridge::ToWire(Payload);
	return Report(Client->SendGameEvent(E), OutError);
}

bool FSDBridgeStreamer::SetState(const TMap<FString, FSDBridgeValue>& Entries, bool bReplaceAll, FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("SetState: not started");
		return false;
	}
	sdbridge::State S;
	S.entries = SDBridge::ToWire(Entries);
	S.replace_all = bReplaceAll;
	return Report(Client->SetState(S), OutError);
}

bool FSDBridgeStreamer::RequestStats(FString& OutError)
{
	if (!Client)
	{
		OutError = TEXT("RequestStats: not started");
		return false;
	}
	return Report(Client->RequestStats(), OutError);
}

uint64 FSDBridgeStreamer::GetSkippedCaptures() const
{
	return Ring ? Ring->GetSkipped() : 0;
}

FSDBridgeStatus FSDBridgeStreamer::GetStatus() const
{
	FSDBridgeStatus Out;
	Out.Endpoint = Options.Endpoint;
	Out.SkippedCaptures = static_cast<int64>(GetSkippedCaptures());
	if (!Client)
	{
		return Out;  // Stopped
	}
	// One short mutex inside the core; never waits for the network (sdbridge::StatusTracker).
	const sdbridge::StatusSnapshot Snapshot = Client->GetStatus();
	Out.ConnectionState = SDBridge::ToBlueprint(Snapshot.state);
	Out.ResultsPerSecond = static_cast<float>(Snapshot.results_per_second);
	Out.RoundTripMs = static_cast<float>(Snapshot.round_trip_ms);
	Out.LastRoundTripMs = static_cast<float>(Snapshot.last_round_trip_ms);
	Out.ResultsReceived = static_cast<int64>(Snapshot.results_received);
	Out.FailedAttempts = static_cast<int64>(Snapshot.failed_attempts);
	Out.LastError = SDBridge::FromUtf8(Snapshot.last_error);
	if (Snapshot.last_error_time_us != 0)
	{
		const uint64_t Now = sdbridge::NowMicros();
		Out.SecondsSinceLastError = Now >= Snapshot.last_error_time_us
			? static_cast<float>(static_cast<double>(Now - Snapshot.last_error_time_us) / 1e6) : 0.0f;
	}
	return Out;
}
