// Encodes and decodes Envelope FlatBuffers (schemas/bridge.fbs) over the flatc 2.0.8 generated C# code in
// Runtime/Core/Generated. The canonical construction order of schemas/golden/README.md is followed (strings,
// vectors and sub-tables in field-id order, then the generated CreateX helper, which adds fields by size,
// largest first, ties in descending id), so output is byte-identical to flatc -b and the Python codec.
// One builder and one read buffer are reused: encoding a frame header and decoding a result allocate nothing.
// The FlatBuffers 2.0.8 C# runtime has no verifier, so decode bounds-checks the envelope itself and turns
// any runtime exception on garbage into a ProtocolException.
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
using System.Collections.Generic;
// Unity gets the runtime as NuGet's Google.FlatBuffers (namespace Google.FlatBuffers), defined by the core asmdef's
// versionDefines; the tests here build Debian's 2.0.8 runtime (namespace FlatBuffers). See schemas/codegen.py.
#if SDBRIDGE_FLATBUFFERS_NUGET
using Google.FlatBuffers;
#else
using FlatBuffers;
#endif
using sdbridge.protocol;

namespace StreamDiffusion.Bridge.Core.Protocol
{
    /// <summary>Envelope codec. Not thread-safe; one instance per thread. Encoded segments point into the
    /// codec's builder and stay valid until the next Encode call on the same instance.</summary>
    public sealed partial class BridgeCodec
    {
        private readonly FlatBufferBuilder _builder = new FlatBufferBuilder(1024);
        private ByteBuffer _readBuffer;
        private byte[] _readArray;
        private int _bodyPos;   // absolute position of the body table found by the last Root() call

        // ------------------------------------------------------------------------------ encode (hot path)

        public ArraySegment<byte> EncodeFrame(ref FrameHeader h)
        {
            FlatBufferBuilder b = Begin();
            VectorOffset planes = h.Planes != null && h.Planes.Length > 0 ? Planes(b, h.Planes) : default(VectorOffset);
            Offset<Frame> body = Frame.CreateFrame(b, h.SessionId, h.StreamId, h.FrameId, h.Width, h.Height, h.Stride,
                h.PixelFormat, h.RowOrder, h.ColorSpace, h.AlphaMode, h.CaptureTimeUs, h.SendTimeUs, planes, h.SceneCut);
            return Finish(Message.Frame, body.Value);
        }

        /// <summary>Frame.planes (protocol 1.3): each PlaneDesc (its name first), then the vector.</summary>
        private static VectorOffset Planes(FlatBufferBuilder b, PlaneDescription[] planes)
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

        public ArraySegment<byte> EncodeResult(ref ResultHeader h)
        {
            FlatBufferBuilder b = Begin();
            Offset<Result> body = Result.CreateResult(b, h.SessionId, h.StreamId, h.FrameId, h.Width, h.Height,
                h.Stride, h.PixelFormat, h.RowOrder, h.ColorSpace, h.AlphaMode, h.CaptureTimeUs, h.SendTimeUs,
                h.QueueWaitUs, h.InferenceUs, h.EncodeUs, h.IsWarmup, h.Skipped, h.SourceFrameId, h.CreditsGranted);
            return Finish(Message.Result, body.Value);
        }

        public ArraySegment<byte> EncodePing(ulong nonce, ulong clientTimeUs)
        {
            FlatBufferBuilder b = Begin();
            return Finish(Message.Ping, Ping.CreatePing(b, nonce, clientTimeUs).Value);
        }

        public ArraySegment<byte> EncodeCredit(uint granted)
        {
            FlatBufferBuilder b = Begin();
            return Finish(Message.Credit, Credit.CreateCredit(b, granted).Value);
        }

        public ArraySegment<byte> EncodeStatsRequest(uint requestId)
        {
            FlatBufferBuilder b = Begin();
            return Finish(Message.StatsRequest, StatsRequest.CreateStatsRequest(b, requestId).Value);
        }

