// The per-pixel reprojection math, shared contract with the C++ core and both engine shaders.
// A result depicts frame F (ResultHeader.SourceFrameId). By the time it arrives the camera has moved; for every pixel
// of the CURRENT (destination) frame we find where it was in frame F (the source) and sample the result there:
//   M = ViewProj_src * inverse(ViewProj_dst)       (column vectors; GPU view-projection matrices of each frame)
//   ndc = (2u - 1, 1 - 2v, d_dst(u, v), 1)          (u, v: pixel centre in [0,1], v top-down; d_dst: device depth)
//   p = M * ndc;  p.w <= 0 -> hole (BehindCamera)   (p = clip_src / w_dst: M maps NDC, not clip, coordinates)
//   src uv = ((p.x/p.w + 1) / 2, (1 - p.y/p.w) / 2);  outside [0,1] -> hole (OutsideSource)
//   disocclusion: the source frame's own depth at src uv, as a linear depth w_s (the clip-space w, which for every
//   perspective projection is the distance along the view axis), against the point's own source depth
//   w_p = p.w * w_dst: |w_p - w_s| > tolerance * w_s -> hole. A frame's linear depth at an NDC point is
//   w = 1 / dot(row 3 of inverse(ViewProj), (x, y, d, 1)) (w_dst from the current frame's matrix and depth, w_s from
//   the source frame's matrix and its stored depth d_s at src uv), so reversed-Z, [0,1] or [-1,1] depth are
//   carried by the matrices and never by the warp. Orthographic source cameras (w is always 1) compare NDC z
//   instead: |p.z/p.w - d_s| > tolerance.
// Holes take the live frame; final = lerp(live, warped, opacity). Runtime/Shaders/Resources/StreamDiffusionBridge.shader
// mirrors TryProject and IsOccluded in its function SDReproject.
using System;

namespace StreamDiffusion.Bridge.Core.Reprojection
{
    /// <summary>What happened to one destination pixel.</summary>
    public enum WarpOutcome
    {
        /// <summary>Sample the result at the source uv.</summary>
        Sampled = 0,
        /// <summary>p.w &lt;= 0: the point is behind the source camera.</summary>
        BehindCamera = 1,
        /// <summary>The source uv is outside [0,1] (or outside the part of the frame the result covers).</summary>
        OutsideSource = 2,
        /// <summary>The source frame saw something else there (disocclusion).</summary>
        Disoccluded = 3,
    }

    /// <summary>Reprojects current-frame pixels into the frame a result depicts. Immutable; build one per
    /// (source, destination) camera pair.</summary>
    public sealed class Reprojector
    {
        /// <summary>Default relative tolerance of the disocclusion test (1% of the linear depth).</summary>
        public const double DefaultTolerance = 0.01;

        private readonly double[] _m = new double[16];
        private readonly double[] _invSrcRow3 = new double[4];
        private readonly double[] _invDstRow3 = new double[4];

        /// <summary>M = ViewProj_src * inverse(ViewProj_dst).</summary>
        public Matrix4 SourceFromDestination { get; private set; }

        /// <summary>Row 3 of inverse(ViewProj_src): turns a source NDC point into 1 / linear depth.</summary>
        public double[] InverseSourceRow3 { get { return (double[])_invSrcRow3.Clone(); } }

        /// <summary>Row 3 of inverse(ViewProj_dst): turns a current NDC point into 1 / its linear depth.</summary>
        public double[] InverseDestinationRow3 { get { return (double[])_invDstRow3.Clone(); } }

        /// <summary>True when the source projection is orthographic (the disocclusion test compares NDC z).</summary>
        public bool SourceIsOrthographic { get; private set; }

        /// <summary>Relative (perspective) or absolute NDC (orthographic) tolerance of the disocclusion test.</summary>
        public double Tolerance { get; private set; }

