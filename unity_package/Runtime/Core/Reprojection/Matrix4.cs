// A 4x4 matrix in double precision for the reprojection math. Convention shared with the C++ core
// and both engine layers: column vectors (clip = M * [x y z 1]^T), elements stored ROW-MAJOR (index row * 4 + col).
// A Unity Matrix4x4 converts element by element (m[row, col]); its own convention is also column vectors.
using System;

namespace StreamDiffusion.Bridge.Core.Reprojection
{
    /// <summary>Immutable 4x4 matrix, column-vector convention, row-major storage.</summary>
    public sealed class Matrix4
    {
        private readonly double[] _m;

        private Matrix4(double[] m)
        {
            _m = m;
        }

        /// <summary>The identity matrix.</summary>
        public static readonly Matrix4 Identity = FromRowMajor(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1);

        /// <summary>Builds a matrix from 16 values in row-major order (m00, m01, m02, m03, m10, ...).</summary>
        public static Matrix4 FromRowMajor(params double[] values)
        {
            if (values == null) throw new ArgumentNullException(nameof(values));
            if (values.Length != 16)
            {
                throw new ArgumentException("Matrix4.FromRowMajor needs 16 values (row-major 4x4); got " + values.Length +
                                            ". Pass m00, m01, m02, m03, m10, ... m33.", nameof(values));
            }
            var copy = new double[16];
            Array.Copy(values, copy, 16);
            return new Matrix4(copy);
        }

        /// <summary>Element at row <paramref name="row"/>, column <paramref name="col"/> (0-based).</summary>
        public double this[int row, int col]
        {
            get
            {
                if ((uint)row > 3 || (uint)col > 3)
                {
                    throw new ArgumentOutOfRangeException(nameof(row), "Matrix4 index (" + row + ", " + col +
                                                          ") is outside 0..3; rows and columns are 0-based.");
                }
                return _m[row * 4 + col];
            }
        }

        /// <summary>Copies the 16 elements in row-major order into <paramref name="destination"/> at <paramref name="offset"/>.</summary>
        public void CopyRowMajor(double[] destination, int offset)
        {
            Array.Copy(_m, 0, destination, offset, 16);
        }

        /// <summary>this * other (apply <paramref name="other"/> first, then this).</summary>
        public Matrix4 Multiply(Matrix4 other)
        {
            if (other == null) throw new ArgumentNullException(nameof(other));
            var r = new double[16];
            for (int row = 0; row < 4; row++)
            {
                for (int col = 0; col < 4; col++)
                {
                    double s = 0;
                    for (int k = 0; k < 4; k++) s += _m[row * 4 + k] * other._m[k * 4 + col];
                    r[row * 4 + col] = s;
                }
            }
            return new Matrix4(r);
        }

        /// <summary>this * [x y z w]^T.</summary>
        public void Transform(double x, double y, double z, double w, out double ox, out double oy, out double oz, out double ow)
        {
            ox = _m[0] * x + _m[1] * y + _m[2] * z + _m[3] * w;
            oy = _m[4] * x + _m[5] * y + _m[6] * z + _m[7] * w;
            oz = _m[8] * x + _m[9] * y + _m[10] * z + _m[11] * w;
            ow = _m[12] * x + _m[13] * y + _m[14] * z + _m[15] * w;
        }

        /// <summary>The inverse (Gauss-Jordan with partial pivoting). Throws when the matrix is singular: a
        /// view-projection matrix is singular only for a degenerate camera (zero field of view, near == far).</summary>
        public Matrix4 Inverse()
        {
            var a = new double[16];
            Array.Copy(_m, a, 16);
            double[] inv = (double[])Identity._m.Clone();
            double scale = 0;
            for (int i = 0; i < 16; i++) scale = Math.Max(scale, Math.Abs(a[i]));
            for (int col = 0; col < 4; col++)
            {
                int pivot = col;
                for (int row = col + 1; row < 4; row++)
                {
                    if (Math.Abs(a[row * 4 + col]) > Math.Abs(a[pivot * 4 + col])) pivot = row;
                }
                double p = a[pivot * 4 + col];
                if (Math.Abs(p) <= 1e-14 * Math.Max(scale, 1e-300))
                {
                    throw new InvalidOperationException("Matrix4.Inverse: the matrix is singular (pivot " + p +
                                                        " in column " + col + "); a camera's view-projection matrix " +
                                                        "needs a non-zero field of view or size and near != far.");
                }
                SwapRows(a, col, pivot);
                SwapRows(inv, col, pivot);
                for (int k = 0; k < 4; k++)
                {
                    a[col * 4 + k] /= p;
                    inv[col * 4 + k] /= p;
                }
                for (int row = 0; row < 4; row++)
                {
                    if (row == col) continue;
                    double f = a[row * 4 + col];
                    if (f == 0) continue;
                    for (int k = 0; k < 4; k++)
                    {
                        a[row * 4 + k] -= f * a[col * 4 + k];
                        inv[row * 4 + k] -= f * inv[col * 4 + k];
                    }
                }
            }
            return new Matrix4(inv);
        }

        private static void SwapRows(double[] m, int r1, int r2)
        {
            if (r1 == r2) return;
            for (int k = 0; k < 4; k++)
            {
                double t = m[r1 * 4 + k];
                m[r1 * 4 + k] = m[r2 * 4 + k];
                m[r2 * 4 + k] = t;
            }
        }

        /// <summary>Largest absolute element difference to <paramref name="other"/>.</summary>
        public double MaxDifference(Matrix4 other)
        {
            if (other == null) throw new ArgumentNullException(nameof(other));
            double d = 0;
            for (int i = 0; i < 16; i++) d = Math.Max(d, Math.Abs(_m[i] - other._m[i]));
            return d;
        }

        /// <summary>A perspective projection in OpenGL's convention (view space looks down -z, NDC z in [-1, 1]),
        /// as Unity's Camera.projectionMatrix is before GL.GetGPUProjectionMatrix. For tests and tools.</summary>
        public static Matrix4 PerspectiveGl(double verticalFovDegrees, double aspect, double near, double far)
        {
            if (!(verticalFovDegrees > 0 && verticalFovDegrees < 180) || !(aspect > 0) || !(near > 0) || !(far > near))
            {
                throw new ArgumentOutOfRangeException(nameof(verticalFovDegrees), "PerspectiveGl needs 0 < fov < 180 " +
                    "degrees, aspect > 0 and 0 < near < far; got fov " + verticalFovDegrees + ", aspect " + aspect +
                    ", near " + near + ", far " + far + ".");
            }
            double f = 1.0 / Math.Tan(verticalFovDegrees * Math.PI / 360.0);
            return FromRowMajor(
                f / aspect, 0, 0, 0,
                0, f, 0, 0,
                0, 0, -(far + near) / (far - near), -2.0 * far * near / (far - near),
                0, 0, -1, 0);
        }

        /// <summary>A translation by (x, y, z).</summary>
        public static Matrix4 Translation(double x, double y, double z)
        {
            return FromRowMajor(1, 0, 0, x, 0, 1, 0, y, 0, 0, 1, z, 0, 0, 0, 1);
        }

        /// <inheritdoc />
        public override string ToString()
        {
            return "[" + string.Join(", ", Array.ConvertAll(_m, v => v.ToString("R"))) + "]";
        }
    }
}
