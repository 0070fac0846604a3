// Plain C++ mirrors of every message in schemas/bridge.fbs (protocol 1.x).
//
// The engine layer and the client use these structs; only src/codec.cpp touches the
// flatc-generated header. The enums are generated from the schema (generated/bridge_constants.h); codec.cpp
// also static_asserts them against flatc's.
// Names follow the schema: Hello, Welcome, Error -> ErrorMessage, Frame -> FrameHeader,
// Result -> ResultHeader (pixels travel in ZeroMQ part 2, never in these structs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "sdbridge/generated/bridge_constants.h"

namespace sdbridge {

// PixelFormat, RowOrder, ColorSpace, AlphaMode, ModelFamily, BlendMethod, NoticeKind, ValueKind, WireError (the
// schema's ErrorCode), the capability:: and params_field:: bits and IsSessionGone() are generated from
// schemas/bridge.fbs into sdbridge/generated/bridge_constants.h (schemas/codegen.py).

// BytesPerPixel(PixelFormat) and BytesPerPixel(PlaneFormat) (0 for kUnknown or values this build does not know) are
// generated from the schema's bytes_per_pixel attributes into sdbridge/generated/bridge_constants.h.

/// A typed value of a KeyValue (GameEvent payload, State entries). monostate = ValueKind None.
using Value = std::variant<std::monostate, bool, int64_t, double, std::string>;

struct KeyValue {
  std::string key;
  Value value;
};

/// The schema's `AdapterWeight` (protocol 1.2): a named weight. Params.lora_weights (a live LoRA adapter's name),
/// protocol 1.4's controlnet_scale/start/end (a ControlNet's kind as the server announces it, e.g. "depth") and
/// style_blend (a StyleImage name).
struct AdapterWeight {
  std::string name;
  float weight = 0.0f;
};

struct PromptWeight {
  std::string text;
  float weight = 0.0f;
};

struct SeedWeight {
  uint64_t seed = 0;
  float weight = 0.0f;
};

struct ModelInfo {
  std::string name;
  ModelFamily family = ModelFamily::kUnknown;
  uint32_t width = 0;
  uint32_t height = 0;
};

/// Optional strings, vectors and tables: std::nullopt (or an empty string/vector) = absent from the
/// buffer, as schemas/golden/README.md requires for byte-identical encodings.
struct Hello {
  uint16_t protocol_major = 0;
  uint16_t protocol_minor = 0;
  std::optional<std::string> client_name;
  std::optional<std::string> client_version;
  std::optional<std::string> engine_name;
  std::optional<std::string> engine_version;
  uint32_t capabilities = 0;
  std::optional<std::vector<PixelFormat>> pixel_formats;
};

struct Welcome {
  uint64_t session_id = 0;
  uint16_t protocol_major = 0;
  uint16_t protocol_minor = 0;
  std::optional<std::string> server_version;
  uint32_t capabilities = 0;
  uint32_t initial_credits = 0;
  uint32_t max_width = 0;
  uint32_t max_height = 0;
  uint32_t max_message_bytes = 0;
  uint32_t latency_frames = 0;
  std::optional<ModelInfo> model;
  uint32_t heartbeat_interval_ms = 0;
  std::optional<std::vector<PixelFormat>> pixel_formats;
  std::optional<std::string> warning;
  uint32_t sessions_open = 0;  // protocol 1.4: sessions open on this replica, this one included (0: an older server)
  uint32_t sessions_max = 0;   // protocol 1.4: the replica's session limit (0: an older server)
  /// Protocol 1.4: the plane kinds the server uses (its ControlNets' kinds, kMotion while motion warping is on); send
  /// these with capability::kPlanes. A live change comes as a Notice of kind kWantedPlanesChanged.
  std::optional<std::vector<PlaneKind>> wanted_planes;
};

/// The schema's `Error` table.
struct ErrorMessage {
  WireError code = WireError::kUnknown;
  std::optional<std::string> message;
  std::optional<std::string> field;
  uint64_t frame_id = 0;
  bool has_frame_id = false;
  bool session_closed = false;
};

/// Geometry and encoding of a pixel part, shared by Frame and Result headers.
struct PixelLayout {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t stride = 0;  // bytes per row, >= width * BytesPerPixel(format)
  PixelFormat format = PixelFormat::kUnknown;
  RowOrder row_order = RowOrder::kUnknown;
  ColorSpace color_space = ColorSpace::kUnknown;
  AlphaMode alpha_mode = AlphaMode::kUnknown;
};

/// The schema's `PlaneDesc` table (protocol 1.3): one auxiliary plane of a Frame (depth, normals, segmentation ids,
/// motion vectors or a control image), sent as its own ZeroMQ part after the pixels (stride * height bytes). Only
/// the fields of its kind mean something; schemas/bridge.fbs documents each convention.
struct PlaneDesc {
  PlaneKind kind = PlaneKind::kUnknown;
  PlaneFormat format = PlaneFormat::kUnknown;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t stride = 0;  // bytes per row, >= width * BytesPerPixel(format)
  RowOrder row_order = RowOrder::kTopDown;
  DepthEncoding depth_encoding = DepthEncoding::kUnknown;  // Depth: kLinear (view distance) or kDevice ([0, 1])
  bool reversed_z = false;                                  // Depth (kDevice): 1 at near, 0 at far
  float depth_near = 0.0f;                                  // Depth: near plane, world units
  float depth_far = 0.0f;                                   // Depth: far plane, world units (0 = infinite)
  NormalSpace normal_space = NormalSpace::kUnknown;
  NormalEncoding normal_encoding = NormalEncoding::kUnknown;
  MotionUnits motion_units = MotionUnits::kUnknown;
  MotionTarget motion_target = MotionTarget::kUnknown;  // the frame p + v points to
  bool motion_y_up = false;                              // Motion: +y up the image (false: down)
  std::string name;                                      // Control: what the image is ("pose", ...)

