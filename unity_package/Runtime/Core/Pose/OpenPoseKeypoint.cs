// The COCO-18 keypoints of an OpenPose body, in the order OpenPoseRenderer takes them (the ControlNet annotator's).
// "Right" is the person's right. Engine-free; compiled and tested here (mcs).
namespace StreamDiffusion.Bridge.Core.Pose
{
    /// <summary>Index of a keypoint in OpenPoseRenderer's keypoint array (x at 2 x index, y at 2 x index + 1).</summary>
    public enum OpenPoseKeypoint
    {
        Nose = 0,
        Neck = 1,
        RightShoulder = 2,
        RightElbow = 3,
        RightWrist = 4,
        LeftShoulder = 5,
        LeftElbow = 6,
        LeftWrist = 7,
        RightHip = 8,
        RightKnee = 9,
        RightAnkle = 10,
        LeftHip = 11,
        LeftKnee = 12,
        LeftAnkle = 13,
        RightEye = 14,
        LeftEye = 15,
        RightEar = 16,
        LeftEar = 17,
    }
}
