// The C++ client sends a frame's planes (protocol 1.3) as ZeroMQ parts after the pixels, described in the Frame
// header, only to a server that granted capability::kPlanes; bad planes are refused before anything is sent.
#include <gtest/gtest.h>

#include "fake_server.h"
#include "sdbridge/client.h"
#include "test_config.h"

namespace sdbridge {
namespace {

using std::chrono::milliseconds;
using testing::FakeServer;
using testing::TestConfig;
constexpr milliseconds kWait{5000};

// Accept the handshake, granting `capabilities`; returns the Hello.
Hello Welcome(FakeServer& server, uint32_t capabilities) {
  FakeServer::Received got;
  EXPECT_TRUE(server.ReceiveOf<Hello>(&got, kWait));
  sdbridge::Welcome w = FakeServer::MakeWelcome(3, 2);
  w.capabilities |= capabilities;
  server.Send(got.identity, w);
  return std::holds_alternative<Hello>(got.message) ? std::get<Hello>(got.message) : Hello{};
}

struct Sample {
  std::vector<uint8_t> pixels = std::vector<uint8_t>(4 * 2 * 4, 7);
  std::vector<uint8_t> depth = std::vector<uint8_t>(2 * 1 * 4, 9);
  std::vector<uint8_t> ids = std::vector<uint8_t>(4 * 2 * 2, 5);

  FrameView View() const {
    FrameView v;
    v.pixels = pixels.data();
    v.size = pixels.size();
    v.layout = PixelLayout{4, 2, 16, PixelFormat::kRGBA8, RowOrder::kTopDown, ColorSpace::kSRGB, AlphaMode::kIgnore};
    PlaneView d{PlaneDesc::Packed(PlaneKind::kDepth, PlaneFormat::kR32F, 2, 1), depth.data(), depth.size()};
    d.desc.depth_encoding = DepthEncoding::kDevice;
    d.desc.reversed_z = true;
    d.desc.depth_near = 0.1f;
    PlaneView s{PlaneDesc::Packed(PlaneKind::kSegmentation, PlaneFormat::kR16UI, 4, 2), ids.data(), ids.size()};
    v.planes = {d, s};
    return v;
  }
};

TEST(ClientPlanes, PlanesGoOutAfterThePixelsDescribedInTheHeader) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "planes_test"));
  ASSERT_TRUE(client.Start().ok());
  Hello hello = Welcome(server, capability::kPlanes);
  EXPECT_TRUE(hello.capabilities & capability::kPlanes);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  Sample sample;
  ASSERT_TRUE(client.SubmitFrame(sample.View()).ok());
  FakeServer::Received f;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
  EXPECT_EQ(f.parts, 4u);
  EXPECT_EQ(f.pixels, sample.pixels);
  ASSERT_EQ(f.planes.size(), 2u);
  EXPECT_EQ(f.planes[0], sample.depth);
  EXPECT_EQ(f.planes[1], sample.ids);
  const FrameHeader& h = std::get<FrameHeader>(f.message);
  ASSERT_EQ(h.planes.size(), 2u);
  EXPECT_EQ(h.planes[0].kind, PlaneKind::kDepth);
  EXPECT_EQ(h.planes[0].depth_encoding, DepthEncoding::kDevice);
  EXPECT_TRUE(h.planes[0].reversed_z);
  EXPECT_EQ(h.planes[1].kind, PlaneKind::kSegmentation);
  EXPECT_EQ(h.planes[1].stride, 8u);
}

TEST(ClientPlanes, AServerWithoutPlanesGetsNoneAndBadPlanesAreRefusedLocally) {
  FakeServer server;
  Client client(TestConfig(server.endpoint(), "planes_test"));
  ASSERT_TRUE(client.Start().ok());
  Welcome(server, 0);
  ASSERT_TRUE(client.WaitForState(ConnectionState::kConnected, kWait));
  Sample sample;
  Status s = client.SubmitFrame(sample.View());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("Planes capability"), std::string::npos) << s.message();

  FrameView bad = sample.View();
  bad.planes = {bad.planes[0]};
  bad.planes[0].size = 7;  // not stride x height
  Status size = client.SubmitFrame(bad);
  EXPECT_EQ(size.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(size.message().find("planes[0]: got 7 bytes"), std::string::npos) << size.message();

  FrameView plain = sample.View();
  plain.planes.clear();
  ASSERT_TRUE(client.SubmitFrame(plain).ok());  // the same frame without planes still goes out, alone
  FakeServer::Received f;
  ASSERT_TRUE(server.ReceiveOf<FrameHeader>(&f, kWait));
  EXPECT_EQ(f.parts, 2u);
  EXPECT_TRUE(std::get<FrameHeader>(f.message).planes.empty());
}

}  // namespace
}  // namespace sdbridge
