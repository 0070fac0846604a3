// Client: one engine session with a StreamDiffusion Bridge server (ZeroMQ DEALER -> ROUTER).
//
// Threading: every public method is thread-safe, non-blocking (except Stop and the Wait* helpers)
// and never throws. A worker thread owns the ZeroMQ context and sockets; it performs the
// Hello/Welcome handshake, sends frames only while it holds credits (otherwise the newest
// submitted frame waits in a one-per-stream slot, replacing the older one), delivers results and
// events into bounded queues, sends heartbeats when idle, and on a lost session (peer disconnect,
// silence, Bye, session errors) opens a new socket and performs a new handshake, replaying the
// last prompt, params and state; a full replica's refusal (SessionLimit) and a draining one's ServerShutdown
// notice are retried the same way, with backoff and jitter (ClientConfig.reconnect_delay). A protocol-major
// mismatch stops reconnecting (state kRefused) with a message naming both versions and what to install; so does any
// other refused Hello that is not about capacity (set_capacity_refusal in bridge.fbs: IsCapacityRefusal), with a
// kError event carrying its wire code, until Reconnect(), like the Python client's client_retry.retryable.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sdbridge/codec.h"
#include "sdbridge/connection_status.h"
#include "sdbridge/messages.h"
#include "sdbridge/status.h"
#include "sdbridge/version.h"

namespace sdbridge {

// ConnectionState and ConnectionStateName live in sdbridge/connection_status.h.

struct ClientConfig {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string client_name = "sdbridge-cpp";
  std::string client_version = "1.0.0";
  std::string engine_name = "cpp";  // "Unreal" from the plugin
  std::string engine_version;
  /// Advertised protocol version. Leave at the defaults; tests change it to check refusal.
  uint16_t protocol_major = kProtocolMajor;
  uint16_t protocol_minor = kProtocolMinor;
  uint32_t capabilities = capability::kCredits | capability::kPromptBlend | capability::kSeedBlend |
                          capability::kGameEvents | capability::kStats | capability::kNotices |
                          capability::kHeartbeat | capability::kTxt2img | capability::kPlanes |
                          capability::kStyleImages;
  std::vector<PixelFormat> pixel_formats = {PixelFormat::kRGBA8, PixelFormat::kBGRA8, PixelFormat::kRGB8};

  std::chrono::milliseconds handshake_timeout{2000};     // Hello -> Welcome
  // Reconnect tries (a lost session, no Welcome, a full or draining replica's SessionLimit refusal, a ServerShutdown
  // notice): exponential backoff with full jitter, as the Python client's client_retry.Backoff (base 50 ms, cap 1 s):
  // the n-th delay is drawn uniformly in [0, min(reconnect_delay_max, reconnect_delay * 2^n)], so the clients of one
  // replica do not all come back at once and a balancer spreads them. The 1 s cap: a restarted server is handshaken
  // with again within about 1 s of being ready (test_e2e.cpp).
  std::chrono::milliseconds reconnect_delay{50};
  std::chrono::milliseconds reconnect_delay_max{1000};
  // Give up after this long of failed tries in a row: state kRefused with a kError event naming the last cause;
  // Reconnect() tries again. 0 = keep trying (a game's server may come back later).
  std::chrono::milliseconds reconnect_window{0};
  std::chrono::milliseconds heartbeat_interval{1000};    // Ping when nothing was sent for this long
  std::chrono::milliseconds peer_timeout{5000};          // silence while owed an answer -> new session
  int socket_hwm = 8;                                     // ZMQ_SNDHWM / ZMQ_RCVHWM (messages)

  size_t max_pending_results = 4;   // results not yet taken by the caller; oldest dropped beyond
  size_t max_pending_events = 256;  // events not yet taken; oldest dropped beyond
  size_t max_queued_controls = 256; // prompt/params/event/state messages waiting for a session
  bool replay_settings_on_reconnect = true;
  DecodeLimits limits;

