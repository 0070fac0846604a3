// Rendering members of engine types that the general stubs of this folder also declare (all partial).
// Written from Unity's documented signatures (Unity 2022.3 LTS and Unity 6 Scripting Reference).
using UnityEngine.Rendering;

namespace UnityEngine
{
    public partial class Camera
    {
        public int pixelWidth { get { throw null; } }
        public int pixelHeight { get { throw null; } }
        public Matrix4x4 projectionMatrix { get { throw null; } set { } }
        public Matrix4x4 worldToCameraMatrix { get { throw null; } set { } }
        public DepthTextureMode depthTextureMode { get { throw null; } set { } }
        public void AddCommandBuffer(CameraEvent evt, CommandBuffer buffer) { throw null; }
        public void RemoveCommandBuffer(CameraEvent evt, CommandBuffer buffer) { throw null; }
    }

    public partial class SystemInfo
    {
        public static GraphicsDeviceType graphicsDeviceType { get { throw null; } }
        public static bool graphicsUVStartsAtTop { get { throw null; } }
    }

    public partial class GameObject
    {
        public void SetActive(bool value) { throw null; }
    }

    public partial class Time
    {
        public static int frameCount { get { throw null; } }
    }
}