  /// A top-down plane of packed rows (stride = width * bytes per pixel).
  static PlaneDesc Packed(PlaneKind kind, PlaneFormat format, uint32_t width, uint32_t height) {
    PlaneDesc p;
    p.kind = kind;
    p.format = format;
    p.width = width;
    p.height = height;
    p.stride = width * BytesPerPixel(format);
    return p;
  }
  /// Bytes of the plane's ZeroMQ part: stride * height.
  size_t ByteCount() const { return static_cast<size_t>(stride) * height; }
};

/// The fields the schema's `Frame` and `Result` tables share, first in both and in this order: which frame of which
/// stream of which session, its pixel layout, and the client's clock.
struct ImageHeader {
  uint64_t session_id = 0;
  uint32_t stream_id = 0;
  uint64_t frame_id = 0;
  PixelLayout layout;
  uint64_t capture_time_us = 0;
  uint64_t send_time_us = 0;
};

/// The schema's `Frame` table (the header; pixels are ZeroMQ part 2, planes (protocol 1.3) parts 3, 4, ...).
struct FrameHeader : ImageHeader {
  std::vector<PlaneDesc> planes;  // protocol 1.3 (only with capability::kPlanes); empty: none
  /// Protocol 1.4: this frame starts a new shot (camera cut, level load, teleport); the server resets the session's
  /// temporal state before it.
  bool scene_cut = false;
};

/// The schema's `Result` table (the header; pixels are ZeroMQ part 2).
struct ResultHeader : ImageHeader {
  uint32_t queue_wait_us = 0;
  uint32_t inference_us = 0;
  uint32_t encode_us = 0;
  bool is_warmup = false;
  bool skipped = false;
  uint64_t source_frame_id = 0;
  uint32_t credits_granted = 0;
};

struct Prompt {
  std::optional<std::string> text;
  std::optional<std::string> negative;
  std::optional<std::vector<PromptWeight>> blend;
  uint32_t transition_frames = 0;
  float transition_seconds = 0.0f;
  BlendMethod method = BlendMethod::kUnknown;
  uint32_t stream_id = 0;
};

/// The schema's `Params`: a field is sent (and its ParamsField bit set) only when it has a value. Its members, one per
/// field of the schema's table with the registry's description and range, are generated from schemas/bridge.fbs and
/// python_server/sdbridge/params.py (schemas/codegen_params_cpp.py) into sdbridge/generated/params_fields.h.
struct Params {
#include "sdbridge/generated/params_fields.h"  // the members only (no include guard: included here alone)

  /// Bits of the schema's ParamsField for the fields that have a value.
  uint32_t SetMask() const;
  /// Copy every field that `newer` sets over this one (used to replay settings after a reconnect).
  void MergeFrom(const Params& newer);
  bool Empty() const { return SetMask() == 0; }
};

struct GameEvent {
  std::optional<std::string> name;
  std::optional<std::vector<KeyValue>> payload;
  uint64_t client_time_us = 0;
  uint64_t frame_id = 0;
};

struct State {
  std::optional<std::vector<KeyValue>> entries;
  bool replace_all = false;
  uint64_t client_time_us = 0;
};

struct StatsRequest {
  uint32_t request_id = 0;
};

struct Stats {
  uint32_t request_id = 0;
  uint64_t session_id = 0;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t frames_dropped = 0;
  uint64_t frames_skipped = 0;
  float fps_in = 0.0f;
  float fps_out = 0.0f;
  uint32_t latency_p50_us = 0;
  uint32_t latency_p99_us = 0;
  uint32_t inference_p50_us = 0;
  float uptime_s = 0.0f;
};

struct Bye {
  std::optional<std::string> reason;
};

struct Notice {
  NoticeKind kind = NoticeKind::kUnknown;
  std::optional<std::string> message;
  std::optional<std::string> source;
  std::optional<Prompt> prompt;
  std::optional<Params> params;
  std::optional<std::string> preview_url;  // protocol 1.1: this session's preview page address
  /// Protocol 1.4 (kind kWantedPlanesChanged): the plane kinds the server now uses (may be empty: none any more).
  std::optional<std::vector<PlaneKind>> wanted_planes;
};

struct Credit {
  uint32_t granted = 0;
};

struct Ping {
  uint64_t nonce = 0;
  uint64_t client_time_us = 0;
};

struct Pong {
  uint64_t nonce = 0;
  uint64_t client_time_us = 0;
  uint64_t server_time_us = 0;
};

/// The schema's `StyleImage` header (protocol 1.4, capability::kStyleImages): a named style reference image for the
/// server's IP-Adapter; its pixels are ZeroMQ part 2 (stride * height bytes). Sending a name again replaces that
/// image; its weight is set with Params.style_blend.
struct StyleImage {
  std::string name;
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t stride = 0;  // bytes per row, >= width * BytesPerPixel(format)
  PixelFormat format = PixelFormat::kUnknown;
  RowOrder row_order = RowOrder::kUnknown;
};

/// One decoded Envelope. The index order equals the schema's union order minus one (NONE).
using Message = std::variant<Hello, Welcome, ErrorMessage, FrameHeader, ResultHeader, Prompt, Params,
                             GameEvent, State, StatsRequest, Stats, Bye, Notice, Credit, Ping, Pong, StyleImage>;

/// Schema name of the message held, e.g. "Welcome" (for logs and errors).
const char* MessageName(const Message& message);

}  // namespace sdbridge