        /// <param name="sourceViewProjection">GPU view-projection of the frame the result depicts.</param>
        /// <param name="destinationViewProjection">GPU view-projection of the current frame.</param>
        /// <param name="tolerance">Disocclusion tolerance (see <see cref="DefaultTolerance"/>).</param>
        public Reprojector(Matrix4 sourceViewProjection, Matrix4 destinationViewProjection, double tolerance = DefaultTolerance)
        {
            if (sourceViewProjection == null) throw new ArgumentNullException(nameof(sourceViewProjection));
            if (destinationViewProjection == null) throw new ArgumentNullException(nameof(destinationViewProjection));
            if (!(tolerance > 0) || double.IsInfinity(tolerance))
            {
                throw new ArgumentOutOfRangeException(nameof(tolerance), "Reprojector tolerance is " + tolerance +
                                                      "; it must be a positive finite number (default " + DefaultTolerance + ").");
            }
            Tolerance = tolerance;
            Matrix4 invDst = destinationViewProjection.Inverse();
            SourceFromDestination = sourceViewProjection.Multiply(invDst);
            for (int k = 0; k < 4; k++) _invDstRow3[k] = invDst[3, k];
            SourceFromDestination.CopyRowMajor(_m, 0);
            Matrix4 invSrc = sourceViewProjection.Inverse();
            for (int k = 0; k < 4; k++) _invSrcRow3[k] = invSrc[3, k];
            SourceIsOrthographic = Math.Abs(sourceViewProjection[3, 0]) < 1e-12 && Math.Abs(sourceViewProjection[3, 1]) < 1e-12 &&
                                   Math.Abs(sourceViewProjection[3, 2]) < 1e-12;
        }

        /// <summary>Projects the destination pixel centre (u, v; v top-down) with device depth
        /// <paramref name="destinationDepth"/> into the source frame. Returns BehindCamera (also for a current depth
        /// that is not in front of the current camera), OutsideSource or
        /// Sampled; on Sampled, srcU/srcV are the source uv (v top-down), srcNdcZ the source device depth the point
        /// would have and srcW its linear depth in the source view (the value <see cref="IsOccluded"/> needs).</summary>
        public WarpOutcome TryProject(double u, double v, double destinationDepth,
                                      out double srcU, out double srcV, out double srcNdcZ, out double srcW)
        {
            double x = 2 * u - 1, y = 1 - 2 * v, z = destinationDepth;
            double px = _m[0] * x + _m[1] * y + _m[2] * z + _m[3];
            double py = _m[4] * x + _m[5] * y + _m[6] * z + _m[7];
            double pz = _m[8] * x + _m[9] * y + _m[10] * z + _m[11];
            double pw = _m[12] * x + _m[13] * y + _m[14] * z + _m[15];
            double inverseDstW = _invDstRow3[0] * x + _invDstRow3[1] * y + _invDstRow3[2] * z + _invDstRow3[3];
            srcW = pw / inverseDstW;
            if (!(pw > 0) || !(inverseDstW > 0))
            {
                srcU = srcV = srcNdcZ = 0;
                return WarpOutcome.BehindCamera;
            }
            srcU = (px / pw + 1) * 0.5;
            srcV = (1 - py / pw) * 0.5;
            srcNdcZ = pz / pw;
            if (!(srcU >= 0 && srcU <= 1 && srcV >= 0 && srcV <= 1)) return WarpOutcome.OutsideSource;
            return WarpOutcome.Sampled;
        }

        /// <summary>The disocclusion test: true when the source frame's own device depth
        /// <paramref name="sourceDepth"/> at (srcU, srcV) belongs to another surface than the reprojected point
        /// (srcNdcZ, srcW from <see cref="TryProject"/>).</summary>
        public bool IsOccluded(double srcU, double srcV, double srcNdcZ, double srcW, double sourceDepth)
        {
            if (SourceIsOrthographic) return Math.Abs(srcNdcZ - sourceDepth) > Tolerance;
            double xs = 2 * srcU - 1, ys = 1 - 2 * srcV;
            double inverseW = _invSrcRow3[0] * xs + _invSrcRow3[1] * ys + _invSrcRow3[2] * sourceDepth + _invSrcRow3[3];
            if (!(inverseW > 0)) return true; // the stored depth is not in front of the source camera
            double storedW = 1 / inverseW;
            return Math.Abs(srcW - storedW) > Tolerance * storedW;
        }

        /// <summary>Linear view depth (clip-space w) of the source NDC point (x, y, d): 1 / dot(row 3 of
        /// inverse(ViewProj_src), (x, y, d, 1)); infinity when the point is at or behind the camera plane.</summary>
        public double SourceLinearDepth(double ndcX, double ndcY, double deviceDepth)
        {
            double inverseW = _invSrcRow3[0] * ndcX + _invSrcRow3[1] * ndcY + _invSrcRow3[2] * deviceDepth + _invSrcRow3[3];
            return inverseW > 0 ? 1 / inverseW : double.PositiveInfinity;
        }
    }
}
