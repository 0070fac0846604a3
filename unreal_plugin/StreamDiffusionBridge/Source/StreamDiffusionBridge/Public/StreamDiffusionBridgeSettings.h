// Project Settings > Plugins > StreamDiffusion Bridge: where the server is and what size to stream.
// A UDeveloperSettings (Config = Game, DefaultConfig -> Config/DefaultGame.ini). Not compiled here.
#pragma once

#include "CoreMinimal.h"
#include "Engine/DeveloperSettings.h"

#include "StreamDiffusionBridgeSettings.generated.h"

UCLASS(Config = Game, DefaultConfig, meta = (DisplayName = "StreamDiffusion Bridge"))
class STREAMDIFFUSIONBRIDGE_API USDBridgeSettings : public UDeveloperSettings
{
	GENERATED_BODY()

public:
	USDBridgeSettings();

	virtual FName GetCategoryName() const override { return TEXT("Plugins"); }

	static const USDBridgeSettings* Get() { return GetDefault<USDBridgeSettings>(); }

	/** ZeroMQ endpoint of `sdbridge serve`, e.g. tcp://127.0.0.1:5555. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection")
	FString Endpoint = TEXT("tcp://127.0.0.1:5555");

	/** How long to wait for the server's Welcome before retrying (ms). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "100", ClampMax = "60000"))
	int32 HandshakeTimeoutMs = 2000;

	/** Silence from the server (while a result or heartbeat answer is due) after which a new session is opened (ms). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Connection", meta = (ClampMin = "500", ClampMax = "120000"))
	int32 PeerTimeoutMs = 5000;

	/** CurveZMQ (for a server beyond this machine): the server's public key, the `public-key` of its NAME.key
	 *  from `sdbridge keys generate` (40 characters, Z85). Empty = no encryption (loopback servers). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Security")
	FString CurveServerKey;

	/** CurveZMQ: this client's public key (the `public-key` of its NAME.key_secret); the server's
	 *  authorized_keys folder must hold its NAME.key. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Security")
	FString CurvePublicKey;

	/** CurveZMQ: this client's secret key (the `secret-key` of its NAME.key_secret). Stored in the project's
	 *  config: keep that file out of shared version control, or set it from code at startup. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Security")
	FString CurveSecretKey;

	/** Width of the capture render target sent to the server (pixels). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Capture", meta = (ClampMin = "8", ClampMax = "2048"))
	int32 CaptureWidth = 512;

	/** Height of the capture render target sent to the server (pixels). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Capture", meta = (ClampMin = "8", ClampMax = "2048"))
	int32 CaptureHeight = 512;

	/** GPU readbacks in flight (2-4). When all are busy a capture is skipped, never waited for. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Capture", meta = (ClampMin = "2", ClampMax = "4"))
	int32 ReadbackRingSize = 3;

	/** Prompt sent right after connecting (empty: keep the server's). */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Prompt", meta = (MultiLine = true))
	FString DefaultPrompt;

	/** Negative prompt sent with DefaultPrompt. */
	UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "Prompt", meta = (MultiLine = true))
	FString DefaultNegativePrompt;
};
