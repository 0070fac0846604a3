// Waiting on a Client in the client tests, one definition for every test file: Eventually polls a condition,
// ExpectEvent waits for an event of one kind; View describes a packed RGBA8 buffer as a frame to submit.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "sdbridge/client.h"

namespace sdbridge::testing {

/// How long a test waits by default for a scripted server's answer to reach the client (a loaded 2-core machine).
constexpr std::chrono::milliseconds kClientWait{5000};

/// Polls `pred` until it holds (true) or `timeout` passes (false): the worker updates counters just after the
/// server sees a send.
template <typename Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = kClientWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// Waits for an event of `kind`, skipping others; fails the test and returns an empty event on timeout.
inline ClientEvent ExpectEvent(Client& c, ClientEventKind kind, std::chrono::milliseconds timeout = kClientWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ClientEvent e;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c.WaitForEvent(&e, std::chrono::milliseconds(50)) && e.kind == kind) return e;
  }
  ADD_FAILURE() << "no " << ClientEventKindName(kind) << " event within " << timeout.count() << " ms";
  return ClientEvent{};
}

/// `px` as a w x h RGBA8 frame of packed, top-down rows (sRGB, alpha ignored).
inline FrameView View(const std::vector<uint8_t>& px, uint32_t w, uint32_t h) {
  FrameView v;
  v.pixels = px.data();
  v.size = px.size();
  v.layout = PixelLayout{w, h, w * 4, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  return v;
}

}  // namespace sdbridge::testing
