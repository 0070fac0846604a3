// Graphics-API conventions the bridge shader needs, in one place.
// NOT COMPILED OR RUN HERE against a real engine (type-checked with mcs against stubs of Unity's documented API);
// written for Unity 2022.3 LTS and Unity 6.
using StreamDiffusion.Bridge.Core.Reprojection;
using UnityEngine;
using UnityEngine.Rendering;

namespace StreamDiffusion.Bridge
{
    /// <summary>Matrices and flips for the bridge shader (Runtime/Shaders/Resources/StreamDiffusionBridge.shader).</summary>
    internal static class GpuConventions
    {
        /// <summary>The camera's GPU view-projection matrix: GL.GetGPUProjectionMatrix(projection, false) *
        /// worldToCameraMatrix. renderIntoTexture is false on purpose: the shader works in texture uv, which Unity
        /// keeps the same on every API, so the matrices must not carry the render-into-texture Y flip; they carry
        /// only the platform's depth convention (reversed Z, [0,1] or OpenGL's [-1,1]), which the reprojection takes
        /// from the matrices (Unity 2022.3 / 6: GL.GetGPUProjectionMatrix).</summary>
        public static Matrix4x4 GpuViewProjection(Camera camera)
        {
            return GL.GetGPUProjectionMatrix(camera.projectionMatrix, false) * camera.worldToCameraMatrix;
        }

        /// <summary>The camera's view-projection for drawing geometry into a render texture that must line up pixel
        /// for pixel with the camera's own render textures (_CameraDepthTexture): GL.GetGPUProjectionMatrix with
        /// renderIntoTexture true, so it carries the Y flip Unity applies when it renders into a texture on
        /// Direct3D-like APIs. Used instead of CommandBuffer.SetViewProjectionMatrices, which Unity documents (2021.2
        /// to 6) as compatible with the Built-in pipeline only, not URP or HDRP.</summary>
        public static Matrix4x4 GpuViewProjectionIntoTexture(Camera camera)
        {
            return GL.GetGPUProjectionMatrix(camera.projectionMatrix, true) * camera.worldToCameraMatrix;
        }

        /// <summary>Unity's Matrix4x4 (column vectors, m[row, col]) as the core's row-major Matrix4.</summary>
        public static Matrix4 ToCore(Matrix4x4 m)
        {
            return Matrix4.FromRowMajor(
                m.m00, m.m01, m.m02, m.m03,
                m.m10, m.m11, m.m12, m.m13,
                m.m20, m.m21, m.m22, m.m23,
                m.m30, m.m31, m.m32, m.m33);
        }

        /// <summary>The core's Matrix4 as a Unity Matrix4x4 (for Material/CommandBuffer SetGlobalMatrix).</summary>
        public static Matrix4x4 ToUnity(Matrix4 m)
        {
            var r = new Matrix4x4();
            for (int row = 0; row < 4; row++)
            {
                for (int col = 0; col < 4; col++) r[row, col] = (float)m[row, col];
            }
            return r;
        }

        /// <summary>Device depth as stored in a depth texture -> the NDC z the GPU projection matrix produces
        /// (x: scale, y: bias). OpenGL stores window depth in [0,1] but its projection gives NDC z in [-1,1];
        /// Direct3D, Metal and Vulkan store NDC z itself (reversed Z, [0,1]).</summary>
        public static Vector4 DepthToNdc()
        {
            GraphicsDeviceType api = SystemInfo.graphicsDeviceType;
            bool openGl = api == GraphicsDeviceType.OpenGLCore || api == GraphicsDeviceType.OpenGLES3;
            return openGl ? new Vector4(2f, -1f, 0f, 0f) : new Vector4(1f, 0f, 0f, 0f);
        }

        /// <summary>Whether a procedural full-screen triangle must be flipped: on APIs whose texture v starts at
        /// the top (SystemInfo.graphicsUVStartsAtTop: Direct3D, Metal, Vulkan, consoles), drawing into a render
        /// texture lands upside down relative to Unity's texture convention; drawing into the back buffer does not.
        /// NOT VERIFIED ON A GPU HERE: check the orientation on Direct3D and on OpenGL/Vulkan when first run.</summary>
        public static float FlipY(bool targetIsBackBuffer)
        {
            return SystemInfo.graphicsUVStartsAtTop && !targetIsBackBuffer ? 1f : 0f;
        }
    }
}
