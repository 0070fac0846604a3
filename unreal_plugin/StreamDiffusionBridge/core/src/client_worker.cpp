// The sdbridge Client's worker thread (see client_worker.h).
#include "client_worker.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <zmq.h>

#include "client_retry.h"

namespace sdbridge {
namespace client_internal {

void ClientWorker::Start() {
  try {
    stop_.store(false);
    ctx_ = std::make_unique<zmq::context_t>(1);
    const std::string wake_address = "inproc://sdbridge-wake-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    wake_rx_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pair);
    wake_rx_->set(zmq::sockopt::linger, 0);
    wake_rx_->bind(wake_address);
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      wake_tx_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::pair);
      wake_tx_->set(zmq::sockopt::linger, 0);
      wake_tx_->set(zmq::sockopt::sndhwm, 4);
      wake_tx_->connect(wake_address);
    }
    thread_ = std::thread([this] { Run(); });
  } catch (...) {
    CloseSockets();
    throw;
  }
}

void ClientWorker::Stop() {
  stop_.store(true);
  Wake();
  if (thread_.joinable()) thread_.join();
  CloseSockets();
}

void ClientWorker::CloseSockets() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_tx_.reset();
  }
  wake_rx_.reset();
  ctx_.reset();  // all sockets are closed with linger 0: returns at once
}

void ClientWorker::Wake() noexcept {
  try {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (!wake_tx_) return;
    (void)wake_tx_->send(zmq::const_buffer(nullptr, 0), zmq::send_flags::dontwait);
  } catch (...) {  // full pipe: the worker is already due to wake
  }
}

// Thread entry: nothing may escape a std::thread (it would call std::terminate).
void ClientWorker::Run() {
  try {
    RunLoop();
  } catch (const std::exception& e) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInternal, std::string("client worker stopped: ") + e.what());
  } catch (...) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInternal, "client worker stopped: unknown exception");
  }
  shared_.SetState(ConnectionState::kStopped);
}

void ClientWorker::RunLoop() {
  const ClientConfig& config = shared_.config;
  // Seeded per client and per run (clock and address): clients started together still draw apart.
  Backoff backoff(config.reconnect_delay, config.reconnect_delay_max,
                  NowMicros() ^ (static_cast<uint64_t>(reinterpret_cast<uintptr_t>(this)) << 16));
  Clock::time_point failing_since{};  // the first failed try since the last session or Reconnect()
  bool failing = false;
  while (!stop_.load()) {
    const SessionEnd end = RunSessionCatching();
    bool had_session = false;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      had_session = shared_.state == ConnectionState::kConnected;
      shared_.counters.credits = 0;
      shared_.counters.in_flight = 0;
    }
    if (end == SessionEnd::kStop || stop_.load()) break;
    if (had_session) {  // the first retry after a lost session is quick
      backoff.Reset();
      failing = false;
    }
    const Clock::time_point now = Clock::now();
    if (!failing) {
      failing_since = now;
      failing = true;
    }
    const milliseconds delay = backoff.NextDelay();
    const bool window_over =
        config.reconnect_window.count() > 0 && now + delay - failing_since >= config.reconnect_window;
    if (end == SessionEnd::kRefused || window_over) {
      if (window_over) shared_.Event(ClientEventKind::kError, StatusCode::kTimeout, GaveUpText(config, backoff.tries()));
      shared_.SetState(ConnectionState::kRefused);
      WaitForWakeOrStop(milliseconds(-1));
      backoff.Reset();
      failing = false;
      continue;
    }
    shared_.SetState(ConnectionState::kConnecting);
    WaitForWakeOrStop(delay);
  }
}

SessionEnd ClientWorker::RunSessionCatching() {
  try {
    return RunSession();
  } catch (const zmq::error_t& e) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInternal, std::string("ZeroMQ error: ") + e.what());
  } catch (const std::exception& e) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInternal, std::string("client worker: ") + e.what());
  } catch (...) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInternal, "client worker: unknown exception");
  }
  return SessionEnd::kRetry;
}

// Sleeps until `timeout` passes (negative: forever), Stop() or Reconnect().
void ClientWorker::WaitForWakeOrStop(milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (!stop_.load()) {
    if (shared_.TakeReconnectRequest()) return;
    long wait_ms = 200;
    if (timeout.count() >= 0) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return;
      wait_ms = (std::min<long>)(wait_ms, static_cast<long>(left));
    }
    zmq::pollitem_t items[] = {{wake_rx_->handle(), 0, ZMQ_POLLIN, 0}};
    PollNoIntr(items, 1, milliseconds(wait_ms));
    if (items[0].revents & ZMQ_POLLIN) DrainWake();
  }
}

