// Inspector of StreamDiffusionCamera: the component's fields, then the live connection status of its client
// (state, endpoint, session, results per second, round-trip latency, failed attempts, the last error with its
// fix) from BridgeClient.Status, a thread-safe snapshot that never waits on the network.
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs (.ci/steps/unity_stubs.sh). Written against
// Unity 2022.3 LTS / Unity 6 documented API (CustomEditor, Editor.OnInspectorGUI, RequiresConstantRepaint).
using StreamDiffusion.Bridge.Core.Client;
using StreamDiffusion.Bridge.Core.Diagnostics;
using UnityEditor;
using UnityEngine;

namespace StreamDiffusion.Bridge.Editor
{
    [CustomEditor(typeof(StreamDiffusionCamera))]
    internal sealed class StreamDiffusionCameraEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Connection", EditorStyles.boldLabel);
            var component = (StreamDiffusionCamera)target;
            BridgeClient client = component.Client;
            if (client == null)
            {
                EditorGUILayout.HelpBox(Application.isPlaying
                    ? "Not streaming (the component is disabled)."
                    : "Enter Play mode to stream (Window > StreamDiffusion > Preview works in edit mode).",
                    MessageType.None);
                return;
            }
            DrawStatus(client.Status, client.Counters);
        }

        /// <summary>The status block, shared with the preview window.</summary>
        internal static void DrawStatus(ConnectionStatus status, ClientCounters counters)
        {
            EditorGUILayout.LabelField("State", status.State.ToString());
            EditorGUILayout.LabelField("Endpoint", status.Endpoint ?? "");
            if (status.State == ClientState.Connected)
            {
                EditorGUILayout.LabelField("Session", status.SessionId.ToString());
                EditorGUILayout.LabelField("Results / s", status.ResultsPerSecond.ToString("0.0"));
                EditorGUILayout.LabelField("Round trip", status.AverageRoundTripMs < 0
                    ? "no result yet"
                    : status.AverageRoundTripMs.ToString("0.0") + " ms (last " + status.LastRoundTripMs.ToString("0.0") + " ms)");
                EditorGUILayout.LabelField("Frames sent / replaced", counters.FramesSent + " / " + counters.FramesReplaced);
            }
            if (status.FailedAttempts > 0)
            {
                EditorGUILayout.LabelField("Failed attempts", status.FailedAttempts.ToString());
            }
            if (!string.IsNullOrEmpty(status.LastError))
            {
                EditorGUILayout.HelpBox(status.LastError, status.State == ClientState.Failed ? MessageType.Error : MessageType.Warning);
            }
        }

        public override bool RequiresConstantRepaint()
        {
            return Application.isPlaying;
        }
    }
}
