// Reads a Texture's pixels for a StyleImage message (protocol 1.4): RGBA8, rows BOTTOM-UP (Unity's CPU image order),
// sRGB-encoded bytes, at most MaxSide pixels on the longer side.
//   - A readable Texture2D (Texture.isReadable: "Read/Write" on in the import settings, or created by script) that
//     fits MaxSide: Texture2D.GetPixels32() on the CPU, no GPU work (the array is laid out left to right, bottom to
//     top; Unity 2022.3 / 6 Scripting Reference).
//   - Anything else (a non-readable or compressed Texture2D, a RenderTexture, a larger texture): Graphics.Blit into a
//     temporary ARGB32 sRGB RenderTexture scaled to fit MaxSide (the GPU converts the format and scales), then
//     AsyncGPUReadback.Request(texture, 0, TextureFormat.RGBA32, callback), the same readback the capture uses
//     (CaptureRing): the game never waits; the pixels arrive in the callback a few frames later (main thread).
//     ReadNow does the same but waits (AsyncGPUReadbackRequest.WaitForCompletion): for the editor window, whose edit
//     mode does not tick the player loop that delivers callbacks.
// Colour: a Blit from an sRGB texture into an sRGB render target gives sRGB bytes in linear and gamma projects; a
// texture imported with sRGB off is read as linear data (its bytes re-encoded in a linear project).
// NOT COMPILED OR RUN HERE against a real engine: type-checked with mcs against stubs of the documented Unity
// 2022.3 LTS / Unity 6 API (unity_package/Tests~/UnityStubs).
using System;
using Unity.Collections;
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>A style image's pixels: RGBA8, Width x Height, rows bottom-up, stride Width * 4.</summary>
    public struct StylePixels
    {
        public byte[] Rgba;
        public int Width;
        public int Height;
    }

    /// <summary>Texture pixels for StyleImage messages, read without stalling the game (see the file header).</summary>
    public static class StyleTextureReader
    {
        /// <summary>Longest side sent (the server's IP-Adapter encoder resizes to far less; it also bounds the message).</summary>
        public const int MaxSide = 512;

        /// <summary>Reads <paramref name="texture"/> and calls <paramref name="done"/> on the main thread: at once for
        /// a readable Texture2D within MaxSide, else after an asynchronous GPU readback. A failed readback calls
        /// <paramref name="failed"/> with the reason.</summary>
        public static void ReadAsync(Texture texture, Action<StylePixels> done, Action<string> failed)
        {
            if (texture == null) throw new ArgumentNullException("texture", "style texture is null; pass a Texture2D or RenderTexture");
            StylePixels cpu;
            if (TryReadCpu(texture, out cpu))
            {
                done(cpu);
                return;
            }
            int width, height;
            FitSize(texture.width, texture.height, out width, out height);
            RenderTexture scaled = BlitScaled(texture, width, height);
            string name = texture.name;
            AsyncGPUReadback.Request(scaled, 0, TextureFormat.RGBA32, request =>
            {
                RenderTexture.ReleaseTemporary(scaled); // after the copy: the request read it
                if (request.hasError)
                {
                    failed("the GPU readback of style texture '" + name + "' failed (AsyncGPUReadbackRequest.hasError)");
                    return;
                }
                done(FromRequest(request, width, height));
            });
        }

        /// <summary>Reads <paramref name="texture"/> now, waiting for the GPU when it is not a readable Texture2D
        /// within MaxSide (one stall: for editor tools, not for per-frame game code).</summary>
        public static StylePixels ReadNow(Texture texture)
        {
            if (texture == null) throw new ArgumentNullException("texture", "style texture is null; pass a Texture2D or RenderTexture");
            StylePixels cpu;
            if (TryReadCpu(texture, out cpu)) return cpu;
            int width, height;
            FitSize(texture.width, texture.height, out width, out height);
            RenderTexture scaled = BlitScaled(texture, width, height);
            try
            {
                AsyncGPUReadbackRequest request = AsyncGPUReadback.Request(scaled, 0, TextureFormat.RGBA32, null);
                request.WaitForCompletion();
                if (request.hasError)
                {
                    throw new InvalidOperationException("the GPU readback of style texture '" + texture.name +
                        "' failed (AsyncGPUReadbackRequest.hasError); try a readable Texture2D (Read/Write on)");
                }
                return FromRequest(request, width, height);
            }
            finally
            {
                RenderTexture.ReleaseTemporary(scaled);
            }
        }

        /// <summary>The size sent for a <paramref name="width"/> x <paramref name="height"/> texture: the same, or
        /// scaled down (aspect kept) so the longer side is MaxSide.</summary>
        public static void FitSize(int width, int height, out int fitWidth, out int fitHeight)
        {
            width = Math.Max(1, width);
            height = Math.Max(1, height);
            int longer = Math.Max(width, height);
            if (longer <= MaxSide)
            {
                fitWidth = width;
                fitHeight = height;
                return;
            }
            fitWidth = Math.Max(1, (int)Math.Round((double)width * MaxSide / longer));
            fitHeight = Math.Max(1, (int)Math.Round((double)height * MaxSide / longer));
        }

        private static bool TryReadCpu(Texture texture, out StylePixels pixels)
        {
            pixels = default(StylePixels);
            var t2d = texture as Texture2D;
            if (t2d == null || !t2d.isReadable || t2d.width > MaxSide || t2d.height > MaxSide) return false;
            Color32[] colors = t2d.GetPixels32(0);
            var rgba = new byte[colors.Length * 4];
            for (int i = 0, o = 0; i < colors.Length; i++, o += 4)
            {
                rgba[o] = colors[i].r;
                rgba[o + 1] = colors[i].g;
                rgba[o + 2] = colors[i].b;
                rgba[o + 3] = colors[i].a;
            }
            pixels = new StylePixels { Rgba = rgba, Width = t2d.width, Height = t2d.height };
            return true;
        }

        private static RenderTexture BlitScaled(Texture texture, int width, int height)
        {
            RenderTexture target = RenderTexture.GetTemporary(width, height, 0, RenderTextureFormat.ARGB32,
                                                              RenderTextureReadWrite.sRGB);
            Graphics.Blit(texture, target);
            return target;
        }

        private static StylePixels FromRequest(AsyncGPUReadbackRequest request, int width, int height)
        {
            NativeArray<byte> data = request.GetData<byte>(0); // valid during the callback only: copied out
            var rgba = new byte[width * height * 4];
            data.CopyTo(rgba);
            return new StylePixels { Rgba = rgba, Width = width, Height = height };
        }
    }
}
