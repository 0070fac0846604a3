// Encodes and decodes Envelope FlatBuffers (schemas/bridge.fbs) over the flatc 2.0.8 generated C# code in
// Runtime/Core/Generated. The canonical construction order of schemas/golden/README.md is followed (strings,
// vectors and sub-tables in field-id order, then the generated CreateX helper, which adds fields by size,
// largest first, ties in descending id), so output is byte-identical to flatc -b and the Python codec.
// One builder and one read buffer are reused: encoding a frame header and decoding a result allocate nothing.
// The FlatBuffers 2.0.8 C# runtime has no verifier, so decode bounds-checks the envelope itself and turns
// any runtime exception on garbage into a ProtocolException.
// This class holds the public API, the builder and the read buffer; the body builders are in MessageWriters.cs,
// the bounds checks and decode errors in EnvelopeBounds.cs, the body readers in MessageReaders.cs; the Params
// body's writer and reader are generated from the schema (Generated/ParamsFields.g.cs).
// Compiled and tested here with mono's mcs (C# 7.2).
using System;
// Unity gets the runtime as NuGet's Google.FlatBuffers (namespace Google.FlatBuffers), defined by the core asmdef's
// versionDefines; the tests here build Debian's 2.0.8 runtime (namespace FlatBuffers). See schemas/codegen.py.
#if SDBRIDGE_FLATBUFFERS_NUGET
using Google.FlatBuffers;
#else
using FlatBuffers;
#endif
using sdbridge.protocol;
using static StreamDiffusion.Bridge.Core.Protocol.EnvelopeBounds;
using static StreamDiffusion.Bridge.Core.Protocol.MessageReaders;
using static StreamDiffusion.Bridge.Core.Protocol.MessageWriters;

namespace StreamDiffusion.Bridge.Core.Protocol
{
    /// <summary>Envelope codec. Not thread-safe; one instance per thread. Encoded segments point into the
    /// codec's builder and stay valid until the next Encode call on the same instance.</summary>
    public sealed class BridgeCodec
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

        /// <summary>Encodes a StyleImage header (part 1); send the pixels as part 2.</summary>
        public ArraySegment<byte> Encode(StyleImageMessage m)
        {
            FlatBufferBuilder b = Begin();
            StringOffset name = Str(b, m.Name);
            Offset<StyleImage> body = StyleImage.CreateStyleImage(b, name, m.Width, m.Height, m.Stride, m.Format,
                m.RowOrder);
            return Finish(Message.StyleImage, body.Value);
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
            try
            {
                ReadResult(new Result().__assign(_bodyPos, _readBuffer), out h);
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
            try
            {
                ReadFrame(new Frame().__assign(_bodyPos, _readBuffer), out h);
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Garbage("Frame", e);
            }
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
                return ReadBody(env, type);
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

        // The bounds checks are EnvelopeBounds'; the read buffer is wrapped once per backing array.
        private Envelope Root(ArraySegment<byte> buffer)
        {
            EnvelopeBounds.CheckSize(buffer);
            byte[] array = buffer.Array;
            if (!ReferenceEquals(array, _readArray))
            {
                _readBuffer = new ByteBuffer(array);
                _readArray = array;
            }
            _readBuffer.Position = buffer.Offset;
            return EnvelopeBounds.Check(_readBuffer, buffer, out _bodyPos);
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

    }
}