  /// CurveZMQ (encryption + the server's client allow-list): Z85 keys of 40 characters each, all three
  /// or none. curve_server_key is the server's public key (its NAME.key from `sdbridge keys generate`);
  /// curve_public_key/curve_secret_key are this client's pair (its NAME.key_secret), whose public key
  /// must be in the server's authorized_keys folder. Empty = plain ZMTP (NULL mechanism).
  std::string curve_server_key;
  std::string curve_public_key;
  std::string curve_secret_key;
};

/// One auxiliary plane of a frame (protocol 1.3): its description and its bytes (desc.stride * desc.height), copied
/// during SubmitFrame. Sent only to a server that granted capability::kPlanes.
struct PlaneView {
  PlaneDesc desc;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

/// One frame to submit. The pixels (and planes) are copied during SubmitFrame; the caller keeps ownership.
struct FrameView {
  const uint8_t* pixels = nullptr;
  size_t size = 0;           // must equal layout.stride * layout.height
  PixelLayout layout;
  uint32_t stream_id = 0;
  uint64_t capture_time_us = 0;  // 0 = now (NowMicros())
  std::vector<PlaneView> planes;  // protocol 1.3: depth, normals, segmentation, motion, control images (in this order)
  /// Protocol 1.4: this frame starts a new shot (camera cut, level load, teleport): the server resets the session's
  /// temporal state (latent feedback, cached attention, motion warp) before it.
  bool scene_cut = false;
};

/// Received pixel bytes, shared with the transport's message (no copy on receive). Immutable and
/// cheap to copy or move; the bytes live until the last copy is gone (any thread may drop it).
class PixelBuffer {
 public:
  PixelBuffer() = default;
  PixelBuffer(std::shared_ptr<const void> owner, const uint8_t* data, size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }
  std::vector<uint8_t> ToVector() const { return std::vector<uint8_t>(begin(), end()); }

 private:
  std::shared_ptr<const void> owner_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

/// One result: the server's header plus its pixels (stride * height bytes).
struct FrameResult {
  ResultHeader header;
  PixelBuffer pixels;
  uint64_t received_time_us = 0;  // client clock (NowMicros()) when the worker received it
};

enum class ClientEventKind {
  kConnected,     // welcome holds the server's Welcome
  kDisconnected,  // the session ended; the client is reconnecting (message says why; status kOk: Reconnect() left it)
  kError,         // status/wire_error/message say what; error holds the server's Error if any
  kWarning,       // e.g. protocol minor mismatch, a malformed message from the server dropped (kMalformed)
  kStats,         // stats holds a Stats reply
  kNotice,        // notice holds a server Notice
};

const char* ClientEventKindName(ClientEventKind kind);

struct ClientEvent {
  ClientEventKind kind = ClientEventKind::kError;
  StatusCode status = StatusCode::kOk;
  std::string message;
  std::optional<Welcome> welcome;
  std::optional<ErrorMessage> error;
  std::optional<Stats> stats;
  std::optional<Notice> notice;
  /// The protocol ErrorCode behind a kError event: the server Error's code, or the code of server bytes the codec
  /// refused (kWrongIdentifier: the server speaks another protocol major). kUnknown when none applies.
  /// (Last member, so positional aggregate initialisers of the earlier members keep compiling.)
  WireError wire_error = WireError::kUnknown;
};

/// Counters of this client (not the server's Stats).
struct ClientCounters {
  uint64_t frames_submitted = 0;
  uint64_t frames_sent = 0;
  uint64_t frames_replaced = 0;   // a newer submit replaced a frame still waiting for credit
  uint64_t results_received = 0;
  uint64_t results_dropped = 0;   // the caller did not take them before max_pending_results
  uint64_t events_dropped = 0;
  uint64_t sessions = 0;          // Welcome count (1 + successful reconnects)
  uint64_t errors_received = 0;
  uint64_t frames_answered_by_credit = 0;  // the server returned the credit without a Result
                                           // (frame replaced in its latest-wins slot, or refused)
  uint32_t credits = 0;           // sending credits held now
  uint32_t in_flight = 0;         // frames sent and not yet answered
};

class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();  // Stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Start the worker thread, which connects and performs the handshake. Returns at once.
  Status Start();
  /// Say Bye (best effort), stop the worker, close the sockets. Idempotent.
  void Stop();
  /// Drop the current session (or a refusal) and perform a new handshake.
  Status Reconnect();

