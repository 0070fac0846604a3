// The C# core does with what a server sends what the Python reference client (and the C++ one) does; each test names
// the behaviour and the other clients' counterpart. The scripted servers are small Python peers written here (on
// Tests~/Tools/zmq_router_peer.py's ROUTER loop and sdbridge's codec).
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.IO;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class ClientParityTests
    {
        // A server of the next protocol minor whose Welcome carries no warning text.
        private const string NewerMinorServer = @"
import sys
sys.path.insert(0, sys.argv[1])
from zmq_router_peer import decoded, serve
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m

def on_message(sock, ident, msg, pixels):
    if isinstance(msg, m.Hello):
        welcome = m.Welcome(session_id=3, protocol_major=msg.protocol_major, protocol_minor=msg.protocol_minor + 1,
                            server_version='newer-minor', initial_credits=1, max_width=64, max_height=64,
                            max_message_bytes=1 << 20, heartbeat_interval_ms=1000,
                            pixel_formats=(m.PixelFormat.RGBA8,))
        sock.send_multipart([ident, codec.encode(welcome)])
    return True

sys.exit(serve(decoded(on_message), lifetime=60.0))
";

        // A server that asks for a heartbeat every 100 ms and answers each Ping with a Pong carrying a fixed server time.
        private const string PongServer = @"
import sys
sys.path.insert(0, sys.argv[1])
from zmq_router_peer import decoded, serve
from sdbridge.protocol import codec
from sdbridge.protocol import messages as m

def on_message(sock, ident, msg, pixels):
    if isinstance(msg, m.Hello):
        welcome = m.Welcome(session_id=4, protocol_major=msg.protocol_major, protocol_minor=msg.protocol_minor,
                            server_version='pong', initial_credits=1, max_width=64, max_height=64,
                            max_message_bytes=1 << 20, heartbeat_interval_ms=100,
                            capabilities=m.Capability.HEARTBEAT, pixel_formats=(m.PixelFormat.RGBA8,))
        sock.send_multipart([ident, codec.encode(welcome)])
    elif isinstance(msg, m.Ping):
        pong = m.Pong(nonce=msg.nonce, client_time_us=msg.client_time_us, server_time_us=1700000000000123)
        sock.send_multipart([ident, codec.encode(pong)])
    return True

sys.exit(serve(decoded(on_message), lifetime=60.0))
";

        // The server's answer to a heartbeat Ping is a Pong event carrying the Pong (its nonce, the Ping's client time,
        // the server's time) and the round trip in its text; before, ClientEventKind.Pong was never raised.
        [Test, Timeout(60000)]
        public void AHeartbeatPongIsRaisedAsAPongEventWithItsTimes()
        {
            TestEnvironment.NeedPythonTools();
            string script = Path.Combine(Path.GetTempPath(), "sdbridge_pong_" + Guid.NewGuid().ToString("N") + ".py");
            File.WriteAllText(script, PongServer);
            try
            {
                using (var server = new ChildProcess(TestEnvironment.Python,
                           "-u \"" + script + "\" \"" + TestEnvironment.ToolsDir + "\"", 20000))
                using (var client = new BridgeClient(Options(server.Port)))
                {
                    client.Connect(20000);
                    ClientEvent pong = NextOfKind(client, ClientEventKind.Pong, 10000);
                    Assert.IsNotNull(pong, "no Pong event while the client sent heartbeats to a server answering them");
                    Assert.IsNotNull(pong.Pong, "the Pong event carries no PongMessage");
                    Assert.AreEqual(1700000000000123UL, pong.Pong.ServerTimeUs);
                    Assert.Greater(pong.Pong.ClientTimeUs, 0UL, "the Ping's client time did not come back");
                    StringAssert.Contains("round trip", pong.Message);
                    Assert.AreEqual(ClientState.Connected, client.State);
                }
            }
            finally
            {
                File.Delete(script);
            }
        }

        // A Welcome of another protocol minor is accepted with a Warning event naming both versions, also when the
        // server's Welcome.Warning is empty (the Python client's check_welcome and the C++ WelcomeWarning say so too).
        [Test, Timeout(60000)]
        public void AWelcomeOfAnotherMinorWarnsEvenWithoutTheServersText()
        {
            TestEnvironment.NeedPythonTools();
            string script = Path.Combine(Path.GetTempPath(), "sdbridge_newer_minor_" + Guid.NewGuid().ToString("N") + ".py");
            File.WriteAllText(script, NewerMinorServer);
            try
            {
                using (var server = new ChildProcess(TestEnvironment.Python,
                           "-u \"" + script + "\" \"" + TestEnvironment.ToolsDir + "\"", 20000))
                using (var client = new BridgeClient(Options(server.Port)))
                {
                    WelcomeMessage welcome = client.Connect(20000);
                    Assert.AreEqual(ProtocolVersion.Minor + 1, (int)welcome.ProtocolMinor);
                    Assert.AreEqual("", welcome.Warning);
                    ClientEvent warning = NextOfKind(client, ClientEventKind.Warning);
                    Assert.IsNotNull(warning, "no Warning event for protocol " + ProtocolVersion.Major + "." +
                                              welcome.ProtocolMinor + " against this client's " + ProtocolVersion.Major +
                                              "." + ProtocolVersion.Minor);
                    StringAssert.Contains(ProtocolVersion.Major + "." + welcome.ProtocolMinor, warning.Message);
                    StringAssert.Contains(ProtocolVersion.Major + "." + ProtocolVersion.Minor, warning.Message);
                    Assert.AreEqual(ClientState.Connected, client.State);
                }
            }
            finally
            {
                File.Delete(script);
            }
        }

        [Test]
        public void TheServersWarningIsPassedOnAndTheSameMinorWithoutOneSaysNothing()
        {
            var options = new BridgeClientOptions();
            var same = new WelcomeMessage { ProtocolMajor = ProtocolVersion.Major, ProtocolMinor = ProtocolVersion.Minor };
            Assert.IsNull(ClientHandshake.WelcomeWarning(options, same));
            same.Warning = "model resized to 512x512";
            Assert.AreEqual("model resized to 512x512", ClientHandshake.WelcomeWarning(options, same));
        }

        // Reconnect() on an open session says Bye("reconnect") before the new Hello, as the Python client's reconnect()
        // does: the server frees the old session at once (a replica with room for one session takes the new Hello)
        // instead of holding it until its heartbeat timeout.
        [Test, Timeout(60000)]
        public void ReconnectSaysByeSoTheServerFreesTheOldSession()
        {
            TestEnvironment.NeedPythonTools();
            using (var replicas = ChildProcess.StartTool("busy_replica.py", "--refuse 0"))
            using (var client = new BridgeClient(Options(replicas.Port)))
            {
                client.Connect(20000);
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("HELLO 1 WELCOMED 1"), 10000), replicas.Log);
                client.Reconnect();
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("HELLO 2 WELCOMED 2"), 10000), replicas.Log);
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("BYE 1 reconnect"), 5000),
                              "no Bye for the session left:\n" + replicas.Log);
                Assert.IsTrue(Wait.Until(() => client.State == ClientState.Connected, 10000), client.State.ToString());
                Assert.AreEqual(1L, client.Counters.Reconnects);
            }
        }

        // Seed and SeedBlend set the same noise seed: the replayed params keep only the newer one, as the Python client's
        // SessionReplay.remember_params does (the server applies SeedBlend after Seed, so a replay of both brought back
        // a blend the game had replaced with a seed).
        [Test]
        public void TheReplayedParamsKeepOnlyTheNewerOfSeedAndSeedBlend()
        {
            var blend = new System.Collections.Generic.List<SeedWeightData> { new SeedWeightData { Seed = 1, Weight = 0.5f },
                                                                               new SeedWeightData { Seed = 2, Weight = 0.5f } };
            ParamsMessage replayed = ReplayedParams(new ParamsMessage { SeedBlend = blend, GuidanceScale = 1.2f },
                                                    new ParamsMessage { Seed = 5 });
            Assert.AreEqual(5UL, replayed.Seed);
            Assert.IsNull(replayed.SeedBlend, "the blend the seed replaced came back");
            Assert.AreEqual(1.2f, replayed.GuidanceScale);

            replayed = ReplayedParams(new ParamsMessage { Seed = 5 }, new ParamsMessage { SeedBlend = blend });
            Assert.IsNull(replayed.Seed, "the seed the blend replaced came back");
            Assert.AreEqual(2, replayed.SeedBlend.Count);
        }

        // The Params a reconnect replays after the game sent `first` then `second`.
        private static ParamsMessage ReplayedParams(ParamsMessage first, ParamsMessage second)
        {
            var s = new SessionState(new BridgeClientOptions());
            s.QueueParams(first);
            s.QueueParams(second);
            lock (s.Lock) s.OnSessionOpenedLocked(true);
            object m;
            Assert.IsTrue(s.TryPeekControl(out m));
            return (ParamsMessage)m;
        }

        private static ClientEvent NextOfKind(BridgeClient client, ClientEventKind kind, int timeoutMs = 2000)
        {
            ClientEvent found = null;
            Wait.Until(() =>
            {
                ClientEvent e;
                while (found == null && client.TryDequeueEvent(out e))
                {
                    if (e.Kind == kind) found = e;
                }
                return found != null;
            }, timeoutMs);
            return found;
        }

        private static BridgeClientOptions Options(int port)
        {
            return new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + port,
                HandshakeTimeoutMs = 5000,
                ClientName = "parity-tests",
            };
        }
    }
}
