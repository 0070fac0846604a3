// The client against a fake server that answers frames with garbage, a wrong file identifier, a short pixel
// part, an extra part and a truncated message before one good Result
// (unity_package/Tests~/Tools/hostile_server.py): the I/O thread must survive, stay connected, count the bad
// messages and deliver the good result. Both transports.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System.Diagnostics;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Transport;

namespace StreamDiffusion.Bridge.Core.Tests
{
    public abstract class HostileServerTestsBase
    {
        protected abstract TransportKind Kind { get; }

        [Test, Timeout(60000)]
        public void BadMessagesAreCountedAndTheGoodResultArrives()
        {
            TestEnvironment.NeedPythonTools();
            if (Kind == TransportKind.Native) TestEnvironment.NeedNativeZmq();
            using (ChildProcess server = ChildProcess.StartTool("hostile_server.py", ""))
            using (var client = new BridgeClient(new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + server.Port,
                Transport = Kind,
                AutoReconnect = false,
            }))
            {
                client.Connect(15000);
                var px = new byte[8 * 8 * 4];
                ulong id = client.SubmitFrame(px, 0, px.Length, FrameDescription.Rgba8(8, 8, RowOrder.TopDown));
                ResultFrame frame = null;
                var sw = Stopwatch.StartNew();
                bool got = false;
                while (!got && sw.ElapsedMilliseconds < 20000)
                {
                    got = client.WaitForResult(100) && client.TryGetResult(ref frame) && frame.Header.FrameId == id;
                }
                Assert.IsTrue(got, "the good result never arrived; state " + client.State + ", failure " +
                                   client.LastFailure + "; server log:\n" + server.Log);
                Assert.AreEqual(ClientState.Connected, client.State);
                Assert.AreEqual(8 * 8 * 4, frame.Length);
                ClientCounters c = client.Counters;
                Assert.AreEqual(5L, c.MalformedMessages, "random bytes, wrong identifier, short pixels, 3 parts, truncated");
                Assert.AreEqual(1L, c.ResultsReceived);
            }
        }
    }

    [TestFixture]
    public class ManagedHostileServerTests : HostileServerTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Managed; } }
    }

    [TestFixture]
    public class NativeHostileServerTests : HostileServerTestsBase
    {
        protected override TransportKind Kind { get { return TransportKind.Native; } }
    }
}