        // ------------------------------------------------------------------------------ encode (control)

        public ArraySegment<byte> Encode(HelloMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset name = Str(b, m.ClientName);
            StringOffset version = Str(b, m.ClientVersion);
            StringOffset engine = Str(b, m.EngineName);
            StringOffset engineVersion = Str(b, m.EngineVersion);
            VectorOffset formats = Formats(b, m.PixelFormats, true);
            Offset<Hello> body = Hello.CreateHello(b, m.ProtocolMajor, m.ProtocolMinor, name, version, engine,
                engineVersion, m.Capabilities, formats);
            return Finish(Message.Hello, body.Value);
        }

        public ArraySegment<byte> Encode(WelcomeMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset serverVersion = Str(b, m.ServerVersion);
            Offset<ModelInfo> model = default(Offset<ModelInfo>);
            if (m.Model != null)
            {
                StringOffset modelName = Str(b, m.Model.Name);
                model = ModelInfo.CreateModelInfo(b, modelName, m.Model.Family, m.Model.Width, m.Model.Height);
            }
            VectorOffset formats = Formats(b, m.PixelFormats, false);
            StringOffset warning = Str(b, m.Warning);
            VectorOffset wanted = m.WantedPlanes != null && m.WantedPlanes.Length > 0
                ? Welcome.CreateWantedPlanesVector(b, m.WantedPlanes) : default(VectorOffset);
            Offset<Welcome> body = Welcome.CreateWelcome(b, m.SessionId, m.ProtocolMajor, m.ProtocolMinor,
                serverVersion, m.Capabilities, m.InitialCredits, m.MaxWidth, m.MaxHeight, m.MaxMessageBytes,
                m.LatencyFrames, model, m.HeartbeatIntervalMs, formats, warning, m.SessionsOpen, m.SessionsMax, wanted);
            return Finish(Message.Welcome, body.Value);
        }

        public ArraySegment<byte> Encode(ErrorMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset message = Str(b, m.Message);
            StringOffset field = Str(b, m.Field);
            Offset<Error> body = Error.CreateError(b, m.Code, message, field, m.FrameId, m.HasFrameId, m.SessionClosed);
            return Finish(Message.Error, body.Value);
        }

        public ArraySegment<byte> Encode(PromptMessage m)
        {
            FlatBufferBuilder b = Begin();
            Offset<Prompt> body = BuildPrompt(b, m);
            return Finish(Message.Prompt, body.Value);
        }

        public ArraySegment<byte> Encode(ParamsMessage m)
        {
            FlatBufferBuilder b = Begin();
            Offset<Params> body = BuildParams(b, m);
            return Finish(Message.Params, body.Value);
        }

        public ArraySegment<byte> Encode(GameEventMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset name = Str(b, m.Name);
            VectorOffset payload = default(VectorOffset);
            Offset<KeyValue>[] items = BuildPairs(b, m.Payload, "GameEvent.payload");
            if (items != null) payload = GameEvent.CreatePayloadVector(b, items);
            Offset<GameEvent> body = GameEvent.CreateGameEvent(b, name, payload, m.ClientTimeUs, m.FrameId);
            return Finish(Message.GameEvent, body.Value);
        }

        public ArraySegment<byte> Encode(StateMessage m)
        {
            FlatBufferBuilder b = Begin();
            VectorOffset entries = default(VectorOffset);
            Offset<KeyValue>[] items = BuildPairs(b, m.Entries, "State.entries");
            if (items != null) entries = State.CreateEntriesVector(b, items);
            Offset<State> body = State.CreateState(b, entries, m.ReplaceAll, m.ClientTimeUs);
            return Finish(Message.State, body.Value);
        }

        public ArraySegment<byte> Encode(StatsRequestMessage m)
        {
            return EncodeStatsRequest(m.RequestId);
        }

