// Sample "Stylized Camera": drop this component on an empty GameObject in a new scene and press Play.
// It builds the scene in code (so the sample needs no hand-written scene file): a camera with
// StreamDiffusionCamera, a full-screen RawImage showing the stylized output, a few moving primitives, and a
// trigger zone that sends a game event and a state variable when the player cube enters it. Press 1/2/3 to
// switch prompts.
// NOT COMPILED OR RUN HERE: there is no Unity editor on the build machines. Written against Unity 2021.3's
// documented API; start the server first: `sdbridge serve --model tiny --bind tcp://127.0.0.1:5555`.
using StreamDiffusion.Bridge;
using StreamDiffusion.Bridge.Core.Protocol;
using UnityEngine;
using UnityEngine.UI;

public sealed class StylizedCameraSample : MonoBehaviour
{
    private static readonly string[] Prompts =
    {
        "a watercolor painting of colorful toy blocks",
        "a neon cyberpunk city at night",
        "an oil painting of a snowy forest",
    };

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
        _stylizer.blitToScreen = false; // shown by the RawImage below (works in every render pipeline)

        var canvasGo = new GameObject("Output Canvas");
        Canvas canvas = canvasGo.AddComponent<Canvas>();
        canvas.renderMode = RenderMode.ScreenSpaceOverlay;
        var imageGo = new GameObject("Stylized Output");
        imageGo.transform.SetParent(canvasGo.transform, false);
        RawImage image = imageGo.AddComponent<RawImage>();
        RectTransform rect = image.rectTransform;
        rect.anchorMin = Vector2.zero;
        rect.anchorMax = Vector2.one;
        rect.offsetMin = Vector2.zero;
        rect.offsetMax = Vector2.zero;
        imageGo.AddComponent<OutputBinder>().Bind(image, _stylizer);

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
            if (Input.GetKeyDown(KeyCode.Alpha1 + i)) StreamDiffusionGameplay.SetPrompt(Prompts[i]);
        }
    }

    /// <summary>Keeps the RawImage pointed at the camera's output texture (created in OnEnable).</summary>
    private sealed class OutputBinder : MonoBehaviour
    {
        private RawImage _image;
        private StreamDiffusionCamera _source;

        public void Bind(RawImage image, StreamDiffusionCamera source)
        {
            _image = image;
            _source = source;
        }

        private void LateUpdate()
        {
            if (_image != null && _source != null) _image.texture = _source.OutputTexture;
        }
    }
}

/// <summary>Sends "enter_zone"/"leave_zone" game events and a "zone" state variable.</summary>
public sealed class ZoneTrigger : MonoBehaviour
{
    public string zoneName = "forest";

    private void OnTriggerEnter(Collider other)
    {
        StreamDiffusionGameplay.SendEvent("enter_zone", KeyValueData.Of("zone", zoneName));
        StreamDiffusionGameplay.SetState("zone", zoneName);
    }

    private void OnTriggerExit(Collider other)
    {
        StreamDiffusionGameplay.SendEvent("leave_zone", KeyValueData.Of("zone", zoneName));
        StreamDiffusionGameplay.SetState("zone", "none");
    }
}
