// The editor preview window's "Style image" section (protocol 1.4 servers with an IP-Adapter): a texture field, the
// style's name and weight, and a "Set style" button that sends the texture as a named StyleImage and the window's
// whole style_blend selection (Params.style_blend replaces the session's selection, so every name set here is kept).
// The pixels are read with StyleTextureReader.ReadNow: a readable Texture2D on the CPU, anything else by a GPU
// readback the button waits for (edit mode does not tick the player loop that delivers readback callbacks; one
// short stall per click, editor only).
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with mono
// against the API stubs of unity_package/Tests~/UnityStubs (Unity 2022.3 LTS / Unity 6 EditorGUILayout API).
using System;
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEditor;
using UnityEngine;

namespace StreamDiffusion.Bridge.Editor
{
    /// <summary>Texture picker + "Set style" for the preview window's session.</summary>
    internal sealed class StylePreviewSection
    {
        private Texture _texture;
        private string _name = "style";
        private float _weight = 1f;
        private string _status = "";
        private readonly List<AdapterWeightData> _weights = new List<AdapterWeightData>();

        /// <summary>Draws the section; <paramref name="client"/> is the window's client (null: disconnected).</summary>
        public void Draw(BridgeClient client)
        {
            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Style image (servers with an IP-Adapter)", EditorStyles.boldLabel);
            _texture = (Texture)EditorGUILayout.ObjectField("Texture", _texture, typeof(Texture), false);
            _name = EditorGUILayout.TextField("Name", _name);
            _weight = EditorGUILayout.Slider("Weight", _weight, StreamParams.StyleBlend.Minimum, StreamParams.StyleBlend.Maximum);
            using (new EditorGUI.DisabledScope(client == null || _texture == null || string.IsNullOrEmpty(_name)))
            {
                if (GUILayout.Button("Set style")) _status = Send(client);
            }
            if (_status.Length > 0) EditorGUILayout.HelpBox(_status, MessageType.None);
        }

        /// <summary>Forgets the selection (a new connection is a new session).</summary>
        public void Reset()
        {
            _weights.Clear();
            _status = "";
        }

        private string Send(BridgeClient client)
        {
            try
            {
                StylePixels pixels = StyleTextureReader.ReadNow(_texture);
                client.SendStyleImage(_name, pixels.Rgba, 0, pixels.Width, pixels.Height, pixels.Width * 4,
                                      sdbridge.protocol.PixelFormat.RGBA8, sdbridge.protocol.RowOrder.BottomUp);
                int i = _weights.FindIndex(w => w.Name == _name);
                if (i >= 0) _weights[i] = new AdapterWeightData(_name, _weight);
                else _weights.Add(new AdapterWeightData(_name, _weight));
                client.SetParams(new ParamsMessage { StyleBlend = new List<AdapterWeightData>(_weights) });
                return "style '" + _name + "' sent (" + pixels.Width + "x" + pixels.Height + ", weight " + _weight + ")";
            }
            catch (Exception e) // no StyleImages capability, a failed readback, a bad name
            {
                return "style '" + _name + "' not sent: " + e.Message;
            }
        }
    }
}
