// Message building for BridgeClient, free of threads and sockets: the Frame header from a FrameDescription,
// the Hello from the options, merged Params for replay, the encoding of queued control messages, and the
// check of a frame against the limits a Welcome announced. Merge (one line per Params field) is generated into
// Generated/ParamsFields.g.cs by schemas/codegen.py; MergeNamed below is the merge of its named-weight lists.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>A queued StyleImage (protocol 1.4): its header and a private copy of its pixels (part 2).</summary>
    internal sealed class StyleImageControl
    {
        internal StyleImageMessage Header;
        internal byte[] Pixels;
    }

    /// <summary>Builds and checks the messages the client sends (pure functions).</summary>
    internal static partial class ControlMessages
    {
        /// <summary>The Frame header for <paramref name="d"/>; throws naming the field, the value and the fix.</summary>
        internal static FrameHeader Describe(FrameDescription d, int length)
        {
            if (d.Width <= 0 || d.Height <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(d),
                    "frame is " + d.Width + "x" + d.Height + "; width and height must be at least 1");
            }
            int stride = d.Stride > 0 ? d.Stride : d.Width * PixelFormats.BytesPerPixel(d.PixelFormat);
            long expected;
            try
            {
                expected = BridgeCodec.ExpectedPixelBytes((uint)d.Width, (uint)d.Height, (uint)stride, d.PixelFormat);
            }
            catch (ProtocolException e)
            {
                throw new ArgumentException(e.Message, nameof(d), e);
            }
            if (expected != length)
            {
                throw new ArgumentException(
                    "pixel length is " + length + " bytes but stride x height = " + stride + " x " + d.Height + " = " +
                    expected + "; pass exactly one image", nameof(length));
            }
            if (d.RowOrder == RowOrder.Unknown || d.ColorSpace == ColorSpace.Unknown)
            {
                throw new ArgumentException(
                    "FrameDescription.RowOrder and ColorSpace must be set (Unity CPU images are BottomUp; " +
                    "RGBA32 textures created with linear:false are SRGB)", nameof(d));
            }
            return new FrameHeader
            {
                StreamId = d.StreamId,
                Width = (uint)d.Width,
                Height = (uint)d.Height,
                Stride = (uint)stride,
                PixelFormat = d.PixelFormat,
                RowOrder = d.RowOrder,
                ColorSpace = d.ColorSpace,
                AlphaMode = d.AlphaMode == AlphaMode.Unknown ? AlphaMode.Ignore : d.AlphaMode,
                CaptureTimeUs = d.CaptureTimeUs != 0 ? d.CaptureTimeUs : ClientClock.NowUs(),
                SceneCut = d.SceneCut,
            };
        }

        /// <summary>The Hello this client opens every session with.</summary>
        internal static HelloMessage Hello(BridgeClientOptions o)
        {
            return new HelloMessage
            {
                ProtocolMajor = o.ProtocolMajor,
                ProtocolMinor = o.ProtocolMinor,
                ClientName = o.ClientName,
                ClientVersion = o.ClientVersion,
                EngineName = o.EngineName,
                EngineVersion = o.EngineVersion,
                Capabilities = o.Capabilities,
                PixelFormats = o.PixelFormats,
            };
        }

        // Named weights leave the names not sent unchanged (lora_weights, controlnet_*; style_blend is a whole
        // selection, its registry entry's `selection`; schemas/codegen_params_csharp.py chooses per field): a newer
        // weight replaces its own name's, new names are added, so a replay after a reconnect sets every weight the
        // session had.
        private static System.Collections.Generic.List<AdapterWeightData> MergeNamed(
            System.Collections.Generic.List<AdapterWeightData> a, System.Collections.Generic.List<AdapterWeightData> b)
        {
            if (b == null) return a;
            if (a == null) return b;
            var merged = new System.Collections.Generic.List<AdapterWeightData>(a);
            foreach (AdapterWeightData w in b)
            {
                int i = merged.FindIndex(x => x.Name == w.Name);
                if (i >= 0) merged[i] = w;
                else merged.Add(w);
            }
            return merged;
        }

        /// <summary>Encodes one queued control message (Prompt, Params, GameEvent, State or StatsRequest).</summary>
        internal static ArraySegment<byte> Encode(BridgeCodec codec, object m)
        {
            var prompt = m as PromptMessage;
            if (prompt != null) return codec.Encode(prompt);
            var parameters = m as ParamsMessage;
            if (parameters != null) return codec.Encode(parameters);
            var gameEvent = m as GameEventMessage;
            if (gameEvent != null) return codec.Encode(gameEvent);
            var state = m as StateMessage;
            if (state != null) return codec.Encode(state);
            var stats = m as StatsRequestMessage;
            if (stats != null) return codec.EncodeStatsRequest(stats.RequestId);
            throw new ProtocolException((int)ErrorCode.UnknownType, "cannot send a " + m.GetType().Name);
        }

        /// <summary>A style image the server cannot take (no Capability.StyleImages): what and the fix.</summary>
        internal static string NoStyleImages(string endpoint, string name)
        {
            return (name != null ? "style image '" + name + "' not sent: " : "") + "the server at " + endpoint +
                   " did not grant the StyleImages capability (Welcome.capabilities): it serves no IP-Adapter " +
                   "(`sdbridge serve --ip-adapter SOURCE`)";
        }

        /// <summary>Throws ArgumentException naming the plane when a submitted plane is not well formed: kind,
        /// format and row order set, size >= 1, stride >= width x bytes per pixel, ByteCount bytes from Offset.</summary>
        internal static void CheckPlanes(PlaneData[] planes)
        {
            if (planes == null) return;
            for (int i = 0; i < planes.Length; i++)
            {
                PlaneDescription d = planes[i].Description;
                string where = "planes[" + i + "]";
                if (d == null || d.Kind == PlaneKind.Unknown || d.Format == PlaneFormat.Unknown ||
                    d.RowOrder == RowOrder.Unknown)
                {
                    throw new ArgumentException(where + ": Description with Kind, Format and RowOrder is required");
                }
                long row = (long)d.Width * PlaneFormats.BytesPerPixel(d.Format);
                if (d.Width == 0 || d.Height == 0 || d.Stride < row)
                {
                    throw new ArgumentException(where + ": " + d.Width + "x" + d.Height + " with stride " + d.Stride +
                                                " needs a size >= 1x1 and stride >= " + row);
                }
                byte[] bytes = planes[i].Bytes;
                if (bytes == null || planes[i].Offset < 0 || planes[i].Offset + d.ByteCount > bytes.Length)
                {
                    throw new ArgumentException(where + ": needs stride x height = " + d.ByteCount + " bytes from " +
                                                "Offset " + planes[i].Offset + " of Bytes (" +
                                                (bytes == null ? "null" : bytes.Length + " bytes") + ")");
                }
            }
        }

        /// <summary>Why the server would refuse this frame under the limits its Welcome announced; null when it
        /// is acceptable.</summary>
        internal static string CheckAgainstWelcome(WelcomeMessage w, ref FrameHeader h, int length)
        {
            if (h.Planes != null && h.Planes.Length > 0 && (w.Capabilities & (uint)Capability.Planes) == 0)
            {
                return "the server did not grant the Planes capability (Welcome.capabilities): it cannot take depth, " +
                       "normals, segmentation or motion planes; submit frames without planes";
            }
            if ((w.MaxWidth > 0 && h.Width > w.MaxWidth) || (w.MaxHeight > 0 && h.Height > w.MaxHeight))
            {
                return "frame " + h.Width + "x" + h.Height + " exceeds the server's limit " + w.MaxWidth + "x" +
                       w.MaxHeight + " (Welcome.max_width/max_height): lower the capture size or raise the server's " +
                       "limits.max_width/max_height";
            }
            if (w.MaxMessageBytes > 0 && length > w.MaxMessageBytes)
            {
                return "frame of " + length + " bytes exceeds the server's max_message_bytes " + w.MaxMessageBytes +
                       ": lower the capture size or raise the server's limits.max_message_bytes";
            }
            if (w.PixelFormats != null && w.PixelFormats.Length > 0 && !Contains(w.PixelFormats, h.PixelFormat))
            {
                return "the server does not accept pixel format " + h.PixelFormat + " (it accepts " +
                       string.Join(", ", Array.ConvertAll(w.PixelFormats, x => x.ToString())) + "): submit one of those";
            }
            return null;
        }

        // A loop, not Array.IndexOf: the generic comparer may box enums under mono (this runs per frame).
        private static bool Contains(PixelFormat[] formats, PixelFormat f)
        {
            for (int i = 0; i < formats.Length; i++)
            {
                if (formats[i] == f) return true;
            }
            return false;
        }
    }
}
