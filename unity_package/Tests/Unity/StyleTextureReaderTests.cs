// Edit-mode tests of the style-image reader (Runtime/Unity/Style/StyleTextureReader.cs): the size sent and the CPU
// path's byte order (RGBA8, rows bottom-up) for a script-made, hence readable, Texture2D (Unity Test Runner).
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor): type-checked with mono against the API stubs of
// Tests~/UnityStubs (.ci/steps/unity_stubs.sh).
using NUnit.Framework;
using UnityEngine;

namespace StreamDiffusion.Bridge.Tests
{
    public class StyleTextureReaderTests
    {
        [Test]
        public void SmallTexturesKeepTheirSizeLargeOnesFitMaxSide()
        {
            int w, h;
            StyleTextureReader.FitSize(300, 200, out w, out h);
            Assert.AreEqual(new[] { 300, 200 }, new[] { w, h });
            StyleTextureReader.FitSize(2048, 1024, out w, out h);
            Assert.AreEqual(new[] { StyleTextureReader.MaxSide, StyleTextureReader.MaxSide / 2 }, new[] { w, h });
            StyleTextureReader.FitSize(1, 4096, out w, out h);
            Assert.AreEqual(new[] { 1, StyleTextureReader.MaxSide }, new[] { w, h });
        }

        [Test]
        public void AReadableTextureIsReadOnTheCpuAsRgbaBottomUp()
        {
            var texture = new Texture2D(2, 2, TextureFormat.RGBA32, false, false);
            // SetPixels32 takes the pixels bottom row first, like GetPixels32 returns them.
            texture.SetPixels32(new[]
            {
                new Color32(1, 2, 3, 4), new Color32(5, 6, 7, 8),        // bottom row
                new Color32(9, 10, 11, 12), new Color32(13, 14, 15, 16), // top row
            }, 0);
            texture.Apply(false);
            StylePixels pixels = StyleTextureReader.ReadNow(texture);
            Assert.AreEqual(2, pixels.Width);
            Assert.AreEqual(2, pixels.Height);
            Assert.AreEqual(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }, pixels.Rgba);
            Object.DestroyImmediate(texture);
        }
    }
}
