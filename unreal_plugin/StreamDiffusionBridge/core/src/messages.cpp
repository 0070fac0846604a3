// Helpers of messages.h and status.h that need no flatbuffers and no ZeroMQ.
#include "sdbridge/messages.h"
#include "sdbridge/status.h"

#include <iterator>
#include <type_traits>

namespace sdbridge {

namespace {
template <typename T>
void TakeIfSet(std::optional<T>& mine, const std::optional<T>& newer) {
  if (newer.has_value()) mine = newer;
}
// Named entries (lora_weights, controlnet_*: the server leaves the names not sent unchanged): a newer entry replaces
// the one of its name, new names are added, so a replay after a reconnect sets every weight the session had.
template <typename T>
void MergeNamed(std::optional<std::vector<T>>& mine, const std::optional<std::vector<T>>& newer) {
  if (!newer) return;
  if (!mine) {
    mine = newer;
    return;
  }
  for (const T& w : *newer) {
    bool found = false;
    for (T& m : *mine) {
      if (m.name == w.name) {
        m = w;
        found = true;
      }
    }
    if (!found) mine->push_back(w);
  }
}
}  // namespace

// Params::SetMask() and Params::MergeFrom(), one line per field: generated from schemas/bridge.fbs
// (schemas/codegen_params_cpp.py).
#include "sdbridge/generated/params_merge.inc"

const char* MessageName(const Message& message) {
  static constexpr const char* kNames[] = {"Hello",  "Welcome",      "Error",  "Frame", "Result", "Prompt",
                                           "Params", "GameEvent",    "State",  "StatsRequest",
                                           "Stats",  "Bye",          "Notice", "Credit", "Ping",  "Pong",
                                           "StyleImage"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>, "one name per message type");
  return kNames[message.index()];
}

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "Ok";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotConnected: return "NotConnected";
    case StatusCode::kQueueFull: return "QueueFull";
    case StatusCode::kMalformed: return "Malformed";
    case StatusCode::kVersionMismatch: return "VersionMismatch";
    case StatusCode::kRefused: return "Refused";
    case StatusCode::kTimeout: return "Timeout";
    case StatusCode::kStopped: return "Stopped";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

}  // namespace sdbridge
