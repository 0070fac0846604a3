// Edit-mode tests of the Unity layer's settings -> client options mapping (Unity Test Runner).
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor): type-checked with mono against the API
// stubs of Tests~/UnityStubs (.ci/steps/unity_stubs.sh); the engine-free core's tests in Tests/Core are the ones
// CI runs (mono + NUnit 2.6).
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Transport;
using UnityEngine;

namespace StreamDiffusion.Bridge.Tests
{
    public class StreamDiffusionSettingsTests
    {
        [Test]
        public void OptionsCarryEndpointTransportAndEngine()
        {
            var settings = ScriptableObject.CreateInstance<StreamDiffusionSettings>();
            settings.endpoint = "tcp://10.0.0.2:6000";
            settings.transport = TransportKind.Native;
            BridgeClientOptions options = settings.ToClientOptions("unity-test");
            Assert.AreEqual("tcp://10.0.0.2:6000", options.Endpoint);
            Assert.AreEqual(TransportKind.Native, options.Transport);
            Assert.AreEqual("Unity", options.EngineName);
            Assert.AreEqual(Application.unityVersion, options.EngineVersion);
            Assert.IsNull(options.TransportOptions.CurveServerKey);
            Object.DestroyImmediate(settings);
        }

        [Test]
        public void CurveKeysComeFromTheCertificateFileNotTheAsset()
        {
            string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sdbridge-unity-test.key_secret");
            System.IO.File.WriteAllText(path, "curve\n    public-key = \"" + new string('b', 40) + "\"\n" +
                                              "    secret-key = \"" + new string('c', 40) + "\"\n");
            var settings = ScriptableObject.CreateInstance<StreamDiffusionSettings>();
            settings.curveServerKey = new string('a', 40);
            settings.curveClientCertificate = path;
            BridgeClientOptions options = settings.ToClientOptions("unity-test");
            Assert.AreEqual(new string('a', 40), options.TransportOptions.CurveServerKey);
            Assert.AreEqual(new string('b', 40), options.TransportOptions.CurvePublicKey);
            Assert.AreEqual(new string('c', 40), options.TransportOptions.CurveSecretKey);
            Assert.IsInstanceOf<UnityBridgeLog>(options.Log);
            Object.DestroyImmediate(settings);
            System.IO.File.Delete(path);
        }
    }
}
