// Fully populated sample messages shared by the codec and client tests.
#pragma once

#include <vector>

#include "sdbridge/messages.h"

namespace sdbridge::testing {

inline Prompt SamplePrompt() {
  Prompt p;
  p.text = "a watercolor castle";
  p.negative = "blurry";
  p.blend = std::vector<PromptWeight>{{"castle", 0.75f}, {"forest", 0.25f}};
  p.transition_frames = 12;
  p.transition_seconds = 0.5f;
  p.method = BlendMethod::kSlerp;
  p.stream_id = 2;
  return p;
}

inline Params SampleParams() {
  Params p;
  p.guidance_scale = 1.2f;
  p.delta = 0.8f;
  p.t_index_list = std::vector<int32_t>{32, 45};
  p.seed = 42;
  p.similarity_filter_enabled = true;
  p.similarity_threshold = 0.98f;
  p.similarity_max_skip = 10;
  p.seed_blend = std::vector<SeedWeight>{{1, 0.5f}, {2, 0.5f}};
  p.stream_id = 1;
  return p;
}

inline std::vector<KeyValue> SampleKeyValues() {
  return {{"flag", Value(true)}, {"count", Value(int64_t{-7})}, {"speed", Value(2.5)},
          {"biome", Value(std::string("forest"))}, {"nothing", Value(std::monostate())}};
}

inline std::vector<Message> AllSampleMessages() {
  std::vector<Message> all;
  Hello h;
  h.protocol_major = 1;
  h.protocol_minor = 0;
  h.client_name = "sdbridge-cpp";
  h.client_version = "1.0.0";
  h.engine_name = "Unreal";
  h.engine_version = "5.4";
  h.capabilities = capability::kCredits | capability::kHeartbeat;
  h.pixel_formats = std::vector<PixelFormat>{PixelFormat::kRGBA8, PixelFormat::kBGRA8};
  all.emplace_back(h);

  Welcome w;
  w.session_id = 0x1122334455667788ull;
  w.protocol_major = 1;
  w.protocol_minor = 3;
  w.server_version = "0.1.0";
  w.capabilities = 0x7f;
  w.initial_credits = 2;
  w.max_width = 1024;
  w.max_height = 768;
  w.max_message_bytes = 1u << 24;
  w.latency_frames = 1;
  w.model = ModelInfo{"tiny", ModelFamily::kSD15, 64, 64};
  w.heartbeat_interval_ms = 1000;
  w.pixel_formats = std::vector<PixelFormat>{PixelFormat::kRGB8};
  w.warning = "minor differs";
  all.emplace_back(w);

  ErrorMessage e;
  e.code = WireError::kBadPixelSize;
  e.message = "pixel part is 10 bytes, expected 32";
  e.field = "Frame.stride";
  e.frame_id = 9;
  e.has_frame_id = true;
  e.session_closed = true;
  all.emplace_back(e);

  FrameHeader f;
  f.session_id = 5;
  f.stream_id = 1;
  f.frame_id = 77;
  f.layout = PixelLayout{4, 2, 16, PixelFormat::kRGBA8, RowOrder::kBottomUp, ColorSpace::kSRGB, AlphaMode::kStraight};
  f.capture_time_us = 1000;
  f.send_time_us = 1100;
  all.emplace_back(f);

  ResultHeader r;
  r.session_id = 5;
  r.stream_id = 1;
  r.frame_id = 77;
  r.layout = PixelLayout{4, 2, 12, PixelFormat::kRGB8, RowOrder::kTopDown, ColorSpace::kLinear, AlphaMode::kIgnore};
  r.capture_time_us = 1000;
  r.send_time_us = 1100;
  r.queue_wait_us = 10;
  r.inference_us = 20000;
  r.encode_us = 30;
  r.is_warmup = true;
  r.skipped = true;
  r.source_frame_id = 76;
  r.credits_granted = 1;
  all.emplace_back(r);

  all.emplace_back(SamplePrompt());
  all.emplace_back(SampleParams());

  GameEvent ev;
  ev.name = "enter_zone";
  ev.payload = SampleKeyValues();
  ev.client_time_us = 123;
  ev.frame_id = 77;
  all.emplace_back(ev);

  State st;
  st.entries = SampleKeyValues();
  st.replace_all = true;
  st.client_time_us = 456;
  all.emplace_back(st);

  all.emplace_back(StatsRequest{3});

  Stats s;
  s.request_id = 3;
  s.session_id = 5;
  s.frames_in = 100;
  s.frames_out = 90;
  s.frames_dropped = 8;
  s.frames_skipped = 2;
  s.fps_in = 30.0f;
  s.fps_out = 27.5f;
  s.latency_p50_us = 1500;
  s.latency_p99_us = 4000;
  s.inference_p50_us = 1200;
  s.uptime_s = 12.5f;
  all.emplace_back(s);

  all.emplace_back(Bye{std::string("done")});

  Notice n;
  n.kind = NoticeKind::kPromptChanged;
  n.message = "prompt changed by preview";
  n.source = "preview";
  n.prompt = SamplePrompt();
  n.params = SampleParams();
  all.emplace_back(n);

  all.emplace_back(Credit{2});
  all.emplace_back(Ping{99, 1234});
  all.emplace_back(Pong{99, 1234, 5678});

  StyleImage style;  // protocol 1.4
  style.name = "watercolor";
  style.width = 4;
  style.height = 2;
  style.stride = 16;
  style.format = PixelFormat::kRGBA8;
  style.row_order = RowOrder::kBottomUp;
  all.emplace_back(style);
  return all;
}

}  // namespace sdbridge::testing