void ClientWorker::DrainWake() {
  zmq::message_t m;
  while (wake_rx_->recv(m, zmq::recv_flags::dontwait)) {
  }
}

namespace {

void ConfigureDealer(zmq::socket_t& dealer, const ClientConfig& config) {
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
}

}  // namespace

SessionEnd ClientWorker::RunSession() {
  const ClientConfig& config = shared_.config;
  ++attempt_;
  zmq::socket_t dealer(*ctx_, zmq::socket_type::dealer);
  ConfigureDealer(dealer, config);
  const std::string monitor_address = "inproc://sdbridge-monitor-" +
                                      std::to_string(reinterpret_cast<uintptr_t>(this)) + "-" +
                                      std::to_string(attempt_);
  if (zmq_socket_monitor(dealer.handle(), monitor_address.c_str(),
                         ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
    throw zmq::error_t();
  }
  zmq::socket_t monitor(*ctx_, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(monitor_address);
  struct MonitorStop {  // RAII: stop monitoring before either socket closes
    zmq::socket_t& d;
    ~MonitorStop() { zmq_socket_monitor(d.handle(), nullptr, 0); }
  } monitor_stop{dealer};

  try {
    dealer.connect(config.endpoint);
  } catch (const zmq::error_t& e) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInvalidArgument,
                  "cannot connect to endpoint '" + config.endpoint + "': " + e.what() +
                      " (expected e.g. tcp://127.0.0.1:5555)");
    return SessionEnd::kRefused;  // retrying cannot fix a malformed endpoint
  }
  std::vector<uint8_t> hello_bytes;
  Status encoded = Encode(MakeHello(config), &hello_bytes);
  if (!encoded.ok()) {
    shared_.Event(ClientEventKind::kError, encoded.code(), encoded.message());
    return SessionEnd::kRefused;
  }
  (void)dealer.send(zmq::buffer(hello_bytes), zmq::send_flags::dontwait);
  return Converse(dealer, monitor);
}

SessionEnd ClientWorker::Converse(zmq::socket_t& dealer, zmq::socket_t& monitor) {
  SessionConnection session(shared_, dealer);
  const Clock::time_point handshake_deadline = Clock::now() + shared_.config.handshake_timeout;
  while (!stop_.load()) {
    milliseconds wait = milliseconds(100);
    if (!session.connected()) {
      const auto left = std::chrono::duration_cast<milliseconds>(handshake_deadline - Clock::now());
      if (left.count() <= 0) {
        shared_.Event(ClientEventKind::kError, StatusCode::kTimeout, HandshakeTimeoutText(shared_.config));
        return SessionEnd::kRetry;
      }
      wait = (std::min)(wait, left);
    } else {
      wait = (std::min)(wait, session.NextTimerIn());
    }
    zmq::pollitem_t items[] = {
        {dealer.handle(), 0, ZMQ_POLLIN, 0},
        {monitor.handle(), 0, ZMQ_POLLIN, 0},
        {wake_rx_->handle(), 0, ZMQ_POLLIN, 0},
    };
    PollNoIntr(items, 3, (std::max)(wait, milliseconds(0)));
    if (items[2].revents & ZMQ_POLLIN) DrainWake();
    if (items[0].revents & ZMQ_POLLIN) {
      SessionEnd end = session.ReceiveAll();
      if (end != SessionEnd::kNone) return end;
    }
    if ((items[1].revents & ZMQ_POLLIN) && session.PeerDisconnected(monitor)) return SessionEnd::kRetry;
    if (shared_.TakeReconnectRequest()) {
      session.SayBye("reconnect");  // the server frees the session at once (as the Python client's reconnect())
      // The session left is reported as every end of a session is (the C# core raises Disconnected, the Python
      // client's reconnect() marks it lost); kOk: asked for, not a failure (ConnectionLogPolicy logs it as Info).
      if (session.connected()) {
        shared_.Event(ClientEventKind::kDisconnected, StatusCode::kOk,
                      "session with " + shared_.config.endpoint + " left on Client::Reconnect(); reconnecting");
      }
      return SessionEnd::kRetry;
    }
    if (session.connected()) {
      SessionEnd end = session.Pump();
      if (end != SessionEnd::kNone) return end;
    }
  }
  session.SayBye();
  return SessionEnd::kStop;
}

}  // namespace client_internal
}  // namespace sdbridge
