// StreamDiffusion Bridge: the engine planes (device depth, view-space normals, motion vectors) drawn into the
// capture-size plane textures with the same scale policy as the colour capture (Runtime/Unity/Capture/EnginePlanes.cs
// states the wire conventions). Drawn with CommandBuffer.DrawProcedural (3 vertices, full-screen triangle) in every
// pipeline, after the bridge's capture pass set the mapping constants (_SDSourceFromTarget, _SDTargetRect).
// NOT COMPILED OR RUN HERE: there is no Unity editor on the build machines (glslang compiles every pass and variant:
// .ci/steps/unity_shaders.sh). It includes no pipeline headers, so the same file compiles in Built-in, URP and HDRP.
// Sources (global textures the pipelines set):
//   depth    _CameraDepthTexture (Built-in, URP), _SDCurrentDepthArray (HDRP, bound by the custom pass)
//   normals  _CameraDepthNormalsTexture (Built-in: view-space normal, stereographic 8-bit encoding, Unity's
//            EncodeViewNormalStereo), _CameraNormalsTexture (URP: world-space normals, turned into view space with
//            _SDWorldToView, the camera's worldToCameraMatrix), _SDNormalArray (HDRP: the custom pass's normal buffer,
//            world normals octahedron-encoded as two 12-bit values in RGB, as HDRP's NormalBuffer.hlsl writes them)
//   motion   _CameraMotionVectorsTexture (Built-in), _MotionVectorTexture (URP): current uv - previous uv;
//            _SDMotionArray (HDRP, the custom pass's motion vector buffer): already current uv - previous uv (HDRP
//            writes EncodeMotionVector(clip-space delta * 0.5), y up), x > 1 flagging "no motion" (DecodeMotionVector)
//   ids      pass 6 draws each StreamDiffusionObjectId renderer (CommandBuffer.DrawRenderer: unity_ObjectToWorld; the
//            camera's _SDObjectIdMatrixVP) with _SDObjectId into a camera-size R8 texture, keeping fragments not behind
//            _CameraDepthTexture; pass 7 maps that texture (_SDObjectIds) into the plane with the scale policy
Shader "Hidden/StreamDiffusion/Planes"
{
    SubShader
    {
        Tags { "RenderType" = "Opaque" }
        ZWrite Off ZTest Always Cull Off

        HLSLINCLUDE
        #pragma target 4.5

        Texture2D _CameraDepthTexture;
        Texture2DArray _SDCurrentDepthArray;
        Texture2D _CameraDepthNormalsTexture;
        Texture2D _CameraNormalsTexture;
        Texture2D _CameraMotionVectorsTexture;
        Texture2D _MotionVectorTexture;
        Texture2DArray _SDMotionArray;
        Texture2DArray _SDNormalArray;
        SamplerState sdbridge_point_clamp_sampler;

        float _SDFlipY;                     // 1: flip the procedural triangle (Direct3D-like API drawing into a texture)
        float4 _SDSourceUvScale;            // xy: RTHandle scale of the camera buffers (1 outside HDRP)
        float4 _SDSourceFromTarget;         // xy scale, zw bias (top-down uv): capture uv -> camera uv
        float4 _SDTargetRect;               // u0 v0 u1 v1 (top-down uv) the camera frame covers in the capture
        float _SDFarDepth;                  // device depth of the far plane (0 with reversed Z, else 1): Fit's bars
        float4x4 _SDWorldToView;            // Camera.worldToCameraMatrix (URP normals)
        float _SDObjectId;                  // id / 255 of the renderer being drawn (pass 6)
        Texture2D _SDObjectIds;             // the camera-size id texture (pass 7)
        float4x4 unity_ObjectToWorld;       // set by CommandBuffer.DrawRenderer (pass 6)
        float4x4 _SDObjectIdMatrixVP;       // the camera's GPU view-projection into a texture (BridgeDraws, pass 6)

        struct Varyings
        {
            float4 positionCS : SV_POSITION;
            float2 uv : TEXCOORD0;
        };

        Varyings VertProcedural(uint id : SV_VertexID)
        {
            Varyings o;
            float2 uv = float2((id << 1) & 2, id & 2);
            o.positionCS = float4(uv * 2.0 - 1.0, 0.0, 1.0);
            if (_SDFlipY > 0.5) o.positionCS.y = -o.positionCS.y;
            o.uv = uv;
            return o;
        }

        float2 TopDown(float2 uv) { return float2(uv.x, 1.0 - uv.y); }

        // The camera uv (Unity's, v up) the capture pixel at `targetUv` shows; false in Fit's bars.
        bool CameraUv(float2 targetUv, out float2 cameraUv)
        {
            float2 t = TopDown(targetUv);
            cameraUv = TopDown(t * _SDSourceFromTarget.xy + _SDSourceFromTarget.zw) * _SDSourceUvScale.xy;
            return all(t >= _SDTargetRect.xy) && all(t <= _SDTargetRect.zw);
        }

        float4 Sample2D(Texture2D t, float2 uv) { return t.SampleLevel(sdbridge_point_clamp_sampler, uv, 0); }
        float4 SampleArray(Texture2DArray t, float2 uv) { return t.SampleLevel(sdbridge_point_clamp_sampler, float3(uv, 0), 0); }

        // Camera uv motion -> capture uv motion (the mapping scales uv by 1 / scale), negated to point to the
        // previous frame; v up in both. The motion is in the camera's viewport uv, so HDRP's RTHandle scale (which
        // only says where the viewport lies in its buffers) does not apply to it.
        float4 MotionToPrevious(float2 cameraUvMotion)
        {
            return float4(-cameraUvMotion / _SDSourceFromTarget.xy, 0, 0);
        }

        // HDRP's normal buffer: two 12-bit values in RGB (8 low bits in R and G, the high nibbles in B), an octahedral
        // encoding of the world normal over [0, 1] (the SRP core library's Unpack888ToFloat2 + UnpackNormalOctQuadEncode).
        float3 DecodeHdrpNormal(float3 rgb)
        {
            uint3 bytes = (uint3)(rgb * 255.5);
            uint2 packed = bytes.xy | (uint2(bytes.z & 15u, bytes.z >> 4) << 8);
            float2 f = (float2)packed / 4095.0 * 2.0 - 1.0;
            float3 n = float3(f, 1.0 - abs(f.x) - abs(f.y));
            float t = max(-n.z, 0.0);
            n.x += n.x >= 0.0 ? -t : t;
            n.y += n.y >= 0.0 ? -t : t;
            return normalize(n);
        }

        // Unity's DecodeViewNormalStereo (UnityCG.cginc) of _CameraDepthNormalsTexture's .xy.
        float3 DecodeViewNormalStereo(float4 enc4)
        {
            const float kScale = 1.7777;
            float3 nn = enc4.xyz * float3(2.0 * kScale, 2.0 * kScale, 0.0) + float3(-kScale, -kScale, 1.0);
            float g = 2.0 / dot(nn.xyz, nn.xyz);
            return float3(g * nn.xy, g - 1.0);
        }
        ENDHLSL

        Pass // 0: device depth
        {
            Name "DepthPlane"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            #pragma multi_compile_local _ SDBRIDGE_SOURCE_ARRAY
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return _SDFarDepth.xxxx;
                #if defined(SDBRIDGE_SOURCE_ARRAY)
                return SampleArray(_SDCurrentDepthArray, uv).rrrr;
                #else
                return Sample2D(_CameraDepthTexture, uv).rrrr;
                #endif
            }
            ENDHLSL
        }
        Pass // 1: view-space normals from the Built-in depth-normals texture
        {
            Name "NormalsBuiltin"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                return float4(normalize(DecodeViewNormalStereo(Sample2D(_CameraDepthNormalsTexture, uv))), 0);
            }
            ENDHLSL
        }
        Pass // 2: view-space normals from URP's world-space normals texture
        {
            Name "NormalsWorld"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                float3 world = Sample2D(_CameraNormalsTexture, uv).xyz;
                if (dot(world, world) < 1e-6) return float4(0, 0, 0, 0);   // sky: no surface
                return float4(normalize(mul((float3x3)_SDWorldToView, world)), 0);
            }
            ENDHLSL
        }
        Pass // 3: motion vectors (Built-in)
        {
            Name "MotionBuiltin"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                return MotionToPrevious(Sample2D(_CameraMotionVectorsTexture, uv).xy);
            }
            ENDHLSL
        }
        Pass // 4: motion vectors (URP)
        {
            Name "MotionUrp"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                return MotionToPrevious(Sample2D(_MotionVectorTexture, uv).xy);
            }
            ENDHLSL
        }
        Pass // 5: motion vectors (HDRP: uv deltas, x > 1 = no motion)
        {
            Name "MotionHdrp"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                float2 motion = SampleArray(_SDMotionArray, uv).xy;
                if (motion.x > 1.0) motion = float2(0, 0); // HDRP's PixelSetAsNoMotionVectors
                return MotionToPrevious(motion);
            }
            ENDHLSL
        }
        Pass // 6: one renderer's id into the camera-size id texture, where it is not hidden
        {
            Name "ObjectIdDraw"
            HLSLPROGRAM
            #pragma vertex VertObject
            #pragma fragment Frag
            struct ObjectAttributes
            {
                float4 vertex : POSITION;
            };
            float4 VertObject(ObjectAttributes v) : SV_POSITION
            {
                return mul(_SDObjectIdMatrixVP, mul(unity_ObjectToWorld, float4(v.vertex.xyz, 1.0)));
            }
            float4 Frag(float4 positionCS : SV_POSITION) : SV_Target
            {
                float scene = _CameraDepthTexture.Load(int3(int2(positionCS.xy), 0)).r;
                bool reversed = _SDFarDepth < 0.5;
                bool visible = reversed ? positionCS.z >= scene - 1e-4 : positionCS.z <= scene + 1e-4;
                if (!visible) discard;
                return float4(_SDObjectId, 0, 0, 0);
            }
            ENDHLSL
        }
        Pass // 7: the id texture into the plane (point sampled: ids never blend)
        {
            Name "ObjectIdsPlane"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                return float4(Sample2D(_SDObjectIds, uv).r, 0, 0, 0);
            }
            ENDHLSL
        }
        Pass // 8: view-space normals from HDRP's normal buffer
        {
            Name "NormalsHdrp"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target
            {
                float2 uv;
                if (!CameraUv(i.uv, uv)) return float4(0, 0, 0, 0);
                float3 world = DecodeHdrpNormal(SampleArray(_SDNormalArray, uv).rgb);
                return float4(normalize(mul((float3x3)_SDWorldToView, world)), 0);
            }
            ENDHLSL
        }
    }
    Fallback Off
}
