// Client implementation: the only translation unit that includes cppzmq. Every zmq::error_t (and
// any other exception) is caught here; the public API reports Status values and events.
#include "sdbridge/client.h"

#include "sdbridge/log_policy.h"

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include <zmq.h>

#include <zmq.hpp>

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

// Named (not anonymous) so Client::Impl may hold these types when this file is compiled through
// all_in_one.cpp (GCC's -Wsubobject-linkage).
namespace client_internal {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline std::string VersionString(uint16_t major, uint16_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

/// Pixel buffers recycled between SubmitFrame and ZeroMQ's zero-copy free callback (which runs on
/// a ZeroMQ I/O thread), so steady-state streaming does not allocate.
class BufferPool {
 public:
  std::vector<uint8_t> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.empty()) return {};
    std::vector<uint8_t> v = std::move(free_.back());
    free_.pop_back();
    return v;
  }
  void Give(std::vector<uint8_t>&& v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < kMaxFree) free_.push_back(std::move(v));
  }

 private:
  static constexpr size_t kMaxFree = 8;
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> free_;
};

/// Owns a pixel buffer while ZeroMQ sends it; returns it to the pool when ZeroMQ is done.
struct ZeroCopyHint {
  std::shared_ptr<BufferPool> pool;
  std::vector<uint8_t> pixels;
};

inline void ReleaseZeroCopy(void* /*data*/, void* hint) noexcept {
  auto* h = static_cast<ZeroCopyHint*>(hint);
  try {
    h->pool->Give(std::move(h->pixels));
  } catch (...) {  // the pool only drops buffers on failure
  }
  delete h;
}

/// zmq::poll that treats a signal interruption (EINTR) as "nothing ready" instead of an error.
inline int PollNoIntr(zmq::pollitem_t* items, size_t count, std::chrono::milliseconds timeout) {
  try {
    return zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return 0;
    throw;
  }
}

struct PendingFrame {
  FrameHeader header;
  std::vector<uint8_t> pixels;
};

/// Why a session ended: decides the retry policy.
enum class SessionEnd { kNone, kRetry, kRefused, kStop };

}  // namespace client_internal

using namespace client_internal;  // NOLINT(google-build-using-namespace): this file's own helpers

// ====================================================================== Impl

struct Client::Impl {
  explicit Impl(ClientConfig c) : config(std::move(c)), status(config.endpoint) {}

  const ClientConfig config;
  StatusTracker status;  // thread-safe on its own (not guarded by mu)
  const std::shared_ptr<BufferPool> pool = std::make_shared<BufferPool>();

  // ---- shared state (guarded by mu)
  mutable std::mutex mu;
  std::condition_variable cv;  // results, events, state changes
  ConnectionState state = ConnectionState::kStopped;
  std::optional<Welcome> welcome;
  std::map<uint32_t, PendingFrame> pending;  // one unsent frame per stream_id
  std::deque<std::vector<uint8_t>> controls; // encoded control messages, in order
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

  // ---- worker-only state
  std::atomic<bool> stop{false};
  std::thread worker;
  std::unique_ptr<zmq::context_t> ctx;
  std::mutex wake_mu;              // guards wake_tx (used by API threads)
  std::unique_ptr<zmq::socket_t> wake_tx;
  std::unique_ptr<zmq::socket_t> wake_rx;
  std::string wake_address;
  uint64_t attempt = 0;

  // ------------------------------------------------------------ API-side helpers

