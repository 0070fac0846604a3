// The browser preview page of a session. A server started with a preview page
// (`sdbridge serve --preview-port 8765`) tells each new session its page address in a Notice
// {kind kInfo, source "preview", preview_url "http://127.0.0.1:8765/?session=<id>&token=..."} right after Welcome.
// preview_url is a typed field since protocol 1.1; a 1.0 server sends the address as the whole message instead,
// which preview_address still accepts (only when preview_url is absent or empty).
// Editor panels keep the last address and open it ("Open in browser"). Header-only, engine-free.
#pragma once

#include <optional>
#include <string>

#include "sdbridge/messages.h"

namespace sdbridge {

/// Notice.source of everything the preview page sends or changes.
inline constexpr const char* kPreviewNoticeSource = "preview";

/// The preview page address this notice carries, if it is the page-address notice.
inline std::optional<std::string> preview_address(const Notice& notice) {
  if (notice.kind != NoticeKind::kInfo || notice.source.value_or("") != kPreviewNoticeSource) return std::nullopt;
  if (notice.preview_url && !notice.preview_url->empty()) return notice.preview_url;  // protocol 1.1+
  const std::string text = notice.message.value_or("");  // a protocol 1.0 server: the whole message
  if (text.rfind("http://", 0) != 0 && text.rfind("https://", 0) != 0) return std::nullopt;
  return text;
}

/// The prompt the preview page set, if this notice reports one (keeps editor prompt fields in sync).
inline std::optional<Prompt> prompt_from_preview(const Notice& notice) {
  if (notice.kind != NoticeKind::kPromptChanged || notice.source.value_or("") != kPreviewNoticeSource ||
      !notice.prompt.has_value()) {
    return std::nullopt;
  }
  return notice.prompt;
}

}  // namespace sdbridge
