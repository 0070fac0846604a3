// Checks of BridgeClient.SetParams and SendStyleImage before anything is queued, so the game gets the reason at the
// call instead of a server Error later: each value in its parameter registry range (the generated StreamParams mirror
// of python_server/sdbridge/params.py), each named weight named, and a style image's size and layout. The per-field
// checks (CheckFields) are generated into Generated/ParamsFields.g.cs by schemas/codegen.py; the helpers they call
// (Float, Weights, Range) are here.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
using System.Globalization;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Client
{
    /// <summary>Pure checks; each throws ArgumentException naming the field, the value, the range and the fix.</summary>
    internal static partial class ParamsCheck
    {
        internal static void Check(ParamsMessage p)
        {
            if (p.SetMask == 0)
                throw new ArgumentException("ParamsMessage sets no field; set at least one (e.g. GuidanceScale)", "parameters");
            CheckFields(p);
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