  void Wake() {
    std::lock_guard<std::mutex> lock(wake_mu);
    if (!wake_tx) return;
    try {
      (void)wake_tx->send(zmq::const_buffer(nullptr, 0), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {  // full pipe: the worker is already due to wake
    }
  }

  // Caller holds mu.
  void PushEventLocked(ClientEvent event) {
    if (event.kind == ClientEventKind::kError || event.kind == ClientEventKind::kDisconnected) {
      status.OnError(event.message, NowMicros(), IsConnectionFailure(event));
    }
    if (events.size() >= config.max_pending_events) {
      events.pop_front();
      ++counters.events_dropped;
    }
    events.push_back(std::move(event));
    cv.notify_all();
  }

  void PushEvent(ClientEvent event) {
    std::lock_guard<std::mutex> lock(mu);
    PushEventLocked(std::move(event));
  }

  void Event(ClientEventKind kind, StatusCode code, std::string message) noexcept {
    try {
      ClientEvent e;
      e.kind = kind;
      e.status = code;
      e.message = std::move(message);
      PushEvent(std::move(e));
    } catch (...) {  // out of memory while reporting: drop the event rather than the worker
    }
  }

  void SetState(ConnectionState s) {
    status.OnState(s);
    std::lock_guard<std::mutex> lock(mu);
    state = s;
    if (s != ConnectionState::kConnected) welcome.reset();
    cv.notify_all();
  }

  Status QueueControl(const Message& message) {
    std::vector<uint8_t> bytes;
    Status s = Encode(message, &bytes);
    if (!s.ok()) return s;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (state == ConnectionState::kStopped) {
        return Status(StatusCode::kStopped, std::string(MessageName(message)) + ": the client is stopped; call Start()");
      }
      if (controls.size() >= config.max_queued_controls) {
        return Status(StatusCode::kQueueFull, std::string(MessageName(message)) + ": " +
                                                  std::to_string(controls.size()) +
                                                  " control messages already wait for the server "
                                                  "(ClientConfig.max_queued_controls); send less often");
      }
      controls.push_back(std::move(bytes));
    }
    Wake();
    return Status::Ok();
  }

  // ------------------------------------------------------------ worker

  // Thread entry: nothing may escape a std::thread (it would call std::terminate).
  void Run() {
    try {
      RunLoop();
    } catch (const std::exception& e) {
      Event(ClientEventKind::kError, StatusCode::kInternal, std::string("client worker stopped: ") + e.what());
    } catch (...) {
      Event(ClientEventKind::kError, StatusCode::kInternal, "client worker stopped: unknown exception");
    }
    SetState(ConnectionState::kStopped);
  }

  void RunLoop() {
    milliseconds delay = config.reconnect_delay;
    while (!stop.load()) {
      SessionEnd end = SessionEnd::kStop;
      try {
        end = RunSession();
      } catch (const zmq::error_t& e) {
        Event(ClientEventKind::kError, StatusCode::kInternal, std::string("ZeroMQ error: ") + e.what());
        end = SessionEnd::kRetry;
      } catch (const std::exception& e) {
        Event(ClientEventKind::kError, StatusCode::kInternal, std::string("client worker: ") + e.what());
        end = SessionEnd::kRetry;
      } catch (...) {
        Event(ClientEventKind::kError, StatusCode::kInternal, "client worker: unknown exception");
        end = SessionEnd::kRetry;
      }
      bool had_session = false;
      {
        std::lock_guard<std::mutex> lock(mu);
        had_session = state == ConnectionState::kConnected;
        counters.credits = 0;
        counters.in_flight = 0;
      }
      if (end == SessionEnd::kStop || stop.load()) break;
      if (end == SessionEnd::kRefused) {
        SetState(ConnectionState::kRefused);
        WaitForWakeOrStop(milliseconds(-1));
        delay = config.reconnect_delay;
        continue;
      }
      SetState(ConnectionState::kConnecting);
      if (had_session) delay = config.reconnect_delay;  // first retry after a lost session is quick
      WaitForWakeOrStop(delay);
      delay = (std::min)(delay * 2, config.reconnect_delay_max);
    }
  }

  // Sleep until `timeout` passes (negative: forever), Stop() or Reconnect().
  void WaitForWakeOrStop(milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (!stop.load()) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (reconnect_requested) {
          reconnect_requested = false;
          return;
        }
      }
      long wait_ms = 200;
      if (timeout.count() >= 0) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return;
        wait_ms = (std::min<long>)(wait_ms, static_cast<long>(left));
      }
      zmq::pollitem_t items[] = {{wake_rx->handle(), 0, ZMQ_POLLIN, 0}};
      PollNoIntr(items, 1, milliseconds(wait_ms));
      if (items[0].revents & ZMQ_POLLIN) DrainWake();
    }
  }

  void DrainWake() {
    zmq::message_t m;
    while (wake_rx->recv(m, zmq::recv_flags::dontwait)) {
    }
  }

  // One connection attempt plus the session it may become. Returns how it ended.
  SessionEnd RunSession() {
    ++attempt;
    zmq::socket_t dealer(*ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::sndhwm, config.socket_hwm);
    dealer.set(zmq::sockopt::rcvhwm, config.socket_hwm);
    dealer.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(config.limits.max_message_bytes));
    // ZMTP heartbeats detect a dead TCP peer even while we wait for a slow result.
    dealer.set(zmq::sockopt::heartbeat_ivl, 1000);
    dealer.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(config.peer_timeout.count()));
    if (!config.curve_server_key.empty()) {  // validated in Start(): all three keys, Z85
      dealer.set(zmq::sockopt::curve_serverkey, config.curve_server_key);
      dealer.set(zmq::sockopt::curve_publickey, config.curve_public_key);
      dealer.set(zmq::sockopt::curve_secretkey, config.curve_secret_key);
    }

    const std::string monitor_address =
        "inproc://sdbridge-monitor-" + std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" + std::to_string(attempt);
    if (zmq_socket_monitor(dealer.handle(), monitor_address.c_str(),
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      throw zmq::error_t();
    }
    zmq::socket_t monitor(*ctx, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitor_address);
    struct MonitorStop {  // RAII: stop monitoring before either socket closes
      zmq::socket_t& d;
      ~MonitorStop() { zmq_socket_monitor(d.handle(), nullptr, 0); }
    } monitor_stop{dealer};

    try {
      dealer.connect(config.endpoint);
    } catch (const zmq::error_t& e) {
      Event(ClientEventKind::kError, StatusCode::kInvalidArgument,
            "cannot connect to endpoint '" + config.endpoint + "': " + e.what() +
                " (expected e.g. tcp://127.0.0.1:5555)");
      return SessionEnd::kRefused;  // retrying cannot fix a malformed endpoint
    }

    // ---- handshake
    Hello hello;
    hello.protocol_major = config.protocol_major;
    hello.protocol_minor = config.protocol_minor;
    hello.client_name = config.client_name;
    hello.client_version = config.client_version;
    hello.engine_name = config.engine_name;
    hello.engine_version = config.engine_version;
    hello.capabilities = config.capabilities;
    hello.pixel_formats = config.pixel_formats;
    std::vector<uint8_t> hello_bytes;
    Status encoded = Encode(hello, &hello_bytes);
    if (!encoded.ok()) {
      Event(ClientEventKind::kError, encoded.code(), encoded.message());
      return SessionEnd::kRefused;
    }
    (void)dealer.send(zmq::buffer(hello_bytes), zmq::send_flags::dontwait);

    Session session(*this, dealer);
    const Clock::time_point handshake_deadline = Clock::now() + config.handshake_timeout;
    while (!stop.load()) {
      milliseconds wait = milliseconds(100);
      if (!session.connected) {
        const auto left = std::chrono::duration_cast<milliseconds>(handshake_deadline - Clock::now());
        if (left.count() <= 0) {
          Event(ClientEventKind::kError, StatusCode::kTimeout,
                "no Welcome from " + config.endpoint + " within " + std::to_string(config.handshake_timeout.count()) +
                    " ms (ClientConfig.handshake_timeout). Causes and fixes: no server listens there (start "
                    "`sdbridge serve` with that port, or correct the endpoint); a firewall drops the port (allow "
                    "TCP to it); CurveZMQ keys that do not match (the server ignores such handshakes: check the "
                    "server key and that this client's public key is in its authorized_keys). Retrying.");
          return SessionEnd::kRetry;
        }
        wait = (std::min)(wait, left);
      } else {
        wait = (std::min)(wait, session.NextTimerIn());
      }
      zmq::pollitem_t items[] = {
          {dealer.handle(), 0, ZMQ_POLLIN, 0},
          {monitor.handle(), 0, ZMQ_POLLIN, 0},
          {wake_rx->handle(), 0, ZMQ_POLLIN, 0},
      };
      PollNoIntr(items, 3, (std::max)(wait, milliseconds(0)));
      if (items[2].revents & ZMQ_POLLIN) DrainWake();
      if (items[0].revents & ZMQ_POLLIN) {
        SessionEnd end = session.ReceiveAll();
        if (end != SessionEnd::kNone) return end;
      }
      if (items[1].revents & ZMQ_POLLIN) {
        if (session.PeerDisconnected(monitor)) return SessionEnd::kRetry;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        if (reconnect_requested) {
          reconnect_requested = false;
          return SessionEnd::kRetry;
        }
      }
      if (session.connected) {
        SessionEnd end = session.Pump();
        if (end != SessionEnd::kNone) return end;
      }
    }
    session.SayBye();
    return SessionEnd::kStop;
  }

  // State of one connected session (lives on the worker's stack).
  struct Session {
    Session(Impl& owner, zmq::socket_t& socket) : impl(owner), dealer(socket) {}
    Impl& impl;
    zmq::socket_t& dealer;
    bool connected = false;
    uint64_t session_id = 0;
    uint32_t heartbeat_ms = 0;
    bool heartbeat_with_ping = false;
    uint64_t ping_nonce = 0;
    Clock::time_point last_send = Clock::now();
    // Set when a frame or heartbeat is sent while nothing is outstanding; cleared by any message
    // from the server. Older than peer_timeout -> the server is gone (ZMTP heartbeats usually
    // notice first, through the monitor's DISCONNECTED event).
    std::optional<Clock::time_point> unanswered_since;
    bool auth_refusal_reported = false;

    milliseconds NextTimerIn() const {
      const auto since_send = std::chrono::duration_cast<milliseconds>(Clock::now() - last_send);
      return (std::max)(milliseconds(1), milliseconds(heartbeat_ms) - since_send);
    }

    void MarkSent() { last_send = Clock::now(); }
    void ExpectAnswer() {
      if (!unanswered_since) unanswered_since = Clock::now();
    }

    bool SendBytes(const std::vector<uint8_t>& bytes) {
      const auto sent = dealer.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
      if (sent) MarkSent();
      return sent.has_value();
    }

    void SayBye() {
      if (!connected) return;
      std::vector<uint8_t> bytes;
      Bye bye;
      bye.reason = std::string("client stopped");
      if (Encode(bye, &bytes).ok()) {
        try {
          (void)dealer.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
        } catch (const zmq::error_t&) {  // best effort: the server's heartbeat timeout frees the session
        }
      }
    }

    // The monitor reported an event; true if our peer is gone.
    bool PeerDisconnected(zmq::socket_t& monitor) {
      bool disconnected = false;
      zmq::message_t ev;
      while (monitor.recv(ev, zmq::recv_flags::dontwait)) {
        uint16_t id = 0;
        if (ev.size() >= sizeof(id)) std::memcpy(&id, ev.data(), sizeof(id));
        while (ev.more()) {  // second frame: the endpoint
          if (!monitor.recv(ev, zmq::recv_flags::dontwait)) break;
        }
        if (id == ZMQ_EVENT_DISCONNECTED) disconnected = true;
        if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !auth_refusal_reported) {
          auth_refusal_reported = true;  // libzmq keeps retrying; one event per connection attempt is enough
          impl.Event(ClientEventKind::kError, StatusCode::kRefused,
                     "server " + impl.config.endpoint + " refused the CurveZMQ handshake: this client's public key "
                     "is not in the server's authorized_keys (or curve_server_key is not the server's key)");
        }
      }
      if (disconnected && connected) {
        impl.Event(ClientEventKind::kDisconnected, StatusCode::kNotConnected,
                   "server " + impl.config.endpoint + " closed the connection (restart or crash); reconnecting");
      }
      return disconnected && connected;
    }

    SessionEnd ReceiveAll() {
      std::vector<zmq::message_t> parts;
      while (true) {
        parts.clear();
        zmq::message_t part;
        if (!dealer.recv(part, zmq::recv_flags::dontwait)) return SessionEnd::kNone;
        bool more = part.more();
        parts.push_back(std::move(part));
        while (more) {
          zmq::message_t next;
          // Parts of one message arrive together, so the next part is already there.
          if (!dealer.recv(next, zmq::recv_flags::dontwait)) break;
          more = next.more();
          parts.push_back(std::move(next));
        }
        unanswered_since.reset();
        SessionEnd end = Handle(parts);
        if (end != SessionEnd::kNone) return end;
      }
    }

    SessionEnd Handle(std::vector<zmq::message_t>& parts) {
      Message msg;
      Status s = Decode(static_cast<const uint8_t*>(parts[0].data()), parts[0].size(), &msg, impl.config.limits);
      if (!s.ok()) {
        impl.Event(ClientEventKind::kError, s.code(), "message from server ignored: " + s.message());
        if (!connected && s.message().find("file identifier") != std::string::npos) {
          impl.Event(ClientEventKind::kError, StatusCode::kVersionMismatch,
                     "the server at " + impl.config.endpoint + " answered in another protocol (" + s.message() +
                         "); this plugin speaks protocol " + VersionString(kProtocolMajor, kProtocolMinor) +
                         ": install the streamdiffusion-bridge server matching this plugin's major version");
          return SessionEnd::kRefused;
        }
        return SessionEnd::kNone;
      }
      if (auto* w = std::get_if<Welcome>(&msg)) return OnWelcome(*w);
      if (auto* e = std::get_if<ErrorMessage>(&msg)) return OnError(*e);
      if (!connected) {
        impl.Event(ClientEventKind::kError, StatusCode::kMalformed,
                   std::string("server sent ") + MessageName(msg) + " before Welcome; ignored");
        return SessionEnd::kNone;
      }
      if (auto* r = std::get_if<ResultHeader>(&msg)) return OnResult(*r, parts);
      if (auto* c = std::get_if<Credit>(&msg)) {
        // A Credit answers a frame that produced no Result (replaced in the server's latest-wins
        // slot, refused, or failed): that frame is no longer in flight.
        std::lock_guard<std::mutex> lock(impl.mu);
        impl.counters.credits += c->granted;
        impl.counters.in_flight -= (std::min)(impl.counters.in_flight, c->granted);
        impl.counters.frames_answered_by_credit += c->granted;
        impl.cv.notify_all();
        return SessionEnd::kNone;
      }
      if (auto* st = std::get_if<Stats>(&msg)) {
        ClientEvent e;
        e.kind = ClientEventKind::kStats;
        e.stats = *st;
        impl.PushEvent(std::move(e));
        return SessionEnd::kNone;
      }
      if (auto* n = std::get_if<Notice>(&msg)) {
        ClientEvent e;
        e.kind = ClientEventKind::kNotice;
        e.message = n->message.value_or("");
        e.notice = *n;
        impl.PushEvent(std::move(e));
        return SessionEnd::kNone;  // ServerShutdown: the disconnect that follows starts the reconnect
      }
      if (auto* b = std::get_if<Bye>(&msg)) {
        impl.Event(ClientEventKind::kDisconnected, StatusCode::kNotConnected,
                   "server said Bye (" + b->reason.value_or("no reason") + "); reconnecting");
        return SessionEnd::kRetry;
      }
      if (std::holds_alternative<Pong>(msg)) return SessionEnd::kNone;
      impl.Event(ClientEventKind::kError, StatusCode::kMalformed,
                 std::string("server sent unexpected ") + MessageName(msg) + "; ignored");
      return SessionEnd::kNone;
    }

    SessionEnd OnWelcome(const Welcome& w) {
      if (connected) {
        impl.Event(ClientEventKind::kError, StatusCode::kMalformed, "second Welcome in one session; ignored");
        return SessionEnd::kNone;
      }
      if (w.protocol_major != impl.config.protocol_major) {
        impl.Event(ClientEventKind::kError, StatusCode::kVersionMismatch,
                   "server at " + impl.config.endpoint + " speaks protocol " +
                       VersionString(w.protocol_major, w.protocol_minor) + ", this plugin speaks " +
                       VersionString(impl.config.protocol_major, impl.config.protocol_minor) +
                       ": install streamdiffusion-bridge " + std::to_string(impl.config.protocol_major) +
                       ".x on the server or a plugin of major " + std::to_string(w.protocol_major));
        return SessionEnd::kRefused;
      }
      connected = true;
      session_id = w.session_id;
      heartbeat_ms = static_cast<uint32_t>(impl.config.heartbeat_interval.count());
      if (w.heartbeat_interval_ms != 0) heartbeat_ms = (std::min)(heartbeat_ms, w.heartbeat_interval_ms);
      heartbeat_ms = (std::max<uint32_t>)(heartbeat_ms, 10);
      heartbeat_with_ping = (w.capabilities & capability::kHeartbeat) != 0;
      if (w.protocol_minor != impl.config.protocol_minor || (w.warning && !w.warning->empty())) {
        impl.Event(ClientEventKind::kWarning, StatusCode::kOk,
                   "server speaks protocol " + VersionString(w.protocol_major, w.protocol_minor) +
                       ", this plugin " + VersionString(impl.config.protocol_major, impl.config.protocol_minor) +
                       " (same major: accepted)" +
                       (w.warning && !w.warning->empty() ? ": " + *w.warning : std::string()));
      }
      std::vector<std::vector<uint8_t>> replay;
      {
        std::lock_guard<std::mutex> lock(impl.mu);
        impl.state = ConnectionState::kConnected;
        impl.status.OnState(ConnectionState::kConnected);  // resets the failed-attempt count
        impl.welcome = w;
        impl.counters.credits = w.initial_credits;
        impl.counters.in_flight = 0;
        ++impl.counters.sessions;
        if (impl.config.replay_settings_on_reconnect && impl.counters.sessions > 1) {
          replay = impl.SettingsToReplayLocked();
        }
        impl.cv.notify_all();
      }
      ClientEvent e;
      e.kind = ClientEventKind::kConnected;
      e.message = "connected to " + impl.config.endpoint + " (session " + std::to_string(w.session_id) + ", server " +
                  w.server_version.value_or("?") + ", protocol " + VersionString(w.protocol_major, w.protocol_minor) +
                  ")";
      e.welcome = w;
      impl.PushEvent(std::move(e));
      for (const auto& bytes : replay) SendBytes(bytes);
      return SessionEnd::kNone;
    }

    SessionEnd OnError(const ErrorMessage& err) {
      {
        std::lock_guard<std::mutex> lock(impl.mu);
        ++impl.counters.errors_received;  // a refused frame's credit comes back in a Credit message
      }
      ClientEvent e;
      e.kind = ClientEventKind::kError;
      e.error = err;
      e.message = "server error " + std::to_string(static_cast<unsigned>(err.code)) +
                  (err.field ? " (" + *err.field + ")" : std::string()) + ": " + err.message.value_or("");
      SessionEnd end = SessionEnd::kNone;
      switch (err.code) {
        case WireError::kVersionMismatch:
          e.status = StatusCode::kVersionMismatch;
          e.message = "server at " + impl.config.endpoint + " refused protocol " +
                      VersionString(impl.config.protocol_major, impl.config.protocol_minor) + ": " +
                      err.message.value_or("(no message)");
          end = SessionEnd::kRefused;
          break;
        case WireError::kNotHello:
        case WireError::kUnknownSession:
        case WireError::kSessionExpired:
          e.status = StatusCode::kNotConnected;
          end = SessionEnd::kRetry;  // the server lost our session (restart, expiry): new handshake
          break;
        case WireError::kSessionLimit:
          e.status = StatusCode::kRefused;
          end = SessionEnd::kRetry;
          break;
        default:
          e.status = connected ? StatusCode::kInvalidArgument : StatusCode::kRefused;
          if (err.session_closed || !connected) end = SessionEnd::kRetry;
          break;
      }
      if (err.session_closed && end == SessionEnd::kNone) end = SessionEnd::kRetry;
      impl.PushEvent(std::move(e));
      return end;
    }

    SessionEnd OnResult(const ResultHeader& header, std::vector<zmq::message_t>& parts) {
      const uint64_t received = NowMicros();
      std::lock_guard<std::mutex> lock(impl.mu);
      impl.counters.credits += header.credits_granted;
      if (impl.counters.in_flight > 0) --impl.counters.in_flight;
      size_t expected = 0;
      Status s = ExpectedPixelBytes(header.layout, &expected, impl.config.limits);
      if (!s.ok() || parts.size() != 2 || parts[1].size() != expected) {
        impl.PushEventLocked(ClientEvent{
            ClientEventKind::kError, StatusCode::kMalformed,
            "Result for frame " + std::to_string(header.frame_id) + " dropped: " +
                (s.ok() ? "expected 2 parts with " + std::to_string(expected) + " pixel bytes, got " +
                              std::to_string(parts.size()) + " parts" +
                              (parts.size() > 1 ? " with " + std::to_string(parts[1].size()) + " bytes" : "")
                        : s.message()),
            std::nullopt, std::nullopt, std::nullopt, std::nullopt});
        return SessionEnd::kNone;
      }
      FrameResult r;
      r.header = header;
      // Zero copy: the result shares the received ZeroMQ message (freed with its last PixelBuffer).
      auto message = std::make_shared<zmq::message_t>(std::move(parts[1]));
      r.pixels = PixelBuffer(message, static_cast<const uint8_t*>(message->data()), message->size());
      r.received_time_us = received;
      if (impl.results.size() >= impl.config.max_pending_results) {
        impl.results.pop_front();
        ++impl.counters.results_dropped;
      }
      impl.results.push_back(std::move(r));
      ++impl.counters.results_received;
      impl.status.OnResult(header.capture_time_us, received);
      impl.cv.notify_all();
      return SessionEnd::kNone;
    }

    // Send what is due: controls, frames while credits last, heartbeat; detect silence.
    SessionEnd Pump() {
      // Controls first, in order: a prompt set before a frame applies to it.
      while (true) {
        std::vector<uint8_t> bytes;
        {
          std::lock_guard<std::mutex> lock(impl.mu);
          if (impl.controls.empty()) break;
          bytes = std::move(impl.controls.front());
          impl.controls.pop_front();
        }
        if (!SendBytes(bytes)) {  // socket full: put it back, try on the next wake-up
          std::lock_guard<std::mutex> lock(impl.mu);
          impl.controls.push_front(std::move(bytes));
          break;
        }
      }
      while (SendOneFrame()) {
      }
      const Clock::time_point now = Clock::now();
      if (unanswered_since && now - *unanswered_since > impl.config.peer_timeout) {
        impl.Event(ClientEventKind::kDisconnected, StatusCode::kTimeout,
                   "server " + impl.config.endpoint + " silent for " +
                       std::to_string(impl.config.peer_timeout.count()) +
                       " ms while answers were due (ClientConfig.peer_timeout); reconnecting");
        return SessionEnd::kRetry;
      }
      if (now - last_send >= milliseconds(heartbeat_ms)) {
        std::vector<uint8_t> bytes;
        Status s = heartbeat_with_ping ? Encode(Ping{++ping_nonce, NowMicros()}, &bytes)
                                       : Encode(StatsRequest{0}, &bytes);
        if (s.ok() && SendBytes(bytes)) {
          ExpectAnswer();
        } else {
          MarkSent();  // retry at the next interval
        }
      }
      return SessionEnd::kNone;
    }

    // Send the oldest pending frame if we hold a credit. True if one was sent.
    bool SendOneFrame() {
      PendingFrame frame;
      {
        std::lock_guard<std::mutex> lock(impl.mu);
        if (impl.counters.credits == 0 || impl.pending.empty()) return false;
        auto oldest = impl.pending.begin();
        for (auto it = impl.pending.begin(); it != impl.pending.end(); ++it) {
          if (it->second.header.frame_id < oldest->second.header.frame_id) oldest = it;
        }
        frame = std::move(oldest->second);
        impl.pending.erase(oldest);
        --impl.counters.credits;  // reserved now so "credit and nothing pending" is never seen falsely
      }
      frame.header.session_id = session_id;
      frame.header.send_time_us = NowMicros();
      std::vector<uint8_t> header_bytes;
      Status s = Encode(frame.header, &header_bytes);
      if (!s.ok()) {
        {
          std::lock_guard<std::mutex> lock(impl.mu);
          ++impl.counters.credits;
        }
        impl.Event(ClientEventKind::kError, s.code(), "frame " + std::to_string(frame.header.frame_id) +
                                                          " not sent: " + s.message());
        return true;
      }
      auto* hint = new ZeroCopyHint{impl.pool, std::move(frame.pixels)};
      zmq::message_t pixels(hint->pixels.data(), hint->pixels.size(), &ReleaseZeroCopy, hint);
      const auto sent = dealer.send(zmq::buffer(header_bytes), zmq::send_flags::dontwait | zmq::send_flags::sndmore);
      if (!sent) {  // socket full (should not happen with credits): keep the frame unless a newer one came
        frame.pixels = std::move(hint->pixels);
        std::lock_guard<std::mutex> lock(impl.mu);
        ++impl.counters.credits;
        impl.pending.emplace(frame.header.stream_id, std::move(frame));  // no-op if replaced meanwhile
        return false;
      }
      // The second part of an accepted multipart message is always accepted.
      (void)dealer.send(pixels, zmq::send_flags::none);
      MarkSent();
      ExpectAnswer();
      std::lock_guard<std::mutex> lock(impl.mu);
      ++impl.counters.in_flight;
      ++impl.counters.frames_sent;
      impl.cv.notify_all();
      return true;
    }
  };

  // Caller holds mu.
  std::vector<std::vector<uint8_t>> SettingsToReplayLocked() {
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> bytes;
    if (last_prompt && Encode(*last_prompt, &bytes).ok()) out.push_back(bytes);
    if (merged_params && !merged_params->Empty() && Encode(*merged_params, &bytes).ok()) out.push_back(bytes);
    if (!state_vars.empty()) {
      State st;
      st.entries.emplace();
      for (const auto& kv : state_vars) st.entries->push_back(kv.second);
      st.client_time_us = NowMicros();
      if (Encode(st, &bytes).ok()) out.push_back(bytes);
    }
    // Queued controls were encoded for the old session but are still meaningful: keep them.
    return out;
  }

};

