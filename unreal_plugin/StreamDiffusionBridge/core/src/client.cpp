// Client: the public API of one engine session (sdbridge/client.h). The work is split by
// responsibility into internal parts of the core:
//   client_shared.*   state shared by the API threads and the worker, behind one mutex (frames waiting
//                     for credit, control queue, results, events, counters, settings replayed on reconnect);
//   client_worker.*   the worker thread: ZeroMQ context, wake-up pipe, retry policy, one socket per attempt;
//   client_session.*  one connected session: received messages, controls, frames, heartbeats, silence;
//   client_messages.* message building and checks (Hello, config and frame validation, server errors, texts).
// Only client_worker.* and client_session.* include cppzmq; every zmq::error_t (and any other exception)
// is caught inside the core: the public API reports Status values and events.
#include "sdbridge/client.h"

#include <exception>
#include <functional>
#include <mutex>
#include <utility>

#include "client_messages.h"
#include "client_shared.h"
#include "client_worker.h"

namespace sdbridge {

uint64_t NowMicros() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

const char* ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kStopped: return "Stopped";
    case ConnectionState::kConnecting: return "Connecting";
    case ConnectionState::kConnected: return "Connected";
    case ConnectionState::kRefused: return "Refused";
  }
  return "Unknown";
}

const char* ClientEventKindName(ClientEventKind kind) {
  switch (kind) {
    case ClientEventKind::kConnected: return "Connected";
    case ClientEventKind::kDisconnected: return "Disconnected";
    case ClientEventKind::kError: return "Error";
    case ClientEventKind::kWarning: return "Warning";
    case ClientEventKind::kStats: return "Stats";
    case ClientEventKind::kNotice: return "Notice";
  }
  return "Unknown";
}

struct Client::Impl {
  explicit Impl(ClientConfig c) : config(std::move(c)), shared(config), worker(shared) {}

  const ClientConfig config;
  client_internal::ClientShared shared;  // refers to `config`
  client_internal::ClientWorker worker;  // refers to `shared`
};

// ====================================================================== public API

Client::Client(ClientConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Client::~Client() { Stop(); }

const ClientConfig& Client::config() const { return impl_->config; }

Status Client::Start() {
  Impl& d = *impl_;
  try {
    {
      std::lock_guard<std::mutex> lock(d.shared.mu);
      if (d.worker.running()) return Status(StatusCode::kInvalidArgument, "Start: the client is already started");
      Status valid = client_internal::ValidateConfig(d.config);
      if (!valid.ok()) return valid;
      d.shared.state = ConnectionState::kConnecting;
    }
    d.worker.Start();
    return Status::Ok();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(d.shared.mu);
    d.shared.state = ConnectionState::kStopped;
    return Status(StatusCode::kInternal, std::string("Start: ") + e.what());
  }
}

void Client::Stop() {
  Impl& d = *impl_;
  try {
    d.worker.Stop();
    std::lock_guard<std::mutex> lock(d.shared.mu);
    d.shared.state = ConnectionState::kStopped;
    d.shared.pending.clear();
    d.shared.controls.clear();
    d.shared.cv.notify_all();
  } catch (...) {  // Stop must not throw (it runs in destructors)
  }
}

Status Client::Reconnect() {
  Impl& d = *impl_;
  try {
    {
      std::lock_guard<std::mutex> lock(d.shared.mu);
      if (!d.worker.running()) return Status(StatusCode::kStopped, "Reconnect: the client is not started; call Start()");
      d.shared.reconnect_requested = true;
    }
    d.worker.Wake();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("Reconnect: ") + e.what());
  }
}

Status Client::SubmitFrame(const FrameView& frame, uint64_t* frame_id) { return Submit(frame, nullptr, frame_id); }

Status Client::SubmitFrame(const FrameView& frame, std::vector<uint8_t>&& pixels, uint64_t* frame_id) {
  FrameView view = frame;
  view.pixels = pixels.data();
  view.size = pixels.size();
  return Submit(view, &pixels, frame_id);
}

std::vector<uint8_t> Client::TakeFrameBuffer(size_t size) {
  std::vector<uint8_t> buffer = impl_->shared.pool->Take();
  buffer.resize(size);
  return buffer;
}

