// Codec: the only translation unit that includes the flatc-generated header.
//
// Encoding builds sub-objects (strings, vectors, nested tables) in field-id order and then calls
// flatc's Create<Table>() (which adds fields largest-first exactly like flatc's JSON parser), so
// the bytes equal `flatc -b schemas/bridge.fbs x.json` for JSON written in field-id order.
#include "sdbridge/codec.h"

#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <type_traits>

#include "flatbuffers/flatbuffers.h"
#include "sdbridge/generated/bridge_generated.h"

namespace sdbridge {
namespace {

namespace fb = ::sdbridge::protocol;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

static_assert(FLATBUFFERS_VERSION_MAJOR == 2 && FLATBUFFERS_VERSION_MINOR == 0 && FLATBUFFERS_VERSION_REVISION == 8,
              "sdbridge needs the flatbuffers 2.0.8 headers (the version of Debian's flatc that generated the code)");

// The core's enums (generated/bridge_constants.h, written by schemas/codegen.py from the same schema) equal flatc's.
template <typename A, typename B>
constexpr bool Same(A a, B b) {
  return static_cast<uint64_t>(a) == static_cast<uint64_t>(b);
}
static_assert(Same(PixelFormat::kRGBA8, fb::PixelFormat::RGBA8) && Same(PixelFormat::kBGRA8, fb::PixelFormat::BGRA8) &&
              Same(PixelFormat::kRGB8, fb::PixelFormat::RGB8) && Same(PixelFormat::kUnknown, fb::PixelFormat::Unknown));
static_assert(Same(RowOrder::kTopDown, fb::RowOrder::TopDown) && Same(RowOrder::kBottomUp, fb::RowOrder::BottomUp));
static_assert(Same(ColorSpace::kSRGB, fb::ColorSpace::SRGB) && Same(ColorSpace::kLinear, fb::ColorSpace::Linear));
static_assert(Same(AlphaMode::kIgnore, fb::AlphaMode::Ignore) && Same(AlphaMode::kStraight, fb::AlphaMode::Straight) &&
              Same(AlphaMode::kPremultiplied, fb::AlphaMode::Premultiplied));
static_assert(Same(ModelFamily::kIdentity, fb::ModelFamily::Identity) && Same(ModelFamily::kSDXL, fb::ModelFamily::SDXL));
static_assert(Same(BlendMethod::kSlerp, fb::BlendMethod::Slerp));
static_assert(Same(NoticeKind::kInfo, fb::NoticeKind::Info));
static_assert(Same(WireError::kSessionExpired, fb::ErrorCode::SessionExpired) &&
              Same(WireError::kVersionMismatch, fb::ErrorCode::VersionMismatch) &&
              Same(WireError::kNotHello, fb::ErrorCode::NotHello));
static_assert(Same(capability::kCredits, fb::Capability::Credits) && Same(capability::kMultiStream, fb::Capability::MultiStream) &&
              Same(capability::kPlanes, fb::Capability::Planes));
static_assert(Same(PlaneKind::kControl, fb::PlaneKind::Control) && Same(PlaneFormat::kRG32F, fb::PlaneFormat::RG32F) &&
              Same(PlaneFormat::kRGBA16F, fb::PlaneFormat::RGBA16F) && Same(DepthEncoding::kDevice, fb::DepthEncoding::Device) &&
              Same(NormalSpace::kWorld, fb::NormalSpace::World) && Same(NormalEncoding::kUnsigned, fb::NormalEncoding::Unsigned) &&
              Same(MotionUnits::kUV, fb::MotionUnits::UV) && Same(MotionTarget::kNext, fb::MotionTarget::Next));
static_assert(Same(fb::Message::StyleImage, std::variant_size_v<Message>), "one Message alternative per union member");
static_assert(Same(capability::kStyleImages, fb::Capability::StyleImages) &&
              Same(NoticeKind::kWantedPlanesChanged, fb::NoticeKind::WantedPlanesChanged));
static_assert(Same(AttentionBankBlocks::kUp, fb::AttentionBankBlocks::Up) && Same(CfgMode::kFull, fb::CfgMode::Full));
// (every ParamsField bit is asserted in generated/params_codec.inc)

template <typename E, typename M>
E To(M mirror) {
  return static_cast<E>(static_cast<std::underlying_type_t<E>>(mirror));
}

// ------------------------------------------------------------------ encode helpers

// Empty strings and vectors are written as absent fields (schemas/golden/README.md, step 2).
Offset<flatbuffers::String> Str(FlatBufferBuilder& b, const std::string& s) {
  return s.empty() ? Offset<flatbuffers::String>(0) : b.CreateString(s);
}

Offset<flatbuffers::String> Str(FlatBufferBuilder& b, const std::optional<std::string>& s) {
  return s ? Str(b, *s) : Offset<flatbuffers::String>(0);
}

Offset<flatbuffers::Vector<fb::PixelFormat>> Formats(FlatBufferBuilder& b,
                                                     const std::optional<std::vector<PixelFormat>>& formats) {
  if (!formats || formats->empty()) return 0;
  std::vector<fb::PixelFormat> raw;
  raw.reserve(formats->size());
  for (PixelFormat f : *formats) raw.push_back(To<fb::PixelFormat>(f));
  return b.CreateVector(raw);
}

Offset<flatbuffers::Vector<Offset<fb::KeyValue>>> KeyValues(FlatBufferBuilder& b,
                                                           const std::optional<std::vector<KeyValue>>& kvs) {
  if (!kvs || kvs->empty()) return 0;
  std::vector<Offset<fb::KeyValue>> tables;
  tables.reserve(kvs->size());
  for (const KeyValue& kv : *kvs) {
    auto key = Str(b, kv.key);
    fb::ValueKind kind = fb::ValueKind::None;
    bool bool_value = false;
    int64_t int_value = 0;
    double float_value = 0.0;
    Offset<flatbuffers::String> string_value = 0;
    if (const bool* v = std::get_if<bool>(&kv.value)) {
      kind = fb::ValueKind::Bool;
      bool_value = *v;
    } else if (const int64_t* i = std::get_if<int64_t>(&kv.value)) {
      kind = fb::ValueKind::Int;
      int_value = *i;
    } else if (const double* d = std::get_if<double>(&kv.value)) {
      kind = fb::ValueKind::Float;
      float_value = *d;
    } else if (const std::string* s = std::get_if<std::string>(&kv.value)) {
      kind = fb::ValueKind::String;
      string_value = Str(b, *s);
    }
    tables.push_back(fb::CreateKeyValue(b, key, kind, bool_value, int_value, float_value, string_value));
  }
  return b.CreateVector(tables);
}

Offset<fb::Prompt> BuildPrompt(FlatBufferBuilder& b, const Prompt& m) {
  auto text = Str(b, m.text);
  auto negative = Str(b, m.negative);
  Offset<flatbuffers::Vector<Offset<fb::PromptWeight>>> blend = 0;
  if (m.blend && !m.blend->empty()) {
    std::vector<Offset<fb::PromptWeight>> weights;
    weights.reserve(m.blend->size());
    for (const PromptWeight& w : *m.blend) {
      auto t = Str(b, w.text);
      weights.push_back(fb::CreatePromptWeight(b, t, w.weight));
    }
    blend = b.CreateVector(weights);
  }
  return fb::CreatePrompt(b, text, negative, blend, m.transition_frames, m.transition_seconds,
                          To<fb::BlendMethod>(m.method), m.stream_id);
}

// Plane kinds (Welcome.wanted_planes, Notice.wanted_planes; protocol 1.4); none: absent.
Offset<flatbuffers::Vector<fb::PlaneKind>> Kinds(FlatBufferBuilder& b, const std::optional<std::vector<PlaneKind>>& kinds) {
  if (!kinds || kinds->empty()) return 0;
  std::vector<fb::PlaneKind> raw;
  raw.reserve(kinds->size());
  for (PlaneKind k : *kinds) raw.push_back(To<fb::PlaneKind>(k));
  return b.CreateVector(raw);
}

// BuildParams() and ReadParams(), one line per Params field, and the write/read helpers of the tables its vectors hold
// (SeedWeight, AdapterWeight): generated from schemas/bridge.fbs (schemas/codegen_params_cpp.py).
#include "sdbridge/generated/params_codec.inc"

// One overload per message: returns the union type and the body offset.
struct Body {
  fb::Message type;
  Offset<void> offset;
};

Body Build(FlatBufferBuilder& b, const Hello& m) {
  auto client_name = Str(b, m.client_name);
  auto client_version = Str(b, m.client_version);
  auto engine_name = Str(b, m.engine_name);
  auto engine_version = Str(b, m.engine_version);
  auto formats = Formats(b, m.pixel_formats);
  return {fb::Message::Hello, fb::CreateHello(b, m.protocol_major, m.protocol_minor, client_name, client_version,
                                              engine_name, engine_version, m.capabilities, formats).Union()};
}

Body Build(FlatBufferBuilder& b, const Welcome& m) {
  auto server_version = Str(b, m.server_version);
  Offset<fb::ModelInfo> model = 0;
  if (m.model) {
    auto name = Str(b, m.model->name);
    model = fb::CreateModelInfo(b, name, To<fb::ModelFamily>(m.model->family), m.model->width, m.model->height);
  }
  auto formats = Formats(b, m.pixel_formats);
  auto warning = Str(b, m.warning);
  auto wanted_planes = Kinds(b, m.wanted_planes);
  return {fb::Message::Welcome,
          fb::CreateWelcome(b, m.session_id, m.protocol_major, m.protocol_minor, server_version, m.capabilities,
                            m.initial_credits, m.max_width, m.max_height, m.max_message_bytes, m.latency_frames,
                            model, m.heartbeat_interval_ms, formats, warning, m.sessions_open, m.sessions_max,
                            wanted_planes)
              .Union()};
}

Body Build(FlatBufferBuilder& b, const ErrorMessage& m) {
  auto message = Str(b, m.message);
  auto field = Str(b, m.field);
  return {fb::Message::Error, fb::CreateError(b, To<fb::ErrorCode>(m.code), message, field, m.frame_id,
                                              m.has_frame_id, m.session_closed).Union()};
}

// Frame.planes (protocol 1.3): each PlaneDesc (its name first), then the vector; none: absent.
Offset<flatbuffers::Vector<Offset<fb::PlaneDesc>>> Planes(FlatBufferBuilder& b, const std::vector<PlaneDesc>& planes) {
  if (planes.empty()) return 0;
  std::vector<Offset<fb::PlaneDesc>> offsets;
  offsets.reserve(planes.size());
  for (const PlaneDesc& p : planes) {
    auto name = Str(b, p.name);
    offsets.push_back(fb::CreatePlaneDesc(b, To<fb::PlaneKind>(p.kind), To<fb::PlaneFormat>(p.format), p.width, p.height,
                                          p.stride, To<fb::RowOrder>(p.row_order), To<fb::DepthEncoding>(p.depth_encoding),
                                          p.reversed_z, p.depth_near, p.depth_far, To<fb::NormalSpace>(p.normal_space),
                                          To<fb::NormalEncoding>(p.normal_encoding), To<fb::MotionUnits>(p.motion_units),
                                          To<fb::MotionTarget>(p.motion_target), p.motion_y_up, name));
  }
  return b.CreateVector(offsets);
}

Body Build(FlatBufferBuilder& b, const FrameHeader& m) {
  const PixelLayout& l = m.layout;
  auto planes = Planes(b, m.planes);
  return {fb::Message::Frame,
          fb::CreateFrame(b, m.session_id, m.stream_id, m.frame_id, l.width, l.height, l.stride,
                          To<fb::PixelFormat>(l.format), To<fb::RowOrder>(l.row_order),
                          To<fb::ColorSpace>(l.color_space), To<fb::AlphaMode>(l.alpha_mode), m.capture_time_us,
                          m.send_time_us, planes, m.scene_cut)
              .Union()};
}

Body Build(FlatBufferBuilder& b, const ResultHeader& m) {
  const PixelLayout& l = m.layout;
  return {fb::Message::Result,
          fb::CreateResult(b, m.session_id, m.stream_id, m.frame_id, l.width, l.height, l.stride,
                           To<fb::PixelFormat>(l.format), To<fb::RowOrder>(l.row_order),
                           To<fb::ColorSpace>(l.color_space), To<fb::AlphaMode>(l.alpha_mode), m.capture_time_us,
                           m.send_time_us, m.queue_wait_us, m.inference_us, m.encode_us, m.is_warmup, m.skipped,
                           m.source_frame_id, m.credits_granted)
              .Union()};
}

Body Build(FlatBufferBuilder& b, const Prompt& m) { return {fb::Message::Prompt, BuildPrompt(b, m).Union()}; }
Body Build(FlatBufferBuilder& b, const Params& m) { return {fb::Message::Params, BuildParams(b, m).Union()}; }

Body Build(FlatBufferBuilder& b, const GameEvent& m) {
  auto name = Str(b, m.name);
  auto payload = KeyValues(b, m.payload);
  return {fb::Message::GameEvent, fb::CreateGameEvent(b, name, payload, m.client_time_us, m.frame_id).Union()};
}

Body Build(FlatBufferBuilder& b, const State& m) {
  auto entries = KeyValues(b, m.entries);
  return {fb::Message::State, fb::CreateState(b, entries, m.replace_all, m.client_time_us).Union()};
}

Body Build(FlatBufferBuilder& b, const StatsRequest& m) {
  return {fb::Message::StatsRequest, fb::CreateStatsRequest(b, m.request_id).Union()};
}

Body Build(FlatBufferBuilder& b, const Stats& m) {
  return {fb::Message::Stats,
          fb::CreateStats(b, m.request_id, m.session_id, m.frames_in, m.frames_out, m.frames_dropped,
                          m.frames_skipped, m.fps_in, m.fps_out, m.latency_p50_us, m.latency_p99_us,
                          m.inference_p50_us, m.uptime_s)
              .Union()};
}

Body Build(FlatBufferBuilder& b, const Bye& m) {
  auto reason = Str(b, m.reason);
  return {fb::Message::Bye, fb::CreateBye(b, reason).Union()};
}

Body Build(FlatBufferBuilder& b, const Notice& m) {
  auto message = Str(b, m.message);
  auto source = Str(b, m.source);
  Offset<fb::Prompt> prompt = m.prompt ? BuildPrompt(b, *m.prompt) : Offset<fb::Prompt>(0);
  Offset<fb::Params> params = m.params ? BuildParams(b, *m.params) : Offset<fb::Params>(0);
  auto preview_url = Str(b, m.preview_url);
  auto wanted_planes = Kinds(b, m.wanted_planes);
  return {fb::Message::Notice, fb::CreateNotice(b, To<fb::NoticeKind>(m.kind), message, source, prompt, params,
                                                preview_url, wanted_planes)
                                   .Union()};
}

Body Build(FlatBufferBuilder& b, const StyleImage& m) {
  auto name = Str(b, m.name);
  return {fb::Message::StyleImage, fb::CreateStyleImage(b, name, m.width, m.height, m.stride,
                                                        To<fb::PixelFormat>(m.format), To<fb::RowOrder>(m.row_order))
                                       .Union()};
}

Body Build(FlatBufferBuilder& b, const Credit& m) { return {fb::Message::Credit, fb::CreateCredit(b, m.granted).Union()}; }

Body Build(FlatBufferBuilder& b, const Ping& m) {
  return {fb::Message::Ping, fb::CreatePing(b, m.nonce, m.client_time_us).Union()};
}

Body Build(FlatBufferBuilder& b, const Pong& m) {
  return {fb::Message::Pong, fb::CreatePong(b, m.nonce, m.client_time_us, m.server_time_us).Union()};
}

// ------------------------------------------------------------------ decode helpers

std::optional<std::string> Opt(const flatbuffers::String* s) {
  return s ? std::optional<std::string>(s->str()) : std::nullopt;
}

std::optional<std::vector<PixelFormat>> Formats(const flatbuffers::Vector<fb::PixelFormat>* v) {
  if (!v) return std::nullopt;
  std::vector<PixelFormat> out;
  out.reserve(v->size());
  for (fb::PixelFormat f : *v) out.push_back(static_cast<PixelFormat>(f));
  return out;
}

std::optional<std::vector<KeyValue>> KeyValues(const flatbuffers::Vector<Offset<fb::KeyValue>>* v) {
  if (!v) return std::nullopt;
  std::vector<KeyValue> out;
  out.reserve(v->size());
  for (const fb::KeyValue* kv : *v) {
    KeyValue item;
    if (kv->key()) item.key = kv->key()->str();
    switch (kv->kind()) {
      case fb::ValueKind::Bool: item.value = kv->bool_value(); break;
      case fb::ValueKind::Int: item.value = kv->int_value(); break;
      case fb::ValueKind::Float: item.value = kv->float_value(); break;
      case fb::ValueKind::String:
        item.value = kv->string_value() ? kv->string_value()->str() : std::string();
        break;
      default: item.value = std::monostate(); break;  // None or a kind from a newer minor
    }
    out.push_back(std::move(item));
  }
  return out;
}

// The fields a Frame and a Result share (ImageHeader), read the same way from either table.
template <typename Table>
void ReadImage(const Table& p, ImageHeader* m) {
  m->session_id = p.session_id();
  m->stream_id = p.stream_id();
  m->frame_id = p.frame_id();
  PixelLayout& l = m->layout;
  l.width = p.width();
  l.height = p.height();
  l.stride = p.stride();
  l.format = static_cast<PixelFormat>(p.pixel_format());
  l.row_order = static_cast<RowOrder>(p.row_order());
  l.color_space = static_cast<ColorSpace>(p.color_space());
  l.alpha_mode = static_cast<AlphaMode>(p.alpha_mode());
  m->capture_time_us = p.capture_time_us();
  m->send_time_us = p.send_time_us();
}

PlaneDesc ReadPlane(const fb::PlaneDesc& q) {
  PlaneDesc p;
  p.kind = static_cast<PlaneKind>(q.kind());
  p.format = static_cast<PlaneFormat>(q.format());
  p.width = q.width();
  p.height = q.height();
  p.stride = q.stride();
  p.row_order = static_cast<RowOrder>(q.row_order());
  p.depth_encoding = static_cast<DepthEncoding>(q.depth_encoding());
  p.reversed_z = q.reversed_z();
  p.depth_near = q.depth_near();
  p.depth_far = q.depth_far();
  p.normal_space = static_cast<NormalSpace>(q.normal_space());
  p.normal_encoding = static_cast<NormalEncoding>(q.normal_encoding());
  p.motion_units = static_cast<MotionUnits>(q.motion_units());
  p.motion_target = static_cast<MotionTarget>(q.motion_target());
  p.motion_y_up = q.motion_y_up();
  p.name = q.name() != nullptr ? q.name()->str() : std::string();
  return p;
}

Prompt ReadPrompt(const fb::Prompt& p) {
  Prompt m;
  m.text = Opt(p.text());
  m.negative = Opt(p.negative());
  if (p.blend()) {
    m.blend.emplace();
    for (const fb::PromptWeight* w : *p.blend()) {
      m.blend->push_back(PromptWeight{w->text() ? w->text()->str() : std::string(), w->weight()});
    }
  }
  m.transition_frames = p.transition_frames();
  m.transition_seconds = p.transition_seconds();
  m.method = static_cast<BlendMethod>(p.method());
  m.stream_id = p.stream_id();
  return m;
}

std::optional<std::vector<PlaneKind>> Kinds(const flatbuffers::Vector<fb::PlaneKind>* v) {
  if (!v) return std::nullopt;
  std::vector<PlaneKind> out;
  out.reserve(v->size());
  for (fb::PlaneKind k : *v) out.push_back(static_cast<PlaneKind>(k));
  return out;
}

// `code` is the protocol ErrorCode the server would answer for the same bytes, so callers decide on it (for
// example kWrongIdentifier: the peer speaks another protocol major), never on the message text.
Status Malformed(std::string what, WireError code) { return Status(StatusCode::kMalformed, std::move(what), code); }

Status DecodeBody(const fb::Envelope& env, Message* out) {
  switch (env.body_type()) {
    case fb::Message::Hello: {
      const fb::Hello& p = *env.body_as_Hello();
      Hello m;
      m.protocol_major = p.protocol_major();
      m.protocol_minor = p.protocol_minor();
      m.client_name = Opt(p.client_name());
      m.client_version = Opt(p.client_version());
      m.engine_name = Opt(p.engine_name());
      m.engine_version = Opt(p.engine_version());
      m.capabilities = p.capabilities();
      m.pixel_formats = Formats(p.pixel_formats());
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::Welcome: {
      const fb::Welcome& p = *env.body_as_Welcome();
      Welcome m;
      m.session_id = p.session_id();
      m.protocol_major = p.protocol_major();
      m.protocol_minor = p.protocol_minor();
      m.server_version = Opt(p.server_version());
      m.capabilities = p.capabilities();
      m.initial_credits = p.initial_credits();
      m.max_width = p.max_width();
      m.max_height = p.max_height();
      m.max_message_bytes = p.max_message_bytes();
      m.latency_frames = p.latency_frames();
      if (const fb::ModelInfo* mi = p.model()) {
        m.model = ModelInfo{mi->name() ? mi->name()->str() : std::string(), static_cast<ModelFamily>(mi->family()),
                            mi->width(), mi->height()};
      }
      m.heartbeat_interval_ms = p.heartbeat_interval_ms();
      m.pixel_formats = Formats(p.pixel_formats());
      m.warning = Opt(p.warning());
      m.sessions_open = p.sessions_open();
      m.sessions_max = p.sessions_max();
      m.wanted_planes = Kinds(p.wanted_planes());
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::Error: {
      const fb::Error& p = *env.body_as_Error();
      ErrorMessage m;
      m.code = static_cast<WireError>(p.code());
      m.message = Opt(p.message());
      m.field = Opt(p.field());
      m.frame_id = p.frame_id();
      m.has_frame_id = p.has_frame_id();
      m.session_closed = p.session_closed();
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::Frame: {
      const fb::Frame& p = *env.body_as_Frame();
      FrameHeader m;
      ReadImage(p, &m);
      if (p.planes() != nullptr) {
        for (const fb::PlaneDesc* q : *p.planes()) m.planes.push_back(ReadPlane(*q));
      }
      m.scene_cut = p.scene_cut();
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::Result: {
      const fb::Result& p = *env.body_as_Result();
      ResultHeader m;
      ReadImage(p, &m);
      m.queue_wait_us = p.queue_wait_us();
      m.inference_us = p.inference_us();
      m.encode_us = p.encode_us();
      m.is_warmup = p.is_warmup();
      m.skipped = p.skipped();
      m.source_frame_id = p.source_frame_id();
      m.credits_granted = p.credits_granted();
      *out = m;
      return Status::Ok();
    }
    case fb::Message::Prompt: *out = ReadPrompt(*env.body_as_Prompt()); return Status::Ok();
    case fb::Message::Params: *out = ReadParams(*env.body_as_Params()); return Status::Ok();
    case fb::Message::GameEvent: {
      const fb::GameEvent& p = *env.body_as_GameEvent();
      GameEvent m;
      m.name = Opt(p.name());
      m.payload = KeyValues(p.payload());
      m.client_time_us = p.client_time_us();
      m.frame_id = p.frame_id();
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::State: {
      const fb::State& p = *env.body_as_State();
      State m;
      m.entries = KeyValues(p.entries());
      m.replace_all = p.replace_all();
      m.client_time_us = p.client_time_us();
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::StatsRequest: *out = StatsRequest{env.body_as_StatsRequest()->request_id()}; return Status::Ok();
    case fb::Message::Stats: {
      const fb::Stats& p = *env.body_as_Stats();
      Stats m;
      m.request_id = p.request_id();
      m.session_id = p.session_id();
      m.frames_in = p.frames_in();
      m.frames_out = p.frames_out();
      m.frames_dropped = p.frames_dropped();
      m.frames_skipped = p.frames_skipped();
      m.fps_in = p.fps_in();
      m.fps_out = p.fps_out();
      m.latency_p50_us = p.latency_p50_us();
      m.latency_p99_us = p.latency_p99_us();
      m.inference_p50_us = p.inference_p50_us();
      m.uptime_s = p.uptime_s();
      *out = m;
      return Status::Ok();
    }
    case fb::Message::Bye: *out = Bye{Opt(env.body_as_Bye()->reason())}; return Status::Ok();
    case fb::Message::Notice: {
      const fb::Notice& p = *env.body_as_Notice();
      Notice m;
      m.kind = static_cast<NoticeKind>(p.kind());
      m.message = Opt(p.message());
      m.source = Opt(p.source());
      if (p.prompt()) m.prompt = ReadPrompt(*p.prompt());
      if (p.params()) m.params = ReadParams(*p.params());
      m.preview_url = Opt(p.preview_url());
      m.wanted_planes = Kinds(p.wanted_planes());
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::Credit: *out = Credit{env.body_as_Credit()->granted()}; return Status::Ok();
    case fb::Message::Ping: {
      const fb::Ping& p = *env.body_as_Ping();
      *out = Ping{p.nonce(), p.client_time_us()};
      return Status::Ok();
    }
    case fb::Message::Pong: {
      const fb::Pong& p = *env.body_as_Pong();
      *out = Pong{p.nonce(), p.client_time_us(), p.server_time_us()};
      return Status::Ok();
    }
    case fb::Message::StyleImage: {
      const fb::StyleImage& p = *env.body_as_StyleImage();
      StyleImage m;
      m.name = p.name() ? p.name()->str() : std::string();
      m.width = p.width();
      m.height = p.height();
      m.stride = p.stride();
      m.format = static_cast<PixelFormat>(p.format());
      m.row_order = static_cast<RowOrder>(p.row_order());
      *out = std::move(m);
      return Status::Ok();
    }
    case fb::Message::NONE: break;
  }
  return Malformed("Envelope.body_type is " + std::to_string(static_cast<unsigned>(env.body_type())) +
                       ", this client knows 1.." + std::to_string(static_cast<unsigned>(fb::Message::MAX)) +
                       " (a message from a newer protocol minor?): update the plugin to use it",
                   WireError::kUnknownType);
}

}  // namespace

Status Encode(const Message& message, std::vector<uint8_t>* out) {
  if (out == nullptr) return Status(StatusCode::kInvalidArgument, "Encode: out is null");
  try {
    FlatBufferBuilder b(256);
    Body body = std::visit([&b](const auto& m) { return Build(b, m); }, message);
    fb::FinishEnvelopeBuffer(b, fb::CreateEnvelope(b, body.type, body.offset));
    out->assign(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kInternal, std::string("Encode: out of memory building ") + MessageName(message));
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("Encode: ") + MessageName(message) + ": " + e.what());
  }
}

Status Decode(const uint8_t* data, size_t size, Message* out, const DecodeLimits& limits) {
  if (out == nullptr) return Status(StatusCode::kInvalidArgument, "Decode: out is null");
  if (data == nullptr || size < 8) {
    return Malformed("message part is " + std::to_string(size) +
                     " bytes; an Envelope needs at least 8 (root offset + file identifier)",
                     WireError::kTruncated);
  }
  if (size > limits.max_message_bytes) {
    return Malformed("message part is " + std::to_string(size) + " bytes, above the limit of " +
                     std::to_string(limits.max_message_bytes) + " (DecodeLimits.max_message_bytes)",
                     WireError::kTooLarge);
  }
  if (!fb::EnvelopeBufferHasIdentifier(data)) {
    std::string got(reinterpret_cast<const char*>(data) + 4, 4);
    for (char& c : got) {
      if (c < 0x20 || c > 0x7e) c = '?';
    }
    return Malformed("file identifier is '" + got + "', expected '" + kFileIdentifier +
                     "': the peer speaks another protocol major or this is not a bridge message",
                     WireError::kWrongIdentifier);
  }
  try {
    // flatbuffers reads scalars through typed pointers: give it an 8-byte aligned copy if needed.
    std::vector<uint64_t> aligned;
    if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
      aligned.resize((size + 7) / 8);
      std::memcpy(aligned.data(), data, size);
      data = reinterpret_cast<const uint8_t*>(aligned.data());
    }
    flatbuffers::Verifier verifier(data, size);
    if (!fb::VerifyEnvelopeBuffer(verifier)) {
      return Malformed("Envelope of " + std::to_string(size) +
                       " bytes failed flatbuffers verification (truncated or corrupt)",
                       WireError::kBadMessage);
    }
    const fb::Envelope* env = fb::GetEnvelope(data);
    if (env->body() == nullptr && env->body_type() != fb::Message::NONE) {
      return Malformed("Envelope.body is missing for body_type " +
                       std::to_string(static_cast<unsigned>(env->body_type())),
                       WireError::kBadMessage);
    }
    Message decoded;
    Status s = DecodeBody(*env, &decoded);
    if (s.ok()) *out = std::move(decoded);
    return s;
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kInternal, "Decode: out of memory");
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("Decode: ") + e.what());
  }
}

Status ExpectedPixelBytes(const PixelLayout& layout, size_t* bytes, const DecodeLimits& limits) {
  const uint32_t bpp = BytesPerPixel(layout.format);
  if (bpp == 0) {
    return Status(StatusCode::kInvalidArgument,
                  "pixel format " + std::to_string(static_cast<unsigned>(layout.format)) +
                      " is not one of RGBA8 (1), BGRA8 (2), RGB8 (3)");
  }
  if (layout.width == 0 || layout.height == 0) {
    return Status(StatusCode::kInvalidArgument, "width x height is " + std::to_string(layout.width) + "x" +
                                                    std::to_string(layout.height) + "; both must be at least 1");
  }
  if (layout.width > limits.max_width || layout.height > limits.max_height) {
    return Status(StatusCode::kInvalidArgument,
                  "image " + std::to_string(layout.width) + "x" + std::to_string(layout.height) +
                      " exceeds the limit " + std::to_string(limits.max_width) + "x" +
                      std::to_string(limits.max_height));
  }
  const uint64_t min_stride = static_cast<uint64_t>(layout.width) * bpp;
  if (layout.stride < min_stride) {
    return Status(StatusCode::kInvalidArgument, "stride " + std::to_string(layout.stride) +
                                                    " is below width x bytes per pixel = " +
                                                    std::to_string(min_stride));
  }
  const uint64_t total = static_cast<uint64_t>(layout.stride) * layout.height;
  if (total > limits.max_message_bytes) {
    return Status(StatusCode::kInvalidArgument, "pixel part of " + std::to_string(total) +
                                                    " bytes exceeds the limit of " +
                                                    std::to_string(limits.max_message_bytes));
  }
  if (bytes) *bytes = static_cast<size_t>(total);
  return Status::Ok();
}

}  // namespace sdbridge
