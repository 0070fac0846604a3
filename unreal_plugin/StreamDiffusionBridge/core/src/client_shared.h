// State of one sdbridge Client shared by the caller's threads and the worker thread, behind one mutex:
// connection state, Welcome, one pending frame per stream, queued control messages, results and events
// for the caller, counters, and the remembered prompt / params / state replayed after a reconnect.
// No ZeroMQ here. Internal to the core (not installed with include/sdbridge).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sdbridge/client.h"

namespace sdbridge {
namespace client_internal {

/// Pixel buffers recycled between SubmitFrame and ZeroMQ's zero-copy free callback (which runs on
/// a ZeroMQ I/O thread), so steady-state streaming does not allocate.
class BufferPool {
 public:
  std::vector<uint8_t> Take();
  void Give(std::vector<uint8_t>&& v);

 private:
  static constexpr size_t kMaxFree = 8;
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> free_;
};

/// One encoded control message waiting for a session; a StyleImage (protocol 1.4) carries its pixels as the second
/// ZeroMQ part, shared with the copy kept for a reconnect's replay.
struct ControlMessage {
  std::vector<uint8_t> bytes;
  std::shared_ptr<const std::vector<uint8_t>> pixels;  // null: a one-part message
  /// A setting a reconnect's replay carries (prompt, params, state, style image): the replay supersedes it.
  bool replayed = false;
};

/// A submitted frame waiting for a credit.
struct PendingFrame {
  FrameHeader header;
  std::vector<uint8_t> pixels;
  std::vector<std::vector<uint8_t>> planes;  // one buffer per header.planes entry (protocol 1.3)
};

/// The shared state. Fields are guarded by `mu` (except `config`, `status` and `pool`, which are
/// thread-safe on their own); methods named ...Locked expect the caller to hold it.
struct ClientShared {
  explicit ClientShared(const ClientConfig& c) : config(c), status(c.endpoint) {}

  const ClientConfig& config;
  StatusTracker status;
  const std::shared_ptr<BufferPool> pool = std::make_shared<BufferPool>();

  mutable std::mutex mu;
  std::condition_variable cv;  // results, events, state changes
  ConnectionState state = ConnectionState::kStopped;
  std::optional<Welcome> welcome;
  std::map<uint32_t, PendingFrame> pending;   // one unsent frame per stream_id
  std::deque<ControlMessage> controls;  // encoded control messages, in order
  std::deque<FrameResult> results;
  std::deque<ClientEvent> events;
  ClientCounters counters;
  uint64_t next_frame_id = 1;
  uint32_t next_stats_request = 1;
  bool reconnect_requested = false;
  // remembered settings, replayed after a reconnect
  std::optional<Prompt> last_prompt;
  std::optional<Params> merged_params;
  std::map<std::string, KeyValue> state_vars;
  std::map<std::string, ControlMessage> style_images;  // protocol 1.4: the last StyleImage of each name
  /// Protocol 1.4: the plane kinds the server uses (Welcome.wanted_planes, then each WantedPlanesChanged notice).
  std::vector<PlaneKind> wanted_planes;

  // ---- events and state
  void PushEventLocked(ClientEvent event);
  void PushEvent(ClientEvent event);
  /// Reports an event without throwing (an allocation failure drops the event, not the worker).
  void Event(ClientEventKind kind, StatusCode code, std::string message,
             WireError wire_error = WireError::kUnknown) noexcept;
  void SetState(ConnectionState s);
  /// True once if Reconnect() was called since the last call.
  bool TakeReconnectRequest();

  // ---- caller side
  /// Encodes and queues a control message (kStopped, kQueueFull when it cannot). The caller wakes the worker.
  /// `remember_locked`, when given, records the setting for a reconnect's replay under the same lock as the queueing
  /// (so a session opening in between never replays an older setting while dropping the newer queued one).
  Status QueueControl(const Message& message, const std::function<void()>& remember_locked = nullptr);
  /// Encodes and queues a StyleImage with its pixels, and keeps it for a reconnect's replay (replacing its name's).
  Status QueueStyleImage(const StyleImage& header, std::vector<uint8_t> pixels);
  /// Puts a frame into its stream's slot; returns the replaced frame's pixels (empty if none) via *replaced.
  Status SubmitPending(PendingFrame frame, uint64_t* id, std::vector<uint8_t>* replaced);

  // ---- worker side
  /// A session opened: state, Welcome, credits; returns the settings to replay (empty on the first session). The
  /// replay supersedes the queued settings (sent once, as the Python client's reconnect() does): they leave the queue.
  std::vector<ControlMessage> OnWelcome(const Welcome& w);
  /// The encoded prompt / style images / params / state to replay after a reconnect (style images before the params
  /// whose style_blend names them). Caller holds mu.
  std::vector<ControlMessage> SettingsToReplayLocked() const;
  /// A WantedPlanesChanged notice: the server now uses these plane kinds.
  void OnWantedPlanes(const std::vector<PlaneKind>& kinds);
  /// Txt2img (Params.txt2img set, the server offers it): every credit held asks for one generated frame. Takes
  /// them all (they are in flight until their Results) and returns how many; 0 when not in txt2img or none held.
  uint32_t TakeTxt2imgCredits();
  /// True while the parameters set so far ask for txt2img. Caller holds mu.
  bool Txt2imgLocked() const { return merged_params && merged_params->txt2img.value_or(false); }
  /// Takes the oldest pending frame if a credit is held (the credit is reserved). False if none.
  bool TakeFrameToSend(PendingFrame* frame);
  /// A taken frame could not be encoded: give its credit back.
  void ReturnCredit();
  /// A taken frame was not sent: give the credit back and keep the frame unless a newer one came.
  void ReturnUnsentFrame(PendingFrame frame);
  /// A taken frame was sent.
  void OnFrameSent();
  /// The server returned `granted` credits without a Result.
  void OnCredit(uint32_t granted);
  /// Queues a received result (the oldest undelivered one is dropped beyond max_pending_results).
  void OnResult(FrameResult result);
  /// A Result that does not match its header: its credit returns, the result is dropped and reported (kWarning).
  void OnBadResult(uint32_t credits_granted, std::string message);
  /// A Result answered a frame: its credits return (at least one), one frame less in flight. Caller holds mu.
  void AnswerFrameLocked(uint32_t credits_granted);
  /// Takes the oldest queued control message. False if none.
  bool TakeControl(ControlMessage* control);
  /// Puts back a control message that could not be sent (socket full).
  void ReturnControl(ControlMessage control);
};

}  // namespace client_internal
}  // namespace sdbridge
