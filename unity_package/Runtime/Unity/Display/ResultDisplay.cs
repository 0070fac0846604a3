// The stylized result on the GPU: a persistent Texture2D(RGBA32, linear: false) written in place from the client's
// result buffer (GetRawTextureData + Apply(false)), and a RenderTexture copy (OutputTexture) for UI and materials.
// Results come back in the format and row order they were sent (RGBA8, bottom-up); ResultPixels copies them
// (and flips a top-down one).
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// written for Unity 2022.3 LTS and Unity 6.
using System;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    /// <summary>Result texture and output RenderTexture of one StreamDiffusionCamera.</summary>
    internal sealed class ResultDisplay : IDisposable
    {
        private ResultFrame _result;
        private Texture2D _texture;

        /// <summary>The result as uploaded (what the composite samples).</summary>
        public Texture2D Texture { get { return _texture; } }

        /// <summary>A copy for UI (RawImage) and materials.</summary>
        public RenderTexture Output { get; private set; }

        /// <summary>The header of the last result applied.</summary>
        public ResultHeader Last { get; private set; }

        /// <summary>(Re)creates the textures for <paramref name="width"/> x <paramref name="height"/> results.</summary>
        public void Allocate(int width, int height)
        {
            if (_texture != null && _texture.width == width && _texture.height == height) return;
            Release();
            // linear: false => the bytes are sRGB and are decoded when sampled, matching the capture.
            _texture = new Texture2D(width, height, TextureFormat.RGBA32, false, false) { name = "StreamDiffusion Result" };
            Output = new RenderTexture(width, height, 0, RenderTextureFormat.ARGB32, RenderTextureReadWrite.sRGB)
            {
                name = "StreamDiffusion Output",
            };
            Output.Create();
        }

        /// <summary>Takes the newest result from <paramref name="client"/> if one arrived and shows it; false when
        /// none arrived or it does not match the textures (logged).</summary>
        public bool TryApply(BridgeClient client, UnityEngine.Object context, out ResultHeader header)
        {
            header = default(ResultHeader);
            if (_texture == null || !client.TryGetResult(ref _result)) return false;
            ResultHeader h = _result.Header;
            Last = h;
            header = h;
            string problem = ResultPixels.TryCopy(_result, _texture);
            if (problem != null)
            {
                Debug.LogWarning("StreamDiffusionCamera: " + problem + ". Skipped.", context);
                return false;
            }
            Graphics.Blit(_texture, Output);
            return true;
        }

        public void Release()
        {
            if (_texture != null) UnityEngine.Object.Destroy(_texture);
            _texture = null;
            if (Output != null)
            {
                Output.Release();
                UnityEngine.Object.Destroy(Output);
            }
            Output = null;
        }

        public void Dispose()
        {
            Release();
        }
    }
}
