// Test helpers: where Python and the helper scripts are, and a child-process wrapper that always dies.
// Tests that need Python (a pyzmq ROUTER or the real sdbridge server) read SDBRIDGE_TEST_PYTHON and
// SDBRIDGE_TEST_TOOLS; without them they are ignored with the reason, unless SDBRIDGE_TEST_REQUIRE=1 (set by
// .ci/steps/csharp.sh), which turns a missing dependency into a failure so CI cannot pass by skipping.
// Compiled and run here with mono + NUnit 2.6; uses only NUnit API that Unity's NUnit 3.5 also has.
using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using NUnit.Framework;

namespace StreamDiffusion.Bridge.Core.Tests
{
    internal static class TestEnvironment
    {
        public static string Python { get { return Environment.GetEnvironmentVariable("SDBRIDGE_TEST_PYTHON"); } }
        public static string ToolsDir { get { return Environment.GetEnvironmentVariable("SDBRIDGE_TEST_TOOLS"); } }
        public static string GoldenDir { get { return Environment.GetEnvironmentVariable("SDBRIDGE_TEST_GOLDEN"); } }
        public static string ServerEndpoint { get { return Environment.GetEnvironmentVariable("SDBRIDGE_TEST_SERVER"); } }
        public static bool Required { get { return Environment.GetEnvironmentVariable("SDBRIDGE_TEST_REQUIRE") == "1"; } }

        /// <summary>Ignores the test (or fails it under SDBRIDGE_TEST_REQUIRE=1) when a dependency is missing.</summary>
        public static void Need(bool available, string what)
        {
            if (available) return;
            if (Required) Assert.Fail("required test dependency missing: " + what);
            Assert.Ignore("skipped: " + what);
        }

        /// <summary>The bytes of schemas/golden/<paramref name="name"/> (SDBRIDGE_TEST_GOLDEN), or the test is ignored
        /// (failed under SDBRIDGE_TEST_REQUIRE=1) naming the missing file.</summary>
        public static byte[] Golden(string name)
        {
            string dir = GoldenDir;
            Need(!string.IsNullOrEmpty(dir) && File.Exists(Path.Combine(dir, name)),
                "SDBRIDGE_TEST_GOLDEN must name schemas/golden with " + name);
            return File.ReadAllBytes(Path.Combine(dir, name));
        }

        public static void NeedPythonTools()
        {
            Need(!string.IsNullOrEmpty(Python) && !string.IsNullOrEmpty(ToolsDir),
                "SDBRIDGE_TEST_PYTHON and SDBRIDGE_TEST_TOOLS must name a python with pyzmq and unity_package/Tests~/Tools");
        }

        public static void NeedNativeZmq()
        {
            string version = null;
            try
            {
                version = Transport.NativeZmqTransport.LibraryVersion();
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }
            Need(version != null, "the native libzmq library (libzmq5) for the native transport");
        }
    }

    /// <summary>A child process that prints "PORT n" when ready; killed on Dispose.</summary>
    internal sealed class ChildProcess : IDisposable
    {
        private readonly Process _process;
        private readonly ManualResetEvent _ready = new ManualResetEvent(false);
        private readonly object _lock = new object();
        private readonly System.Text.StringBuilder _log = new System.Text.StringBuilder();

        public int Port { get; private set; }

        public ChildProcess(string fileName, string arguments, int readyTimeoutMs)
        {
            var info = new ProcessStartInfo(fileName, arguments)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
            };
            _process = new Process { StartInfo = info };
            _process.OutputDataReceived += OnLine;
            _process.ErrorDataReceived += OnLine;
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            if (!_ready.WaitOne(readyTimeoutMs))
            {
                string log = Log;
                Dispose();
                Assert.Fail("'" + fileName + " " + arguments + "' did not print PORT within " + readyTimeoutMs +
                            " ms; its output:\n" + log);
            }
        }

        public string Log
        {
            get
            {
                lock (_lock) return _log.ToString();
            }
        }

        public bool HasExited { get { return _process.HasExited; } }

        private void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data == null) return;
            lock (_lock) _log.AppendLine(e.Data);
            // Ready markers: "PORT <n>" (zmq_router_peer.py) or "sdbridge serving <model> on tcp://host:<n>".
            string portText = null;
            if (e.Data.StartsWith("PORT ", StringComparison.Ordinal)) portText = e.Data.Substring(5).Trim();
            else if (e.Data.StartsWith("sdbridge serving ", StringComparison.Ordinal))
                portText = e.Data.Substring(e.Data.LastIndexOf(':') + 1).Trim();
            int port;
            if (portText != null && Port == 0 && int.TryParse(portText, out port))
            {
                Port = port;
                _ready.Set();
            }
        }

        /// <summary>Kills the process now (SIGKILL): used to simulate a crashed server.</summary>
        public void Kill()
        {
            try
            {
                if (!_process.HasExited) _process.Kill();
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    try
                    {
                        _process.StandardInput.Close();
                    }
                    catch (IOException)
                    {
                    }
                    if (!_process.WaitForExit(2000)) _process.Kill();
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }

        /// <summary>Starts `python -m sdbridge.cli serve --model <paramref name="model"/>` on the given port
        /// (0 = a free one) and waits for its "sdbridge serving ... on tcp://..." line.</summary>
        public static ChildProcess StartServer(string model, int port)
        {
            return new ChildProcess(TestEnvironment.Python,
                "-m sdbridge.cli serve --model " + model + " --bind tcp://127.0.0.1:" + port, 120000);
        }

        /// <summary>Starts unity_package/Tests~/Tools/<paramref name="script"/> with the test python.</summary>
        public static ChildProcess StartTool(string script, string extraArgs)
        {
            string path = Path.Combine(TestEnvironment.ToolsDir, script);
            return new ChildProcess(TestEnvironment.Python, "-u \"" + path + "\" " + extraArgs, 20000);
        }
    }

    /// <summary>Polling helper: retries a condition until a deadline (no timed assertions on speed).</summary>
    internal static class Wait
    {
        public static bool Until(Func<bool> condition, int timeoutMs)
        {
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < timeoutMs)
            {
                if (condition()) return true;
                Thread.Sleep(5);
            }
            return condition();
        }
    }
}
