// The Unreal shaders (Shaders/Private/SDBridgeCommon.ush) mirror reprojection.h: their hole and depth-test numbers
// must stay the core's enum values (the C++ layer passes DepthTest::Space to the shader as a number), and the
// header must keep naming the core functions it mirrors. A change on one side only fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "sdbridge/reprojection.h"

namespace sdbridge {
namespace {

std::string ReadShaderHeader() {
  const std::string path = std::string(SDB_SHADERS_DIR) + "/Private/SDBridgeCommon.ush";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "#define SDB_NAME <integer>" lines (std::regex is avoided: GCC 12 warns inside it under ASan with -Werror).
std::map<std::string, int> Defines(const std::string& text) {
  std::map<std::string, int> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string directive;
    std::string name;
    int value = 0;
    if (words >> directive >> name >> value && directive == "#define" && name.rfind("SDB_", 0) == 0) {
      out[name] = value;
    }
  }
  return out;
}

TEST(ShaderMirror, HoleReasonsHaveTheCoresNumbers) {
  const std::map<std::string, int> d = Defines(ReadShaderHeader());
  ASSERT_EQ(d.count("SDB_HOLE_NONE"), 1u);
  EXPECT_EQ(d.at("SDB_HOLE_NONE"), static_cast<int>(HoleReason::kNone));
  EXPECT_EQ(d.at("SDB_HOLE_BEHIND_CAMERA"), static_cast<int>(HoleReason::kBehindCamera));
  EXPECT_EQ(d.at("SDB_HOLE_OUTSIDE"), static_cast<int>(HoleReason::kOutside));
  EXPECT_EQ(d.at("SDB_HOLE_DISOCCLUDED"), static_cast<int>(HoleReason::kDisoccluded));
}

TEST(ShaderMirror, DepthTestSpacesHaveTheCoresNumbers) {
  const std::map<std::string, int> d = Defines(ReadShaderHeader());
  ASSERT_EQ(d.count("SDB_DEPTH_LINEAR_RELATIVE"), 1u);
  EXPECT_EQ(d.at("SDB_DEPTH_LINEAR_RELATIVE"), static_cast<int>(DepthTest::Space::kLinearRelative));
  EXPECT_EQ(d.at("SDB_DEPTH_NDC_ABSOLUTE"), static_cast<int>(DepthTest::Space::kNdcAbsolute));
  EXPECT_EQ(d.at("SDB_DEPTH_OFF"), static_cast<int>(DepthTest::Space::kOff));
}

TEST(ShaderMirror, TheShaderNamesTheCoreFunctionsItMirrors) {
  const std::string text = ReadShaderHeader();
  for (const char* name : {"sdbridge::MapViewToTarget", "sdbridge::MapTargetToView", "sdbridge::LookupSource",
                           "sdbridge::DepthLinearizer::ViewDepth", "sdbridge::DepthTest::Matches"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace sdbridge
