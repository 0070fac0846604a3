// The gameplay API: static calls that send prompts, game events and state to every enabled
// StreamDiffusionCamera, so gameplay code does not need a reference to the camera.
//   StreamDiffusionGameplay.SendEvent("enter_biome", KeyValueData.Of("biome", "forest"));
//   StreamDiffusionGameplay.SetState("time_of_day", "night");
//   StreamDiffusionGameplay.SetPrompt("a snowy forest at dusk");
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor): type-checked with mono against the API
// stubs of unity_package/Tests~/UnityStubs; the calls it makes go to the
// engine-free BridgeClient, which is compiled and tested with mono.
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;

namespace StreamDiffusion.Bridge
{
    internal static class StreamDiffusionRegistry
    {
        private static readonly List<StreamDiffusionCamera> Cameras = new List<StreamDiffusionCamera>();

        public static void Register(StreamDiffusionCamera camera)
        {
            if (!Cameras.Contains(camera)) Cameras.Add(camera);
        }

        public static void Unregister(StreamDiffusionCamera camera)
        {
            Cameras.Remove(camera);
        }

        public static IReadOnlyList<StreamDiffusionCamera> All { get { return Cameras; } }
    }

    /// <summary>Send game events, state and prompts from gameplay code (main thread) to every active
    /// StreamDiffusionCamera. Calls made while a client is connecting are queued and sent on connect.</summary>
    public static class StreamDiffusionGameplay
    {
        public static void SendEvent(string name, params KeyValueData[] payload)
        {
            foreach (StreamDiffusionCamera cam in StreamDiffusionRegistry.All)
            {
                BridgeClient client = cam.Client;
                if (client != null) client.SendGameEvent(name, payload);
            }
        }

        public static void SetState(string key, string value)
        {
            Set(KeyValueData.Of(key, value));
        }

        public static void SetState(string key, long value)
        {
            Set(KeyValueData.Of(key, value));
        }

        public static void SetState(string key, double value)
        {
            Set(KeyValueData.Of(key, value));
        }

        public static void SetState(string key, bool value)
        {
            Set(KeyValueData.Of(key, value));
        }

        public static void SetPrompt(string prompt, string negativePrompt = "")
        {
            foreach (StreamDiffusionCamera cam in StreamDiffusionRegistry.All)
            {
                BridgeClient client = cam.Client;
                if (client != null) client.SetPrompt(prompt, negativePrompt);
            }
        }

        public static void SetParams(ParamsMessage parameters)
        {
            foreach (StreamDiffusionCamera cam in StreamDiffusionRegistry.All)
            {
                BridgeClient client = cam.Client;
                if (client != null) client.SetParams(parameters);
            }
        }

        private static void Set(KeyValueData entry)
        {
            foreach (StreamDiffusionCamera cam in StreamDiffusionRegistry.All)
            {
                BridgeClient client = cam.Client;
                if (client != null) client.SetState(entry);
            }
        }
    }
}