Status Client::Submit(const FrameView& frame, std::vector<uint8_t>* owned, uint64_t* frame_id) {
  Impl& d = *impl_;
  try {
    size_t expected = 0;
    Status valid = client_internal::ValidateFrame(frame, d.config.limits, &expected);
    if (!valid.ok()) return valid;
    {
      std::lock_guard<std::mutex> lock(d.shared.mu);
      if (d.shared.Txt2imgLocked()) {
        return Status(StatusCode::kInvalidArgument,
                      "SubmitFrame: txt2img is on (Params.txt2img): the server generates the frames from the prompt; "
                      "SetParams with txt2img = false to send frames again");
      }
      if (!frame.planes.empty() && d.shared.welcome && (d.shared.welcome->capabilities & capability::kPlanes) == 0) {
        return Status(StatusCode::kInvalidArgument,
                      "SubmitFrame: the server did not grant the Planes capability (Welcome.capabilities); it cannot "
                      "take depth, normals, segmentation or motion planes: submit the frame without planes");
      }
    }
    std::vector<uint8_t> buffer;
    if (owned != nullptr) {
      buffer = std::move(*owned);  // the caller's buffer goes out as it is
    } else {
      buffer = d.shared.pool->Take();
      buffer.assign(frame.pixels, frame.pixels + expected);  // copy outside the lock
    }
    client_internal::PendingFrame pending;
    pending.header.stream_id = frame.stream_id;
    pending.header.layout = frame.layout;
    pending.header.capture_time_us = frame.capture_time_us != 0 ? frame.capture_time_us : NowMicros();
    pending.header.scene_cut = frame.scene_cut;
    pending.pixels = std::move(buffer);
    for (const PlaneView& plane : frame.planes) {  // protocol 1.3: copied like the pixels
      pending.header.planes.push_back(plane.desc);
      pending.planes.emplace_back(plane.data, plane.data + plane.size);
    }
    uint64_t id = 0;
    std::vector<uint8_t> replaced;
    Status s = d.shared.SubmitPending(std::move(pending), &id, &replaced);
    if (!replaced.empty()) d.shared.pool->Give(std::move(replaced));
    if (!s.ok()) return s;
    if (frame_id) *frame_id = id;
    d.worker.Wake();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SubmitFrame: ") + e.what());
  }
}

