// State shared by an sdbridge Client's callers and its worker (see client_shared.h).
#include "client_shared.h"

#include <algorithm>
#include <utility>

#include "sdbridge/log_policy.h"

namespace sdbridge {
namespace client_internal {

std::vector<uint8_t> BufferPool::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) return {};
  std::vector<uint8_t> v = std::move(free_.back());
  free_.pop_back();
  return v;
}

void BufferPool::Give(std::vector<uint8_t>&& v) {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.size() < kMaxFree) free_.push_back(std::move(v));
}

void ClientShared::PushEventLocked(ClientEvent event) {
  // (a kDisconnected with kOk was asked for by Reconnect(): nothing failed, the status keeps its last error)
  if ((event.kind == ClientEventKind::kError || event.kind == ClientEventKind::kDisconnected) &&
      event.status != StatusCode::kOk) {
    status.OnError(event.message, NowMicros(), IsConnectionFailure(event));
  }
  if (events.size() >= config.max_pending_events) {
    events.pop_front();
    ++counters.events_dropped;
  }
  events.push_back(std::move(event));
  cv.notify_all();
}

void ClientShared::PushEvent(ClientEvent event) {
  std::lock_guard<std::mutex> lock(mu);
  PushEventLocked(std::move(event));
}

void ClientShared::Event(ClientEventKind kind, StatusCode code, std::string message, WireError wire_error) noexcept {
  try {
    ClientEvent e;
    e.kind = kind;
    e.status = code;
    e.message = std::move(message);
    e.wire_error = wire_error;
    PushEvent(std::move(e));
  } catch (...) {  // out of memory while reporting: drop the event rather than the worker
  }
}

void ClientShared::SetState(ConnectionState s) {
  status.OnState(s);
  std::lock_guard<std::mutex> lock(mu);
  state = s;
  if (s != ConnectionState::kConnected) {
    welcome.reset();
    wanted_planes.clear();
  }
  cv.notify_all();
}

bool ClientShared::TakeReconnectRequest() {
  std::lock_guard<std::mutex> lock(mu);
  const bool requested = reconnect_requested;
  reconnect_requested = false;
  return requested;
}

Status ClientShared::QueueControl(const Message& message, const std::function<void()>& remember_locked) {
  std::vector<uint8_t> bytes;
  Status s = Encode(message, &bytes);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu);
  if (state == ConnectionState::kStopped) {
    return Status(StatusCode::kStopped, std::string(MessageName(message)) + ": the client is stopped; call Start()");
  }
  if (controls.size() >= config.max_queued_controls) {
    return Status(StatusCode::kQueueFull, std::string(MessageName(message)) + ": " + std::to_string(controls.size()) +
                                              " control messages already wait for the server "
                                              "(ClientConfig.max_queued_controls); send less often");
  }
  controls.push_back(ControlMessage{std::move(bytes), nullptr, static_cast<bool>(remember_locked)});
  if (remember_locked) remember_locked();
  return Status::Ok();
}

Status ClientShared::QueueStyleImage(const StyleImage& header, std::vector<uint8_t> pixels) {
  ControlMessage control;
  Status s = Encode(header, &control.bytes);
  if (!s.ok()) return s;
  control.pixels = std::make_shared<const std::vector<uint8_t>>(std::move(pixels));
  control.replayed = true;
  std::lock_guard<std::mutex> lock(mu);
  if (state == ConnectionState::kStopped) return Status(StatusCode::kStopped, "SendStyleImage: the client is stopped; call Start()");
  if (controls.size() >= config.max_queued_controls) {
    return Status(StatusCode::kQueueFull, "SendStyleImage: " + std::to_string(controls.size()) +
                                              " control messages already wait for the server "
                                              "(ClientConfig.max_queued_controls); send less often");
  }
  style_images[header.name] = control;
  controls.push_back(std::move(control));
  return Status::Ok();
}

void ClientShared::OnWantedPlanes(const std::vector<PlaneKind>& kinds) {
  std::lock_guard<std::mutex> lock(mu);
  wanted_planes = kinds;
}

Status ClientShared::SubmitPending(PendingFrame frame, uint64_t* id, std::vector<uint8_t>* replaced) {
  std::lock_guard<std::mutex> lock(mu);
  if (state == ConnectionState::kStopped) {
    *replaced = std::move(frame.pixels);
    return Status(StatusCode::kStopped, "SubmitFrame: the client is stopped; call Start()");
  }
  *id = next_frame_id++;
  frame.header.frame_id = *id;
  ++counters.frames_submitted;
  const uint32_t stream = frame.header.stream_id;
  auto it = pending.find(stream);
  if (it != pending.end()) {
    ++counters.frames_replaced;
    std::swap(it->second, frame);  // `frame` now holds the replaced one
    *replaced = std::move(frame.pixels);
  } else {
    pending.emplace(stream, std::move(frame));
  }
  return Status::Ok();
}

