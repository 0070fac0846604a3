// When a StreamDiffusionCamera's view stops continuing the previous frame (a scene cut): a scene was loaded
// (SceneManager.sceneLoaded), the camera moved further than a distance or turned more than an angle in one frame
// (a teleport or a cut between shots), or the game said so (StreamDiffusionCamera.SignalSceneCut). The server resets
// a session's temporal state (feedback, cached attention, motion warping) on a scene cut.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API:
// SceneManager.sceneLoaded, Vector3.Distance, Vector3.Angle, Transform.forward).
using System;
using UnityEngine;
using UnityEngine.SceneManagement;

namespace StreamDiffusion.Bridge
{
    /// <summary>Scene-cut detection for one camera: Pending until the next frame is sent (Consume).</summary>
    internal sealed class SceneCutDetector : IDisposable
    {
        private readonly Transform _camera;
        private Vector3 _lastPosition;
        private Vector3 _lastForward;
        private bool _hasLast;

        public SceneCutDetector(Transform camera)
        {
            _camera = camera;
            SceneManager.sceneLoaded += OnSceneLoaded;
        }

        /// <summary>A cut happened since the last frame was sent.</summary>
        public bool Pending { get; private set; }

        /// <summary>Scene loads count as cuts.</summary>
        public bool OnSceneLoad = true;

        /// <summary>Raised (main thread) when a cut is detected or signalled.</summary>
        public event Action Cut;

        public void Signal()
        {
            Pending = true;
            Action handler = Cut;
            if (handler != null) handler();
        }

        /// <summary>Once per frame: a move further than <paramref name="distance"/> world units or a turn of more than
        /// <paramref name="angle"/> degrees since the last frame is a cut (0 turns that test off).</summary>
        public void Track(float distance, float angle)
        {
            Vector3 position = _camera.position, forward = _camera.forward;
            if (_hasLast && ((distance > 0f && Vector3.Distance(position, _lastPosition) > distance) ||
                             (angle > 0f && Vector3.Angle(forward, _lastForward) > angle)))
            {
                Signal();
            }
            _lastPosition = position;
            _lastForward = forward;
            _hasLast = true;
        }

        /// <summary>True once per cut: the frame being captured is the first after it.</summary>
        public bool Consume()
        {
            bool cut = Pending;
            Pending = false;
            return cut;
        }

        /// <summary>A capture that took the cut was never rendered: the next one carries it.</summary>
        public void Restore(bool cut)
        {
            if (cut) Pending = true;
        }

        private void OnSceneLoaded(Scene scene, LoadSceneMode mode)
        {
            if (OnSceneLoad) Signal();
        }

        public void Dispose()
        {
            SceneManager.sceneLoaded -= OnSceneLoaded;
        }
    }
}
