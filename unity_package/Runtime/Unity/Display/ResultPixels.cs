// Copies a result's pixels into a persistent Texture2D(RGBA32) in place: Texture2D.GetRawTextureData<byte>() is the
// texture's own CPU buffer, rows bottom-up (Unity's CPU image order), and Apply(false) uploads it without mipmaps
// (Unity 2022.3 / 6 Scripting Reference: Texture2D.GetRawTextureData<T>, Texture2D.Apply(bool updateMipmaps)).
// A result normally comes back in the row order it was sent (bottom-up); a top-down result is copied row by row
// flipped, so the image is never shown upside down. Used by StreamDiffusionCamera (ResultDisplay) and the editor
// preview window.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API).
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using Unity.Collections;
using UnityEngine;
using PixelFormat = sdbridge.protocol.PixelFormat;
using RowOrder = sdbridge.protocol.RowOrder;

namespace StreamDiffusion.Bridge
{
    /// <summary>Result pixels into a Texture2D(RGBA32), in place.</summary>
    public static class ResultPixels
    {
        /// <summary>Copies <paramref name="frame"/> into <paramref name="texture"/> (same size, RGBA32) and applies it.
        /// Returns null on success, else what does not match (the texture is left unchanged).</summary>
        public static string TryCopy(ResultFrame frame, Texture2D texture)
        {
            ResultHeader h = frame.Header;
            int width = texture.width, height = texture.height, rowBytes = width * 4;
            if (h.Width != width || h.Height != height || h.PixelFormat != PixelFormat.RGBA8 || h.Stride != rowBytes ||
                frame.Length < rowBytes * height)
            {
                return "result " + h.FrameId + " is " + h.Width + "x" + h.Height + " " + h.PixelFormat + " (stride " +
                       h.Stride + ", " + frame.Length + " bytes); expected " + width + "x" + height +
                       " RGBA8 packed (stride " + rowBytes + ", " + rowBytes * height + " bytes)";
            }
            if (h.RowOrder != RowOrder.BottomUp && h.RowOrder != RowOrder.TopDown)
            {
                return "result " + h.FrameId + " has row order " + h.RowOrder + "; expected BottomUp or TopDown";
            }
            NativeArray<byte> raw = texture.GetRawTextureData<byte>();
            if (h.RowOrder == RowOrder.BottomUp)
            {
                NativeArray<byte>.Copy(frame.Pixels, 0, raw, 0, rowBytes * height);
            }
            else
            {
                for (int y = 0; y < height; y++)
                {
                    NativeArray<byte>.Copy(frame.Pixels, y * rowBytes, raw, (height - 1 - y) * rowBytes, rowBytes);
                }
            }
            texture.Apply(false);
            return null;
        }
    }
}