std::vector<ControlMessage> ClientShared::OnWelcome(const Welcome& w) {
  std::vector<ControlMessage> replay;
  std::lock_guard<std::mutex> lock(mu);
  state = ConnectionState::kConnected;
  status.OnState(ConnectionState::kConnected);  // resets the failed-attempt count
  welcome = w;
  wanted_planes = w.wanted_planes.value_or(std::vector<PlaneKind>{});
  counters.credits = w.initial_credits;
  counters.in_flight = 0;
  ++counters.sessions;
  if (config.replay_settings_on_reconnect && counters.sessions > 1) {
    replay = SettingsToReplayLocked();
    // The replay carries the latest of every setting queued while no session was up: sending those too would
    // give the server each one twice (and an older one after the replayed newer one). Other controls stay queued.
    controls.erase(std::remove_if(controls.begin(), controls.end(), [](const ControlMessage& c) { return c.replayed; }),
                   controls.end());
  }
  cv.notify_all();
  return replay;
}

std::vector<ControlMessage> ClientShared::SettingsToReplayLocked() const {
  std::vector<ControlMessage> out;
  std::vector<uint8_t> bytes;
  if (last_prompt && Encode(*last_prompt, &bytes).ok()) out.push_back(ControlMessage{bytes, nullptr});
  for (const auto& style : style_images) out.push_back(style.second);  // before the style_blend naming them
  if (merged_params && !merged_params->Empty() && Encode(*merged_params, &bytes).ok()) {
    out.push_back(ControlMessage{bytes, nullptr});
  }
  if (!state_vars.empty()) {
    State st;
    st.entries.emplace();
    for (const auto& kv : state_vars) st.entries->push_back(kv.second);
    st.client_time_us = NowMicros();
    if (Encode(st, &bytes).ok()) out.push_back(ControlMessage{bytes, nullptr});
  }
  return out;
}

bool ClientShared::TakeFrameToSend(PendingFrame* frame) {
  std::lock_guard<std::mutex> lock(mu);
  if (counters.credits == 0 || pending.empty()) return false;
  auto oldest = pending.begin();
  for (auto it = pending.begin(); it != pending.end(); ++it) {
    if (it->second.header.frame_id < oldest->second.header.frame_id) oldest = it;
  }
  *frame = std::move(oldest->second);
  pending.erase(oldest);
  --counters.credits;  // reserved now so "credit and nothing pending" is never seen falsely
  return true;
}

uint32_t ClientShared::TakeTxt2imgCredits() {
  std::lock_guard<std::mutex> lock(mu);
  if (!Txt2imgLocked() || counters.credits == 0 || !welcome || (welcome->capabilities & capability::kTxt2img) == 0) {
    return 0;
  }
  const uint32_t granted = counters.credits;
  counters.credits = 0;
  counters.in_flight += granted;
  return granted;
}

void ClientShared::ReturnCredit() {
  std::lock_guard<std::mutex> lock(mu);
  ++counters.credits;
}

void ClientShared::ReturnUnsentFrame(PendingFrame frame) {
  std::lock_guard<std::mutex> lock(mu);
  ++counters.credits;
  const uint32_t stream = frame.header.stream_id;
  pending.emplace(stream, std::move(frame));  // no-op if replaced meanwhile
}

void ClientShared::OnFrameSent() {
  std::lock_guard<std::mutex> lock(mu);
  ++counters.in_flight;
  ++counters.frames_sent;
  cv.notify_all();
}

void ClientShared::OnCredit(uint32_t granted) {
  // A Credit answers a frame that produced no Result (replaced in the server's latest-wins slot,
  // refused, or failed): that frame is no longer in flight.
  std::lock_guard<std::mutex> lock(mu);
  counters.credits += granted;
  counters.in_flight -= (std::min)(counters.in_flight, granted);
  counters.frames_answered_by_credit += granted;
  cv.notify_all();
}

void ClientShared::AnswerFrameLocked(uint32_t credits_granted) {
  // A Result answers one frame, so it returns at least that frame's credit (0 from a server that leaves the field
  // unset: the frame's credit, as the Python and C# clients count it; the client would otherwise starve).
  counters.credits += credits_granted > 0 ? credits_granted : 1;
  if (counters.in_flight > 0) --counters.in_flight;
}

void ClientShared::OnResult(FrameResult result) {
  std::lock_guard<std::mutex> lock(mu);
  AnswerFrameLocked(result.header.credits_granted);
  const uint64_t capture_us = result.header.capture_time_us;
  const uint64_t received_us = result.received_time_us;
  if (results.size() >= config.max_pending_results) {
    results.pop_front();
    ++counters.results_dropped;
  }
  results.push_back(std::move(result));
  ++counters.results_received;
  status.OnResult(capture_us, received_us);
  cv.notify_all();
}

void ClientShared::OnBadResult(uint32_t credits_granted, std::string message) {
  std::lock_guard<std::mutex> lock(mu);
  AnswerFrameLocked(credits_granted);
  PushEventLocked(ClientEvent{ClientEventKind::kWarning, StatusCode::kMalformed, std::move(message), std::nullopt,
                              std::nullopt, std::nullopt, std::nullopt});
}

bool ClientShared::TakeControl(ControlMessage* control) {
  std::lock_guard<std::mutex> lock(mu);
  if (controls.empty()) return false;
  *control = std::move(controls.front());
  controls.pop_front();
  return true;
}

void ClientShared::ReturnControl(ControlMessage control) {
  std::lock_guard<std::mutex> lock(mu);
  controls.push_front(std::move(control));
}

}  // namespace client_internal
}  // namespace sdbridge
