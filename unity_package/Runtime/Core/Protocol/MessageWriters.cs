// The table builders behind BridgeCodec's Encode methods: each body's strings, vectors and sub-tables in the
// canonical order of schemas/golden/README.md (field-id order, then the generated CreateX helper), so the bytes equal
// flatc -b's and the Python codec's. Stateless: BridgeCodec owns the builder and wraps each body in an Envelope.
// BuildParams (one line per Params field) is generated into Generated/ParamsFields.g.cs by schemas/codegen.py.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
#if SDBRIDGE_FLATBUFFERS_NUGET
using Google.FlatBuffers;
#else
using FlatBuffers;
#endif
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Protocol
{
    /// <summary>Builds message bodies (and their strings, vectors, sub-tables) into a FlatBufferBuilder.</summary>
    internal static partial class MessageWriters
    {
        internal static StringOffset Str(FlatBufferBuilder b, string s)
        {
            return string.IsNullOrEmpty(s) ? default(StringOffset) : b.CreateString(s);
        }

        internal static VectorOffset Formats(FlatBufferBuilder b, PixelFormat[] formats, bool hello)
        {
            if (formats == null || formats.Length == 0) return default(VectorOffset);
            return hello ? Hello.CreatePixelFormatsVector(b, formats) : Welcome.CreatePixelFormatsVector(b, formats);
        }

        /// <summary>Frame.planes (protocol 1.3): each PlaneDesc (its name first), then the vector.</summary>
        internal static VectorOffset Planes(FlatBufferBuilder b, PlaneDescription[] planes)
        {
            var offsets = new Offset<PlaneDesc>[planes.Length];
            for (int i = 0; i < planes.Length; i++)
            {
                PlaneDescription p = planes[i];
                StringOffset name = Str(b, p.Name);
                offsets[i] = PlaneDesc.CreatePlaneDesc(b, p.Kind, p.Format, p.Width, p.Height, p.Stride, p.RowOrder,
                    p.DepthEncoding, p.ReversedZ, p.DepthNear, p.DepthFar, p.NormalSpace, p.NormalEncoding, p.MotionUnits,
                    p.MotionTarget, p.MotionYUp, name);
            }
            return Frame.CreatePlanesVector(b, offsets);
        }

        internal static Offset<Prompt> BuildPrompt(FlatBufferBuilder b, PromptMessage m)
        {
            StringOffset text = Str(b, m.Text);
            StringOffset negative = Str(b, m.Negative);
            VectorOffset blend = default(VectorOffset);
            if (m.Blend != null && m.Blend.Count > 0)
            {
                var weights = new Offset<PromptWeight>[m.Blend.Count];
                for (int i = 0; i < weights.Length; i++)
                {
                    StringOffset wText = Str(b, m.Blend[i].Text);
                    weights[i] = PromptWeight.CreatePromptWeight(b, wText, m.Blend[i].Weight);
                }
                blend = Prompt.CreateBlendVector(b, weights);
            }
            return Prompt.CreatePrompt(b, text, negative, blend, m.TransitionFrames, m.TransitionSeconds, m.Method,
                m.StreamId);
        }

        internal static Offset<KeyValue>[] BuildPairs(FlatBufferBuilder b, List<KeyValueData> pairs, string field)
        {
            if (pairs == null || pairs.Count == 0) return null;
            var items = new Offset<KeyValue>[pairs.Count];
            for (int i = 0; i < items.Length; i++)
            {
                KeyValueData kv = pairs[i];
                if (kv.Kind == ValueKind.None)
                {
                    throw new ProtocolException((int)ErrorCode.BadParam,
                        field + "[" + i + "] ('" + kv.Key + "') has no value; use KeyValueData.Of(key, value) with a " +
                        "bool, long, double or string");
                }
                StringOffset key = Str(b, kv.Key);
                StringOffset str = kv.Kind == ValueKind.String ? Str(b, kv.StringValue) : default(StringOffset);
                items[i] = KeyValue.CreateKeyValue(b, key, kv.Kind, kv.Kind == ValueKind.Bool && kv.BoolValue,
                    kv.Kind == ValueKind.Int ? kv.IntValue : 0L, kv.Kind == ValueKind.Float ? kv.FloatValue : 0.0, str);
            }
            return items;
        }
    }
}
