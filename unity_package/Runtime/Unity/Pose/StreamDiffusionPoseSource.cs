// StreamDiffusionPoseSource: add it to a Humanoid character (an Animator with a Humanoid avatar) to send its pose as
// an OpenPose control image with the frames of every StreamDiffusionCamera whose `planes` include Pose: the camera
// projects the bones below into its capture and the core's OpenPoseRenderer draws the picture the public OpenPose
// ControlNets were trained on, so no pose estimator runs (sdbridge.pipeline.openpose documents the convention).
//
// Mapping (COCO-18 keypoint <- Unity HumanBodyBones; "right" is the character's right):
//   nose            Head, moved 0.10 forward and 0.06 up (x humanScale, the avatar root's axes); between the eyes
//                   and 0.03 forward, 0.03 down instead when the rig has both eye bones
//   neck            midpoint of LeftUpperArm and RightUpperArm (OpenPose's neck is the shoulders' midpoint)
//   r/l shoulder    RightUpperArm / LeftUpperArm     r/l elbow   RightLowerArm / LeftLowerArm
//   r/l wrist       RightHand / LeftHand             r/l hip     RightUpperLeg / LeftUpperLeg
//   r/l knee        RightLowerLeg / LeftLowerLeg     r/l ankle   RightFoot / LeftFoot
//   r/l eye         RightEye / LeftEye (optional bones); without them Head + 0.03 right/left, 0.09 up, 0.08 forward
//   r/l ear         Head + 0.075 right/left, 0.06 up (x humanScale)
// Estimated points (nose, ears, eyes without eye bones) follow the body's facing (the root's axes), not the head's
// turn. A bone behind the camera or missing from the rig leaves its keypoint missing (and its limbs undrawn).
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API:
// Animator.GetBoneTransform, HumanBodyBones, Animator.humanScale, Camera.WorldToViewportPoint).
using System.Collections.Generic;
using StreamDiffusion.Bridge.Core.Capture;
using StreamDiffusion.Bridge.Core.Pose;
using UnityEngine;

namespace StreamDiffusion.Bridge
{
    [DisallowMultipleComponent]
    [AddComponentMenu("StreamDiffusion/StreamDiffusion Pose Source")]
    public sealed class StreamDiffusionPoseSource : MonoBehaviour
    {
        private static readonly List<StreamDiffusionPoseSource> Active = new List<StreamDiffusionPoseSource>();

        [Tooltip("The Humanoid Animator whose bones give the pose (this object's when empty).")]
        public Animator animator;

        private void OnEnable()
        {
            if (animator == null) animator = GetComponent<Animator>();
            if (!Active.Contains(this)) Active.Add(this);
        }

        private void OnDisable()
        {
            Active.Remove(this);
        }

        /// <summary>The keypoints (x, y per keypoint, 18 a body, capture pixels, NaN: missing) of every active pose
        /// source as <paramref name="camera"/> sees it now, through the capture mapping; null when there is none.</summary>
        internal static float[] Project(Camera camera, CaptureMapping mapping)
        {
            if (Active.Count == 0 || mapping.TargetWidth <= 0) return null;
            var points = new float[Active.Count * OpenPoseRenderer.KeypointCount * 2];
            for (int b = 0; b < Active.Count; b++) Active[b].ProjectInto(camera, mapping, points, b * OpenPoseRenderer.KeypointCount * 2);
            return points;
        }

