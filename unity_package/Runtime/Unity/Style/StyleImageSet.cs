// The style images of one StreamDiffusionCamera (protocol 1.4, servers with an IP-Adapter): sends a texture's pixels
// as a named StyleImage (StyleTextureReader: RGBA8, bottom-up) and keeps the whole style_blend selection, since a
// Params.style_blend replaces the session's selection: every change sends all the weights set so far. The client
// keeps the images and the params and re-sends them after a reconnect (BridgeClient.SendStyleImage).
// StyleTexture is the serialized entry of the component's list, sent once the first session that grants
// Capability.StyleImages is open.
// NOT COMPILED OR RUN HERE against a real engine: type-checked with mcs against stubs of the documented Unity
// 2022.3 LTS / Unity 6 API (unity_package/Tests~/UnityStubs).
using System;
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    /// <summary>A named style reference image with its weight in Params.style_blend.</summary>
    [Serializable]
    public sealed class StyleTexture
    {
        [Tooltip("The style's name (what Params.style_blend refers to).")]
        public string name = "style";

        [Tooltip("A Texture2D (Read/Write on reads it on the CPU) or a RenderTexture.")]
        public Texture texture;

        [Tooltip("The style's weight in Params.style_blend; 0 keeps the image but turns it off.")]
        [Range(StreamParams.StyleBlend.Minimum, StreamParams.StyleBlend.Maximum)] public float weight = 1f;
    }

    /// <summary>Style images and the style_blend selection of one component (see the file header).</summary>
    internal sealed class StyleImageSet
    {
        private readonly Func<BridgeClient> _client;
        private readonly UnityEngine.Object _context;
        private readonly List<AdapterWeightData> _weights = new List<AdapterWeightData>();

        /// <param name="client">The component's current client (null once disabled: late readbacks are dropped).</param>
        public StyleImageSet(Func<BridgeClient> client, UnityEngine.Object context)
        {
            _client = client;
            _context = context;
        }

        /// <summary>True once the serialized list went out (the client re-sends it after reconnects).</summary>
        public bool ListSent { get; private set; }

        /// <summary>Reads <paramref name="texture"/> (asynchronously unless it is a readable Texture2D), then sends
        /// it as style <paramref name="name"/> and sets its weight. Argument errors throw now; a failed readback or a
        /// server without style images is logged as a warning when the pixels arrive.</summary>
        public void Send(string name, Texture texture, float weight)
        {
            CheckWeight(name, weight);
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("style name is empty; name the style (Params.style_blend refers to it)", "name");
            if (texture == null)
                throw new ArgumentNullException("texture", "style '" + name + "' has no texture; pass a Texture2D or RenderTexture");
            StyleTextureReader.ReadAsync(texture, pixels => OnPixels(name, pixels, weight), Warn);
        }

        /// <summary>Sends the serialized list once a session that accepts style images is open.</summary>
        public void SendList(List<StyleTexture> styles)
        {
            BridgeClient client = _client();
            if (ListSent || styles == null || styles.Count == 0 || client == null || !Accepts(client)) return;
            ListSent = true;
            foreach (StyleTexture s in styles)
            {
                if (s == null || s.texture == null || string.IsNullOrEmpty(s.name)) continue;
                try
                {
                    Send(s.name, s.texture, s.weight);
                }
                catch (ArgumentException e)
                {
                    Warn("style list entry '" + s.name + "': " + e.Message);
                }
            }
        }

        /// <summary>Sets one style's weight, keeping the others, and sends the whole selection.</summary>
        public void SetWeight(string name, float weight)
        {
            CheckWeight(name, weight);
            int i = _weights.FindIndex(w => w.Name == name);
            if (i >= 0) _weights[i] = new AdapterWeightData(name, weight);
            else _weights.Add(new AdapterWeightData(name, weight));
            SendSelection();
        }

        /// <summary>Replaces the whole selection (styles not named get no weight) and sends it.</summary>
        public void SetSelection(IEnumerable<AdapterWeightData> weights)
        {
            if (weights == null) throw new ArgumentNullException("weights", "pass the (name, weight) pairs of the selection");
            var selection = new List<AdapterWeightData>(weights);
            foreach (AdapterWeightData w in selection) CheckWeight(w.Name, w.Weight);
            _weights.Clear();
            _weights.AddRange(selection);
            SendSelection();
        }

        private void OnPixels(string name, StylePixels pixels, float weight)
        {
            BridgeClient client = _client();
            if (client == null) return; // the component was disabled while the readback was in flight
            try
            {
                client.SendStyleImage(name, pixels.Rgba, 0, pixels.Width, pixels.Height, pixels.Width * 4,
                                      sdbridge.protocol.PixelFormat.RGBA8, sdbridge.protocol.RowOrder.BottomUp);
                SetWeight(name, weight);
            }
            catch (Exception e) // InvalidOperationException: the session lacks Capability.StyleImages
            {
                Warn("style '" + name + "' was not sent: " + e.Message);
            }
        }

        private void SendSelection()
        {
            BridgeClient client = _client();
            if (client != null) client.SetParams(new ParamsMessage { StyleBlend = new List<AdapterWeightData>(_weights) });
        }

        private static bool Accepts(BridgeClient client)
        {
            WelcomeMessage welcome = client.Welcome;
            return welcome != null && (welcome.Capabilities & (uint)sdbridge.protocol.Capability.StyleImages) != 0;
        }

        private static void CheckWeight(string name, float weight)
        {
            if (!StreamParams.StyleBlend.InRange(weight))
            {
                throw new ArgumentOutOfRangeException("weight", StreamParams.StyleBlend.FieldPath + " weight of style '" + name +
                    "' is " + weight + "; it must be in " + StreamParams.StyleBlend.RangeText + " (0 turns the style off)");
            }
        }

        private void Warn(string message)
        {
            Debug.LogWarning("StreamDiffusionCamera: " + message, _context);
        }
    }
}
