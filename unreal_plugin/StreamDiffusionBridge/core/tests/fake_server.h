// A scripted in-process ROUTER that plays the server in client tests (real ZeroMQ over tcp
// loopback on a random port; every receive has a timeout, linger 0).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "sdbridge/codec.h"

namespace sdbridge::testing {

class FakeServer {
 public:
  /// Bind to `endpoint` ("tcp://127.0.0.1:*" picks a free port).
  explicit FakeServer(const std::string& endpoint = "tcp://127.0.0.1:*")
      : ctx_(1), router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.bind(endpoint);
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }

  const std::string& endpoint() const { return endpoint_; }

  struct Received {
    std::string identity;
    Message message;
    std::vector<uint8_t> pixels;
    size_t parts = 0;
    std::vector<std::vector<uint8_t>> planes;  // parts after the pixels (a Frame's planes, protocol 1.3)
  };

  /// Next message from any client; false on timeout or undecodable bytes.
  bool Receive(Received* out, std::chrono::milliseconds timeout) {
    zmq::pollitem_t items[] = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, 1, timeout) <= 0) return false;
    std::vector<zmq::message_t> parts;
    zmq::message_t part;
    do {
      if (!router_.recv(part, zmq::recv_flags::dontwait)) return false;
      parts.push_back(std::move(part));
    } while (parts.back().more());
    if (parts.size() < 2) return false;
    out->identity = parts[0].to_string();
    out->parts = parts.size() - 1;
    Status s = Decode(static_cast<const uint8_t*>(parts[1].data()), parts[1].size(), &out->message);
    if (!s.ok()) return false;
    out->pixels.clear();
    if (parts.size() > 2) {
      const auto* p = static_cast<const uint8_t*>(parts[2].data());
      out->pixels.assign(p, p + parts[2].size());
    }
    out->planes.clear();
    for (size_t i = 3; i < parts.size(); ++i) {
      const auto* p = static_cast<const uint8_t*>(parts[i].data());
      out->planes.emplace_back(p, p + parts[i].size());
    }
    return true;
  }

  /// Next message of type T, skipping heartbeats (Ping, answered with Pong) and other types.
  template <typename T>
  bool ReceiveOf(Received* out, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (!Receive(out, left)) return false;
      if (std::holds_alternative<T>(out->message)) return true;
      if (const Ping* p = std::get_if<Ping>(&out->message)) Send(out->identity, Pong{p->nonce, p->client_time_us, 0});
    }
  }

  void Send(const std::string& identity, const Message& m, const std::vector<uint8_t>* pixels = nullptr) {
    std::vector<uint8_t> bytes;
    Status s = Encode(m, &bytes);
    if (!s.ok()) throw std::runtime_error(s.message());
    router_.send(zmq::buffer(identity), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(bytes), pixels ? zmq::send_flags::sndmore : zmq::send_flags::none);
    if (pixels) router_.send(zmq::buffer(*pixels), zmq::send_flags::none);
  }

  /// Send bytes as they are (e.g. a buffer of another protocol major).
  void SendRaw(const std::string& identity, const std::vector<uint8_t>& bytes) {
    router_.send(zmq::buffer(identity), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }

  static Welcome MakeWelcome(uint64_t session_id, uint32_t credits) {
    Welcome w;
    w.session_id = session_id;
    w.protocol_major = kProtocolMajor;
    w.protocol_minor = kProtocolMinor;
    w.server_version = "fake";
    w.capabilities = capability::kCredits | capability::kHeartbeat | capability::kStats;
    w.initial_credits = credits;
    w.max_width = 1024;
    w.max_height = 1024;
    w.max_message_bytes = 1u << 24;
    w.latency_frames = 0;
    w.heartbeat_interval_ms = 0;
    return w;
  }

  /// Answer a frame with a Result echoing its id and pixels, granting one credit.
  void Echo(const Received& frame, uint32_t credits = 1) {
    const auto& h = std::get<FrameHeader>(frame.message);
    ResultHeader r;
    r.session_id = h.session_id;
    r.stream_id = h.stream_id;
    r.frame_id = h.frame_id;
    r.layout = h.layout;
    r.capture_time_us = h.capture_time_us;
    r.send_time_us = h.send_time_us;
    r.source_frame_id = h.frame_id;
    r.credits_granted = credits;
    Send(frame.identity, r, &frame.pixels);
  }

 private:
  zmq::context_t ctx_;
  zmq::socket_t router_;
  std::string endpoint_;
};

/// Receives the client's Hello (within `timeout`) and answers it with MakeWelcome(session, credits): the client's
/// identity, and its Hello in `hello_out` when given. The handshake of every client test against the fake server.
inline std::string Handshake(FakeServer& server, uint64_t session, uint32_t credits, Hello* hello_out = nullptr,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  FakeServer::Received got;
  EXPECT_TRUE(server.ReceiveOf<Hello>(&got, timeout));
  if (hello_out) *hello_out = std::get<Hello>(got.message);
  server.Send(got.identity, FakeServer::MakeWelcome(session, credits));
  return got.identity;
}

}  // namespace sdbridge::testing