// ====================================================================== public API

Client::Client(ClientConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Client::~Client() { Stop(); }

const ClientConfig& Client::config() const { return impl_->config; }

Status Client::Start() {
  Impl& d = *impl_;
  try {
    {
      std::lock_guard<std::mutex> lock(d.mu);
      if (d.worker.joinable()) return Status(StatusCode::kInvalidArgument, "Start: the client is already started");
      if (d.config.endpoint.empty()) {
        return Status(StatusCode::kInvalidArgument, "ClientConfig.endpoint is empty (expected e.g. tcp://127.0.0.1:5555)");
      }
      const bool any_curve = !d.config.curve_server_key.empty() || !d.config.curve_public_key.empty() ||
                             !d.config.curve_secret_key.empty();
      if (any_curve && (d.config.curve_server_key.size() != 40 || d.config.curve_public_key.size() != 40 ||
                        d.config.curve_secret_key.size() != 40)) {
        return Status(StatusCode::kInvalidArgument,
                      "CurveZMQ needs all three of ClientConfig.curve_server_key, curve_public_key and "
                      "curve_secret_key as 40-character Z85 keys (from `sdbridge keys generate`)");
      }
      if (d.config.max_pending_results == 0 || d.config.max_pending_events == 0 || d.config.max_queued_controls == 0) {
        return Status(StatusCode::kInvalidArgument,
                      "ClientConfig.max_pending_results/max_pending_events/max_queued_controls must be at least 1");
      }
      d.state = ConnectionState::kConnecting;
    }
    d.stop.store(false);
    d.ctx = std::make_unique<zmq::context_t>(1);
    d.wake_address = "inproc://sdbridge-wake-" + std::to_string(reinterpret_cast<uintptr_t>(&d));
    d.wake_rx = std::make_unique<zmq::socket_t>(*d.ctx, zmq::socket_type::pair);
    d.wake_rx->set(zmq::sockopt::linger, 0);
    d.wake_rx->bind(d.wake_address);
    {
      std::lock_guard<std::mutex> lock(d.wake_mu);
      d.wake_tx = std::make_unique<zmq::socket_t>(*d.ctx, zmq::socket_type::pair);
      d.wake_tx->set(zmq::sockopt::linger, 0);
      d.wake_tx->set(zmq::sockopt::sndhwm, 4);
      d.wake_tx->connect(d.wake_address);
    }
    d.worker = std::thread([&d] { d.Run(); });
    return Status::Ok();
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(d.wake_mu);
      d.wake_tx.reset();
    }
    d.wake_rx.reset();
    d.ctx.reset();
    std::lock_guard<std::mutex> lock(d.mu);
    d.state = ConnectionState::kStopped;
    return Status(StatusCode::kInternal, std::string("Start: ") + e.what());
  }
}

