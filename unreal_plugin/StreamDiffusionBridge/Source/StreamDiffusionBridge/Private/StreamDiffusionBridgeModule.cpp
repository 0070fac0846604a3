// Loads the delay-loaded libzmq (Windows) before any client starts, and stops clients off the game thread.
// Not compiled here (Unreal Engine is not available on the build machines). Written against the documented
// UE 5.3-5.5 APIs: FPlatformProcess::GetDllHandle / PushDllDirectory / PopDllDirectory / BaseDir /
// GetBinariesSubdirectory, IPluginManager::FindPlugin, Async(EAsyncExecution::ThreadPool, ...) -> TFuture,
// IsEngineExitRequested, GThreadPool.
#include "StreamDiffusionBridgeModule.h"

#include "Async/Async.h"
#include "HAL/PlatformProcess.h"
#include "Interfaces/IPluginManager.h"
#include "CoreGlobals.h"
#include "Misc/Paths.h"
#include "Misc/QueuedThreadPool.h"
#include "Modules/ModuleManager.h"
#include "ShaderCore.h"
#include "sdbridge/client.h"

DEFINE_LOG_CATEGORY(LogStreamDiffusionBridge);

namespace
{
bool GTransportAvailable = false;

/** Stops still running (game thread adds, ShutdownModule waits). */
FCriticalSection GPendingStopsLock;
TArray<TFuture<void>> GPendingStops;
}  // namespace

void FStreamDiffusionBridgeModule::StartupModule()
{
	LoadLibZmq();
	// Global shaders of Private/Rendering (capture, composite, reprojection): /Plugin/StreamDiffusionBridge -> <plugin>/Shaders.
	// It must exist before shaders compile: the .uplugin loads this module at PostConfigInit (ShaderCore.h, UE 5.3-5.5).
	if (const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("StreamDiffusionBridge")))
	{
		AddShaderSourceDirectoryMapping(TEXT("/Plugin/StreamDiffusionBridge"), FPaths::Combine(Plugin->GetBaseDir(), TEXT("Shaders")));
	}
}

void FStreamDiffusionBridgeModule::LoadLibZmq()
{
#if PLATFORM_WINDOWS && defined(SDB_LIBZMQ_DLL_NAME)
	// SDBridgeLibZmq.Build.cs stages the DLL into $(BinaryOutputDir): the plugin's Binaries/Win64 in modular
	// (editor) builds, the executable's folder in monolithic (packaged) builds.
	TArray<FString> Dirs;
	if (const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("StreamDiffusionBridge")))
	{
		Dirs.Add(FPaths::Combine(Plugin->GetBaseDir(), TEXT("Binaries"), FPlatformProcess::GetBinariesSubdirectory()));
	}
	Dirs.Add(FPlatformProcess::BaseDir());
	for (const FString& Dir : Dirs)
	{
		const FString Path = FPaths::Combine(Dir, SDB_LIBZMQ_DLL_NAME);
		if (FPaths::FileExists(Path))
		{
			FPlatformProcess::PushDllDirectory(*Dir);
			LibZmqHandle = FPlatformProcess::GetDllHandle(*Path);
			FPlatformProcess::PopDllDirectory(*Dir);
			if (LibZmqHandle != nullptr)
			{
				break;
			}
		}
	}
	GTransportAvailable = LibZmqHandle != nullptr;
	if (!GTransportAvailable)
	{
		UE_LOG(LogStreamDiffusionBridge, Error,
			TEXT("Could not load %s from %s: put the DLL in Plugins/StreamDiffusionBridge/Source/ThirdParty/SDBridgeLibZmq/Win64 "
				 "and rebuild (RuntimeDependencies stages it), see Source/ThirdParty/README.md. StreamDiffusion Bridge "
				 "components stay disconnected until then."),
			SDB_LIBZMQ_DLL_NAME, *FString::Join(Dirs, TEXT(" and ")));
	}
#else
	GTransportAvailable = true;  // linked normally (Linux: rpath to the staged libzmq.so.5; Mac: static)
#endif
}

void FStreamDiffusionBridgeModule::ShutdownModule()
{
	TArray<TFuture<void>> Stops;
	{
		FScopeLock Lock(&GPendingStopsLock);
		Stops = MoveTemp(GPendingStops);
	}
	for (TFuture<void>& Stop : Stops)
	{
		Stop.Wait();  // engine shutdown: waiting is allowed here, and the module's code must outlive the stops
	}
	if (LibZmqHandle != nullptr)
	{
		FPlatformProcess::FreeDllHandle(LibZmqHandle);
		LibZmqHandle = nullptr;
	}
	GTransportAvailable = false;
}

bool FStreamDiffusionBridgeModule::IsTransportAvailable()
{
	return GTransportAvailable;
}

void FStreamDiffusionBridgeModule::StopClientInBackground(std::shared_ptr<sdbridge::Client> Client)
{
	if (!Client)
	{
		return;
	}
	if (IsEngineExitRequested() || GThreadPool == nullptr)
	{
		Client->Stop();
		return;
	}
	TFuture<void> Stop = Async(EAsyncExecution::ThreadPool, [Client = MoveTemp(Client)]() mutable
	{
		Client->Stop();  // Bye (non-blocking send) + join of the worker thread; render commands may still hold it
		Client.reset();
	});
	FScopeLock Lock(&GPendingStopsLock);
	GPendingStops.RemoveAll([](const TFuture<void>& Pending) { return Pending.IsReady(); });
	GPendingStops.Add(MoveTemp(Stop));
}

IMPLEMENT_MODULE(FStreamDiffusionBridgeModule, StreamDiffusionBridge)
