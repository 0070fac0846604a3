// StreamDiffusion Bridge: capture, depth copy and composite (with reprojection) for every render pipeline.
// NOT COMPILED OR RUN HERE: there is no Unity editor on the build machines; written for Unity 2022.3 LTS and
// Unity 6 (HLSL, shader model 4.5: Texture2DArray, SV_VertexID, inline sampler states). It includes no
// pipeline headers, so the same file compiles in Built-in, URP and HDRP projects.
//
// Conventions. `uv` is the TARGET's texture uv in Unity's convention (v = 0 at the image's bottom, on every
// graphics API). The engine-free core works with v TOP-DOWN; `TopDown()` converts. Mappings come from the core:
//   _SDSourceFromTarget / _SDTargetRect   CaptureMapping.SourceFromTarget / TargetUvBounds (capture pass)
//   _SDDisplay / _SDResultRect            CaptureMapping.TargetFromSource / TargetUvBounds (composite pass)
//   _SDReproject, _SDInvSrcRow3, _SDInvDstRow3, _SDDepthTolerance, _SDOrthographic
//                                         Reprojector (SourceFromDestination, InverseSourceRow3,
//                                         InverseDestinationRow3, Tolerance, SourceIsOrthographic)
// SDReproject below mirrors Reprojector.TryProject + Reprojector.IsOccluded (Runtime/Core/Reprojection).
//
// Passes 0-2 are drawn with CommandBuffer.DrawProcedural (3 vertices, full-screen triangle; URP, HDRP);
// passes 3-5 with CommandBuffer.Blit (Built-in: Blit binds the source as _MainTex and orients the quad).
Shader "Hidden/StreamDiffusion/Bridge"
{
    SubShader
    {
        Tags { "RenderType" = "Opaque" }
        ZWrite Off ZTest Always Cull Off

        HLSLINCLUDE
        #pragma target 4.5

        Texture2D _MainTex;                 // Built-in Blit source
        Texture2D _SDSource;                // camera colour (capture pass, URP)
        Texture2DArray _SDSourceArray;      // camera colour (capture pass, HDRP: XR-ready texture arrays)
        Texture2D _CameraDepthTexture;      // current device depth (Built-in, URP)
        Texture2DArray _SDCurrentDepthArray;// current device depth (HDRP)
        Texture2D _SDSourceDepth;           // device depth of the frame the result depicts (depth ring slot)
        Texture2D _SDResult;                // the stylized result
        SamplerState sdbridge_linear_clamp_sampler;
        SamplerState sdbridge_point_clamp_sampler;

        float _SDFlipY;                     // 1: flip the procedural triangle (Direct3D-like API drawing into a texture)
        float4 _SDSourceUvScale;            // xy: RTHandle scale of the camera buffers (1 outside HDRP)
        float4 _SDSourceFromTarget;         // xy scale, zw bias (top-down uv)
        float4 _SDTargetRect;               // u0 v0 u1 v1 (top-down uv) the camera frame covers in the capture
        float4 _SDDisplay;                  // xy scale, zw bias: camera uv -> result uv (top-down)
        float4 _SDResultRect;               // u0 v0 u1 v1 (top-down) of the result that shows the camera frame
        float _SDOpacity;                   // 0..1
        float4x4 _SDReproject;              // M = ViewProj_src * inverse(ViewProj_dst)
        float4 _SDInvSrcRow3;
        float4 _SDInvDstRow3;
        float4 _SDDepthToNdc;               // x scale, y bias: texture depth -> NDC z (OpenGL: 2d - 1)
        float _SDDepthTolerance;
        float _SDOrthographic;

        float4x4 unity_ObjectToWorld;       // set by CommandBuffer.Blit (Built-in passes)
        float4x4 unity_MatrixVP;

        struct Varyings
        {
            float4 positionCS : SV_POSITION;
            float2 uv : TEXCOORD0;
        };

        Varyings VertProcedural(uint id : SV_VertexID)
        {
            Varyings o;
            float2 uv = float2((id << 1) & 2, id & 2);          // (0,0) (2,0) (0,2): covers the target
            o.positionCS = float4(uv * 2.0 - 1.0, 0.0, 1.0);
            if (_SDFlipY > 0.5) o.positionCS.y = -o.positionCS.y;
            o.uv = uv;
            return o;
        }

        struct BlitAttributes
        {
            float4 vertex : POSITION;
            float2 uv : TEXCOORD0;
        };

        Varyings VertBlit(BlitAttributes v)
        {
            Varyings o;
            o.positionCS = mul(unity_MatrixVP, mul(unity_ObjectToWorld, float4(v.vertex.xyz, 1.0)));
            o.uv = v.uv;
            return o;
        }

        float2 TopDown(float2 uv) { return float2(uv.x, 1.0 - uv.y); }

        bool Inside(float2 uvTopDown, float4 rect)
        {
            return all(uvTopDown >= rect.xy) && all(uvTopDown <= rect.zw);
        }

        float4 CaptureColor(float2 targetUv, Texture2D source, bool fromArray)
        {
            float2 t = TopDown(targetUv);
            if (!Inside(t, _SDTargetRect)) return float4(0, 0, 0, 1);   // Fit's bars
            float2 s = TopDown(t * _SDSourceFromTarget.xy + _SDSourceFromTarget.zw) * _SDSourceUvScale.xy;
            float3 c = fromArray ? _SDSourceArray.SampleLevel(sdbridge_linear_clamp_sampler, float3(s, 0), 0).rgb
                                 : source.SampleLevel(sdbridge_linear_clamp_sampler, s, 0).rgb;
            return float4(saturate(c), 1);
        }

        float CurrentDepth(float2 uv, bool fromArray)
        {
            float2 s = uv * _SDSourceUvScale.xy;
            return fromArray ? _SDCurrentDepthArray.SampleLevel(sdbridge_point_clamp_sampler, float3(s, 0), 0).r
                             : _CameraDepthTexture.SampleLevel(sdbridge_point_clamp_sampler, s, 0).r;
        }

        // Mirrors Reprojector.TryProject + Reprojector.IsOccluded. Returns false for a hole; srcTopDown is the
        // uv (top-down) in the frame the result depicts.
        bool SDReproject(float2 dstTopDown, float dstTextureDepth, out float2 srcTopDown)
        {
            float4 ndc = float4(2.0 * dstTopDown.x - 1.0, 1.0 - 2.0 * dstTopDown.y,
                                dstTextureDepth * _SDDepthToNdc.x + _SDDepthToNdc.y, 1.0);
            float4 p = mul(_SDReproject, ndc);
            float inverseDstW = dot(_SDInvDstRow3, ndc);
            srcTopDown = float2(0, 0);
            if (p.w <= 0.0 || inverseDstW <= 0.0) return false;                       // BehindCamera
            srcTopDown = float2((p.x / p.w + 1.0) * 0.5, (1.0 - p.y / p.w) * 0.5);
            if (any(srcTopDown < 0.0) || any(srcTopDown > 1.0)) return false;         // OutsideSource
            float srcNdcZ = p.z / p.w;
            float srcW = p.w / inverseDstW;
            float stored = _SDSourceDepth.SampleLevel(sdbridge_point_clamp_sampler, TopDown(srcTopDown), 0).r;
            float storedNdc = stored * _SDDepthToNdc.x + _SDDepthToNdc.y;
            if (_SDOrthographic > 0.5) return abs(srcNdcZ - storedNdc) <= _SDDepthTolerance;
            float inverseW = dot(_SDInvSrcRow3, float4(2.0 * srcTopDown.x - 1.0, 1.0 - 2.0 * srcTopDown.y, storedNdc, 1.0));
            if (inverseW <= 0.0) return false;                                          // Disoccluded
            float storedW = 1.0 / inverseW;
            return abs(srcW - storedW) <= _SDDepthTolerance * storedW;                   // else Disoccluded
        }

        // Final = lerp(live, result, opacity) through blending (SrcAlpha, OneMinusSrcAlpha): alpha 0 on holes
        // keeps the live frame.
        float4 CompositeColor(float2 uv, bool depthFromArray)
        {
            float2 src = TopDown(uv);
            float valid = 1.0;
            #if defined(SDBRIDGE_REPROJECT)
            float2 warped;
            valid = SDReproject(src, CurrentDepth(uv, depthFromArray), warped) ? 1.0 : 0.0;
            src = warped;
            #endif
            float2 r = src * _SDDisplay.xy + _SDDisplay.zw;
            if (!Inside(r, _SDResultRect)) valid = 0.0;                                 // Crop's cut sides
            float3 c = _SDResult.SampleLevel(sdbridge_linear_clamp_sampler, TopDown(r), 0).rgb;
            return float4(c, _SDOpacity * valid);
        }
        ENDHLSL

        Pass // 0: capture (procedural)
        {
            Name "CaptureProcedural"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            #pragma multi_compile_local _ SDBRIDGE_SOURCE_ARRAY
            float4 Frag(Varyings i) : SV_Target
            {
                #if defined(SDBRIDGE_SOURCE_ARRAY)
                return CaptureColor(i.uv, _SDSource, true);
                #else
                return CaptureColor(i.uv, _SDSource, false);
                #endif
            }
            ENDHLSL
        }

        Pass // 1: depth copy (procedural), camera uv stretched over the ring slot
        {
            Name "DepthProcedural"
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            #pragma multi_compile_local _ SDBRIDGE_SOURCE_ARRAY
            float4 Frag(Varyings i) : SV_Target
            {
                #if defined(SDBRIDGE_SOURCE_ARRAY)
                return CurrentDepth(i.uv, true).xxxx;
                #else
                return CurrentDepth(i.uv, false).xxxx;
                #endif
            }
            ENDHLSL
        }

        Pass // 2: composite over the camera target (procedural)
        {
            Name "CompositeProcedural"
            Blend SrcAlpha OneMinusSrcAlpha
            HLSLPROGRAM
            #pragma vertex VertProcedural
            #pragma fragment Frag
            #pragma multi_compile_local _ SDBRIDGE_SOURCE_ARRAY
            #pragma multi_compile_local _ SDBRIDGE_REPROJECT
            float4 Frag(Varyings i) : SV_Target
            {
                #if defined(SDBRIDGE_SOURCE_ARRAY)
                return CompositeColor(i.uv, true);
                #else
                return CompositeColor(i.uv, false);
                #endif
            }
            ENDHLSL
        }

        Pass // 3: capture (Built-in Blit: _MainTex is the camera target)
        {
            Name "CaptureBlit"
            HLSLPROGRAM
            #pragma vertex VertBlit
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target { return CaptureColor(i.uv, _MainTex, false); }
            ENDHLSL
        }

        Pass // 4: depth copy (Built-in Blit: reads _CameraDepthTexture)
        {
            Name "DepthBlit"
            HLSLPROGRAM
            #pragma vertex VertBlit
            #pragma fragment Frag
            float4 Frag(Varyings i) : SV_Target { return CurrentDepth(i.uv, false).xxxx; }
            ENDHLSL
        }

        Pass // 5: composite (Built-in Blit onto the camera target)
        {
            Name "CompositeBlit"
            Blend SrcAlpha OneMinusSrcAlpha
            HLSLPROGRAM
            #pragma vertex VertBlit
            #pragma fragment Frag
            #pragma multi_compile_local _ SDBRIDGE_REPROJECT
            float4 Frag(Varyings i) : SV_Target { return CompositeColor(i.uv, false); }
            ENDHLSL
        }
    }
    Fallback Off
}
