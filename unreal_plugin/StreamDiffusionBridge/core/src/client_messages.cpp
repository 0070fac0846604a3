// Message building and checks of the sdbridge Client (see client_messages.h).
#include "client_messages.h"

#include <cmath>
#include <sstream>
#include <type_traits>
#include <utility>

#include "sdbridge/generated/stream_params.h"

namespace sdbridge {
namespace client_internal {

std::string VersionString(uint16_t major, uint16_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

Hello MakeHello(const ClientConfig& config) {
  Hello hello;
  hello.protocol_major = config.protocol_major;
  hello.protocol_minor = config.protocol_minor;
  hello.client_name = config.client_name;
  hello.client_version = config.client_version;
  hello.engine_name = config.engine_name;
  hello.engine_version = config.engine_version;
  hello.capabilities = config.capabilities;
  hello.pixel_formats = config.pixel_formats;
  return hello;
}

Status ValidateConfig(const ClientConfig& config) {
  if (config.endpoint.empty()) {
    return Status(StatusCode::kInvalidArgument, "ClientConfig.endpoint is empty (expected e.g. tcp://127.0.0.1:5555)");
  }
  const bool any_curve =
      !config.curve_server_key.empty() || !config.curve_public_key.empty() || !config.curve_secret_key.empty();
  if (any_curve && (config.curve_server_key.size() != 40 || config.curve_public_key.size() != 40 ||
                    config.curve_secret_key.size() != 40)) {
    return Status(StatusCode::kInvalidArgument,
                  "CurveZMQ needs all three of ClientConfig.curve_server_key, curve_public_key and "
                  "curve_secret_key as 40-character Z85 keys (from `sdbridge keys generate`)");
  }
  if (config.max_pending_results == 0 || config.max_pending_events == 0 || config.max_queued_controls == 0) {
    return Status(StatusCode::kInvalidArgument,
                  "ClientConfig.max_pending_results/max_pending_events/max_queued_controls must be at least 1");
  }
  return Status::Ok();
}

Status ValidateFrame(const FrameView& frame, const DecodeLimits& limits, size_t* expected) {
  Status s = ExpectedPixelBytes(frame.layout, expected, limits);
  if (!s.ok()) return Status(StatusCode::kInvalidArgument, "SubmitFrame: " + s.message());
  if (frame.pixels == nullptr || frame.size != *expected) {
    return Status(StatusCode::kInvalidArgument,
                  "SubmitFrame: got " + std::to_string(frame.pixels ? frame.size : 0) + " pixel bytes, layout " +
                      std::to_string(frame.layout.width) + "x" + std::to_string(frame.layout.height) +
                      " with stride " + std::to_string(frame.layout.stride) + " needs stride x height = " +
                      std::to_string(*expected));
  }
  if (frame.layout.row_order == RowOrder::kUnknown || frame.layout.color_space == ColorSpace::kUnknown) {
    return Status(StatusCode::kInvalidArgument,
                  "SubmitFrame: layout.row_order and layout.color_space must be set (TopDown/BottomUp, SRGB/Linear)");
  }
  for (size_t i = 0; i < frame.planes.size(); ++i) {
    Status p = ValidatePlane(frame.planes[i], limits, "SubmitFrame: planes[" + std::to_string(i) + "]");
    if (!p.ok()) return p;
  }
  return Status::Ok();
}

Status ValidatePlane(const PlaneView& plane, const DecodeLimits& limits, const std::string& where) {
  const PlaneDesc& d = plane.desc;
  const uint32_t bpp = BytesPerPixel(d.format);
  if (d.kind == PlaneKind::kUnknown || bpp == 0 || d.row_order == RowOrder::kUnknown) {
    return Status(StatusCode::kInvalidArgument, where + ": kind, format and row_order must be set");
  }
  if (d.width == 0 || d.height == 0 || d.width > limits.max_width || d.height > limits.max_height ||
      static_cast<uint64_t>(d.width) * bpp > d.stride) {
    return Status(StatusCode::kInvalidArgument,
                  where + ": " + std::to_string(d.width) + "x" + std::to_string(d.height) + " with stride " +
                      std::to_string(d.stride) + " needs 1 <= size <= " + std::to_string(limits.max_width) + "x" +
                      std::to_string(limits.max_height) + " and stride >= width x " + std::to_string(bpp));
  }
  if (plane.data == nullptr || plane.size != d.ByteCount() || plane.size > limits.max_message_bytes) {
    return Status(StatusCode::kInvalidArgument,
                  where + ": got " + std::to_string(plane.data ? plane.size : 0) + " bytes; stride x height = " +
                      std::to_string(d.ByteCount()) + " (at most " + std::to_string(limits.max_message_bytes) + ")");
  }
  return Status::Ok();
}

namespace {

template <typename V>
std::string Text(V value) {
  std::ostringstream out;
  out << +value;  // unary + prints small unsigned types as numbers
  return out.str();
}

Status OutOfRange(const char* field, const std::string& value, const char* range, const char* why = "") {
  return Status(StatusCode::kInvalidArgument, std::string("SetParams: ") + field + " = " + value + " is outside " +
                                                  range + why + "; the server would refuse it (Error BadParam): use a "
                                                  "value in " + range + " (the parameter registry's range)");
}

// One live parameter against its registry range (stream_params.h, generated from python_server/sdbridge/params.py).
template <typename P, typename V>
Status CheckRange(const std::optional<V>& value) {
  if (!value || P::InRange(*value)) return Status::Ok();
  return OutOfRange(P::kFieldPath, Text(*value), P::kRangeText);
}

// Each entry of a list parameter (t_index_list) against its registry range.
template <typename P, typename V>
Status CheckEntries(const std::optional<std::vector<V>>& values) {
  if (!values) return Status::Ok();
  for (const V& v : *values) {
    if (!P::InRange(v)) return OutOfRange(P::kFieldPath, Text(v), P::kRangeText);
  }
  return Status::Ok();
}

// Named weights (lora_weights, controlnet_*, style_blend): each name set, each weight in the registry range.
template <typename P>
Status CheckWeights(const std::optional<std::vector<AdapterWeight>>& weights) {
  if (!weights) return Status::Ok();
  for (size_t i = 0; i < weights->size(); ++i) {
    const AdapterWeight& w = (*weights)[i];
    const std::string field = std::string(P::kFieldPath) + "[" + std::to_string(i) + "]";
    if (w.name.empty()) {
      return Status(StatusCode::kInvalidArgument, "SetParams: " + field + ".name is empty; name the adapter, "
                                                  "ControlNet kind or style image the weight is for");
    }
    if (!P::InRange(w.weight)) return OutOfRange((field + " (" + w.name + ")").c_str(), Text(w.weight), P::kRangeText);
  }
  return Status::Ok();
}

// An enum parameter (cfg_mode, attention_bank_blocks): Unknown (0) and numbers beyond `last` are refused, naming the
// number and the members to use.
template <typename E>
Status CheckEnum(const std::optional<E>& value, const char* field, E last, const char* members) {
  if (!value || (static_cast<int>(*value) != 0 && *value <= last)) return Status::Ok();
  return Status(StatusCode::kInvalidArgument, std::string("SetParams: ") + field + " = " +
                                                  Text(static_cast<std::underlying_type_t<E>>(*value)) + "; use " +
                                                  members);
}

// CheckParamsFields(const Params&), one line per Params field: generated from schemas/bridge.fbs and the parameter
// registry (schemas/codegen_params_cpp.py).
#include "sdbridge/generated/params_check.inc"

}  // namespace

Status ValidateParams(const Params& p) {
  if (p.Empty()) return Status(StatusCode::kInvalidArgument, "SetParams: no field is set; set at least one (e.g. guidance_scale)");
  return CheckParamsFields(p);
}

Status ValidateStyleImage(const StyleImage& header, const uint8_t* pixels, size_t size, const DecodeLimits& limits) {
  if (header.name.empty()) {
    return Status(StatusCode::kInvalidArgument, "SendStyleImage: name is empty; name the style (Params.style_blend "
                                                "refers to it by this name)");
  }
  if (header.format != PixelFormat::kRGBA8 && header.format != PixelFormat::kBGRA8 && header.format != PixelFormat::kRGB8) {
    return Status(StatusCode::kInvalidArgument, "SendStyleImage: format " + Text(static_cast<unsigned>(header.format)) +
                                                    " is not RGBA8, BGRA8 or RGB8");
  }
  const PixelLayout layout{header.width, header.height, header.stride, header.format, header.row_order,
                           ColorSpace::kSRGB, AlphaMode::kIgnore};
  size_t expected = 0;
  Status s = ExpectedPixelBytes(layout, &expected, limits);
  if (!s.ok()) return Status(StatusCode::kInvalidArgument, "SendStyleImage '" + header.name + "': " + s.message());
  if (header.row_order == RowOrder::kUnknown) {
    return Status(StatusCode::kInvalidArgument, "SendStyleImage: row_order must be TopDown or BottomUp");
  }
  if (pixels == nullptr || size != expected) {
    return Status(StatusCode::kInvalidArgument,
                  "SendStyleImage '" + header.name + "': got " + std::to_string(pixels ? size : 0) + " pixel bytes, " +
                      std::to_string(header.width) + "x" + std::to_string(header.height) + " with stride " +
                      std::to_string(header.stride) + " needs stride x height = " + std::to_string(expected));
  }
  return Status::Ok();
}

ErrorOutcome ClassifyServerError(const ErrorMessage& err, bool connected, const ClientConfig& config) {
  ErrorOutcome out;
  ClientEvent& e = out.event;
  e.kind = ClientEventKind::kError;
  e.error = err;
  e.wire_error = err.code;
  e.message = "server error " + std::to_string(static_cast<unsigned>(err.code)) +
              (err.field ? " (" + *err.field + ")" : std::string()) + ": " + err.message.value_or("");
  if (err.code == WireError::kVersionMismatch) {
    e.status = StatusCode::kVersionMismatch;
    e.message = "server at " + config.endpoint + " refused protocol " +
                VersionString(config.protocol_major, config.protocol_minor) + ": " +
                err.message.value_or("(no message)");
    out.end = SessionEnd::kRefused;
  } else if (!connected) {
    // A refused Hello: retried only when another try may fix it (set_capacity_refusal in bridge.fbs, the Python
    // client's client_retry.RETRY_CODES), decided on the wire code; any other refusal stops the tries at once.
    e.status = StatusCode::kRefused;
    out.end = IsCapacityRefusal(err.code) ? SessionEnd::kRetry : SessionEnd::kRefused;
    if (out.end == SessionEnd::kRefused) {
      e.message += "; not retried (only a capacity refusal such as SessionLimit is): fix what the server names, then "
                   "call Client::Reconnect()";
    }
  } else if (IsSessionGone(err.code)) {  // set_session_gone in bridge.fbs (generated/bridge_constants.h)
    e.status = StatusCode::kNotConnected;
    out.end = SessionEnd::kRetry;  // the server lost our session (restart, expiry): new handshake
    if (IsUnknownConnection(err.code)) {  // set_unknown_connection: libzmq re-made the connection elsewhere
      e.kind = ClientEventKind::kDisconnected;  // expected behind a balancer: reported as a move, not an error
      e.message = "server " + config.endpoint + " has no session for this connection (another replica behind a "
                  "balancer, or a restarted server); reconnecting with a new Hello (" + e.message + ")";
    }
  } else {
    e.status = StatusCode::kInvalidArgument;
  }
  if (err.session_closed && out.end == SessionEnd::kNone) out.end = SessionEnd::kRetry;
  return out;
}

std::string MajorMismatchText(const ClientConfig& config, const Welcome& w) {
  return "server at " + config.endpoint + " speaks protocol " + VersionString(w.protocol_major, w.protocol_minor) +
         ", this plugin speaks " + VersionString(config.protocol_major, config.protocol_minor) +
         ": install streamdiffusion-bridge " + std::to_string(config.protocol_major) +
         ".x on the server or a plugin of major " + std::to_string(w.protocol_major);
}

std::optional<std::string> WelcomeWarning(const ClientConfig& config, const Welcome& w) {
  const bool has_warning = w.warning && !w.warning->empty();
  if (w.protocol_minor == config.protocol_minor && !has_warning) return std::nullopt;
  return "server speaks protocol " + VersionString(w.protocol_major, w.protocol_minor) + ", this plugin " +
         VersionString(config.protocol_major, config.protocol_minor) + " (same major: accepted)" +
         (has_warning ? ": " + *w.warning : std::string());
}

std::string ConnectedText(const ClientConfig& config, const Welcome& w) {
  return "connected to " + config.endpoint + " (session " + std::to_string(w.session_id) + ", server " +
         w.server_version.value_or("?") + ", protocol " + VersionString(w.protocol_major, w.protocol_minor) + ")";
}

std::string HandshakeTimeoutText(const ClientConfig& config) {
  return "no Welcome from " + config.endpoint + " within " + std::to_string(config.handshake_timeout.count()) +
         " ms (ClientConfig.handshake_timeout). Causes and fixes: no server listens there (start "
         "`sdbridge serve` with that port, or correct the endpoint); a firewall drops the port (allow "
         "TCP to it); CurveZMQ keys that do not match (the server ignores such handshakes: check the "
         "server key and that this client's public key is in its authorized_keys). Retrying.";
}

std::string GaveUpText(const ClientConfig& config, uint32_t tries) {
  return "no session with " + config.endpoint + " after " + std::to_string(tries) + " tries in " +
         std::to_string(config.reconnect_window.count()) +
         " ms (ClientConfig.reconnect_window; the events before this one say why each failed): stopped trying. "
         "Call Reconnect() to try again, start the server (or more replicas behind the balancer), or set "
         "reconnect_window = 0 to keep trying";
}

std::string ServerShutdownText(const ClientConfig& config, const Notice& notice) {
  return "server " + config.endpoint + " is shutting down (" + notice.message.value_or("draining") +
         "); reconnecting (behind a balancer, to another replica) and replaying the prompt, params and state";
}

std::string SessionEndedByErrorText(const ClientConfig& config, const std::string& error_text) {
  return "server " + config.endpoint + " ended the session (" + error_text +
         "); reconnecting with a new Hello and replaying the prompt, params and state";
}

std::string BadResultText(const ResultHeader& header, const Status& layout, size_t expected, size_t part_count,
                          size_t pixel_bytes) {
  return "Result for frame " + std::to_string(header.frame_id) + " dropped: " +
         (layout.ok() ? "expected 2 parts with " + std::to_string(expected) + " pixel bytes, got " +
                            std::to_string(part_count) + " parts" +
                            (part_count > 1 ? " with " + std::to_string(pixel_bytes) + " bytes" : "")
                      : layout.message());
}

}  // namespace client_internal
}  // namespace sdbridge
