// Compiles the engine-free core (core/src of the plugin, via the module's private include path) into this
// module as ONE translation unit: the only one that includes <zmq.h> / <zmq.hpp> (and through them, on
// Windows, <winsock2.h> and <windows.h>). The core is standard C++17 and tested with CMake + GoogleTest
// (also under ASan/UBSan and with <windows.h>'s min/max macros defined: core/cmake/windows_minmax_probe.h).
//
// Windows (UE 5.3-5.5): <windows.h> is first included through the engine's own wrapper
// "Windows/WindowsHWrapper.h" (PreWindowsApi.h, MinWindows.h with NOMINMAX and WIN32_LEAN_AND_MEAN,
// PostWindowsApi.h, which #undefs the macros that rename engine calls, e.g. UpdateResource, GetObject,
// InterlockedIncrement), so when zmq.h pulls in <winsock2.h> the include guards keep those macros from
// coming back, and the Windows type names (INT, DWORD, ...) are visible only between
// "Windows/AllowWindowsPlatformTypes.h" and "Windows/HideWindowsPlatformTypes.h". THIRD_PARTY_INCLUDES_START/END
// silence the engine's warnings-as-errors for third-party code. Nothing of this reaches another file of a unity
// build: the macros are cleaned up before the end of this file (core call sites also write (std::min)(a, b)).
//
// Not compiled here (Unreal Engine is not available on the build machines).
#include "CoreMinimal.h"

#if PLATFORM_WINDOWS
#include "Windows/WindowsHWrapper.h"
#include "Windows/AllowWindowsPlatformTypes.h"
#include "Windows/AllowWindowsPlatformAtomics.h"
#endif

THIRD_PARTY_INCLUDES_START
// Unreal defines check() and verify() as macros; the core and FlatBuffers use those words as identifiers.
#pragma push_macro("check")
#pragma push_macro("verify")
#undef check
#undef verify
#include "all_in_one.cpp"
#pragma pop_macro("verify")
#pragma pop_macro("check")
THIRD_PARTY_INCLUDES_END

#if PLATFORM_WINDOWS
#include "Windows/HideWindowsPlatformAtomics.h"
#include "Windows/HideWindowsPlatformTypes.h"
#endif
