// Input System 1.x types used by the sample (com.unity.inputsystem; UnityEngine.InputSystem namespace).
// Type-check stubs only (never shipped, never run): every body throws.
using UnityEngine.InputSystem.Controls;

namespace UnityEngine.InputSystem
{
    public enum Key
    {
        None = 0,
        Digit1 = 41,
        Digit2 = 42,
        Digit3 = 43,
    }

    public partial class Keyboard
    {
        public static Keyboard current { get { throw null; } }
        public KeyControl this[Key key] { get { throw null; } }
    }
}

namespace UnityEngine.InputSystem.Controls
{
    public partial class ButtonControl
    {
        public bool wasPressedThisFrame { get { throw null; } }
    }

    public partial class KeyControl : ButtonControl
    {
    }
}
