// preview.h: which notices carry the preview page address or a prompt set in the page.
// The server side of the contract is tested in tests/preview/test_preview_ws.py.
#include <gtest/gtest.h>

#include "sdbridge/preview.h"

namespace sdbridge {
namespace {

Notice MakeNotice(NoticeKind kind, const std::string& source, const std::string& message) {
  Notice n;
  n.kind = kind;
  n.source = source;
  n.message = message;
  return n;
}

TEST(Preview, AddressNoticeIsRecognised) {
  auto address = preview_address(MakeNotice(NoticeKind::kInfo, "preview", "http://127.0.0.1:8765/?session=3"));
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(*address, "http://127.0.0.1:8765/?session=3");
  EXPECT_TRUE(preview_address(MakeNotice(NoticeKind::kInfo, "preview", "https://h:1/?token=x&session=3")));
}

TEST(Preview, TypedPreviewUrlIsPreferredOverTheMessageText) {
  Notice n = MakeNotice(NoticeKind::kInfo, "preview", "preview page: http://127.0.0.1:8765/?session=3");
  EXPECT_FALSE(preview_address(n));  // the protocol 1.0 fallback needs the bare address as the message
  n.preview_url = "http://127.0.0.1:8765/?session=3&token=t";
  auto address = preview_address(n);
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(*address, "http://127.0.0.1:8765/?session=3&token=t");
  n.source = "rules";  // only the preview page's notices carry its address
  EXPECT_FALSE(preview_address(n));
}

TEST(Preview, OtherNoticesAreNotAddresses) {
  EXPECT_FALSE(preview_address(MakeNotice(NoticeKind::kInfo, "preview", "game event 'x' injected by preview")));
  EXPECT_FALSE(preview_address(MakeNotice(NoticeKind::kInfo, "rules", "http://elsewhere/")));
  EXPECT_FALSE(preview_address(MakeNotice(NoticeKind::kPromptChanged, "preview", "http://x/")));
  EXPECT_FALSE(preview_address(Notice{}));
}

TEST(Preview, PromptFromThePage) {
  Notice n = MakeNotice(NoticeKind::kPromptChanged, "preview", "prompt changed by preview");
  EXPECT_FALSE(prompt_from_preview(n));  // no prompt attached
  Prompt p;
  p.text = "a neon city";
  n.prompt = p;
  auto got = prompt_from_preview(n);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->text.value_or(""), "a neon city");
  n.source = "rules";
  EXPECT_FALSE(prompt_from_preview(n));
}

}  // namespace
}  // namespace sdbridge
