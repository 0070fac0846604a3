// Edit-mode tests of the Unity layer's settings -> client options mapping (Unity Test Runner).
// NOT COMPILED OR RUN HERE: there is no Unity editor on the build machines; the engine-free core's tests in
// Tests/Core are the ones run by CI (mono + NUnit 2.6).
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
        public void CurveKeysAreUsedOnlyWhenSet()
        {
            var settings = ScriptableObject.CreateInstance<StreamDiffusionSettings>();
            settings.curveServerKey = new string('a', 40);
            settings.curvePublicKey = new string('b', 40);
            settings.curveSecretKey = new string('c', 40);
            BridgeClientOptions options = settings.ToClientOptions("unity-test");
            Assert.AreEqual(new string('a', 40), options.TransportOptions.CurveServerKey);
            Assert.AreEqual(new string('c', 40), options.TransportOptions.CurveSecretKey);
            Object.DestroyImmediate(settings);
        }
    }
}