        public ArraySegment<byte> Encode(StatsMessage m)
        {
            FlatBufferBuilder b = Begin();
            Offset<Stats> body = Stats.CreateStats(b, m.RequestId, m.SessionId, m.FramesIn, m.FramesOut,
                m.FramesDropped, m.FramesSkipped, m.FpsIn, m.FpsOut, m.LatencyP50Us, m.LatencyP99Us,
                m.InferenceP50Us, m.UptimeS);
            return Finish(Message.Stats, body.Value);
        }

        public ArraySegment<byte> Encode(ByeMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset reason = Str(b, m.Reason);
            return Finish(Message.Bye, Bye.CreateBye(b, reason).Value);
        }

        public ArraySegment<byte> Encode(NoticeMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset message = Str(b, m.Message);
            StringOffset source = Str(b, m.Source);
            Offset<Prompt> prompt = m.Prompt != null ? BuildPrompt(b, m.Prompt) : default(Offset<Prompt>);
            Offset<Params> parameters = m.Params != null ? BuildParams(b, m.Params) : default(Offset<Params>);
            StringOffset previewUrl = Str(b, m.PreviewUrl);
            VectorOffset wanted = m.WantedPlanes != null && m.WantedPlanes.Length > 0
                ? Notice.CreateWantedPlanesVector(b, m.WantedPlanes) : default(VectorOffset);
            Offset<Notice> body = Notice.CreateNotice(b, m.Kind, message, source, prompt, parameters, previewUrl,
                wanted);
            return Finish(Message.Notice, body.Value);
        }

        public ArraySegment<byte> Encode(CreditMessage m)
        {
            return EncodeCredit(m.Granted);
        }

        public ArraySegment<byte> Encode(PingMessage m)
        {
            return EncodePing(m.Nonce, m.ClientTimeUs);
        }

        public ArraySegment<byte> Encode(PongMessage m)
        {
            FlatBufferBuilder b = Begin();
            return Finish(Message.Pong, Pong.CreatePong(b, m.Nonce, m.ClientTimeUs, m.ServerTimeUs).Value);
        }

        // ------------------------------------------------------------------------------ decode

        /// <summary>Checks size, file identifier and root/union offsets and returns the message type.
        /// Throws ProtocolException (BadMessage, Truncated, WrongIdentifier, UnknownType) otherwise.</summary>
        public Message ReadType(ArraySegment<byte> buffer)
        {
            Envelope env = Root(buffer);
            return env.BodyType;
        }

        /// <summary>Decodes a Result header without allocating.</summary>
        public void DecodeResult(ArraySegment<byte> buffer, out ResultHeader h)
        {
            CheckBody(buffer, Message.Result);
            Result r = new Result().__assign(_bodyPos, _readBuffer);
            try
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
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Garbage("Result", e);
            }
        }