  /// Copy a frame into the stream's pending slot (replacing an unsent one). Assigns and returns
  /// the frame id (ids start at 1 and never repeat within one Client).
  Status SubmitFrame(const FrameView& frame, uint64_t* frame_id = nullptr);
  /// SubmitFrame without the copy: the client takes `pixels` (moved in; frame.pixels and frame.size are ignored,
  /// pixels.size() must equal layout.stride * layout.height) and sends that very buffer (planes are still
  /// copied). With buffers from TakeFrameBuffer, steady streaming neither copies nor allocates the pixels.
  Status SubmitFrame(const FrameView& frame, std::vector<uint8_t>&& pixels, uint64_t* frame_id = nullptr);
  /// A buffer of `size` bytes for the SubmitFrame overload above, from the pool the sent buffers return to.
  std::vector<uint8_t> TakeFrameBuffer(size_t size);

  /// Take the oldest undelivered result; false if none. Its pixels share the received message
  /// (no copy).
  bool TryGetResult(FrameResult* out);
  /// Take the newest result and drop older undelivered ones (counted); false if none.
  bool TryGetLatestResult(FrameResult* out);
  /// Take the oldest undelivered event; false if none.
  bool TryGetEvent(ClientEvent* out);

  /// Blocking helpers for tools, tests and benchmarks (never call them on a game thread).
  bool WaitForResult(FrameResult* out, std::chrono::milliseconds timeout);
  bool WaitForEvent(ClientEvent* out, std::chrono::milliseconds timeout);
  bool WaitForState(ConnectionState state, std::chrono::milliseconds timeout);
  /// True once a credit is held and no frame waits to be sent, i.e. the next SubmitFrame goes out
  /// at once and replaces nothing (for tools that want every frame processed, e.g. offline renders).
  bool WaitUntilReadyToSend(std::chrono::milliseconds timeout);

  /// Control messages (names follow the schema). Queued and sent in order once connected; the
  /// last Prompt, style images, merged Params and State are replayed after a reconnect. SetParams takes every
  /// live parameter (one Params member per field of the schema's Params table: generated/params_fields.h) and refuses
  /// a value outside its registry range (generated/stream_params.h, checked by generated/params_check.inc) with
  /// kInvalidArgument naming the field, the value and the range.
  Status SetPrompt(const Prompt& prompt);
  Status SetParams(const Params& params);
  /// Protocol 1.4: a named style reference image for the server's IP-Adapter (RGBA8, BGRA8 or RGB8; `size` must be
  /// stride x height bytes, copied here). Sending a name again replaces that image; weigh the styles with
  /// Params.style_blend. Sent only to a server that granted capability::kStyleImages (else refused: kInvalidArgument
  /// when connected, an kError event when the Welcome comes later).
  Status SendStyleImage(const std::string& name, const uint8_t* pixels, size_t size, uint32_t width, uint32_t height,
                        uint32_t stride, PixelFormat format, RowOrder row_order = RowOrder::kTopDown);
  Status SendGameEvent(const GameEvent& event);
  Status SetState(const State& state);
  Status RequestStats();

  ConnectionState GetState() const;
  /// State, results/s, round-trip latency and the last error, for a status panel. Never blocks on the network.
  StatusSnapshot GetStatus() const;
  /// The Welcome of the current session, if connected (protocol 1.4: sessions_open / sessions_max, the replica's
  /// capacity, and wanted_planes).
  std::optional<Welcome> GetWelcome() const;
  /// Protocol 1.4: the plane kinds the server uses now (the Welcome's, then each WantedPlanesChanged notice): the
  /// planes worth capturing and sending. Empty before a session, or when the server wants none.
  std::vector<PlaneKind> GetWantedPlanes() const;
  ClientCounters GetCounters() const;
  const ClientConfig& config() const;

 private:
  struct Impl;
  /// Both SubmitFrame overloads: `owned` is the moved-in buffer, or null to copy frame.pixels.
  Status Submit(const FrameView& frame, std::vector<uint8_t>* owned, uint64_t* frame_id);
  std::unique_ptr<Impl> impl_;
};

/// Microseconds of a monotonic clock (capture/send/receive timestamps).
uint64_t NowMicros();

}  // namespace sdbridge
