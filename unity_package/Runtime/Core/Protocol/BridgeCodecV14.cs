// The protocol 1.4 parts of BridgeCodec (schemas/bridge.fbs): the named-weight vectors of Params (lora_weights of
// 1.2, controlnet_scale/start/end and style_blend) and its scalar temporal / IP-Adapter / cached-attention fields, the plane-kind vectors
// of Welcome and Notice (wanted_planes), and the StyleImage message (its pixels travel in ZeroMQ part 2). Same
// construction order as the rest of the codec (each name string, then its table, then the vector), so the bytes equal
// flatc -b's (Tests/Core/GoldenV14Tests.cs).
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
    public sealed partial class BridgeCodec
    {
        /// <summary>Encodes a StyleImage header (part 1); send the pixels as part 2.</summary>
        public ArraySegment<byte> Encode(StyleImageMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset name = Str(b, m.Name);
            Offset<StyleImage> body = StyleImage.CreateStyleImage(b, name, m.Width, m.Height, m.Stride, m.Format,
                m.RowOrder);
            return Finish(Message.StyleImage, body.Value);
        }

        // A (name, weight) vector; null or empty: absent. All the AdapterWeight vectors have the same layout, so one
        // generated Create*Vector serves every field.
        private static VectorOffset Weights(FlatBufferBuilder b, List<AdapterWeightData> weights)
        {
            if (weights == null || weights.Count == 0) return default(VectorOffset);
            var tables = new Offset<AdapterWeight>[weights.Count];
            for (int i = 0; i < tables.Length; i++)
            {
                StringOffset name = Str(b, weights[i].Name);
                tables[i] = AdapterWeight.CreateAdapterWeight(b, name, weights[i].Weight);
            }
            return Params.CreateLoraWeightsVector(b, tables);
        }

        private static List<AdapterWeightData> ReadWeights(int length, Func<int, AdapterWeight?> get)
        {
            var weights = new List<AdapterWeightData>(length);
            for (int i = 0; i < length; i++)
            {
                AdapterWeight w = get(i).Value;
                weights.Add(new AdapterWeightData(w.Name ?? "", w.Weight));
            }
            return weights;
        }

        private static PlaneKind[] ReadKinds(int length, Func<int, PlaneKind> get)
        {
            var kinds = new PlaneKind[length];
            for (int i = 0; i < length; i++) kinds[i] = get(i);
            return kinds;
        }

        private static void ReadParamsV14(Params p, uint mask, ParamsMessage m)
        {
            if ((mask & (uint)ParamsField.LoraWeights) != 0) m.LoraWeights = ReadWeights(p.LoraWeightsLength, p.LoraWeights);
            if ((mask & (uint)ParamsField.ControlnetScale) != 0)
                m.ControlnetScale = ReadWeights(p.ControlnetScaleLength, p.ControlnetScale);
            if ((mask & (uint)ParamsField.ControlnetStart) != 0)
                m.ControlnetStart = ReadWeights(p.ControlnetStartLength, p.ControlnetStart);
            if ((mask & (uint)ParamsField.ControlnetEnd) != 0)
                m.ControlnetEnd = ReadWeights(p.ControlnetEndLength, p.ControlnetEnd);
            if ((mask & (uint)ParamsField.LatentFeedback) != 0) m.LatentFeedback = p.LatentFeedback;
            if ((mask & (uint)ParamsField.MotionWarp) != 0) m.MotionWarp = p.MotionWarp;
            if ((mask & (uint)ParamsField.MotionWarpStep) != 0) m.MotionWarpStep = p.MotionWarpStep;
            if ((mask & (uint)ParamsField.SceneCutThreshold) != 0) m.SceneCutThreshold = p.SceneCutThreshold;
            if ((mask & (uint)ParamsField.IpAdapterScale) != 0) m.IpAdapterScale = p.IpAdapterScale;
            if ((mask & (uint)ParamsField.StyleBlend) != 0) m.StyleBlend = ReadWeights(p.StyleBlendLength, p.StyleBlend);
            if ((mask & (uint)ParamsField.AttentionBank) != 0) m.AttentionBank = p.AttentionBank;
            if ((mask & (uint)ParamsField.AttentionBankInterval) != 0) m.AttentionBankInterval = p.AttentionBankInterval;
            if ((mask & (uint)ParamsField.AttentionBankBlocks) != 0) m.AttentionBankBlocks = p.AttentionBankBlocks;
            if ((mask & (uint)ParamsField.FeatureInjection) != 0) m.FeatureInjection = p.FeatureInjection;
            if ((mask & (uint)ParamsField.FeatureInjectionThreshold) != 0)
                m.FeatureInjectionThreshold = p.FeatureInjectionThreshold;
        }

        private static StyleImageMessage ReadStyleImage(StyleImage s)
        {
            return new StyleImageMessage
            {
                Name = s.Name ?? "",
                Width = s.Width,
                Height = s.Height,
                Stride = s.Stride,
                Format = s.Format,
                RowOrder = s.RowOrder,
            };
        }
    }
}
