// SubmitFrame(view, buffer): the client sends the moved-in buffer itself (no copy of the pixels), checks its size
// like the copying overload, and TakeFrameBuffer hands out buffers of the asked size from the pool sent frames
// return to.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "fake_server.h"
#include "sdbridge/client.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::FakeServer;
using testing::TestConfig;
constexpr milliseconds kWait{5000};

FrameView Layout4x2() {
  FrameView v;  // pixels and size are the buffer's
  v.layout = PixelLayout{4, 2, 16, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
  return v;
}

TEST(ClientMovedBuffer, TheBufferItselfGoesOutAndBadSizesAreRefused) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "moved_buffer_test"));
  ASSERT_TRUE(client.Start().ok());
  FakeServer::Received hello;
  ASSERT_TRUE(server.ReceiveOf<Hello>(&hello, kWait));
  server.Send(hello.identity, FakeServer::MakeWelcome(3, 2));
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));

  std::vector<uint8_t> buffer = client.TakeFrameBuffer(32);
  ASSERT_EQ(buffer.size(), 32u);
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<uint8_t>(i * 3);
  const std::vector<uint8_t> sent_pixels = buffer;
  uint64_t id = 0;
  ASSERT_TRUE(client.SubmitFrame(Layout4x2(), std::move(buffer), &id).ok());
  EXPECT_EQ(id, 1u);
  EXPECT_TRUE(buffer.empty());  // taken over, not copied
  FakeServer::Received frame;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&frame, kWait));
  EXPECT_EQ(frame.pixels, sent_pixels);
  EXPECT_EQ(std::get<FrameHeader>(frame.message).frame_id, 1u);

  std::vector<uint8_t> short_buffer(31, 0);
  Status s = client.SubmitFrame(Layout4x2(), std::move(short_buffer));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("got 31 pixel bytes"), std::string::npos) << s.message();
  FrameView copied = Layout4x2();  // the copying overload still works beside it
  copied.pixels = sent_pixels.data();
  copied.size = sent_pixels.size();
  ASSERT_TRUE(client.SubmitFrame(copied).ok());
  client.Stop();
}

}  // namespace
}  // namespace sdbridge
