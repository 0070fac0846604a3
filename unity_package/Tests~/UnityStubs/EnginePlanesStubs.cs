// Members used by the engine planes, the pose source and the scene-cut detection (EnginePlanes.cs, PlaneSender.cs,
// StreamDiffusionPoseSource.cs, SceneCutDetector.cs). Written from Unity's documented signatures (Unity 2022.3 LTS
// and Unity 6 Scripting Reference). Type-check stubs only (never shipped, never run): every body throws.
namespace UnityEngine
{
    public partial class Camera
    {
        public float nearClipPlane { get { throw null; } set { } }
        public float farClipPlane { get { throw null; } set { } }
        public Vector3 WorldToViewportPoint(Vector3 position) { throw null; }
    }

    public partial class SystemInfo
    {
        public static bool usesReversedZBuffer { get { throw null; } }
    }

    public partial class Transform
    {
        public Vector3 forward { get { throw null; } set { } }
        public Vector3 up { get { throw null; } set { } }
        public Vector3 right { get { throw null; } set { } }
    }

    public partial struct Vector3
    {
        public static Vector3 operator +(Vector3 a, Vector3 b) { throw null; }
        public static Vector3 operator -(Vector3 a, Vector3 b) { throw null; }
        public static Vector3 operator *(Vector3 a, float d) { throw null; }
        public static float Distance(Vector3 a, Vector3 b) { throw null; }
        public static float Angle(Vector3 from, Vector3 to) { throw null; }
    }

    public partial class Animator : Behaviour
    {
        public bool isHuman { get { throw null; } }
        public float humanScale { get { throw null; } }
        public Transform GetBoneTransform(HumanBodyBones humanBoneId) { throw null; }
    }

    public enum HumanBodyBones
    {
        Hips = 0,
        LeftUpperLeg = 1,
        RightUpperLeg = 2,
        LeftLowerLeg = 3,
        RightLowerLeg = 4,
        LeftFoot = 5,
        RightFoot = 6,
        Spine = 7,
        Chest = 8,
        Neck = 9,
        Head = 10,
        LeftShoulder = 11,
        RightShoulder = 12,
        LeftUpperArm = 13,
        RightUpperArm = 14,
        LeftLowerArm = 15,
        RightLowerArm = 16,
        LeftHand = 17,
        RightHand = 18,
        LeftToes = 19,
        RightToes = 20,
        LeftEye = 21,
        RightEye = 22,
        Jaw = 23,
    }
}

namespace UnityEngine.Events
{
    public delegate void UnityAction<T0, T1>(T0 arg0, T1 arg1);
}

namespace UnityEngine.SceneManagement
{
    public partial struct Scene
    {
    }

    public enum LoadSceneMode
    {
        Single = 0,
        Additive = 1,
    }

    public partial class SceneManager
    {
        public static event UnityEngine.Events.UnityAction<Scene, LoadSceneMode> sceneLoaded;
    }
}

namespace UnityEngine
{
    public partial struct Color
    {
        public static Color clear { get { throw null; } }
    }

    public partial class Renderer : Component
    {
        public bool enabled { get { throw null; } set { } }
        public Material[] sharedMaterials { get { throw null; } set { } }
    }

    public partial class Component
    {
        public T[] GetComponentsInChildren<T>() { throw null; }
    }
}

namespace UnityEngine.Rendering
{
    public partial struct RenderTargetIdentifier
    {
        public static implicit operator RenderTargetIdentifier(int nameID) { throw null; }
    }

    public partial class CommandBuffer
    {
        public void GetTemporaryRT(int nameID, int width, int height, int depthBuffer, FilterMode filter, RenderTextureFormat format) { throw null; }
        public void ReleaseTemporaryRT(int nameID) { throw null; }
        public void ClearRenderTarget(bool clearDepth, bool clearColor, Color backgroundColor) { throw null; }
        public void DrawRenderer(Renderer renderer, Material material, int submeshIndex, int shaderPass) { throw null; }
    }
}

namespace UnityEngine
{
    public partial struct Mathf
    {
        public static int Clamp(int value, int min, int max) { throw null; }
    }
}