void Client::Stop() {
  Impl& d = *impl_;
  try {
    d.stop.store(true);
    d.Wake();
    if (d.worker.joinable()) d.worker.join();
    {
      std::lock_guard<std::mutex> lock(d.wake_mu);
      d.wake_tx.reset();
    }
    d.wake_rx.reset();
    d.ctx.reset();  // all sockets are closed with linger 0: returns at once
    std::lock_guard<std::mutex> lock(d.mu);
    d.state = ConnectionState::kStopped;
    d.pending.clear();
    d.controls.clear();
    d.cv.notify_all();
  } catch (...) {  // Stop must not throw (it runs in destructors)
  }
}

Status Client::Reconnect() {
  Impl& d = *impl_;
  try {
    {
      std::lock_guard<std::mutex> lock(d.mu);
      if (!d.worker.joinable()) return Status(StatusCode::kStopped, "Reconnect: the client is not started; call Start()");
      d.reconnect_requested = true;
    }
    d.Wake();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("Reconnect: ") + e.what());
  }
}

Status Client::SubmitFrame(const FrameView& frame, uint64_t* frame_id) {
  Impl& d = *impl_;
  try {
    size_t expected = 0;
    Status s = ExpectedPixelBytes(frame.layout, &expected, d.config.limits);
    if (!s.ok()) return Status(StatusCode::kInvalidArgument, "SubmitFrame: " + s.message());
    if (frame.pixels == nullptr || frame.size != expected) {
      return Status(StatusCode::kInvalidArgument,
                    "SubmitFrame: got " + std::to_string(frame.pixels ? frame.size : 0) + " pixel bytes, layout " +
                        std::to_string(frame.layout.width) + "x" + std::to_string(frame.layout.height) +
                        " with stride " + std::to_string(frame.layout.stride) + " needs stride x height = " +
                        std::to_string(expected));
    }
    if (frame.layout.row_order == RowOrder::kUnknown || frame.layout.color_space == ColorSpace::kUnknown) {
      return Status(StatusCode::kInvalidArgument,
                    "SubmitFrame: layout.row_order and layout.color_space must be set (TopDown/BottomUp, SRGB/Linear)");
    }
    std::vector<uint8_t> buffer = d.pool->Take();
    buffer.assign(frame.pixels, frame.pixels + expected);  // copy outside the lock
    PendingFrame pending;
    pending.header.stream_id = frame.stream_id;
    pending.header.layout = frame.layout;
    pending.header.capture_time_us = frame.capture_time_us != 0 ? frame.capture_time_us : NowMicros();
    pending.pixels = std::move(buffer);
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(d.mu);
      if (d.state == ConnectionState::kStopped) {
        d.pool->Give(std::move(pending.pixels));
        return Status(StatusCode::kStopped, "SubmitFrame: the client is stopped; call Start()");
      }
      id = d.next_frame_id++;
      pending.header.frame_id = id;
      ++d.counters.frames_submitted;
      auto it = d.pending.find(frame.stream_id);
      if (it != d.pending.end()) {
        ++d.counters.frames_replaced;
        std::swap(it->second, pending);  // `pending` now holds the replaced frame
      } else {
        d.pending.emplace(frame.stream_id, std::move(pending));
      }
    }
    if (!pending.pixels.empty()) d.pool->Give(std::move(pending.pixels));
    if (frame_id) *frame_id = id;
    d.Wake();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SubmitFrame: ") + e.what());
  }
}

