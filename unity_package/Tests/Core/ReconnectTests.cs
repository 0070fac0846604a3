// Reconnect tries with backoff and jitter (Client/ReconnectBackoff.cs, the Python client's client_retry.Backoff): the
// delays on their own; full replicas then a free one, and a draining replica's ServerShutdown notice, with the prompt,
// params and state replayed (Tests~/Tools/busy_replica.py plays the replicas behind a balancer); the window that
// bounds the tries; a refusal that is not about capacity, not retried; and the real Python server with --max-sessions 1
// (full while another client holds it, then free).
// Compiled and run here with mono + NUnit 2.6.
using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using NUnit.Framework;
using sdbridge.protocol;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class ReconnectTests
    {
        [Test]
        public void BackoffIsExponentialCappedAndJittered()
        {
            var backoff = new ReconnectBackoff(50, 1000, new Random(3));
            int[] ceilings = { 50, 100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000 };
            var drawn = new HashSet<int>();
            long sum = 0;
            foreach (int ceiling in ceilings)
            {
                Assert.AreEqual(ceiling, backoff.CeilingMs);
                int d = backoff.NextDelayMs();
                Assert.That(d, Is.InRange(0, ceiling));
                drawn.Add(d);
                sum += d;
            }
            Assert.GreaterOrEqual(drawn.Count, 8, "drawn, not fixed");
            Assert.Less(sum, 7550L, "full jitter draws below the ceilings");
            Assert.AreEqual(10, backoff.Tries);
            backoff.Reset();
            Assert.AreEqual(50, backoff.CeilingMs);
            Assert.That(backoff.NextDelayMs(), Is.InRange(0, 50));
            // The defaults are the Python client's Backoff(base_s=0.05, cap_s=1.0).
            var defaults = new BridgeClientOptions();
            Assert.AreEqual(50, defaults.ReconnectDelayMs);
            Assert.AreEqual(1000, defaults.ReconnectMaxDelayMs);
        }

        [Test]
        public void OnlyNoAnswerAndCapacityRefusalsAreRetriedLikeThePythonClient()
        {
            Assert.IsTrue(ErrorCodeSets.IsCapacityRefusal(ErrorCode.SessionLimit), "set_capacity_refusal");
            Assert.IsTrue(ReconnectTries.Retryable(new ProtocolException((int)ErrorCode.SessionLimit, "full")));
            Assert.IsTrue(ReconnectTries.Retryable(new TransportException("no Welcome")));
            var mismatch = new VersionMismatchException((int)ErrorCode.VersionMismatch, 1, 2, "v");
            Assert.IsFalse(ReconnectTries.Retryable(mismatch));
            foreach (ErrorCode code in Enum.GetValues(typeof(ErrorCode)))
            {
                if (code == ErrorCode.SessionLimit) continue;
                Assert.IsFalse(ErrorCodeSets.IsCapacityRefusal(code), code.ToString());
                Assert.IsFalse(ReconnectTries.Retryable(new ProtocolException((int)code, "refused")), code.ToString());
            }
        }

        [Test, Timeout(60000)]
        public void FullReplicasThenAFreeOneAndADrainingReplicaMovesTheSessionWithItsSettings()
        {
            TestEnvironment.NeedPythonTools();
            using (var replicas = ChildProcess.StartTool("busy_replica.py", "--refuse 2 --drain-after-state"))
            using (var client = new BridgeClient(Options(replicas.Port)))
            {
                client.Connect(20000);  // two full replicas first
                // the tool's lines reach replicas.Log through a reader thread: wait for them, never read once
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("HELLO 3 WELCOMED 1"), 10000), replicas.Log);
                StringAssert.Contains("HELLO 2 REFUSED", replicas.Log);  // printed before HELLO 3
                client.SetPrompt("a castle in the fog");
                client.SetParams(new ParamsMessage { GuidanceScale = 1.5f });
                client.SetState(KeyValueData.Of("biome", "desert"));
                // The State is answered with ServerShutdown: Bye, two full replicas again, then a free one.
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("GOT 2 State biome"), 20000), replicas.Log);
                string log = replicas.Log;
                StringAssert.Contains("BYE 1 reconnect", log);
                StringAssert.Contains("HELLO 5 REFUSED", log);
                StringAssert.Contains("HELLO 6 WELCOMED 2", log);
                StringAssert.Contains("GOT 2 Prompt 'a castle in the fog'", log);
                StringAssert.Contains("GOT 2 Params 1.5", log);
                Assert.AreEqual(ClientState.Connected, client.State);
                Assert.AreEqual(1L, client.Counters.Reconnects);
                Assert.AreEqual(2UL, client.Welcome.SessionId);
            }
        }

        [Test, Timeout(60000)]
        public void TheWindowBoundsTheTriesUntilReconnect()
        {
            TestEnvironment.NeedPythonTools();
            using (var replicas = ChildProcess.StartTool("busy_replica.py", "--refuse-all"))
            {
                BridgeClientOptions options = Options(replicas.Port);
                options.ReconnectWindowMs = 400;
                using (var client = new BridgeClient(options))
                {
                    var e = Assert.Throws<TransportException>(() => client.Connect(20000));
                    StringAssert.Contains("ReconnectWindowMs", e.Message);
                    StringAssert.Contains("SessionLimit", e.Message);
                    Assert.AreEqual(ClientState.Failed, client.State);
                    // The client's own count of its tries; replicas.Log catches up through a reader thread.
                    int tries = client.Status.FailedAttempts;
                    Assert.GreaterOrEqual(tries, 2, "tried again within the window");
                    Assert.IsTrue(Wait.Until(() => Hellos(replicas.Log) >= tries, 10000), replicas.Log);
                    // No try after giving up (Hellos arrived above, so one could have)...
                    Assert.IsFalse(Wait.Until(() => Hellos(replicas.Log) > tries, 700), replicas.Log);
                    // ...until Reconnect().
                    client.Reconnect();
                    Assert.IsTrue(Wait.Until(() => Hellos(replicas.Log) > tries, 10000), replicas.Log);
                }
            }
        }

        // A refused Hello that is not about capacity (set_capacity_refusal in bridge.fbs) is not retried: exactly one
        // Hello, Connect throws the refusal with its wire code, Failed until Reconnect(); the next refusal, for
        // capacity (SessionLimit), is retried without a Reconnect() (so the silence is the classification).
        [Test, Timeout(60000)]
        public void ANonCapacityRefusalIsNotRetriedAndACapacityOneIs()
        {
            TestEnvironment.NeedPythonTools();
            using (var replicas = ChildProcess.StartTool("busy_replica.py", "--refuse-with BAD_PARAM,SESSION_LIMIT"))
            using (var client = new BridgeClient(Options(replicas.Port)))
            {
                var e = Assert.Throws<ProtocolException>(() => client.Connect(20000));
                Assert.AreEqual((int)ErrorCode.BadParam, e.Code, e.Message);
                StringAssert.Contains("Reconnect()", e.Message);
                Assert.AreEqual(ClientState.Failed, client.State);
                Assert.AreSame(e, client.LastFailure);
                // the tool's lines reach replicas.Log through a reader thread: wait for them, never read once
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("HELLO 1 REFUSED BAD_PARAM"), 10000),
                              replicas.Log);
                Assert.IsFalse(Wait.Until(() => Hellos(replicas.Log) > 1, 700), "exactly one Hello:\n" + replicas.Log);
                Assert.AreEqual(ClientState.Failed, client.State);

                client.Reconnect();  // the I/O thread leaves Failed when it takes the request: wait for its Hello
                Assert.IsTrue(Wait.Until(() => Hellos(replicas.Log) > 1, 10000), replicas.Log);
                client.Connect(20000);
                Assert.IsTrue(Wait.Until(() => replicas.Log.Contains("HELLO 3 WELCOMED 1"), 10000), replicas.Log);
                StringAssert.Contains("HELLO 2 REFUSED SESSION_LIMIT", replicas.Log);  // printed before HELLO 3
                Assert.AreEqual(ClientState.Connected, client.State);
            }
        }

        [Test, Timeout(180000)]
        public void RealServerFullThenFreeLetsTheWaitingClientIn()
        {
            TestEnvironment.NeedPythonTools();
            using (var server = new ChildProcess(TestEnvironment.Python,
                       "-m sdbridge.cli serve --model identity --bind tcp://127.0.0.1:0 --max-sessions 1", 120000))
            {
                var holder = new BridgeClient(Options(server.Port));
                holder.Connect(30000);
                using (var waiting = new BridgeClient(Options(server.Port)))
                {
                    waiting.Start();
                    Assert.IsTrue(Wait.Until(() => waiting.Status.FailedAttempts >= 2, 30000), "refused and tried again");
                    var refusal = waiting.LastFailure as ProtocolException;
                    Assert.IsNotNull(refusal, "the refusal: " + waiting.LastFailure);
                    Assert.AreEqual((int)ErrorCode.SessionLimit, refusal.Code, refusal.Message);
                    Assert.AreNotEqual(ClientState.Connected, waiting.State);
                    holder.Dispose();  // its Bye frees the replica
                    Assert.IsTrue(holder.WaitForShutdown(5000));
                    waiting.Connect(30000);
                    Assert.AreEqual(ClientState.Connected, waiting.State);
                }
            }
        }

        private static BridgeClientOptions Options(int port)
        {
            return new BridgeClientOptions
            {
                Endpoint = "tcp://127.0.0.1:" + port,
                HandshakeTimeoutMs = 2000,
                ClientName = "reconnect-tests",
            };
        }

        private static int Hellos(string log)
        {
            return Regex.Matches(log, @"^HELLO \d+ ", RegexOptions.Multiline).Count;
        }
    }
}
