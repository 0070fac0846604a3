// Checks of BridgeClient.SetParams and SendStyleImage before anything is queued, so the game gets the reason at the
// call instead of a server Error later: each value in its parameter registry range (the generated StreamParams mirror
// of python_server/sdbridge/params.py), each named weight named, and a style image's size and layout.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
using System.Globalization;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Pure checks; each throws ArgumentException naming the field, the value, the range and the fix.</summary>
    internal static class ParamsCheck
    {
        internal static void Check(ParamsMessage p)
        {
            if (p.SetMask == 0)
                throw new ArgumentException("ParamsMessage sets no field; set at least one (e.g. GuidanceScale)", "parameters");
            if (p.TIndexList != null)
            {
                foreach (int t in p.TIndexList)
                    Range(StreamParams.TIndexList.InRange(t), StreamParams.TIndexList.FieldPath, t, StreamParams.TIndexList.RangeText);
            }
            if (p.CfgMode.HasValue && p.CfgMode.Value == CfgMode.Unknown)
                throw new ArgumentException("Params.cfg_mode = Unknown; use None, Self, Initialize or Full", "parameters");
            Float(p.GuidanceScale, StreamParams.GuidanceScale.InRange, StreamParams.GuidanceScale.FieldPath, StreamParams.GuidanceScale.RangeText);
            Float(p.Delta, StreamParams.Delta.InRange, StreamParams.Delta.FieldPath, StreamParams.Delta.RangeText);
            Float(p.SimilarityThreshold, StreamParams.SimilarityThreshold.InRange, StreamParams.SimilarityThreshold.FieldPath,
                StreamParams.SimilarityThreshold.RangeText);
            if (p.SimilarityMaxSkip.HasValue)
                Range(StreamParams.MaxSkipFrames.InRange(p.SimilarityMaxSkip.Value), StreamParams.MaxSkipFrames.FieldPath,
                    p.SimilarityMaxSkip.Value, StreamParams.MaxSkipFrames.RangeText);
            Float(p.LatentFeedback, StreamParams.LatentFeedback.InRange, StreamParams.LatentFeedback.FieldPath,
                StreamParams.LatentFeedback.RangeText);
            Float(p.MotionWarp, StreamParams.MotionWarp.InRange, StreamParams.MotionWarp.FieldPath, StreamParams.MotionWarp.RangeText);
            if (p.MotionWarpStep.HasValue)
                Range(StreamParams.MotionWarpStep.InRange(p.MotionWarpStep.Value), StreamParams.MotionWarpStep.FieldPath,
                    p.MotionWarpStep.Value, StreamParams.MotionWarpStep.RangeText);
            Float(p.SceneCutThreshold, StreamParams.SceneCutThreshold.InRange, StreamParams.SceneCutThreshold.FieldPath,
                StreamParams.SceneCutThreshold.RangeText);
            Float(p.IpAdapterScale, StreamParams.IpAdapterScale.InRange, StreamParams.IpAdapterScale.FieldPath,
                StreamParams.IpAdapterScale.RangeText);
            CachedAttention(p);
            Weights(p.LoraWeights, StreamParams.LoraWeights.InRange, StreamParams.LoraWeights.FieldPath, StreamParams.LoraWeights.RangeText);
            Weights(p.ControlnetScale, StreamParams.ControlnetScale.InRange, StreamParams.ControlnetScale.FieldPath,
                StreamParams.ControlnetScale.RangeText);
            Weights(p.ControlnetStart, StreamParams.ControlnetStart.InRange, StreamParams.ControlnetStart.FieldPath,
                StreamParams.ControlnetStart.RangeText);
            Weights(p.ControlnetEnd, StreamParams.ControlnetEnd.InRange, StreamParams.ControlnetEnd.FieldPath,
                StreamParams.ControlnetEnd.RangeText);
            Weights(p.StyleBlend, StreamParams.StyleBlend.InRange, StreamParams.StyleBlend.FieldPath, StreamParams.StyleBlend.RangeText);
        }

        // Protocol 1.4's cached-attention knobs: counts in their ranges, a known block choice, floats in [0, 1].
        private static void CachedAttention(ParamsMessage p)
        {
            if (p.AttentionBank.HasValue)
                Range(StreamParams.AttentionBank.InRange(p.AttentionBank.Value), StreamParams.AttentionBank.FieldPath,
                    p.AttentionBank.Value, StreamParams.AttentionBank.RangeText);
            if (p.AttentionBankInterval.HasValue)
                Range(StreamParams.AttentionBankInterval.InRange(p.AttentionBankInterval.Value),
                    StreamParams.AttentionBankInterval.FieldPath, p.AttentionBankInterval.Value,
                    StreamParams.AttentionBankInterval.RangeText);
            if (p.AttentionBankBlocks.HasValue && (p.AttentionBankBlocks.Value == AttentionBankBlocks.Unknown ||
                                                   p.AttentionBankBlocks.Value > AttentionBankBlocks.Up))
                throw new ArgumentException(StreamParams.AttentionBankBlocks.FieldPath + " = " + p.AttentionBankBlocks.Value +
                    "; use All, Down, Mid or Up", "parameters");
            Float(p.FeatureInjection, StreamParams.FeatureInjection.InRange, StreamParams.FeatureInjection.FieldPath,
                StreamParams.FeatureInjection.RangeText);
            Float(p.FeatureInjectionThreshold, StreamParams.FeatureInjectionThreshold.InRange,
                StreamParams.FeatureInjectionThreshold.FieldPath, StreamParams.FeatureInjectionThreshold.RangeText);
        }

        /// <summary>A StyleImage header for <paramref name="length"/> pixel bytes (exactly stride x height).</summary>
        internal static StyleImageMessage StyleImage(string name, int length, int width, int height, int stride,
            PixelFormat format, RowOrder rowOrder)
        {
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("style image name is empty; name the style (ParamsMessage.StyleBlend refers to it by this name)", "name");
            if (width <= 0 || height <= 0 || stride <= 0)
                throw new ArgumentOutOfRangeException("width", "style image '" + name + "' is " + width + "x" + height +
                    " with stride " + stride + "; width, height and stride must be at least 1");
            if (rowOrder == RowOrder.Unknown)
                throw new ArgumentException("style image '" + name + "': rowOrder must be TopDown or BottomUp", "rowOrder");
            long expected;
            try
            {
                expected = BridgeCodec.ExpectedPixelBytes((uint)width, (uint)height, (uint)stride, format);
            }
            catch (ProtocolException e)
            {
                throw new ArgumentException("style image '" + name + "': " + e.Message, "stride", e);
            }
            if (expected != length)
                throw new ArgumentException("style image '" + name + "' has " + length + " pixel bytes but stride x height = " +
                    stride + " x " + height + " = " + expected + "; pass exactly one image", "pixels");
            return new StyleImageMessage
            {
                Name = name, Width = (uint)width, Height = (uint)height, Stride = (uint)stride, Format = format,
                RowOrder = rowOrder,
            };
        }

        private static void Float(float? value, Func<float, bool> inRange, string field, string range)
        {
            if (value.HasValue) Range(inRange(value.Value), field, value.Value, range);
        }

        private static void Weights(List<AdapterWeightData> weights, Func<float, bool> inRange, string field, string range)
        {
            if (weights == null) return;
            for (int i = 0; i < weights.Count; i++)
            {
                string where = field + "[" + i + "]";
                if (string.IsNullOrEmpty(weights[i].Name))
                    throw new ArgumentException(where + ".name is empty; name the adapter, ControlNet kind or style image " +
                                                "the weight is for", "parameters");
                Range(inRange(weights[i].Weight), where + " (" + weights[i].Name + ")", weights[i].Weight, range);
            }
        }

        private static void Range(bool ok, string field, IConvertible value, string range)
        {
            if (ok) return;
            throw new ArgumentOutOfRangeException("parameters", field + " = " + value.ToString(CultureInfo.InvariantCulture) +
                " is outside " + range + "; the server would refuse it (Error BadParam): use a value in " + range +
                " (the parameter registry's range)");
        }
    }
}
