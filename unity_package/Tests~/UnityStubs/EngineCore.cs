// UnityEngine core types used by the package (Unity 2022.3 LTS / Unity 6 Scripting API signatures).
// Type-check stubs only (never shipped, never run): every body throws.
#pragma warning disable 0660, 0661, 0067
using System;

namespace UnityEngine
{
    public partial class Object
    {
        public string name { get { throw null; } set { } }
        public static void Destroy(Object obj) { throw null; }
        public static void DestroyImmediate(Object obj) { throw null; }
        public static implicit operator bool(Object exists) { throw null; }
        public static bool operator ==(Object x, Object y) { throw null; }
        public static bool operator !=(Object x, Object y) { throw null; }
    }

    public partial class Component : Object
    {
        public GameObject gameObject { get { throw null; } }
        public Transform transform { get { throw null; } }
        public T GetComponent<T>() { throw null; }
    }

    public partial class Behaviour : Component
    {
        public bool enabled { get { throw null; } set { } }
    }

    public partial class MonoBehaviour : Behaviour
    {
    }

    public partial class ScriptableObject : Object
    {
        public static T CreateInstance<T>() where T : ScriptableObject { throw null; }
    }

    public sealed partial class GameObject : Object
    {
        public GameObject(string name) { throw null; }
        public Transform transform { get { throw null; } }
        public string tag { get { throw null; } set { } }
        public T AddComponent<T>() where T : Component { throw null; }
        public T GetComponent<T>() { throw null; }
        public static GameObject CreatePrimitive(PrimitiveType type) { throw null; }
    }

    public enum PrimitiveType
    {
        Sphere = 0,
        Capsule = 1,
        Cylinder = 2,
        Cube = 3,
        Plane = 4,
        Quad = 5,
    }

    public partial class Transform : Component
    {
        public Vector3 position { get { throw null; } set { } }
        public Vector3 localScale { get { throw null; } set { } }
        public void LookAt(Vector3 worldPosition) { throw null; }
        public void Rotate(float xAngle, float yAngle, float zAngle) { throw null; }
    }

    public partial class Collider : Component
    {
        public bool isTrigger { get { throw null; } set { } }
    }

    public partial class BoxCollider : Collider
    {
        public Vector3 size { get { throw null; } set { } }
    }

    public partial class Rigidbody : Component
    {
        public bool isKinematic { get { throw null; } set { } }
    }

    public partial struct Vector3
    {
        public float x;
        public float y;
        public float z;
        public Vector3(float x, float y, float z) { throw null; }
        public static Vector3 zero { get { throw null; } }
    }

    public partial struct Rect
    {
        public Rect(float x, float y, float width, float height) { throw null; }
        public float width { get { throw null; } set { } }
        public float height { get { throw null; } set { } }
    }

    public partial class Debug
    {
        public static void Log(object message) { throw null; }
        public static void Log(object message, Object context) { throw null; }
        public static void LogWarning(object message) { throw null; }
        public static void LogWarning(object message, Object context) { throw null; }
        public static void LogError(object message) { throw null; }
        public static void LogError(object message, Object context) { throw null; }
    }

    public partial class Application
    {
        public static string unityVersion { get { throw null; } }
        public static string productName { get { throw null; } }
        public static bool isPlaying { get { throw null; } }
        public static event Action quitting;
        public static void OpenURL(string url) { throw null; }
    }

    public sealed partial class Resources
    {
        public static T Load<T>(string path) where T : Object { throw null; }
    }

    public partial class Time
    {
        public static float time { get { throw null; } }
        public static float deltaTime { get { throw null; } }
        public static float unscaledTime { get { throw null; } }
    }

    public partial struct Mathf
    {
        public static int Max(int a, int b) { throw null; }
        public static float Max(float a, float b) { throw null; }
        public static int Min(int a, int b) { throw null; }
        public static float Min(float a, float b) { throw null; }
        public static float Sin(float f) { throw null; }
        public static float Clamp01(float value) { throw null; }
    }

    public partial class SystemInfo
    {
        public static bool supportsAsyncGPUReadback { get { throw null; } }
    }

    public enum KeyCode
    {
        Alpha0 = 48,
        Alpha1 = 49,
        Alpha2 = 50,
        Alpha3 = 51,
    }

    public partial class Input
    {
        public static bool GetKeyDown(KeyCode key) { throw null; }
    }

    // ---- attributes ----
    [AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
    public partial class TooltipAttribute : Attribute
    {
        public TooltipAttribute(string tooltip) { throw null; }
    }

    [AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
    public partial class TextAreaAttribute : Attribute
    {
        public TextAreaAttribute(int minLines, int maxLines) { throw null; }
    }

    [AttributeUsage(AttributeTargets.Field, AllowMultiple = true)]
    public partial class HeaderAttribute : Attribute
    {
        public HeaderAttribute(string header) { throw null; }
    }

    [AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
    public partial class RangeAttribute : Attribute
    {
        public RangeAttribute(float min, float max) { throw null; }
    }

    [AttributeUsage(AttributeTargets.Field, AllowMultiple = false)]
    public sealed partial class SerializeField : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
    public sealed partial class RequireComponent : Attribute
    {
        public RequireComponent(Type requiredComponent) { throw null; }
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
    public sealed partial class DisallowMultipleComponent : Attribute
    {
    }

    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
    public sealed partial class AddComponentMenu : Attribute
    {
        public AddComponentMenu(string menuName) { throw null; }
    }
}
