// Automation specs of the StreamDiffusion Bridge runtime module (Session Frontend > Automation, filter
// "StreamDiffusionBridge", or `-ExecCmds="Automation RunTests StreamDiffusionBridge"`). Run by users with
// Unreal Engine; NOT compiled or run here. The engine-free core has its own GoogleTest suite (ctest),
// which CI runs, including end-to-end tests against the real Python server.
#include "Misc/AutomationTest.h"

#if WITH_DEV_AUTOMATION_TESTS

#include "SDBridgeBlueprintLibrary.h"
#include "SDBridgeComponent.h"
#include "SDBridgeConversions.h"
#include "SDBridgeStreamer.h"
#include "StreamDiffusionBridgeSettings.h"
#include "sdbridge/codec.h"

BEGIN_DEFINE_SPEC(FSDBridgeSpec, "StreamDiffusionBridge",
	EAutomationTestFlags::EditorContext | EAutomationTestFlags::ClientContext | EAutomationTestFlags::ProductFilter)
END_DEFINE_SPEC(FSDBridgeSpec)

void FSDBridgeSpec::Define()
{
	Describe("Core compiled into the module", [this]()
	{
		It("round-trips a Frame header through the codec", [this]()
		{
			sdbridge::FrameHeader Frame;
			Frame.frame_id = 42;
			Frame.layout = sdbridge::PixelLayout{4, 2, 16, sdbridge::PixelFormat::kBGRA8, sdbridge::RowOrder::kTopDown,
				sdbridge::ColorSpace::kSRGB, sdbridge::AlphaMode::kIgnore};
			std::vector<uint8_t> Bytes;
			TestTrue(TEXT("encode"), sdbridge::Encode(Frame, &Bytes).ok());
			sdbridge::Message Back;
			TestTrue(TEXT("decode"), sdbridge::Decode(Bytes.data(), Bytes.size(), &Back).ok());
			TestTrue(TEXT("is a Frame"), std::holds_alternative<sdbridge::FrameHeader>(Back));
			TestEqual(TEXT("frame id"), static_cast<int64>(std::get<sdbridge::FrameHeader>(Back).frame_id), int64(42));
		});

		It("refuses bytes with another file identifier", [this]()
		{
			std::vector<uint8_t> Bytes;
			sdbridge::Encode(sdbridge::Ping{1, 2}, &Bytes);
			Bytes[4] = 'X';
			sdbridge::Message Back;
			const sdbridge::Status Status = sdbridge::Decode(Bytes.data(), Bytes.size(), &Back);
			TestEqual(TEXT("code"), static_cast<int32>(Status.code()), static_cast<int32>(sdbridge::StatusCode::kMalformed));
		});

		It("reports a handshake timeout when no server listens, then stops", [this]()
		{
			sdbridge::ClientConfig Config;
			Config.endpoint = "tcp://127.0.0.1:9";  // discard port: nothing answers
			Config.handshake_timeout = std::chrono::milliseconds(200);
			sdbridge::Client Client(Config);
			TestTrue(TEXT("start"), Client.Start().ok());
			sdbridge::ClientEvent Event;
			bool bTimeout = false;
			for (int32 Attempt = 0; Attempt < 20 && !bTimeout; ++Attempt)
			{
				bTimeout = Client.WaitForEvent(&Event, std::chrono::milliseconds(250)) &&
					Event.status == sdbridge::StatusCode::kTimeout;
			}
			TestTrue(TEXT("timeout event"), bTimeout);
			Client.Stop();
			TestEqual(TEXT("stopped"), static_cast<int32>(Client.GetState()), static_cast<int32>(sdbridge::ConnectionState::kStopped));
		});
	});

	Describe("Conversions", [this]()
	{
		It("sends only the toggled Params fields", [this]()
		{
			FSDBridgeParams Params;
			Params.bSetGuidanceScale = true;
			Params.GuidanceScale = 1.5f;
			Params.bSetSeed = true;
			Params.Seed = 7;
			Params.Delta = 0.3f;  // not toggled: must not be sent
			const sdbridge::Params Wire = SDBridge::ToWire(Params);
			TestEqual(TEXT("mask"), static_cast<int32>(Wire.SetMask()), 1 | 8);
			TestEqual(TEXT("guidance"), Wire.guidance_scale.value_or(0.0f), 1.5f);
			TestEqual(TEXT("seed"), static_cast<int64>(Wire.seed.value_or(0)), int64(7));
			TestFalse(TEXT("delta absent"), Wire.delta.has_value());
		});

		It("keeps non-ASCII text through UTF-8", [this]()
		{
			const FString Text = TEXT("ch\u00E2teau \u2603 \u00E9t\u00E9");
			TestEqual(TEXT("round trip"), SDBridge::FromUtf8(SDBridge::ToUtf8(Text)), Text);
		});

		It("maps typed Blueprint values to wire values", [this]()
		{
			TMap<FString, FSDBridgeValue> Payload;
			Payload.Add(TEXT("biome"), USDBridgeBlueprintLibrary::MakeStringValue(TEXT("forest")));
			Payload.Add(TEXT("danger"), USDBridgeBlueprintLibrary::MakeIntValue(3));
			const std::vector<sdbridge::KeyValue> Wire = SDBridge::ToWire(Payload);
			TestEqual(TEXT("entries"), static_cast<int32>(Wire.size()), 2);
			for (const sdbridge::KeyValue& Entry : Wire)
			{
				if (Entry.key == "biome")
				{
					TestTrue(TEXT("string"), std::get<std::string>(Entry.value) == "forest");
				}
				else
				{
					TestEqual(TEXT("int"), static_cast<int64>(std::get<int64_t>(Entry.value)), int64(3));
				}
			}
		});

		It("maps render target formats to wire formats and back", [this]()
		{
			TestTrue(TEXT("BGRA"), SDBridge::ToWire(PF_B8G8R8A8) == sdbridge::PixelFormat::kBGRA8);
			TestTrue(TEXT("RGBA"), SDBridge::ToWire(PF_R8G8B8A8) == sdbridge::PixelFormat::kRGBA8);
			TestTrue(TEXT("float target refused"), SDBridge::ToWire(PF_FloatRGBA) == sdbridge::PixelFormat::kUnknown);
			TestEqual(TEXT("texture format"), static_cast<int32>(SDBridge::ToTextureFormat(sdbridge::PixelFormat::kBGRA8)),
				static_cast<int32>(PF_B8G8R8A8));
		});
	});

	Describe("Settings and component", [this]()
	{
		It("has usable defaults", [this]()
		{
			const USDBridgeSettings* Settings = USDBridgeSettings::Get();
			TestTrue(TEXT("endpoint"), Settings->Endpoint.StartsWith(TEXT("tcp://")) || Settings->Endpoint.StartsWith(TEXT("ipc://")));
			TestTrue(TEXT("width"), Settings->CaptureWidth >= 8 && Settings->CaptureWidth <= 2048);
			TestTrue(TEXT("height"), Settings->CaptureHeight >= 8 && Settings->CaptureHeight <= 2048);
			TestTrue(TEXT("ring"), Settings->ReadbackRingSize >= 2 && Settings->ReadbackRingSize <= 4);
		});

		It("exposes the Blueprint API named after the wire messages", [this]()
		{
			for (const TCHAR* Name : {TEXT("SetPrompt"), TEXT("SetPromptBlend"), TEXT("SetParams"), TEXT("SendGameEvent"),
					 TEXT("SetState"), TEXT("RequestStats"), TEXT("Connect"), TEXT("Disconnect")})
			{
				const UFunction* Function = USDBridgeComponent::StaticClass()->FindFunctionByName(FName(Name));
				TestNotNull(FString::Printf(TEXT("UFUNCTION %s"), Name), Function);
				if (Function != nullptr)
				{
					TestTrue(FString::Printf(TEXT("%s is BlueprintCallable"), Name), Function->HasAnyFunctionFlags(FUNC_BlueprintCallable));
				}
			}
		});

		It("reports calls made before Connect instead of crashing", [this]()
		{
			USDBridgeComponent* Component = NewObject<USDBridgeComponent>();
			TestEqual(TEXT("state"), static_cast<int32>(Component->GetConnectionState()),
				static_cast<int32>(ESDBridgeConnectionState::Stopped));
			// The component logs the error (UE_LOG Error) and broadcasts OnError; expect exactly that log line.
			AddExpectedError(TEXT("not connected"), EAutomationExpectedErrorFlags::Contains, 1);
			TestFalse(TEXT("SetPrompt"), Component->SetPrompt(TEXT("a castle"), TEXT(""), 0));
			TestNull(TEXT("no texture yet"), Component->OutputTexture.Get());
			TestTrue(TEXT("the status panel shows the error"), Component->GetStatus().LastError.Contains(TEXT("not connected")));
		});

		It("shows its status in the details panel, read-only and transient", [this]()
		{
			const FProperty* Property = USDBridgeComponent::StaticClass()->FindPropertyByName(TEXT("Status"));
			TestNotNull(TEXT("Status property"), Property);
			if (Property != nullptr)
			{
				TestTrue(TEXT("VisibleAnywhere"), Property->HasAllPropertyFlags(CPF_Edit | CPF_EditConst));
				TestTrue(TEXT("BlueprintReadOnly"), Property->HasAllPropertyFlags(CPF_BlueprintVisible | CPF_BlueprintReadOnly));
				TestTrue(TEXT("Transient"), Property->HasAnyPropertyFlags(CPF_Transient));
			}
		});
	});

	Describe("Streamer", [this]()
	{
		It("logs an unreachable server once at Error, then its retries at Verbose, and stops without blocking", [this]()
		{
			FSDBridgeStreamerOptions Options;
			Options.Endpoint = TEXT("tcp://127.0.0.1:9");  // discard port: nothing answers
			Options.HandshakeTimeoutMs = 100;
			FSDBridgeStreamer Streamer(Options);
			FString Error;
			TestTrue(TEXT("start"), Streamer.Start(Error));
			int32 Loud = 0;
			int32 Quiet = 0;
			const double Deadline = FPlatformTime::Seconds() + 3.0;
			while (FPlatformTime::Seconds() < Deadline && Quiet < 2)
			{
				FSDBridgeEvent Event;
				while (Streamer.PollEvent(Event))
				{
					if (Event.Kind == ESDBridgeEventKind::Error)
					{
						(Event.Level == ESDBridgeLogLevel::Error ? Loud : Quiet)++;
						if (Event.Level == ESDBridgeLogLevel::Error)
						{
							TestTrue(TEXT("names the endpoint"), Event.Message.Contains(TEXT("tcp://127.0.0.1:9")));
							TestTrue(TEXT("names a fix"), Event.Message.Contains(TEXT("sdbridge serve")));
						}
						else
						{
							TestTrue(TEXT("a retry is not broadcast again"), Event.bRepeat);
						}
					}
				}
				FPlatformProcess::Sleep(0.02f);
			}
			TestEqual(TEXT("one loud report"), Loud, 1);
			TestTrue(TEXT("retries were quiet"), Quiet >= 1);
			const FSDBridgeStatus Status = Streamer.GetStatus();
			TestEqual(TEXT("state"), static_cast<int32>(Status.ConnectionState), static_cast<int32>(ESDBridgeConnectionState::Connecting));
			TestTrue(TEXT("failed attempts"), Status.FailedAttempts >= 2);
			Streamer.Stop();  // hands the client to a thread-pool task (its worker is joined there, not here)
			TestEqual(TEXT("stopped"), static_cast<int32>(Streamer.GetState()), static_cast<int32>(ESDBridgeConnectionState::Stopped));
		});
	});
}

#endif  // WITH_DEV_AUTOMATION_TESTS
