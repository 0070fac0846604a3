// The C# forms BridgeCodec decodes bodies into: the Frame and Result header copies (no allocation) and one reader
// per control message, each taking what a generated accessor returns after EnvelopeBounds checked the envelope.
// Missing strings read as ""; Params are read by ParamsReader. Compiled and tested here with mono's mcs (C# 7.2).
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
    /// <summary>Reads message bodies into their C# forms (Messages.cs).</summary>
    internal static class MessageReaders
    {
        /// <summary>The C# form of env's body (type: its checked body type). Generated accessors may throw on a
        /// corrupt body: the caller turns those into ProtocolException.</summary>
        internal static object ReadBody(Envelope env, Message type)
        {
            switch (type)
            {
                case Message.Hello: return ReadHello(env.BodyAsHello());
                case Message.Welcome: return ReadWelcome(env.BodyAsWelcome());
                case Message.Error: return ReadError(env.BodyAsError());
                case Message.Frame:
                {
                    FrameHeader f;
                    ReadFrame(env.BodyAsFrame(), out f);
                    return f;
                }
                case Message.Result:
                {
                    ResultHeader r;
                    ReadResult(env.BodyAsResult(), out r);
                    return r;
                }
                case Message.Prompt: return ReadPrompt(env.BodyAsPrompt());
                case Message.Params: return ParamsReader.ReadParams(env.BodyAsParams());
                case Message.GameEvent: return ReadGameEvent(env.BodyAsGameEvent());
                case Message.State: return ReadState(env.BodyAsState());
                case Message.StatsRequest: return new StatsRequestMessage { RequestId = env.BodyAsStatsRequest().RequestId };
                case Message.Stats: return ReadStats(env.BodyAsStats());
                case Message.Bye: return new ByeMessage { Reason = env.BodyAsBye().Reason ?? "" };
                case Message.Notice: return ReadNotice(env.BodyAsNotice());
                case Message.Credit: return new CreditMessage { Granted = env.BodyAsCredit().Granted };
                case Message.Ping:
                {
                    Ping p = env.BodyAsPing();
                    return new PingMessage { Nonce = p.Nonce, ClientTimeUs = p.ClientTimeUs };
                }
                case Message.Pong:
                {
                    Pong p = env.BodyAsPong();
                    return new PongMessage { Nonce = p.Nonce, ClientTimeUs = p.ClientTimeUs, ServerTimeUs = p.ServerTimeUs };
                }
                case Message.StyleImage: return ReadStyleImage(env.BodyAsStyleImage());
                default:
                    throw new ProtocolException((int)ErrorCode.UnknownType,
                        "Envelope.body_type " + (int)type + " is not a message this client knows (1..17); is the " +
                        "server newer? Update the package to the server's protocol version");
            }
        }

        /// <summary>Copies a Frame body into its header struct (allocates only for a Frame with planes).</summary>
        internal static void ReadFrame(Frame f, out FrameHeader h)
        {
            h.SessionId = f.SessionId;
            h.StreamId = f.StreamId;
            h.FrameId = f.FrameId;
            h.Width = f.Width;
            h.Height = f.Height;
            h.Stride = f.Stride;
            h.PixelFormat = f.PixelFormat;
            h.RowOrder = f.RowOrder;
            h.ColorSpace = f.ColorSpace;
            h.AlphaMode = f.AlphaMode;
            h.CaptureTimeUs = f.CaptureTimeUs;
            h.SendTimeUs = f.SendTimeUs;
            h.Planes = f.PlanesLength > 0 ? ReadPlanes(f) : null;  // allocates only for a frame with planes
            h.SceneCut = f.SceneCut;
        }

        /// <summary>Copies a Result body into its header struct (allocates nothing).</summary>
        internal static void ReadResult(Result r, out ResultHeader h)
        {
            h.SessionId = r.SessionId;
            h.StreamId = r.StreamId;
            h.FrameId = r.FrameId;
            h.Width = r.Width;
            h.Height = r.Height;
            h.Stride = r.Stride;
            h.PixelFormat = r.PixelFormat;
            h.RowOrder = r.RowOrder;
            h.ColorSpace = r.ColorSpace;
            h.AlphaMode = r.AlphaMode;
            h.CaptureTimeUs = r.CaptureTimeUs;
            h.SendTimeUs = r.SendTimeUs;
            h.QueueWaitUs = r.QueueWaitUs;
            h.InferenceUs = r.InferenceUs;
            h.EncodeUs = r.EncodeUs;
            h.IsWarmup = r.IsWarmup;
            h.Skipped = r.Skipped;
            h.SourceFrameId = r.SourceFrameId;
            h.CreditsGranted = r.CreditsGranted;
        }

        internal static PlaneDescription[] ReadPlanes(Frame f)
        {
            var planes = new PlaneDescription[f.PlanesLength];
            for (int i = 0; i < planes.Length; i++)
            {
                PlaneDesc p = f.Planes(i).Value;
                planes[i] = new PlaneDescription
                {
                    Kind = p.Kind, Format = p.Format, Width = p.Width, Height = p.Height, Stride = p.Stride,
                    RowOrder = p.RowOrder, DepthEncoding = p.DepthEncoding, ReversedZ = p.ReversedZ, DepthNear = p.DepthNear,
                    DepthFar = p.DepthFar, NormalSpace = p.NormalSpace, NormalEncoding = p.NormalEncoding,
                    MotionUnits = p.MotionUnits, MotionTarget = p.MotionTarget, MotionYUp = p.MotionYUp,
                    Name = p.Name ?? "",
                };
            }
            return planes;
        }

        internal static PixelFormat[] ReadFormats(int length, Func<int, PixelFormat> get)
        {
            var formats = new PixelFormat[length];
            for (int i = 0; i < length; i++) formats[i] = get(i);
            return formats;
        }

        internal static PlaneKind[] ReadKinds(int length, Func<int, PlaneKind> get)
        {
            var kinds = new PlaneKind[length];
            for (int i = 0; i < length; i++) kinds[i] = get(i);
            return kinds;
        }

        internal static HelloMessage ReadHello(Hello h)
        {
            return new HelloMessage
            {
                ProtocolMajor = h.ProtocolMajor,
                ProtocolMinor = h.ProtocolMinor,
                ClientName = h.ClientName ?? "",
                ClientVersion = h.ClientVersion ?? "",
                EngineName = h.EngineName ?? "",
                EngineVersion = h.EngineVersion ?? "",
                Capabilities = h.Capabilities,
                PixelFormats = ReadFormats(h.PixelFormatsLength, i => h.PixelFormats(i)),
            };
        }

        internal static WelcomeMessage ReadWelcome(Welcome w)
        {
            ModelInfoData model = null;
            if (w.Model.HasValue)
            {
                ModelInfo mi = w.Model.Value;
                model = new ModelInfoData { Name = mi.Name ?? "", Family = mi.Family, Width = mi.Width, Height = mi.Height };
            }
            return new WelcomeMessage
            {
                SessionId = w.SessionId,
                ProtocolMajor = w.ProtocolMajor,
                ProtocolMinor = w.ProtocolMinor,
                ServerVersion = w.ServerVersion ?? "",
                Capabilities = w.Capabilities,
                InitialCredits = w.InitialCredits,
                MaxWidth = w.MaxWidth,
                MaxHeight = w.MaxHeight,
                MaxMessageBytes = w.MaxMessageBytes,
                LatencyFrames = w.LatencyFrames,
                Model = model,
                HeartbeatIntervalMs = w.HeartbeatIntervalMs,
                PixelFormats = ReadFormats(w.PixelFormatsLength, i => w.PixelFormats(i)),
                Warning = w.Warning ?? "",
                SessionsOpen = w.SessionsOpen,
                SessionsMax = w.SessionsMax,
                WantedPlanes = ReadKinds(w.WantedPlanesLength, i => w.WantedPlanes(i)),
            };
        }

        internal static ErrorMessage ReadError(Error e)
        {
            return new ErrorMessage
            {
                Code = e.Code,
                Message = e.Message ?? "",
                Field = e.Field ?? "",
                FrameId = e.FrameId,
                HasFrameId = e.HasFrameId,
                SessionClosed = e.SessionClosed,
            };
        }

        internal static PromptMessage ReadPrompt(Prompt p)
        {
            var m = new PromptMessage
            {
                Text = p.Text ?? "",
                Negative = p.Negative ?? "",
                TransitionFrames = p.TransitionFrames,
                TransitionSeconds = p.TransitionSeconds,
                Method = p.Method,
                StreamId = p.StreamId,
            };
            for (int i = 0; i < p.BlendLength; i++)
            {
                PromptWeight w = p.Blend(i).Value;
                m.Blend.Add(new PromptWeightData(w.Text ?? "", w.Weight));
            }
            return m;
        }

        internal static KeyValueData ReadPair(KeyValue kv)
        {
            return new KeyValueData
            {
                Key = kv.Key ?? "",
                Kind = kv.Kind,
                BoolValue = kv.BoolValue,
                IntValue = kv.IntValue,
                FloatValue = kv.FloatValue,
                StringValue = kv.Kind == ValueKind.String ? (kv.StringValue ?? "") : null,
            };
        }

        internal static GameEventMessage ReadGameEvent(GameEvent g)
        {
            var m = new GameEventMessage { Name = g.Name ?? "", ClientTimeUs = g.ClientTimeUs, FrameId = g.FrameId };
            for (int i = 0; i < g.PayloadLength; i++) m.Payload.Add(ReadPair(g.Payload(i).Value));
            return m;
        }

        internal static StateMessage ReadState(State s)
        {
            var m = new StateMessage { ReplaceAll = s.ReplaceAll, ClientTimeUs = s.ClientTimeUs };
            for (int i = 0; i < s.EntriesLength; i++) m.Entries.Add(ReadPair(s.Entries(i).Value));
            return m;
        }

        internal static StatsMessage ReadStats(Stats s)
        {
            return new StatsMessage
            {
                RequestId = s.RequestId,
                SessionId = s.SessionId,
                FramesIn = s.FramesIn,
                FramesOut = s.FramesOut,
                FramesDropped = s.FramesDropped,
                FramesSkipped = s.FramesSkipped,
                FpsIn = s.FpsIn,
                FpsOut = s.FpsOut,
                LatencyP50Us = s.LatencyP50Us,
                LatencyP99Us = s.LatencyP99Us,
                InferenceP50Us = s.InferenceP50Us,
                UptimeS = s.UptimeS,
            };
        }

        internal static NoticeMessage ReadNotice(Notice n)
        {
            return new NoticeMessage
            {
                Kind = n.Kind,
                Message = n.Message ?? "",
                Source = n.Source ?? "",
                Prompt = n.Prompt.HasValue ? ReadPrompt(n.Prompt.Value) : null,
                Params = n.Params.HasValue ? ParamsReader.ReadParams(n.Params.Value) : null,
                PreviewUrl = n.PreviewUrl ?? "",
                WantedPlanes = ReadKinds(n.WantedPlanesLength, i => n.WantedPlanes(i)),
            };
        }

        internal static StyleImageMessage ReadStyleImage(StyleImage s)
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
