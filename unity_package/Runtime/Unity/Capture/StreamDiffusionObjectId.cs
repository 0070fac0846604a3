// StreamDiffusionObjectId: add it to an object to give its renderers (this object's and its children's) an id in the
// segmentation plane of every StreamDiffusionCamera whose `planes` include ObjectIds. Ids 1..255 (0 = no object);
// the server maps them to ADE20K classes through its config's segmentation map. The camera draws each registered
// renderer with the id shader (Hidden/StreamDiffusion/Planes, pass ObjectIdDraw) into a camera-size R8 texture,
// keeping only fragments not behind the camera's depth, and maps it into the capture with the scale policy.
// Built-in and URP (CommandBuffer.DrawRenderer with Unity's per-draw matrices); not offered for HDRP (camera-relative
// rendering). NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented
// API: Component.GetComponentsInChildren, Renderer.sharedMaterials, CommandBuffer.DrawRenderer).
using System.Collections.Generic;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    [DisallowMultipleComponent]
    [AddComponentMenu("StreamDiffusion/StreamDiffusion Object Id")]
    public sealed class StreamDiffusionObjectId : MonoBehaviour
    {
        private static readonly List<StreamDiffusionObjectId> ActiveIds = new List<StreamDiffusionObjectId>();

        [Tooltip("The id of this object's pixels in the segmentation plane (1..255; the server's segmentation map " +
                 "turns it into an ADE20K class).")]
        [Range(1, 255)] public int id = 1;

        private Renderer[] _renderers = new Renderer[0];

        /// <summary>Objects with an id, enabled now (main thread).</summary>
        internal static List<StreamDiffusionObjectId> Active { get { return ActiveIds; } }

        /// <summary>This object's renderers and its children's, found when it was enabled (call Refresh after adding some).</summary>
        internal Renderer[] Renderers { get { return _renderers; } }

        private void OnEnable()
        {
            Refresh();
            if (!ActiveIds.Contains(this)) ActiveIds.Add(this);
        }

        private void OnDisable()
        {
            ActiveIds.Remove(this);
        }

        /// <summary>Finds the renderers again (after renderers were added to or removed from the hierarchy).</summary>
        public void Refresh()
        {
            _renderers = GetComponentsInChildren<Renderer>();
        }
    }
}
