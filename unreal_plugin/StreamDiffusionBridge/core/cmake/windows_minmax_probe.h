// Build check (CMake target sdbridge_core_minmax_check): the core must compile where <windows.h> was included
// without NOMINMAX, i.e. with function-like min/max macros defined after the standard and third-party headers
// (the Unreal module includes Windows headers through the engine's wrappers, which define NOMINMAX; this keeps
// the core safe even where a project includes windows.h itself). Call sites write (std::min)(a, b).
#include <algorithm>
#include <limits>
#include <chrono>
#include <string>
#include <vector>
#include <map>
#include <deque>
#include <mutex>
#include <thread>
#include <condition_variable>
#include <memory>
#include <optional>
#include <variant>
#include <functional>
#include <array>
#include <cmath>
#include <atomic>
#include <cstring>
#include <zmq.h>
#include <zmq.hpp>
#include <flatbuffers/flatbuffers.h>
#define min(a, b) (((a) < (b)) ? (a) : (b))  // what <windows.h> defines without NOMINMAX
#define max(a, b) (((a) > (b)) ? (a) : (b))
