// The whole core as one translation unit, for builds that compile sources from their own module
// folder (the Unreal module includes this file from Source/StreamDiffusionBridge/Private/Core).
// CMake compiles it too (target sdbridge_core_single_tu) so it is checked with -Werror here.
#include "messages.cpp"  // NOLINT(bugprone-suspicious-include)
#include "codec.cpp"     // NOLINT(bugprone-suspicious-include)
#include "client_messages.cpp"  // NOLINT(bugprone-suspicious-include)
#include "client_shared.cpp"    // NOLINT(bugprone-suspicious-include)
#include "client_session.cpp"   // NOLINT(bugprone-suspicious-include)
#include "client_worker.cpp"    // NOLINT(bugprone-suspicious-include)
#include "client.cpp"    // NOLINT(bugprone-suspicious-include)
#include "reprojection.cpp"  // NOLINT(bugprone-suspicious-include)
#include "connection_status.cpp"  // NOLINT(bugprone-suspicious-include)
#include "log_policy.cpp"  // NOLINT(bugprone-suspicious-include)
#include "engine_support.cpp"  // NOLINT(bugprone-suspicious-include)
#include "capture_fit.cpp"  // NOLINT(bugprone-suspicious-include)
#include "openpose.cpp"  // NOLINT(bugprone-suspicious-include)
