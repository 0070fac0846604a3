// Compiles the engine-free core (../../../../core/src, via the module's private include path) into
// this module as one translation unit. The core is standard C++17 and tested with CMake + GoogleTest
// (also under ASan/UBSan); here it is only wrapped so Unreal's macros and warning levels do not touch it.
// Not compiled here (Unreal Engine is not available on the build machines).
#include "CoreMinimal.h"

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
