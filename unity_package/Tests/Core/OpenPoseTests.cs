// The C# OpenPose renderer (Runtime/Core/Pose) draws exactly the reference images the Python renderer
// (sdbridge.pipeline.openpose) wrote from the same keypoints (schemas/golden/pose/*.keypoints -> *.rgba), and
// refuses a wrong keypoint count or size naming the value and the limit.
using System;
using System.Globalization;
using System.IO;
using NUnit.Framework;
using StreamDiffusion.Bridge.Core.Pose;

namespace StreamDiffusion.Bridge.Core.Tests
{
    [TestFixture]
    public class OpenPoseTests
    {
        private static string PoseDir()
        {
            string dir = TestEnvironment.GoldenDir;
            string pose = string.IsNullOrEmpty(dir) ? "" : Path.Combine(dir, "pose");
            TestEnvironment.Need(Directory.Exists(pose), "SDBRIDGE_TEST_GOLDEN must name schemas/golden (with pose/)");
            return pose;
        }

        private static float[] ReadKeypoints(string path, out int width, out int height)
        {
            var xy = new float[OpenPoseRenderer.KeypointCount * 2];
            for (int i = 0; i < xy.Length; i++) xy[i] = float.NaN;
            width = height = 0;
            foreach (string raw in File.ReadAllLines(path))
            {
                int hash = raw.IndexOf('#');
                string[] f = (hash >= 0 ? raw.Substring(0, hash) : raw).Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
                if (f.Length == 3 && f[0] == "size")
                {
                    width = int.Parse(f[1], CultureInfo.InvariantCulture);
                    height = int.Parse(f[2], CultureInfo.InvariantCulture);
                }
                else if (f.Length == 4 && f[0] == "kp")
                {
                    int k = int.Parse(f[1], CultureInfo.InvariantCulture);
                    xy[2 * k] = float.Parse(f[2], CultureInfo.InvariantCulture);
                    xy[2 * k + 1] = float.Parse(f[3], CultureInfo.InvariantCulture);
                }
            }
            return xy;
        }

        [TestCase("standing")]
        [TestCase("partial")]
        [TestCase("diagonal")]
        public void DrawsThePythonReferenceImageExactly(string name)
        {
            string dir = PoseDir();
            int width, height;
            float[] xy = ReadKeypoints(Path.Combine(dir, name + ".keypoints"), out width, out height);
            byte[] expected = File.ReadAllBytes(Path.Combine(dir, name + ".rgba"));
            byte[] actual = OpenPoseRenderer.Render(xy, width, height);
            Assert.AreEqual(expected.Length, actual.Length, name);
            int differing = 0, first = -1;
            for (int i = 0; i < expected.Length; i++)
            {
                if (expected[i] == actual[i]) continue;
                differing++;
                if (first < 0) first = i;
            }
            Assert.AreEqual(0, differing, name + ": first differing byte at pixel " + (first / 4) + " (x " + (first / 4 % width) +
                ", y " + (first / 4 / width) + ")");
        }

        [Test]
        public void ALimbIsDimmedAndAKeypointIsFullColour()
        {
            var xy = new float[OpenPoseRenderer.KeypointCount * 2];
            for (int i = 0; i < xy.Length; i++) xy[i] = float.NaN;
            xy[2 * (int)OpenPoseKeypoint.Neck] = 10f;
            xy[2 * (int)OpenPoseKeypoint.Neck + 1] = 10f;
            xy[2 * (int)OpenPoseKeypoint.RightShoulder] = 30f;
            xy[2 * (int)OpenPoseKeypoint.RightShoulder + 1] = 10f;
            byte[] image = OpenPoseRenderer.Render(xy, 40, 24);
            Func<int, int, string> at = (x, y) => image[(y * 40 + x) * 4] + "," + image[(y * 40 + x) * 4 + 1] + "," +
                image[(y * 40 + x) * 4 + 2] + "," + image[(y * 40 + x) * 4 + 3];
            Assert.AreEqual("153,0,0,255", at(20, 14));
            Assert.AreEqual("0,0,0,255", at(20, 15));
            Assert.AreEqual("255,85,0,255", at(10, 10));
            Assert.AreEqual("255,170,0,255", at(30, 10));
        }

        [Test]
        public void RefusesAWrongKeypointCountAndSize()
        {
            var e = Assert.Throws<ArgumentException>(() => OpenPoseRenderer.Render(new float[34], 8, 8));
            StringAssert.Contains("34 values", e.Message);
            var s = Assert.Throws<ArgumentOutOfRangeException>(() => OpenPoseRenderer.Render(new float[36], 5000, 8));
            StringAssert.Contains("1..4096", s.Message);
        }
    }
}