bool Client::TryGetResult(FrameResult* out) {
  if (out == nullptr) return false;
  Impl& d = *impl_;
  try {
    std::lock_guard<std::mutex> lock(d.shared.mu);
    if (d.shared.results.empty()) return false;
    *out = std::move(d.shared.results.front());
    d.shared.results.pop_front();
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::TryGetLatestResult(FrameResult* out) {
  if (out == nullptr) return false;
  Impl& d = *impl_;
  try {
    std::lock_guard<std::mutex> lock(d.shared.mu);
    if (d.shared.results.empty()) return false;
    while (d.shared.results.size() > 1) {
      d.shared.results.pop_front();
      ++d.shared.counters.results_dropped;
    }
    *out = std::move(d.shared.results.front());
    d.shared.results.pop_front();
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::TryGetEvent(ClientEvent* out) {
  if (out == nullptr) return false;
  Impl& d = *impl_;
  try {
    std::lock_guard<std::mutex> lock(d.shared.mu);
    if (d.shared.events.empty()) return false;
    *out = std::move(d.shared.events.front());
    d.shared.events.pop_front();
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::WaitForResult(FrameResult* out, std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    {
      std::unique_lock<std::mutex> lock(d.shared.mu);
      if (!d.shared.cv.wait_for(lock, timeout, [&d] { return !d.shared.results.empty(); })) return false;
    }
    return TryGetResult(out);
  } catch (...) {
    return false;
  }
}

bool Client::WaitForEvent(ClientEvent* out, std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    {
      std::unique_lock<std::mutex> lock(d.shared.mu);
      if (!d.shared.cv.wait_for(lock, timeout, [&d] { return !d.shared.events.empty(); })) return false;
    }
    return TryGetEvent(out);
  } catch (...) {
    return false;
  }
}

bool Client::WaitForState(ConnectionState state, std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    std::unique_lock<std::mutex> lock(d.shared.mu);
    return d.shared.cv.wait_for(lock, timeout, [&d, state] { return d.shared.state == state; });
  } catch (...) {
    return false;
  }
}

bool Client::WaitUntilReadyToSend(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    std::unique_lock<std::mutex> lock(d.shared.mu);
    return d.shared.cv.wait_for(lock, timeout, [&d] {
      return d.shared.state == ConnectionState::kConnected && d.shared.counters.credits > 0 && d.shared.pending.empty();
    });
  } catch (...) {
    return false;
  }
}

namespace {

// Queues an encoded control message and wakes the worker; `remember_locked` (see ClientShared::QueueControl) keeps a
// setting for a reconnect's replay.
Status QueueAndWake(client_internal::ClientShared& shared, client_internal::ClientWorker& worker, const Message& message,
                    const std::function<void()>& remember_locked = nullptr) {
  Status s = shared.QueueControl(message, remember_locked);
  if (s.ok()) worker.Wake();
  return s;
}

}  // namespace

Status Client::SetPrompt(const Prompt& prompt) {
  try {
    client_internal::ClientShared& shared = impl_->shared;
    return QueueAndWake(shared, impl_->worker, prompt, [&] { shared.last_prompt = prompt; });
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SetPrompt: ") + e.what());
  }
}

Status Client::SetParams(const Params& params) {
  try {
    Status valid = client_internal::ValidateParams(params);
    if (!valid.ok()) return valid;
    client_internal::ClientShared& shared = impl_->shared;
    return QueueAndWake(shared, impl_->worker, params, [&] {
      if (!shared.merged_params) shared.merged_params.emplace();
      Params& merged = *shared.merged_params;
      merged.MergeFrom(params);
      // seed and seed_blend both set the noise seed: the newer replaces the other (the server applies a seed_blend
      // after a seed, so replaying both would bring back an older blend), as the Python client keeps it
      if (params.seed_blend) {
        merged.seed.reset();
      } else if (params.seed) {
        merged.seed_blend.reset();
      }
    });
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SetParams: ") + e.what());
  }
}

Status Client::SendStyleImage(const std::string& name, const uint8_t* pixels, size_t size, uint32_t width,
                              uint32_t height, uint32_t stride, PixelFormat format, RowOrder row_order) {
  Impl& d = *impl_;
  try {
    StyleImage header;
    header.name = name;
    header.width = width;
    header.height = height;
    header.stride = stride;
    header.format = format;
    header.row_order = row_order;
    Status valid = client_internal::ValidateStyleImage(header, pixels, size, d.config.limits);
    if (!valid.ok()) return valid;
    {
      std::lock_guard<std::mutex> lock(d.shared.mu);
      if (d.shared.welcome && (d.shared.welcome->capabilities & capability::kStyleImages) == 0) {
        return Status(StatusCode::kInvalidArgument,
                      "SendStyleImage: the server did not grant the StyleImages capability (Welcome.capabilities): it "
                      "serves no IP-Adapter (`sdbridge serve --ip-adapter SOURCE`)");
      }
    }
    Status s = d.shared.QueueStyleImage(header, std::vector<uint8_t>(pixels, pixels + size));
    if (s.ok()) d.worker.Wake();
    return s;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SendStyleImage: ") + e.what());
  }
}

Status Client::SendGameEvent(const GameEvent& event) {
  try {
    if (!event.name || event.name->empty()) {
      return Status(StatusCode::kInvalidArgument, "SendGameEvent: GameEvent.name is empty; name the event");
    }
    GameEvent e = event;
    if (e.client_time_us == 0) e.client_time_us = NowMicros();
    if (e.frame_id == 0) {
      std::lock_guard<std::mutex> lock(impl_->shared.mu);
      e.frame_id = impl_->shared.next_frame_id - 1;
    }
    return QueueAndWake(impl_->shared, impl_->worker, e);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SendGameEvent: ") + e.what());
  }
}

Status Client::SetState(const State& state) {
  try {
    if (!state.entries || state.entries->empty()) {
      return Status(StatusCode::kInvalidArgument, "SetState: State.entries is empty; give at least one key/value");
    }
    State st = state;
    if (st.client_time_us == 0) st.client_time_us = NowMicros();
    client_internal::ClientShared& shared = impl_->shared;
    return QueueAndWake(shared, impl_->worker, st, [&] {
      if (st.replace_all) shared.state_vars.clear();
      for (const KeyValue& kv : *st.entries) shared.state_vars[kv.key] = kv;
    });
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SetState: ") + e.what());
  }
}

Status Client::RequestStats() {
  try {
    uint32_t id = 0;
    {
      std::lock_guard<std::mutex> lock(impl_->shared.mu);
      id = impl_->shared.next_stats_request++;
    }
    return QueueAndWake(impl_->shared, impl_->worker, StatsRequest{id});
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("RequestStats: ") + e.what());
  }
}

ConnectionState Client::GetState() const {
  std::lock_guard<std::mutex> lock(impl_->shared.mu);
  return impl_->shared.state;
}

std::optional<Welcome> Client::GetWelcome() const {
  try {
    std::lock_guard<std::mutex> lock(impl_->shared.mu);
    return impl_->shared.welcome;
  } catch (...) {
    return std::nullopt;
  }
}

std::vector<PlaneKind> Client::GetWantedPlanes() const {
  try {
    std::lock_guard<std::mutex> lock(impl_->shared.mu);
    return impl_->shared.wanted_planes;
  } catch (...) {
    return {};
  }
}

StatusSnapshot Client::GetStatus() const {
  StatusSnapshot out = impl_->shared.status.Snapshot(NowMicros());
  std::lock_guard<std::mutex> lock(impl_->shared.mu);
  out.state = impl_->shared.state;  // the client's own state is authoritative (Start/Stop set it directly)
  return out;
}

ClientCounters Client::GetCounters() const {
  std::lock_guard<std::mutex> lock(impl_->shared.mu);
  return impl_->shared.counters;
}

}  // namespace sdbridge
