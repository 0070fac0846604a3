// Reads a Params body (schemas/bridge.fbs) into a ParamsMessage: only the fields its set_mask names are set, the
// rest stay null (unchanged on the server). Protocol 1.4 added the named-weight vectors (lora_weights of 1.2,
// controlnet_scale/start/end, style_blend) and the temporal / IP-Adapter / cached-attention scalars.
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
    /// <summary>Params body reader (used for Params messages and the params a Notice carries).</summary>
    internal static class ParamsReader
    {
        internal static ParamsMessage ReadParams(Params p)
        {
            uint mask = p.SetMask;
            var m = new ParamsMessage { StreamId = p.StreamId };
            if ((mask & (uint)ParamsField.GuidanceScale) != 0) m.GuidanceScale = p.GuidanceScale;
            if ((mask & (uint)ParamsField.Delta) != 0) m.Delta = p.Delta;
            if ((mask & (uint)ParamsField.TIndexList) != 0)
            {
                m.TIndexList = new int[p.TIndexListLength];
                for (int i = 0; i < m.TIndexList.Length; i++) m.TIndexList[i] = p.TIndexList(i);
            }
            if ((mask & (uint)ParamsField.Seed) != 0) m.Seed = p.Seed;
            if ((mask & (uint)ParamsField.SimilarityFilterEnabled) != 0) m.SimilarityFilterEnabled = p.SimilarityFilterEnabled;
            if ((mask & (uint)ParamsField.SimilarityThreshold) != 0) m.SimilarityThreshold = p.SimilarityThreshold;
            if ((mask & (uint)ParamsField.SimilarityMaxSkip) != 0) m.SimilarityMaxSkip = p.SimilarityMaxSkip;
            if ((mask & (uint)ParamsField.CfgMode) != 0) m.CfgMode = p.CfgMode;
            if ((mask & (uint)ParamsField.Txt2img) != 0) m.Txt2img = p.Txt2img;
            if ((mask & (uint)ParamsField.SeedBlend) != 0)
            {
                m.SeedBlend = new List<SeedWeightData>();
                for (int i = 0; i < p.SeedBlendLength; i++)
                {
                    SeedWeight s = p.SeedBlend(i).Value;
                    m.SeedBlend.Add(new SeedWeightData(s.Seed, s.Weight));
                }
            }
            ReadParamsV14(p, mask, m);
            return m;
        }

        internal static void ReadParamsV14(Params p, uint mask, ParamsMessage m)
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

        internal static List<AdapterWeightData> ReadWeights(int length, Func<int, AdapterWeight?> get)
        {
            var weights = new List<AdapterWeightData>(length);
            for (int i = 0; i < length; i++)
            {
                AdapterWeight w = get(i).Value;
                weights.Add(new AdapterWeightData(w.Name ?? "", w.Weight));
            }
            return weights;
        }
    }
}
