// Plain C# forms of the wire messages of schemas/bridge.fbs (namespace sdbridge.protocol). The hot-path
// headers (FrameHeader, ResultHeader) are structs so sending and receiving frames allocates nothing; control
// messages are small classes. Enums are the flatc-generated ones, so values cannot drift from the schema.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Protocol
{
    /// <summary>Header of one input frame (ZeroMQ part 1); the pixels travel in part 2.</summary>
    public struct FrameHeader
    {
        public ulong SessionId;
        public uint StreamId;
        public ulong FrameId;
        public uint Width;
        public uint Height;
        /// <summary>Bytes per row, at least Width x bytes per pixel.</summary>
        public uint Stride;
        public PixelFormat PixelFormat;
        public RowOrder RowOrder;
        public ColorSpace ColorSpace;
        public AlphaMode AlphaMode;
        /// <summary>Client clock, microseconds.</summary>
        public ulong CaptureTimeUs;
        public ulong SendTimeUs;
        /// <summary>Protocol 1.3: the auxiliary planes sent after the pixels, one ZeroMQ part each in this order
        /// (null or empty: none; only with Capability.Planes).</summary>
        public PlaneDescription[] Planes;
        /// <summary>Protocol 1.4: this frame starts a new shot (camera cut, level load, teleport); the server resets
        /// the session's temporal state before it.</summary>
        public bool SceneCut;
    }

    /// <summary>Header of one output frame (ZeroMQ part 1); the pixels travel in part 2.</summary>
    public struct ResultHeader
    {
        public ulong SessionId;
        public uint StreamId;
        /// <summary>Echo of the FrameHeader.FrameId whose processing produced this result.</summary>
        public ulong FrameId;
        public uint Width;
        public uint Height;
        public uint Stride;
        public PixelFormat PixelFormat;
        public RowOrder RowOrder;
        public ColorSpace ColorSpace;
        public AlphaMode AlphaMode;
        public ulong CaptureTimeUs;
        public ulong SendTimeUs;
        /// <summary>Server: receive until the worker picked the frame up (us).</summary>
        public uint QueueWaitUs;
        /// <summary>Server: pipeline call (us).</summary>
        public uint InferenceUs;
        /// <summary>Server: output conversion + message building (us).</summary>
        public uint EncodeUs;
        /// <summary>Output of a pipeline that is not full yet (the first latency_frames outputs).</summary>
        public bool IsWarmup;
        /// <summary>The similarity filter skipped inference; pixels repeat the previous output.</summary>
        public bool Skipped;
        /// <summary>Input frame this image depicts (FrameId - latency_frames).</summary>
        public ulong SourceFrameId;
        /// <summary>Sending credits returned with this result.</summary>
        public uint CreditsGranted;
    }

    public sealed class HelloMessage
    {
        public ushort ProtocolMajor = ProtocolVersion.Major;
        public ushort ProtocolMinor = ProtocolVersion.Minor;
        public string ClientName = "";
        public string ClientVersion = "";
        public string EngineName = "";
        public string EngineVersion = "";
        /// <summary>Mask of <see cref="Capability"/> values.</summary>
        public uint Capabilities;
        public PixelFormat[] PixelFormats = new PixelFormat[0];
    }

    public sealed class ModelInfoData
    {
        public string Name = "";
        public ModelFamily Family;
        public uint Width;
        public uint Height;
    }

    public sealed class WelcomeMessage
    {
        public ulong SessionId;
        public ushort ProtocolMajor;
        public ushort ProtocolMinor;
        public string ServerVersion = "";
        public uint Capabilities;
        public uint InitialCredits;
        public uint MaxWidth;
        public uint MaxHeight;
        public uint MaxMessageBytes;
        /// <summary>An output lags its input by this many frames (n-1 for n denoising steps).</summary>
        public uint LatencyFrames;
        /// <summary>Null when the server sent no model info.</summary>
        public ModelInfoData Model;
        public uint HeartbeatIntervalMs;
        public PixelFormat[] PixelFormats = new PixelFormat[0];
        /// <summary>Empty unless the server accepted with a warning (e.g. minor version mismatch).</summary>
        public string Warning = "";
        /// <summary>Protocol 1.4: sessions open on this replica, this one included (0 from an older server).</summary>
        public uint SessionsOpen;
        /// <summary>Protocol 1.4: the replica's session limit (0 from an older server).</summary>
        public uint SessionsMax;
        /// <summary>Protocol 1.4: the plane kinds the server uses (its ControlNets' kinds, Motion while motion warping
        /// is on): capture and send these with Capability.Planes. A live change comes as a WantedPlanesChanged Notice
        /// (BridgeClient.WantedPlanes follows both).</summary>
        public PlaneKind[] WantedPlanes = new PlaneKind[0];
    }

    public sealed class ErrorMessage
    {
        public ErrorCode Code;
        public string Message = "";
        public string Field = "";
        public ulong FrameId;
        public bool HasFrameId;
        public bool SessionClosed;
    }

    public struct PromptWeightData
    {
        public string Text;
        public float Weight;

        public PromptWeightData(string text, float weight)
        {
            Text = text;
            Weight = weight;
        }
    }

    public sealed class PromptMessage
    {
        public string Text = "";
        public string Negative = "";
        /// <summary>If non-empty, replaces Text with a weighted blend.</summary>
        public List<PromptWeightData> Blend = new List<PromptWeightData>();
        public uint TransitionFrames;
        public float TransitionSeconds;
        public BlendMethod Method;
        public uint StreamId;
    }

    public struct SeedWeightData
    {
        public ulong Seed;
        public float Weight;

        public SeedWeightData(ulong seed, float weight)
        {
            Seed = seed;
            Weight = weight;
        }
    }

    /// <summary>A named weight (protocol 1.2): ParamsMessage.LoraWeights (a live LoRA adapter's name), protocol
    /// 1.4's Controlnet* (a ControlNet's kind as the server announces it, e.g. "depth") and StyleBlend (a style image's
    /// name).</summary>
    public struct AdapterWeightData
    {
        public string Name;
        public float Weight;

        public AdapterWeightData(string name, float weight)
        {
            Name = name;
            Weight = weight;
        }
    }

    /// <summary>Runtime parameters; a null field means "unchanged" (its ParamsField bit stays clear).</summary>
    public sealed class ParamsMessage
    {
        public float? GuidanceScale;
        public float? Delta;
        public int[] TIndexList;
        public ulong? Seed;
        public bool? SimilarityFilterEnabled;
        public float? SimilarityThreshold;
        public uint? SimilarityMaxSkip;
        public List<SeedWeightData> SeedBlend;
        public uint StreamId;
        /// <summary>Protocol 1.2: the classifier-free guidance mode (None, Self, Initialize, Full); Unknown is refused.</summary>
        public CfgMode? CfgMode;
        /// <summary>Protocol 1.2: true = the server generates frames from the prompt alone, one per credit granted
        /// with a client Credit (BridgeClient.RequestFrames); frames are refused meanwhile.</summary>
        public bool? Txt2img;
        /// <summary>Protocol 1.2: live LoRA adapters' weights (the adapters not named keep theirs).</summary>
        public List<AdapterWeightData> LoraWeights;
        /// <summary>Protocol 1.4, per ControlNet (name = its kind): conditioning scale, and the fractions of the
        /// steps before which / after which it acts.</summary>
        public List<AdapterWeightData> ControlnetScale;
        public List<AdapterWeightData> ControlnetStart;
        public List<AdapterWeightData> ControlnetEnd;
        /// <summary>Protocol 1.4: previous output latent blended into the input latent (0 = off).</summary>
        public float? LatentFeedback;
        /// <summary>Protocol 1.4: strength of the motion-guided warp of the previous output (0 = off).</summary>
        public float? MotionWarp;
        /// <summary>Protocol 1.4: the denoising step whose latent gets the warp.</summary>
        public uint? MotionWarpStep;
        /// <summary>Protocol 1.4: correlation with the previous frame below which a frame is a scene cut (0 = off).</summary>
        public float? SceneCutThreshold;
        /// <summary>Protocol 1.4: how strongly the style images steer the image (0 = no adapter).</summary>
        public float? IpAdapterScale;
        /// <summary>Protocol 1.4: the weights of the session's named style images (BridgeClient.SendStyleImage).</summary>
        public List<AdapterWeightData> StyleBlend;
        /// <summary>Protocol 1.4, cached attention: earlier frames' banked keys/values each self-attention layer also
        /// attends to (0 = off; the server's eager backend only).</summary>
        public uint? AttentionBank;
        /// <summary>Protocol 1.4: bank every k-th frame's features.</summary>
        public uint? AttentionBankInterval;
        /// <summary>Protocol 1.4: the UNet blocks whose self-attention uses the bank (All, Down, Mid, Up).</summary>
        public AttentionBankBlocks? AttentionBankBlocks;
        /// <summary>Protocol 1.4: blend each self-attention output toward its most similar banked one (0 = off).</summary>
        public float? FeatureInjection;
        /// <summary>Protocol 1.4: the cosine similarity a banked feature needs to be injected.</summary>
        public float? FeatureInjectionThreshold;

        /// <summary>OR of the ParamsField bits of the fields that are set.</summary>
        public uint SetMask
        {
            get
            {
                uint m = 0;
                if (GuidanceScale.HasValue) m |= (uint)ParamsField.GuidanceScale;
                if (Delta.HasValue) m |= (uint)ParamsField.Delta;
                if (TIndexList != null) m |= (uint)ParamsField.TIndexList;
                if (Seed.HasValue) m |= (uint)ParamsField.Seed;
                if (SimilarityFilterEnabled.HasValue) m |= (uint)ParamsField.SimilarityFilterEnabled;
                if (SimilarityThreshold.HasValue) m |= (uint)ParamsField.SimilarityThreshold;
                if (SimilarityMaxSkip.HasValue) m |= (uint)ParamsField.SimilarityMaxSkip;
                if (SeedBlend != null) m |= (uint)ParamsField.SeedBlend;
                if (CfgMode.HasValue) m |= (uint)ParamsField.CfgMode;
                if (Txt2img.HasValue) m |= (uint)ParamsField.Txt2img;
                if (LoraWeights != null) m |= (uint)ParamsField.LoraWeights;
                if (ControlnetScale != null) m |= (uint)ParamsField.ControlnetScale;
                if (ControlnetStart != null) m |= (uint)ParamsField.ControlnetStart;
                if (ControlnetEnd != null) m |= (uint)ParamsField.ControlnetEnd;
                if (LatentFeedback.HasValue) m |= (uint)ParamsField.LatentFeedback;
                if (MotionWarp.HasValue) m |= (uint)ParamsField.MotionWarp;
                if (MotionWarpStep.HasValue) m |= (uint)ParamsField.MotionWarpStep;
                if (SceneCutThreshold.HasValue) m |= (uint)ParamsField.SceneCutThreshold;
                if (IpAdapterScale.HasValue) m |= (uint)ParamsField.IpAdapterScale;
                if (StyleBlend != null) m |= (uint)ParamsField.StyleBlend;
                if (AttentionBank.HasValue) m |= (uint)ParamsField.AttentionBank;
                if (AttentionBankInterval.HasValue) m |= (uint)ParamsField.AttentionBankInterval;
                if (AttentionBankBlocks.HasValue) m |= (uint)ParamsField.AttentionBankBlocks;
                if (FeatureInjection.HasValue) m |= (uint)ParamsField.FeatureInjection;
                if (FeatureInjectionThreshold.HasValue) m |= (uint)ParamsField.FeatureInjectionThreshold;
                return m;
            }
        }
    }

    /// <summary>One typed key/value (GameEvent payload, State entries).</summary>
    public struct KeyValueData
    {
        public string Key;
        public ValueKind Kind;
        public bool BoolValue;
        public long IntValue;
        public double FloatValue;
        public string StringValue;

        public static KeyValueData Of(string key, bool value)
        {
            return new KeyValueData { Key = key, Kind = ValueKind.Bool, BoolValue = value };
        }

        public static KeyValueData Of(string key, long value)
        {
            return new KeyValueData { Key = key, Kind = ValueKind.Int, IntValue = value };
        }

        public static KeyValueData Of(string key, double value)
        {
            return new KeyValueData { Key = key, Kind = ValueKind.Float, FloatValue = value };
        }

        public static KeyValueData Of(string key, string value)
        {
            if (value == null) throw new ArgumentNullException(nameof(value), "KeyValue '" + key + "' has a null string");
            return new KeyValueData { Key = key, Kind = ValueKind.String, StringValue = value };
        }

        /// <summary>The value as an object (bool, long, double or string); for logs and tests.</summary>
        public object Value
        {
            get
            {
                switch (Kind)
                {
                    case ValueKind.Bool: return BoolValue;
                    case ValueKind.Int: return IntValue;
                    case ValueKind.Float: return FloatValue;
                    case ValueKind.String: return StringValue;
                    default: return null;
                }
            }
        }
    }

    public sealed class GameEventMessage
    {
        public string Name = "";
        public List<KeyValueData> Payload = new List<KeyValueData>();
        public ulong ClientTimeUs;
        /// <summary>Last frame submitted when the event happened.</summary>
        public ulong FrameId;
    }

    public sealed class StateMessage
    {
        public List<KeyValueData> Entries = new List<KeyValueData>();
        /// <summary>True: the server drops variables not listed; false: merge.</summary>
        public bool ReplaceAll;
        public ulong ClientTimeUs;
    }

    public sealed class StatsRequestMessage
    {
        public uint RequestId;
    }

    public sealed class StatsMessage
    {
        public uint RequestId;
        public ulong SessionId;
        public ulong FramesIn;
        public ulong FramesOut;
        public ulong FramesDropped;
        public ulong FramesSkipped;
        public float FpsIn;
        public float FpsOut;
        public uint LatencyP50Us;
        public uint LatencyP99Us;
        public uint InferenceP50Us;
        public float UptimeS;
    }

    public sealed class ByeMessage
    {
        public string Reason = "";
    }

    public sealed class NoticeMessage
    {
        public NoticeKind Kind;
        public string Message = "";
        public string Source = "";
        /// <summary>Null unless Kind == PromptChanged.</summary>
        public PromptMessage Prompt;
        /// <summary>Null unless Kind == ParamsChanged.</summary>
        public ParamsMessage Params;
        /// <summary>Protocol 1.1: this session's preview page address (Kind Info, Source "preview"); empty from a
        /// 1.0 server, which sends the address in Message only (see PreviewPage.TryGetAddress).</summary>
        public string PreviewUrl = "";
        /// <summary>Protocol 1.4 (Kind WantedPlanesChanged): the plane kinds the server now uses (may be empty).</summary>
        public PlaneKind[] WantedPlanes = new PlaneKind[0];
    }

    /// <summary>Protocol 1.4 (Capability.StyleImages): a named style reference image for the server's IP-Adapter;
    /// the pixels (Stride x Height bytes) travel in ZeroMQ part 2. Sending a name again replaces that image; its
    /// weight is set with ParamsMessage.StyleBlend.</summary>
    public sealed class StyleImageMessage
    {
        public string Name = "";
        public uint Width;
        public uint Height;
        /// <summary>Bytes per row, at least Width x bytes per pixel.</summary>
        public uint Stride;
        public PixelFormat Format;
        public RowOrder RowOrder;
    }

    public sealed class CreditMessage
    {
        public uint Granted;
    }

    public sealed class PingMessage
    {
        public ulong Nonce;
        public ulong ClientTimeUs;
    }

    public sealed class PongMessage
    {
        public ulong Nonce;
        public ulong ClientTimeUs;
        public ulong ServerTimeUs;
    }

    /// <summary>Bytes per pixel of each pixel format.</summary>
    public static class PixelFormats
    {
        public static int BytesPerPixel(PixelFormat format)
        {
            switch (format)
            {
                case PixelFormat.RGBA8:
                case PixelFormat.BGRA8:
                    return 4;
                case PixelFormat.RGB8:
                    return 3;
                default:
                    throw new ArgumentOutOfRangeException(nameof(format), format,
                        "pixel format must be RGBA8, BGRA8 or RGB8");
            }
        }
    }
}
