// Sample "Stylized Camera": drop this component on an empty GameObject in a new scene and press Play.
// It builds the scene in code (so the sample needs no hand-written scene file): a camera with
// StreamDiffusionCamera, a few moving primitives, and a trigger zone that sends a game event and a state
// variable when the player cube enters it. Press 1/2/3 to switch prompts.
// Display: the component draws the stylized frame itself with its scale policy (Fit by default: the server's
// square image keeps its aspect inside the game view, the live frame around it), so the sample adds no
// full-screen RawImage that would stretch a square image over a wide screen.
// Input: with the Input System active (ENABLE_INPUT_SYSTEM, Unity 6's default for new projects) it reads
// Keyboard.current; with only the old Input Manager (ENABLE_LEGACY_INPUT_MANAGER) Input.GetKeyDown, which
// throws under the Input System alone.
// NOT COMPILED OR RUN HERE against the real engine (no Unity editor on the build machines): type-checked with
// mono against the API stubs of unity_package/Tests~/UnityStubs with each input define. Written against Unity
// 2022.3 LTS / Unity 6 documented API and Input System 1.x (Keyboard.current, KeyControl.wasPressedThisFrame);
// start the server first: `sdbridge serve --model tiny --bind tcp://127.0.0.1:5555`.
using StreamDiffusion.Bridge;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEngine;
#if ENABLE_INPUT_SYSTEM
using UnityEngine.InputSystem;
#endif

public sealed class StylizedCameraSample : MonoBehaviour
{
    private static readonly string[] Prompts =
    {
        "a watercolor painting of colorful toy blocks",
        "a neon cyberpunk city at night",
        "an oil painting of a snowy forest",
    };
#if ENABLE_INPUT_SYSTEM
    private static readonly Key[] PromptKeys = { Key.Digit1, Key.Digit2, Key.Digit3 };
#endif

    private StreamDiffusionCamera _stylizer;
    private Transform _player;
    private Transform[] _spinners;

    private void Start()
    {
        var camGo = new GameObject("Stylized Camera");
        Camera cam = camGo.AddComponent<Camera>();
        cam.transform.position = new Vector3(0, 3, -8);
        cam.transform.LookAt(Vector3.zero);
        camGo.tag = "MainCamera";
        _stylizer = camGo.AddComponent<StreamDiffusionCamera>();
        _stylizer.scalePolicy = ScalePolicy.Fit; // the default, spelled out: the square result keeps its aspect
        _stylizer.showOnScreen = true;           // the component's full-screen composite shows it (any pipeline)
        _stylizer.showStatusOverlay = true;      // one status line: connection, results/s, round trip, last error

        GameObject.CreatePrimitive(PrimitiveType.Plane).transform.localScale = new Vector3(2, 1, 2);
        _spinners = new Transform[3];
        for (int i = 0; i < _spinners.Length; i++)
        {
            GameObject s = GameObject.CreatePrimitive(i == 0 ? PrimitiveType.Sphere : i == 1 ? PrimitiveType.Cylinder : PrimitiveType.Capsule);
            s.transform.position = new Vector3(-3 + 3 * i, 1, 2);
            _spinners[i] = s.transform;
        }
        _player = GameObject.CreatePrimitive(PrimitiveType.Cube).transform;
        _player.position = new Vector3(-4, 0.5f, -2);
        Rigidbody body = _player.gameObject.AddComponent<Rigidbody>();
        body.isKinematic = true;

        GameObject zone = new GameObject("Forest Zone");
        zone.transform.position = new Vector3(3, 0.5f, -2);
        BoxCollider trigger = zone.AddComponent<BoxCollider>();
        trigger.isTrigger = true;
        trigger.size = new Vector3(2, 2, 2);
        zone.AddComponent<ZoneTrigger>().zoneName = "forest";
    }

    private void Update()
    {
        float t = Time.time;
        for (int i = 0; i < _spinners.Length; i++) _spinners[i].Rotate(0, 90 * Time.deltaTime * (i + 1), 0);
        _player.position = new Vector3(Mathf.Sin(t * 0.5f) * 4, 0.5f, -2);
        for (int i = 0; i < Prompts.Length; i++)
        {
            if (PromptKeyPressed(i)) StreamDiffusionGameplay.SetPrompt(Prompts[i]);
        }
    }

    /// <summary>Key 1, 2 or 3 went down this frame, through whichever input backend the project uses.</summary>
    private static bool PromptKeyPressed(int index)
    {
#if ENABLE_INPUT_SYSTEM
        Keyboard keyboard = Keyboard.current;
        return keyboard != null && keyboard[PromptKeys[index]].wasPressedThisFrame;
#elif ENABLE_LEGACY_INPUT_MANAGER
        return Input.GetKeyDown(KeyCode.Alpha1 + index);
#else
        return false;
#endif
    }
}
