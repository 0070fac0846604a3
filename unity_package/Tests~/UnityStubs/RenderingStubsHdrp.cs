// Stubs of the High Definition Render Pipeline (com.unity.render-pipelines.high-definition 14 for Unity 2022.3
// LTS, 17 for Unity 6) members the HDRP hook uses. Written from HDRP's documented API; bodies throw.
using System;
using System.Collections.Generic;

namespace UnityEngine.Rendering.HighDefinition
{
    public enum CustomPassInjectionPoint
    {
        BeforeRendering = 0,
        BeforeTransparent = 1,
        BeforePostProcess = 2,
        AfterPostProcess = 3,
        BeforePreRefraction = 4,
        AfterOpaqueDepthAndNormal = 5,
    }

    public partial class HDCamera
    {
        public Camera camera;
        public int actualWidth { get { throw null; } }
        public int actualHeight { get { throw null; } }
    }

    public partial struct CustomPassContext
    {
        public readonly HDCamera hdCamera;
        public readonly RTHandle cameraColorBuffer;
        public readonly RTHandle cameraDepthBuffer;
        public readonly RTHandle cameraMotionVectorsBuffer;
        public readonly RTHandle cameraNormalBuffer;
        public readonly CommandBuffer cmd;
    }

    [Serializable]
    public abstract partial class CustomPass
    {
        public string name { get { throw null; } set { } }
        protected virtual void Execute(CustomPassContext ctx) { throw null; }
    }

    public partial class CustomPassVolume : MonoBehaviour
    {
        public bool isGlobal { get { throw null; } set { } }
        public CustomPassInjectionPoint injectionPoint;
        public List<CustomPass> customPasses;
    }

    public partial class HDRenderPipelineAsset : RenderPipelineAsset
    {
    }
}
