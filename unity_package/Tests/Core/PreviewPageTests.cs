// PreviewPage: which notices carry the preview page address. The server side of the same
// contract is tested in tests/preview/test_preview_ws.py (the address notice follows Welcome).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class PreviewPageTests
    {
        private static NoticeMessage Notice(NoticeKind kind, string source, string message)
        {
            return new NoticeMessage { Kind = kind, Source = source, Message = message };
        }

        [Test]
        public void AddressNoticeIsRecognised()
        {
            string address;
            Assert.IsTrue(PreviewPage.TryGetAddress(
                Notice(NoticeKind.Info, "preview", "http://127.0.0.1:8765/?session=3"), out address));
            Assert.AreEqual("http://127.0.0.1:8765/?session=3", address);
            Assert.IsTrue(PreviewPage.TryGetAddress(
                Notice(NoticeKind.Info, "preview", "https://host:1/?token=x&session=3"), out address));
        }

        [Test]
        public void TypedPreviewUrlIsPreferredOverTheMessageText()
        {
            string address;
            var notice = Notice(NoticeKind.Info, "preview", "preview page: http://127.0.0.1:8765/?session=3");
            Assert.IsFalse(PreviewPage.TryGetAddress(notice, out address)); // 1.0 fallback needs the bare address
            notice.PreviewUrl = "http://127.0.0.1:8765/?session=3&token=t";
            Assert.IsTrue(PreviewPage.TryGetAddress(notice, out address));
            Assert.AreEqual("http://127.0.0.1:8765/?session=3&token=t", address);
            notice.Source = "rules"; // only the preview page's notices carry its address
            Assert.IsFalse(PreviewPage.TryGetAddress(notice, out address));
        }

        [Test]
        public void OtherNoticesAreNotAddresses()
        {
            string address;
            Assert.IsFalse(PreviewPage.TryGetAddress(Notice(NoticeKind.Info, "preview", "game event 'x' injected"), out address));
            Assert.IsNull(address);
            Assert.IsFalse(PreviewPage.TryGetAddress(Notice(NoticeKind.Info, "rules", "http://evil/"), out address));
            Assert.IsFalse(PreviewPage.TryGetAddress(Notice(NoticeKind.PromptChanged, "preview", "http://x/"), out address));
            Assert.IsFalse(PreviewPage.TryGetAddress(null, out address));
        }

        [Test]
        public void PromptChangesFromThePageAreRecognised()
        {
            var notice = Notice(NoticeKind.PromptChanged, "preview", "prompt changed by preview");
            Assert.IsFalse(PreviewPage.IsPromptChangeFromPage(notice)); // no prompt attached
            notice.Prompt = new PromptMessage { Text = "a neon city" };
            Assert.IsTrue(PreviewPage.IsPromptChangeFromPage(notice));
            notice.Source = "rules";
            Assert.IsFalse(PreviewPage.IsPromptChangeFromPage(notice));
        }
    }
}
