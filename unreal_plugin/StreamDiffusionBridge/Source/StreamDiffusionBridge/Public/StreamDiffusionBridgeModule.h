// Runtime module of the StreamDiffusion Bridge plugin. Not compiled here (written against Epic's
// documented IModuleInterface / FPlatformProcess / IPluginManager / Async APIs, UE 5.3-5.5).
#pragma once

#include "CoreMinimal.h"
#include "Modules/ModuleInterface.h"

#include <memory>

namespace sdbridge
{
class Client;
}

DECLARE_LOG_CATEGORY_EXTERN(LogStreamDiffusionBridge, Log, All);

class STREAMDIFFUSIONBRIDGE_API FStreamDiffusionBridgeModule : public IModuleInterface
{
public:
	virtual void StartupModule() override;
	virtual void ShutdownModule() override;

	/** True once libzmq is loaded (always true where it is linked normally: Linux, Mac). */
	static bool IsTransportAvailable();

	/**
	 * Stop a client off the game thread: sdbridge::Client::Stop says Bye and joins the client's worker thread,
	 * which the game thread must never wait for. ShutdownModule waits for every stop still running. During engine
	 * exit (or without a thread pool) the client is stopped at once on the calling thread.
	 */
	static void StopClientInBackground(std::shared_ptr<sdbridge::Client> Client);

private:
	void LoadLibZmq();

	void* LibZmqHandle = nullptr;
};
