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

    /// <summary>Runtime parameters; a null field means "unchanged" (its ParamsField bit stays clear). Its members,
    /// one per field of the Params table, and SetMask are generated from schemas/bridge.fbs and the parameter registry
    /// into Generated/ParamsMessage.g.cs (python schemas/codegen.py).</summary>
    public sealed partial class ParamsMessage
    {
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
