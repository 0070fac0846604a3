// UnityEngine types the package does not use but whose names its own public types share: sdbridge.protocol.ColorSpace
// and sdbridge.protocol.Ping (the generated protocol code). A file with both `using UnityEngine;` and
// `using sdbridge.protocol;` that names ColorSpace or Ping unqualified does not compile in Unity (CS0104: ambiguous
// reference), so the stubs declare them too, or the check would pass where Unity fails. Written from the Unity
// 2022.3 LTS / Unity 6 Scripting Reference (UnityEngine.ColorSpace: Uninitialized -1, Gamma 0, Linear 1;
// UnityEngine.Ping: sealed class, Ping(string address)). Type-check stubs only (never shipped, never run).
namespace UnityEngine
{
    public enum ColorSpace
    {
        Uninitialized = -1,
        Gamma = 0,
        Linear = 1,
    }

    public sealed partial class Ping
    {
        public Ping(string address) { throw null; }
    }
}
