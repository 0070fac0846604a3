// Loads the delay-loaded libzmq from the plugin's Binaries/ThirdParty folder before any client starts.
// Not compiled here (Unreal Engine is not available on the build machines).
#include "StreamDiffusionBridgeModule.h"

#include "HAL/PlatformProcess.h"
#include "Interfaces/IPluginManager.h"
#include "Misc/Paths.h"
#include "Modules/ModuleManager.h"
#include "ShaderCore.h"

DEFINE_LOG_CATEGORY(LogStreamDiffusionBridge);

namespace
{
bool GTransportAvailable = false;
}

void FStreamDiffusionBridgeModule::StartupModule()
{
	// Global shaders of Private/Rendering (capture, composite, reprojection): /Plugin/StreamDiffusionBridge -> <plugin>/Shaders.
	// It must exist before shaders compile: the .uplugin loads this module at PostConfigInit (ShaderCore.h, UE 5.3-5.5).
	if (const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("StreamDiffusionBridge")))
	{
		AddShaderSourceDirectoryMapping(TEXT("/Plugin/StreamDiffusionBridge"), FPaths::Combine(Plugin->GetBaseDir(), TEXT("Shaders")));
	}
#if PLATFORM_WINDOWS && defined(SDB_LIBZMQ_DLL_NAME)
	// Editor and development builds: the plugin's Binaries/ThirdParty folder. Packaged builds: libzmq.Build.cs
	// stages the DLL next to the binaries ($(BinaryOutputDir)), where the normal DLL search finds it by name.
	const TSharedPtr<IPlugin> Plugin = IPluginManager::Get().FindPlugin(TEXT("StreamDiffusionBridge"));
	const FString Dir = Plugin.IsValid() ? FPaths::Combine(Plugin->GetBaseDir(), SDB_LIBZMQ_DLL_DIR) : FString();
	const FString Path = FPaths::Combine(Dir, SDB_LIBZMQ_DLL_NAME);
	if (!Dir.IsEmpty() && FPaths::FileExists(Path))
	{
		FPlatformProcess::PushDllDirectory(*Dir);
		LibZmqHandle = FPlatformProcess::GetDllHandle(*Path);
		FPlatformProcess::PopDllDirectory(*Dir);
	}
	if (LibZmqHandle == nullptr)
	{
		LibZmqHandle = FPlatformProcess::GetDllHandle(SDB_LIBZMQ_DLL_NAME);
	}
	GTransportAvailable = LibZmqHandle != nullptr;
	if (!GTransportAvailable)
	{
		UE_LOG(LogStreamDiffusionBridge, Error,
			TEXT("Could not load %s (nor %s from the binaries folder): copy libzmq as described in "
				 "Source/ThirdParty/README.md. StreamDiffusion Bridge components stay disconnected until then."),
			*Path, SDB_LIBZMQ_DLL_NAME);
	}
#else
	GTransportAvailable = true;  // linked normally (Linux) or delay-loaded by the dynamic linker (Mac)
#endif
}

void FStreamDiffusionBridgeModule::ShutdownModule()
{
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

IMPLEMENT_MODULE(FStreamDiffusionBridgeModule, StreamDiffusionBridge)
