// Message building and checks of the sdbridge Client, free of threads and sockets: the Hello, the
// validation of a config and of a submitted frame, what a server Error means for the session, and the
// texts of the client's events. Internal to the core (not installed with include/sdbridge).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "sdbridge/client.h"

namespace sdbridge {
namespace client_internal {

/// Why a session ended: decides the retry policy.
enum class SessionEnd { kNone, kRetry, kRefused, kStop };

/// "major.minor".
std::string VersionString(uint16_t major, uint16_t minor);

/// The Hello this client opens every session with.
Hello MakeHello(const ClientConfig& config);

/// kInvalidArgument naming the field and the fix when Start() cannot use `config`.
Status ValidateConfig(const ClientConfig& config);

/// Checks a submitted frame against its layout; sets *expected to stride x height bytes.
Status ValidateFrame(const FrameView& frame, const DecodeLimits& limits, size_t* expected);

/// Params before they are queued: at least one field set, each value in its registry range (the generated
/// stream_params.h mirrors), each named weight named. kInvalidArgument names the field, the value, the range and the fix.
Status ValidateParams(const Params& params);

/// A StyleImage (protocol 1.4) before it is queued: a name, RGBA8/BGRA8/RGB8, a row order, a size within `limits`,
/// stride >= width x bytes per pixel, exactly stride x height bytes.
Status ValidateStyleImage(const StyleImage& header, const uint8_t* pixels, size_t size, const DecodeLimits& limits);

/// One plane of a submitted frame (protocol 1.3): kind, format and row order set, a size within `limits`, stride >=
/// width x bytes per pixel, exactly stride x height bytes. `where` prefixes the message.
Status ValidatePlane(const PlaneView& plane, const DecodeLimits& limits, const std::string& where);

/// What a server Error does: the event to report and how the session ends (kNone: it goes on).
struct ErrorOutcome {
  ClientEvent event;
  SessionEnd end = SessionEnd::kNone;
};
ErrorOutcome ClassifyServerError(const ErrorMessage& err, bool connected, const ClientConfig& config);

/// A protocol-major mismatch in a Welcome, naming both versions and what to install.
std::string MajorMismatchText(const ClientConfig& config, const Welcome& w);
/// A warning for a minor mismatch or a Welcome warning; nullopt when there is nothing to say.
std::optional<std::string> WelcomeWarning(const ClientConfig& config, const Welcome& w);
/// The kConnected event's text.
std::string ConnectedText(const ClientConfig& config, const Welcome& w);
/// No Welcome within handshake_timeout: causes and fixes.
std::string HandshakeTimeoutText(const ClientConfig& config);
/// ClientConfig.reconnect_window passed without a session after `tries` tries: what happened and the fix.
std::string GaveUpText(const ClientConfig& config, uint32_t tries);
/// A ServerShutdown notice: the replica is draining, the client moves (a balancer sends it to another replica).
std::string ServerShutdownText(const ClientConfig& config, const Notice& notice);
/// A server Error (`error_text`, the kError event's text) ended the open session: the client starts a new one.
std::string SessionEndedByErrorText(const ClientConfig& config, const std::string& error_text);
/// A Result whose parts do not match its header.
std::string BadResultText(const ResultHeader& header, const Status& layout, size_t expected, size_t part_count,
                          size_t pixel_bytes);

}  // namespace client_internal
}  // namespace sdbridge