bool Client::TryGetResult(FrameResult* out) {
  if (out == nullptr) return false;
  Impl& d = *impl_;
  try {
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.results.empty()) return false;
    *out = std::move(d.results.front());
    d.results.pop_front();
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::TryGetLatestResult(FrameResult* out) {
  if (out == nullptr) return false;
  Impl& d = *impl_;
  try {
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.results.empty()) return false;
    while (d.results.size() > 1) {
      d.results.pop_front();
      ++d.counters.results_dropped;
    }
    *out = std::move(d.results.front());
    d.results.pop_front();
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::TryGetEvent(ClientEvent* out) {
  if (out == nullptr) return false;
  Impl& d = *impl_;
  try {
    std::lock_guard<std::mutex> lock(d.mu);
    if (d.events.empty()) return false;
    *out = std::move(d.events.front());
    d.events.pop_front();
    return true;
  } catch (...) {
    return false;
  }
}

bool Client::WaitForResult(FrameResult* out, std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    {
      std::unique_lock<std::mutex> lock(d.mu);
      if (!d.cv.wait_for(lock, timeout, [&d] { return !d.results.empty(); })) return false;
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
      std::unique_lock<std::mutex> lock(d.mu);
      if (!d.cv.wait_for(lock, timeout, [&d] { return !d.events.empty(); })) return false;
    }
    return TryGetEvent(out);
  } catch (...) {
    return false;
  }
}

bool Client::WaitForState(ConnectionState state, std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    std::unique_lock<std::mutex> lock(d.mu);
    return d.cv.wait_for(lock, timeout, [&d, state] { return d.state == state; });
  } catch (...) {
    return false;
  }
}

