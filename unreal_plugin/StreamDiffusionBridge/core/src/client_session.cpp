// One connected session of the sdbridge Client's worker (see client_session.h).
#include "client_session.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

namespace sdbridge {
namespace client_internal {
namespace {

/// Owns a pixel buffer while ZeroMQ sends it; returns it to the pool when ZeroMQ is done.
struct ZeroCopyHint {
  std::shared_ptr<BufferPool> pool;
  std::vector<uint8_t> pixels;
};

void ReleaseZeroCopy(void* /*data*/, void* hint) noexcept {
  auto* h = static_cast<ZeroCopyHint*>(hint);
  try {
    h->pool->Give(std::move(h->pixels));
  } catch (...) {  // the pool only drops buffers on failure
  }
  delete h;
}

}  // namespace

milliseconds SessionConnection::NextTimerIn() const {
  const auto since_send = std::chrono::duration_cast<milliseconds>(Clock::now() - last_send_);
  return (std::max)(milliseconds(1), milliseconds(heartbeat_ms_) - since_send);
}

bool SessionConnection::SendBytes(const std::vector<uint8_t>& bytes) {
  const auto sent = dealer_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  if (sent) MarkSent();
  return sent.has_value();
}

void SessionConnection::SayBye(const char* reason) {
  if (!connected_) return;
  std::vector<uint8_t> bytes;
  Bye bye;
  bye.reason = std::string(reason);
  if (Encode(bye, &bytes).ok()) {
    try {
      (void)dealer_.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {  // best effort: the server's heartbeat timeout frees the session
    }
  }
}

bool SessionConnection::PeerDisconnected(zmq::socket_t& monitor) {
  bool disconnected = false;
  zmq::message_t ev;
  while (monitor.recv(ev, zmq::recv_flags::dontwait)) {
    uint16_t id = 0;
    if (ev.size() >= sizeof(id)) std::memcpy(&id, ev.data(), sizeof(id));
    while (ev.more()) {  // second frame: the endpoint
      if (!monitor.recv(ev, zmq::recv_flags::dontwait)) break;
    }
    if (id == ZMQ_EVENT_DISCONNECTED) disconnected = true;
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !auth_refusal_reported_) {
      auth_refusal_reported_ = true;  // libzmq keeps retrying; one event per connection attempt is enough
      shared_.Event(ClientEventKind::kError, StatusCode::kRefused,
                    "server " + shared_.config.endpoint + " refused the CurveZMQ handshake: this client's public key "
                    "is not in the server's authorized_keys (or curve_server_key is not the server's key)");
    }
  }
  if (disconnected && connected_) {
    shared_.Event(ClientEventKind::kDisconnected, StatusCode::kNotConnected,
                  "server " + shared_.config.endpoint + " closed the connection (restart or crash); reconnecting");
  }
  return disconnected && connected_;
}

SessionEnd SessionConnection::ReceiveAll() {
  std::vector<zmq::message_t> parts;
  while (true) {
    parts.clear();
    zmq::message_t part;
    if (!dealer_.recv(part, zmq::recv_flags::dontwait)) return SessionEnd::kNone;
    bool more = part.more();
    parts.push_back(std::move(part));
    while (more) {
      zmq::message_t next;
      // Parts of one message arrive together, so the next part is already there.
      if (!dealer_.recv(next, zmq::recv_flags::dontwait)) break;
      more = next.more();
      parts.push_back(std::move(next));
    }
    unanswered_since_.reset();
    SessionEnd end = Handle(parts);
    if (end != SessionEnd::kNone) return end;
  }
}

SessionEnd SessionConnection::Handle(std::vector<zmq::message_t>& parts) {
  const ClientConfig& config = shared_.config;
  Message msg;
  Status s = Decode(static_cast<const uint8_t*>(parts[0].data()), parts[0].size(), &msg, config.limits);
  if (!s.ok()) {
    // dropped, the session goes on: a warning, as the Python and C# clients report a malformed message
    shared_.Event(ClientEventKind::kWarning, s.code(), "message from server ignored: " + s.message(), s.wire_error());
    // decided on the codec's typed code, never on the message text
    if (!connected_ && s.wire_error() == WireError::kWrongIdentifier) {
      shared_.Event(ClientEventKind::kError, StatusCode::kVersionMismatch,
                    "the server at " + config.endpoint + " answered in another protocol (" + s.message() +
                        "); this plugin speaks protocol " + VersionString(kProtocolMajor, kProtocolMinor) +
                        ": install the streamdiffusion-bridge server matching this plugin's major version",
                    s.wire_error());
      return SessionEnd::kRefused;
    }
    return SessionEnd::kNone;
  }
  if (auto* w = std::get_if<Welcome>(&msg)) return OnWelcome(*w);
  if (auto* e = std::get_if<ErrorMessage>(&msg)) return OnError(*e);
  if (!connected_) {
    shared_.Event(ClientEventKind::kWarning, StatusCode::kMalformed,
                  std::string("server sent ") + MessageName(msg) + " before Welcome; ignored");
    return SessionEnd::kNone;
  }
  return HandleInSession(msg, parts);
}

SessionEnd SessionConnection::HandleInSession(const Message& msg, std::vector<zmq::message_t>& parts) {
  if (auto* r = std::get_if<ResultHeader>(&msg)) return OnResult(*r, parts);
  if (auto* c = std::get_if<Credit>(&msg)) {
    shared_.OnCredit(c->granted);
    return SessionEnd::kNone;
  }
  if (auto* st = std::get_if<Stats>(&msg)) {
    ClientEvent e;
    e.kind = ClientEventKind::kStats;
    e.stats = *st;
    shared_.PushEvent(std::move(e));
    return SessionEnd::kNone;
  }
  if (auto* n = std::get_if<Notice>(&msg)) {
    ClientEvent e;
    e.kind = ClientEventKind::kNotice;
    e.message = n->message.value_or("");
    e.notice = *n;
    const bool shutting_down = n->kind == NoticeKind::kServerShutdown;
    if (n->kind == NoticeKind::kWantedPlanesChanged) {
      shared_.OnWantedPlanes(n->wanted_planes.value_or(std::vector<PlaneKind>{}));
    }
    shared_.PushEvent(std::move(e));
    if (!shutting_down) return SessionEnd::kNone;
    // A draining replica: say Bye (it frees the session at once) and move, as after a lost session.
    shared_.Event(ClientEventKind::kDisconnected, StatusCode::kNotConnected, ServerShutdownText(shared_.config, *n));
    SayBye("reconnect");
    return SessionEnd::kRetry;
  }
  if (auto* b = std::get_if<Bye>(&msg)) {
    shared_.Event(ClientEventKind::kDisconnected, StatusCode::kNotConnected,
                  "server said Bye (" + b->reason.value_or("no reason") + "); reconnecting");
    return SessionEnd::kRetry;
  }
  if (std::holds_alternative<Pong>(msg)) return SessionEnd::kNone;
  shared_.Event(ClientEventKind::kWarning, StatusCode::kMalformed,
                std::string("server sent unexpected ") + MessageName(msg) + "; ignored");
  return SessionEnd::kNone;
}

SessionEnd SessionConnection::OnWelcome(const Welcome& w) {
  const ClientConfig& config = shared_.config;
  if (connected_) {
    shared_.Event(ClientEventKind::kWarning, StatusCode::kMalformed, "second Welcome in one session; ignored");
    return SessionEnd::kNone;
  }
  if (w.protocol_major != config.protocol_major) {
    shared_.Event(ClientEventKind::kError, StatusCode::kVersionMismatch, MajorMismatchText(config, w));
    return SessionEnd::kRefused;
  }
  connected_ = true;
  session_id_ = w.session_id;
  heartbeat_ms_ = static_cast<uint32_t>(config.heartbeat_interval.count());
  if (w.heartbeat_interval_ms != 0) heartbeat_ms_ = (std::min)(heartbeat_ms_, w.heartbeat_interval_ms);
  heartbeat_ms_ = (std::max<uint32_t>)(heartbeat_ms_, 10);
  heartbeat_with_ping_ = (w.capabilities & capability::kHeartbeat) != 0;
  if (auto warning = WelcomeWarning(config, w)) shared_.Event(ClientEventKind::kWarning, StatusCode::kOk, *warning);
  capabilities_ = w.capabilities;
  const std::vector<ControlMessage> replay = shared_.OnWelcome(w);
  ClientEvent e;
  e.kind = ClientEventKind::kConnected;
  e.message = ConnectedText(config, w);
  e.welcome = w;
  shared_.PushEvent(std::move(e));
  for (const ControlMessage& control : replay) SendControl(control);
  return SessionEnd::kNone;
}

SessionEnd SessionConnection::OnError(const ErrorMessage& err) {
  {
    std::lock_guard<std::mutex> lock(shared_.mu);
    ++shared_.counters.errors_received;  // a refused frame's credit comes back in a Credit message
  }
  ErrorOutcome outcome = ClassifyServerError(err, connected_, shared_.config);
  // An Error that ends an open session (set_session_gone, session_closed) is reported as what it is (kError) and,
  // like every other end of a session (Bye, ServerShutdown, silence, a lost connection), as a kDisconnected.
  const bool ends_session =
      connected_ && outcome.end == SessionEnd::kRetry && outcome.event.kind == ClientEventKind::kError;
  std::string lost = ends_session ? SessionEndedByErrorText(shared_.config, outcome.event.message) : std::string();
  shared_.PushEvent(std::move(outcome.event));
  if (ends_session) shared_.Event(ClientEventKind::kDisconnected, StatusCode::kNotConnected, std::move(lost), err.code);
  return outcome.end;
}

SessionEnd SessionConnection::OnResult(const ResultHeader& header, std::vector<zmq::message_t>& parts) {
  const uint64_t received = NowMicros();
  size_t expected = 0;
  Status s = ExpectedPixelBytes(header.layout, &expected, shared_.config.limits);
  if (!s.ok() || parts.size() != 2 || parts[1].size() != expected) {
    shared_.OnBadResult(header.credits_granted,
                        BadResultText(header, s, expected, parts.size(), parts.size() > 1 ? parts[1].size() : 0));
    return SessionEnd::kNone;
  }
  FrameResult r;
  r.header = header;
  // Zero copy: the result shares the received ZeroMQ message (freed with its last PixelBuffer).
  auto message = std::make_shared<zmq::message_t>(std::move(parts[1]));
  r.pixels = PixelBuffer(message, static_cast<const uint8_t*>(message->data()), message->size());
  r.received_time_us = received;
  shared_.OnResult(std::move(r));
  return SessionEnd::kNone;
}

SessionEnd SessionConnection::Pump() {
  SendControls();  // controls first, in order: a prompt set before a frame applies to it
  SendTxt2imgRequest();
  while (SendOneFrame()) {
  }
  const Clock::time_point now = Clock::now();
  const ClientConfig& config = shared_.config;
  if (unanswered_since_ && now - *unanswered_since_ > config.peer_timeout) {
    shared_.Event(ClientEventKind::kDisconnected, StatusCode::kTimeout,
                  "server " + config.endpoint + " silent for " + std::to_string(config.peer_timeout.count()) +
                      " ms while answers were due (ClientConfig.peer_timeout); reconnecting");
    return SessionEnd::kRetry;
  }
  SendHeartbeatIfDue(now);
  return SessionEnd::kNone;
}

void SessionConnection::SendControls() {
  ControlMessage control;
  while (shared_.TakeControl(&control)) {
    if (!SendControl(control)) {  // socket full: put it back, try on the next wake-up
      shared_.ReturnControl(std::move(control));
      return;
    }
  }
}

// One control message; a StyleImage (protocol 1.4) with its pixels as the second part, only to a server that granted
// the StyleImages capability (else dropped with an event: true, nothing to retry). False: the socket is full.
bool SessionConnection::SendControl(const ControlMessage& control) {
  if (!control.pixels) return SendBytes(control.bytes);
  if ((capabilities_ & capability::kStyleImages) == 0) {
    shared_.Event(ClientEventKind::kError, StatusCode::kInvalidArgument,
                  "style image not sent: the server at " + shared_.config.endpoint + " did not grant the StyleImages "
                  "capability (Welcome.capabilities; it needs `sdbridge serve --ip-adapter SOURCE`)");
    return true;
  }
  if (!dealer_.send(zmq::buffer(control.bytes), zmq::send_flags::dontwait | zmq::send_flags::sndmore)) return false;
  (void)dealer_.send(zmq::buffer(*control.pixels), zmq::send_flags::none);  // later parts are always accepted
  MarkSent();
  return true;
}

void SessionConnection::SendHeartbeatIfDue(Clock::time_point now) {
  if (now - last_send_ < milliseconds(heartbeat_ms_)) return;
  std::vector<uint8_t> bytes;
  Status s = heartbeat_with_ping_ ? Encode(Ping{++ping_nonce_, NowMicros()}, &bytes) : Encode(StatsRequest{0}, &bytes);
  if (s.ok() && SendBytes(bytes)) {
    ExpectAnswer();
  } else {
    MarkSent();  // retry at the next interval
  }
}

// Txt2img (protocol 1.2): asks for one generated frame per credit held with a client -> server Credit; each Result
// returns its credit, so the server streams frames for the prompt as fast as they are taken.
void SessionConnection::SendTxt2imgRequest() {
  const uint32_t granted = shared_.TakeTxt2imgCredits();
  if (granted == 0) return;
  std::vector<uint8_t> bytes;
  if (Encode(Credit{granted}, &bytes).ok() && SendBytes(bytes)) {
    ExpectAnswer();
    return;
  }
  shared_.OnCredit(granted);  // not sent (socket full): the credits are ours again, asked for at the next wake-up
}

// Sends the oldest pending frame if a credit is held. True if one was taken (sent or dropped).
bool SessionConnection::SendOneFrame() {
  PendingFrame frame;
  if (!shared_.TakeFrameToSend(&frame)) return false;
  frame.header.session_id = session_id_;
  frame.header.send_time_us = NowMicros();
  std::vector<uint8_t> header_bytes;
  Status s = Encode(frame.header, &header_bytes);
  if (!s.ok()) {
    shared_.ReturnCredit();
    shared_.Event(ClientEventKind::kError, s.code(),
                  "frame " + std::to_string(frame.header.frame_id) + " not sent: " + s.message());
    return true;
  }
  auto* hint = new ZeroCopyHint{shared_.pool, std::move(frame.pixels)};
  zmq::message_t pixels(hint->pixels.data(), hint->pixels.size(), &ReleaseZeroCopy, hint);
  const auto sent = dealer_.send(zmq::buffer(header_bytes), zmq::send_flags::dontwait | zmq::send_flags::sndmore);
  if (!sent) {  // socket full (should not happen with credits): keep the frame unless a newer one came
    frame.pixels = std::move(hint->pixels);
    shared_.ReturnUnsentFrame(std::move(frame));
    return false;
  }
  // The later parts of an accepted multipart message are always accepted.
  const bool planes = !frame.planes.empty();
  (void)dealer_.send(pixels, planes ? zmq::send_flags::sndmore : zmq::send_flags::none);
  for (size_t i = 0; i < frame.planes.size(); ++i) {  // protocol 1.3: one part per plane, after the pixels
    const bool last = i + 1 == frame.planes.size();
    (void)dealer_.send(zmq::buffer(frame.planes[i]), last ? zmq::send_flags::none : zmq::send_flags::sndmore);
  }
  MarkSent();
  ExpectAnswer();
  shared_.OnFrameSent();
  return true;
}

}  // namespace client_internal
}  // namespace sdbridge
