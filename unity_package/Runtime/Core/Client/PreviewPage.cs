// The browser preview page of a session. A server started with a preview page
// (`sdbridge serve --preview-port 8765`) tells each new session the page address of that session in a
// Notice {Kind = Info, Source = "preview", PreviewUrl = "http://127.0.0.1:8765/?session=<id>&token=..."}, sent
// right after Welcome. PreviewUrl is a typed field since protocol 1.1; a 1.0 server sends the address as the whole
// Message instead, which TryGetAddress still accepts (only when PreviewUrl is empty). Editor windows keep the last
// address and open it with "Open in browser".
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    public static class PreviewPage
    {
        /// <summary>Notice.Source of everything the preview page sends or changes.</summary>
        public const string NoticeSource = "preview";

        /// <summary>True when the notice carries the preview page address of this session: Notice.PreviewUrl
        /// (protocol 1.1+), or for a 1.0 server a Message that is an http(s) address.</summary>
        public static bool TryGetAddress(NoticeMessage notice, out string address)
        {
            address = null;
            if (notice == null || notice.Kind != NoticeKind.Info || notice.Source != NoticeSource) return false;
            if (!string.IsNullOrEmpty(notice.PreviewUrl))
            {
                address = notice.PreviewUrl;  // protocol 1.1 and later: the typed field
                return true;
            }
            // a protocol 1.0 server: the address is the whole Message text
            string text = notice.Message ?? "";
            if (!text.StartsWith("http://", StringComparison.Ordinal) &&
                !text.StartsWith("https://", StringComparison.Ordinal)) return false;
            address = text;
            return true;
        }

        /// <summary>True when the preview page (not the game) changed this session's prompt.</summary>
        public static bool IsPromptChangeFromPage(NoticeMessage notice)
        {
            return notice != null && notice.Kind == NoticeKind.PromptChanged && notice.Source == NoticeSource &&
                   notice.Prompt != null;
        }
    }
}