bool Client::WaitUntilReadyToSend(std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  try {
    std::unique_lock<std::mutex> lock(d.mu);
    return d.cv.wait_for(lock, timeout, [&d] {
      return d.state == ConnectionState::kConnected && d.counters.credits > 0 && d.pending.empty();
    });
  } catch (...) {
    return false;
  }
}

Status Client::SetPrompt(const Prompt& prompt) {
  try {
    Status s = impl_->QueueControl(prompt);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->last_prompt = prompt;
    }
    return s;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SetPrompt: ") + e.what());
  }
}

Status Client::SetParams(const Params& params) {
  try {
    if (params.Empty()) {
      return Status(StatusCode::kInvalidArgument, "SetParams: no field is set; set at least one (e.g. guidance_scale)");
    }
    Status s = impl_->QueueControl(params);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (!impl_->merged_params) impl_->merged_params.emplace();
      impl_->merged_params->MergeFrom(params);
    }
    return s;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SetParams: ") + e.what());
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
      std::lock_guard<std::mutex> lock(impl_->mu);
      e.frame_id = impl_->next_frame_id - 1;
    }
    return impl_->QueueControl(e);
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
    Status s = impl_->QueueControl(st);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (st.replace_all) impl_->state_vars.clear();
      for (const KeyValue& kv : *st.entries) impl_->state_vars[kv.key] = kv;
    }
    return s;
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("SetState: ") + e.what());
  }
}

Status Client::RequestStats() {
  try {
    uint32_t id = 0;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      id = impl_->next_stats_request++;
    }
    return impl_->QueueControl(StatsRequest{id});
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("RequestStats: ") + e.what());
  }
}

ConnectionState Client::GetState() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->state;
}

std::optional<Welcome> Client::GetWelcome() const {
  try {
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->welcome;
  } catch (...) {
    return std::nullopt;
  }
}

StatusSnapshot Client::GetStatus() const {
  StatusSnapshot out = impl_->status.Snapshot(NowMicros());
  std::lock_guard<std::mutex> lock(impl_->mu);
  out.state = impl_->state;  // the client's own state is authoritative (Start/Stop set it directly)
  return out;
}

ClientCounters Client::GetCounters() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->counters;
}

}  // namespace sdbridge