        /// <summary>Decodes a Frame header without allocating.</summary>
        public void DecodeFrame(ArraySegment<byte> buffer, out FrameHeader h)
        {
            CheckBody(buffer, Message.Frame);
            Frame f = new Frame().__assign(_bodyPos, _readBuffer);
            try
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
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Garbage("Frame", e);
            }
        }

        private static PlaneDescription[] ReadPlanes(Frame f)
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

        /// <summary>Credits granted by a Credit message (no allocation).</summary>
        public uint DecodeCredit(ArraySegment<byte> buffer)
        {
            CheckBody(buffer, Message.Credit);
            Credit c = new Credit().__assign(_bodyPos, _readBuffer);
            try
            {
                return c.Granted;
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Garbage("Credit", e);
            }
        }

        /// <summary>Decodes any message into its C# form (FrameHeader/ResultHeader are boxed: use
        /// DecodeFrame/DecodeResult on hot paths).</summary>
        public object Decode(ArraySegment<byte> buffer)
        {
            Message type = ReadType(buffer);
            Envelope env = Envelope.GetRootAsEnvelope(_readBuffer);
            try
            {
                switch (type)
                {
                    case Message.Hello: return ReadHello(env.BodyAsHello());
                    case Message.Welcome: return ReadWelcome(env.BodyAsWelcome());
                    case Message.Error: return ReadError(env.BodyAsError());
                    case Message.Frame:
                    {
                        FrameHeader f;
                        DecodeFrame(buffer, out f);
                        return f;
                    }
                    case Message.Result:
                    {
                        ResultHeader r;
                        DecodeResult(buffer, out r);
                        return r;
                    }
                    case Message.Prompt: return ReadPrompt(env.BodyAsPrompt());
                    case Message.Params: return ReadParams(env.BodyAsParams());
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
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Garbage(type.ToString(), e);
            }
        }

        /// <summary>Bytes the pixel part must have: stride x height, with width x bytes-per-pixel &lt;= stride.
        /// Throws ProtocolException (BadDimension, UnsupportedPixelFormat) on impossible headers.</summary>
        public static long ExpectedPixelBytes(uint width, uint height, uint stride, PixelFormat format)
        {
            if (format != PixelFormat.RGBA8 && format != PixelFormat.BGRA8 && format != PixelFormat.RGB8)
            {
                throw new ProtocolException((int)ErrorCode.UnsupportedPixelFormat,
                    "pixel_format " + format + " is not one of RGBA8, BGRA8, RGB8");
            }
            if (width == 0 || height == 0)
            {
                throw new ProtocolException((int)ErrorCode.BadDimension,
                    "image is " + width + "x" + height + "; width and height must be at least 1");
            }
            long rowBytes = (long)width * PixelFormats.BytesPerPixel(format);
            if (stride < rowBytes)
            {
                throw new ProtocolException((int)ErrorCode.BadDimension,
                    "stride " + stride + " is below width x bytes per pixel = " + rowBytes + "; stride must be >= " +
                    rowBytes);
            }
            return (long)stride * height;
        }

        // ------------------------------------------------------------------------------ internals

        private FlatBufferBuilder Begin()
        {
            _builder.Clear();
            return _builder;
        }

        private ArraySegment<byte> Finish(Message type, int body)
        {
            Envelope.StartEnvelope(_builder);
            Envelope.AddBody(_builder, body);
            Envelope.AddBodyType(_builder, type);
            Offset<Envelope> root = Envelope.EndEnvelope(_builder);
            Envelope.FinishEnvelopeBuffer(_builder, root);
            ByteBuffer bb = _builder.DataBuffer;
            return bb.ToArraySegment(bb.Position, bb.Length - bb.Position);
        }

        private static StringOffset Str(FlatBufferBuilder b, string s)
        {
            return string.IsNullOrEmpty(s) ? default(StringOffset) : b.CreateString(s);
        }

        private static VectorOffset Formats(FlatBufferBuilder b, PixelFormat[] formats, bool hello)
        {
            if (formats == null || formats.Length == 0) return default(VectorOffset);
            return hello ? Hello.CreatePixelFormatsVector(b, formats) : Welcome.CreatePixelFormatsVector(b, formats);
        }

        private static Offset<Prompt> BuildPrompt(FlatBufferBuilder b, PromptMessage m)
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

        private static Offset<Params> BuildParams(FlatBufferBuilder b, ParamsMessage m)
        {
            VectorOffset tIndex = default(VectorOffset);
            if (m.TIndexList != null && m.TIndexList.Length > 0) tIndex = Params.CreateTIndexListVector(b, m.TIndexList);
            VectorOffset seedBlend = default(VectorOffset);
            if (m.SeedBlend != null && m.SeedBlend.Count > 0)
            {
                var seeds = new Offset<SeedWeight>[m.SeedBlend.Count];
                for (int i = 0; i < seeds.Length; i++)
                {
                    seeds[i] = SeedWeight.CreateSeedWeight(b, m.SeedBlend[i].Seed, m.SeedBlend[i].Weight);
                }
                seedBlend = Params.CreateSeedBlendVector(b, seeds);
            }
            // The named-weight vectors in field-id order: 12, 13, 14, 15, 21 (BridgeCodecV14.cs).
            VectorOffset lora = Weights(b, m.LoraWeights);
            VectorOffset cnScale = Weights(b, m.ControlnetScale);
            VectorOffset cnStart = Weights(b, m.ControlnetStart);
            VectorOffset cnEnd = Weights(b, m.ControlnetEnd);
            VectorOffset styleBlend = Weights(b, m.StyleBlend);
            return Params.CreateParams(b, m.SetMask, m.GuidanceScale ?? 0f, m.Delta ?? 0f, tIndex, m.Seed ?? 0UL,
                m.SimilarityFilterEnabled ?? false, m.SimilarityThreshold ?? 0f, m.SimilarityMaxSkip ?? 0u, seedBlend,
                m.StreamId, m.CfgMode ?? CfgMode.Unknown, m.Txt2img ?? false, lora, cnScale, cnStart, cnEnd,
                m.LatentFeedback ?? 0f, m.MotionWarp ?? 0f, m.MotionWarpStep ?? 0u, m.SceneCutThreshold ?? 0f,
                m.IpAdapterScale ?? 0f, styleBlend, m.AttentionBank ?? 0u, m.AttentionBankInterval ?? 0u,
                m.AttentionBankBlocks ?? AttentionBankBlocks.Unknown, m.FeatureInjection ?? 0f,
                m.FeatureInjectionThreshold ?? 0f);
        }

        private static Offset<KeyValue>[] BuildPairs(FlatBufferBuilder b, List<KeyValueData> pairs, string field)
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

        private Envelope Root(ArraySegment<byte> buffer)
        {
            byte[] array = buffer.Array;
            if (array == null || buffer.Count < 12)
            {
                throw new ProtocolException((int)ErrorCode.Truncated,
                    "message part 1 has " + buffer.Count + " bytes; an Envelope needs at least 12 (root offset, " +
                    "file identifier, table)");
            }
            if (!ReferenceEquals(array, _readArray))
            {
                _readBuffer = new ByteBuffer(array);
                _readArray = array;
            }
            _readBuffer.Position = buffer.Offset;
            if (array[buffer.Offset + 4] != 'S' || array[buffer.Offset + 5] != 'D' || array[buffer.Offset + 6] != 'B' ||
                array[buffer.Offset + 7] != '1')
            {
                throw new ProtocolException((int)ErrorCode.WrongIdentifier,
                    "file identifier is not \"" + ProtocolVersion.FileIdentifier + "\": the peer is not an sdbridge " +
                    "server or speaks another protocol major");
            }
            // Bounds: root table, its vtable and the body offset must lie inside the part (the C# runtime has no
            // verifier and would otherwise read stale bytes past the message).
            int end = buffer.Offset + buffer.Count;
            long root = buffer.Offset + (long)(uint)_readBuffer.GetInt(buffer.Offset);
            if (root + 4 > end) throw Truncated("Envelope root offset");
            long vtable = root - _readBuffer.GetInt((int)root);
            if (vtable < buffer.Offset || vtable + 4 > end) throw Truncated("Envelope vtable");
            int vtSize = _readBuffer.GetShort((int)vtable);
            if (vtSize < 4 || vtable + vtSize > end) throw Truncated("Envelope vtable size");
            Envelope env = Envelope.GetRootAsEnvelope(_readBuffer);
            Message type = env.BodyType;
            if (type == Message.NONE || (byte)type > (byte)Message.StyleImage)
            {
                throw new ProtocolException((int)ErrorCode.UnknownType,
                    "Envelope.body_type is " + (int)type + "; this client knows 1..17 (Hello..StyleImage): update the " +
                    "package or the server so both speak the same protocol");
            }
            int bodyField = vtSize >= 8 ? _readBuffer.GetShort((int)vtable + 6) : 0;
            if (bodyField == 0) throw new ProtocolException((int)ErrorCode.BadMessage, "Envelope has a type but no body");
            long bodyRef = root + bodyField;
            if (bodyRef + 4 > end) throw Truncated("Envelope.body");
            long body = bodyRef + (uint)_readBuffer.GetInt((int)bodyRef);
            if (body + 4 > end) throw Truncated("Envelope.body table");
            long bodyVtable = body - _readBuffer.GetInt((int)body);
            if (bodyVtable < buffer.Offset || bodyVtable + 4 > end) throw Truncated("body vtable");
            int bodyVtSize = _readBuffer.GetShort((int)bodyVtable);
            int bodyTableSize = _readBuffer.GetShort((int)bodyVtable + 2);
            if (bodyVtSize < 4 || bodyVtable + bodyVtSize > end || body + bodyTableSize > end)
                throw Truncated("body table");
            _bodyPos = (int)body;
            return env;
        }

        // Non-generic on purpose: Envelope.Body<T>() allocates under mono (64 bytes per call, measured).
        private void CheckBody(ArraySegment<byte> buffer, Message expected)
        {
            Envelope env = Root(buffer);
            Message type = env.BodyType;
            if (type != expected)
            {
                throw new ProtocolException((int)ErrorCode.UnknownType,
                    "expected a " + expected + " message, got " + type);
            }
        }

        private static ProtocolException Truncated(string what)
        {
            return new ProtocolException((int)ErrorCode.Truncated,
                what + " points past the end of the message: the buffer is truncated or corrupt");
        }

        private static bool IsDecodeFailure(Exception e)
        {
            return e is IndexOutOfRangeException || e is ArgumentException || e is OverflowException ||
                   e is InvalidOperationException || e is NullReferenceException;
        }

        private static ProtocolException Garbage(string what, Exception e)
        {
            return new ProtocolException((int)ErrorCode.BadMessage,
                what + " message is malformed (" + e.GetType().Name + ": " + e.Message + ")");
        }

        private static PixelFormat[] ReadFormats(int length, Func<int, PixelFormat> get)
        {
            var formats = new PixelFormat[length];
            for (int i = 0; i < length; i++) formats[i] = get(i);
            return formats;
        }

        private static HelloMessage ReadHello(Hello h)
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

        private static WelcomeMessage ReadWelcome(Welcome w)
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

        private static ErrorMessage ReadError(Error e)
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

        private static PromptMessage ReadPrompt(Prompt p)
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

        private static ParamsMessage ReadParams(Params p)
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

        private static KeyValueData ReadPair(KeyValue kv)
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

        private static GameEventMessage ReadGameEvent(GameEvent g)
        {
            var m = new GameEventMessage { Name = g.Name ?? "", ClientTimeUs = g.ClientTimeUs, FrameId = g.FrameId };
            for (int i = 0; i < g.PayloadLength; i++) m.Payload.Add(ReadPair(g.Payload(i).Value));
            return m;
        }

        private static StateMessage ReadState(State s)
        {
            var m = new StateMessage { ReplaceAll = s.ReplaceAll, ClientTimeUs = s.ClientTimeUs };
            for (int i = 0; i < s.EntriesLength; i++) m.Entries.Add(ReadPair(s.Entries(i).Value));
            return m;
        }

        private static StatsMessage ReadStats(Stats s)
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

        private static NoticeMessage ReadNotice(Notice n)
        {
            return new NoticeMessage
            {
                Kind = n.Kind,
                Message = n.Message ?? "",
                Source = n.Source ?? "",
                Prompt = n.Prompt.HasValue ? ReadPrompt(n.Prompt.Value) : null,
                Params = n.Params.HasValue ? ReadParams(n.Params.Value) : null,
                PreviewUrl = n.PreviewUrl ?? "",
                WantedPlanes = ReadKinds(n.WantedPlanesLength, i => n.WantedPlanes(i)),
            };
        }
    }
}