        private void ProjectInto(Camera camera, CaptureMapping mapping, float[] xy, int offset)
        {
            for (int i = 0; i < OpenPoseRenderer.KeypointCount * 2; i++) xy[offset + i] = float.NaN;
            if (animator == null || !animator.isHuman) return;
            Vector3?[] world = WorldKeypoints();
            for (int k = 0; k < world.Length; k++)
            {
                if (!world[k].HasValue) continue;
                Vector3 v = camera.WorldToViewportPoint(world[k].Value); // x, y in [0, 1] (y up), z: depth in front
                if (v.z <= 0f) continue;
                UvScaleBias m = mapping.TargetFromSource;
                double u = v.x * m.ScaleU + m.BiasU, t = (1.0 - v.y) * m.ScaleV + m.BiasV; // top-down uv of the capture
                xy[offset + 2 * k] = (float)(u * mapping.TargetWidth - 0.5); // pixel centres at whole coordinates
                xy[offset + 2 * k + 1] = (float)(t * mapping.TargetHeight - 0.5);
            }
        }

        private Vector3?[] WorldKeypoints()
        {
            var p = new Vector3?[OpenPoseRenderer.KeypointCount];
            p[(int)OpenPoseKeypoint.RightShoulder] = Bone(HumanBodyBones.RightUpperArm);
            p[(int)OpenPoseKeypoint.RightElbow] = Bone(HumanBodyBones.RightLowerArm);
            p[(int)OpenPoseKeypoint.RightWrist] = Bone(HumanBodyBones.RightHand);
            p[(int)OpenPoseKeypoint.LeftShoulder] = Bone(HumanBodyBones.LeftUpperArm);
            p[(int)OpenPoseKeypoint.LeftElbow] = Bone(HumanBodyBones.LeftLowerArm);
            p[(int)OpenPoseKeypoint.LeftWrist] = Bone(HumanBodyBones.LeftHand);
            p[(int)OpenPoseKeypoint.RightHip] = Bone(HumanBodyBones.RightUpperLeg);
            p[(int)OpenPoseKeypoint.RightKnee] = Bone(HumanBodyBones.RightLowerLeg);
            p[(int)OpenPoseKeypoint.RightAnkle] = Bone(HumanBodyBones.RightFoot);
            p[(int)OpenPoseKeypoint.LeftHip] = Bone(HumanBodyBones.LeftUpperLeg);
            p[(int)OpenPoseKeypoint.LeftKnee] = Bone(HumanBodyBones.LeftLowerLeg);
            p[(int)OpenPoseKeypoint.LeftAnkle] = Bone(HumanBodyBones.LeftFoot);
            Vector3? rs = p[(int)OpenPoseKeypoint.RightShoulder], ls = p[(int)OpenPoseKeypoint.LeftShoulder];
            if (rs.HasValue && ls.HasValue) p[(int)OpenPoseKeypoint.Neck] = (rs.Value + ls.Value) * 0.5f;
            Vector3? head = Bone(HumanBodyBones.Head);
            if (!head.HasValue) return p;
            float s = animator.humanScale;
            Transform root = animator.transform;
            Vector3 h = head.Value, fwd = root.forward * s, up = root.up * s, right = root.right * s;
            Vector3? re = Bone(HumanBodyBones.RightEye), le = Bone(HumanBodyBones.LeftEye);
            bool eyes = re.HasValue && le.HasValue;
            p[(int)OpenPoseKeypoint.RightEye] = eyes ? re.Value : h + right * 0.03f + up * 0.09f + fwd * 0.08f;
            p[(int)OpenPoseKeypoint.LeftEye] = eyes ? le.Value : h - right * 0.03f + up * 0.09f + fwd * 0.08f;
            p[(int)OpenPoseKeypoint.Nose] = eyes ? (re.Value + le.Value) * 0.5f + fwd * 0.03f - up * 0.03f
                                                 : h + fwd * 0.10f + up * 0.06f;
            p[(int)OpenPoseKeypoint.RightEar] = h + right * 0.075f + up * 0.06f;
            p[(int)OpenPoseKeypoint.LeftEar] = h - right * 0.075f + up * 0.06f;
            return p;
        }

        private Vector3? Bone(HumanBodyBones bone)
        {
            Transform t = animator.GetBoneTransform(bone);
            return t != null ? t.position : (Vector3?)null;
        }
    }
}
