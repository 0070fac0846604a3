"""The dataclass form of every message in schemas/golden/ (same values as the .json files there)."""

from __future__ import annotations

from sdbridge.protocol.messages import (
    AdapterWeight,
    AlphaMode,
    AttentionBankBlocks,
    BlendMethod,
    Bye,
    Capability,
    CfgMode,
    ColorSpace,
    Credit,
    DepthEncoding,
    ErrorCode,
    ErrorMsg,
    FrameHeader,
    GameEvent,
    Hello,
    Message,
    ModelFamily,
    ModelInfo,
    MotionTarget,
    MotionUnits,
    NormalEncoding,
    NormalSpace,
    Notice,
    NoticeKind,
    Params,
    Ping,
    PixelFormat,
    PlaneDesc,
    PlaneFormat,
    PlaneKind,
    Pong,
    Prompt,
    PromptWeight,
    ResultHeader,
    RowOrder,
    SeedWeight,
    State,
    Stats,
    StatsRequest,
    StyleImage,
    Welcome,
)

SESSION = 0x0123456789ABCDEF
ALL_FORMATS = (PixelFormat.RGBA8, PixelFormat.BGRA8, PixelFormat.RGB8)
_IMAGE = {"width": 4, "height": 2, "stride": 16, "session_id": SESSION, "stream_id": 1,
          "capture_time_us": 1700000000000000, "send_time_us": 1700000000000250}

#: protocol 1.1: Notice.preview_url (notice_preview.json)
PREVIEW_URL = "http://127.0.0.1:8765/?session=81985529216486895&token=abc"

#: protocol 1.3: one plane of each kind (frame_plane_<kind>.json), and two planes in one Frame
PLANES = {
    "depth": PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R32_F, 2, 1, 8, depth_encoding=DepthEncoding.DEVICE,
                       reversed_z=True, depth_near=0.25, depth_far=1000.0),
    "normals": PlaneDesc(PlaneKind.NORMALS, PlaneFormat.RGBA16_F, 4, 2, 32, row_order=RowOrder.BOTTOM_UP,
                         normal_space=NormalSpace.VIEW, normal_encoding=NormalEncoding.SIGNED),
    "segmentation": PlaneDesc(PlaneKind.SEGMENTATION, PlaneFormat.R16_UI, 4, 2, 8, name="instance"),
    "motion": PlaneDesc(PlaneKind.MOTION, PlaneFormat.RG16_F, 4, 2, 16, motion_units=MotionUnits.PIXELS,
                        motion_target=MotionTarget.PREVIOUS, motion_y_up=True),
    "control": PlaneDesc(PlaneKind.CONTROL, PlaneFormat.RGBA8, 4, 2, 16, name="pose"),
}
_PLANE_FRAME = {"pixel_format": PixelFormat.RGBA8, "row_order": RowOrder.TOP_DOWN, "color_space": ColorSpace.SRGB,
                "alpha_mode": AlphaMode.IGNORE, **_IMAGE}
_TWO_PLANES = (
    PlaneDesc(PlaneKind.DEPTH, PlaneFormat.R32_F, 2, 1, 8, depth_encoding=DepthEncoding.LINEAR, depth_near=0.5,
              depth_far=250.0),
    PlaneDesc(PlaneKind.MOTION, PlaneFormat.RG16_F, 4, 2, 16, motion_units=MotionUnits.UV,
              motion_target=MotionTarget.NEXT),
)

GOLDEN: dict[str, Message] = {
    "hello": Hello(1, 0, "golden-client", "0.1.0", "Unity", "2022.3.10f1", Capability(255), ALL_FORMATS),
    "welcome": Welcome(
        session_id=SESSION, protocol_major=1, protocol_minor=0, server_version="0.1.0",
        capabilities=Capability.CREDITS | Capability.PROMPT_BLEND | Capability.STATS | Capability.HEARTBEAT,
        initial_credits=2, max_width=2048, max_height=2048, max_message_bytes=16781312, latency_frames=1,
        model=ModelInfo("tiny", ModelFamily.SD15, 256, 256), heartbeat_interval_ms=1000,
        pixel_formats=ALL_FORMATS, warning="client speaks protocol 1.1, this server speaks 1.0",
    ),
    "error": ErrorMsg(ErrorCode.BAD_PIXEL_SIZE, "pixel part has 31 bytes but stride x height = 16 x 2 = 32 bytes",
                      "Frame.stride", 42, False),
    "frame_rgba8": FrameHeader(frame_id=1234567890123, pixel_format=PixelFormat.RGBA8, row_order=RowOrder.TOP_DOWN,
                               color_space=ColorSpace.SRGB, alpha_mode=AlphaMode.IGNORE, **_IMAGE),
    "frame_bgra8": FrameHeader(frame_id=2, pixel_format=PixelFormat.BGRA8, row_order=RowOrder.BOTTOM_UP,
                               color_space=ColorSpace.LINEAR, alpha_mode=AlphaMode.PREMULTIPLIED, **_IMAGE),
    "frame_rgb8": FrameHeader(frame_id=3, pixel_format=PixelFormat.RGB8, row_order=RowOrder.TOP_DOWN,
                              color_space=ColorSpace.SRGB, alpha_mode=AlphaMode.STRAIGHT, **_IMAGE),
    "result_rgba8": ResultHeader(
        frame_id=1234567890123, pixel_format=PixelFormat.RGBA8, row_order=RowOrder.TOP_DOWN,
        color_space=ColorSpace.SRGB, alpha_mode=AlphaMode.IGNORE, queue_wait_us=120, inference_us=45000,
        encode_us=300, is_warmup=True, skipped=False, source_frame_id=1234567890122, credits_granted=1, **_IMAGE,
    ),
    "prompt": Prompt("a watercolor castle", "blurry, low quality",
                     (PromptWeight("a watercolor castle", 0.75), PromptWeight("a neon city at night", 0.25)),
                     transition_frames=30, transition_seconds=0.5, method=BlendMethod.SLERP, stream_id=1),
    "params": Params(guidance_scale=1.25, delta=0.5, t_index_list=(32, 45), seed=2, similarity_filter_enabled=True,
                     similarity_threshold=0.875, similarity_max_skip=10,
                     seed_blend=(SeedWeight(2, 0.75), SeedWeight(3, 0.25)), stream_id=1),
    "params_partial": Params(guidance_scale=1.25, seed=0),
    # protocol 1.2: Params.cfg_mode and Params.txt2img (params_txt2img.json)
    "params_txt2img": Params(seed=7, cfg_mode=CfgMode.SELF, txt2img=True),
    "game_event": GameEvent("enter_zone", {"biome": "forest", "danger": -3, "fog": 0.25, "night": True},
                            client_time_us=1700000000001000, frame_id=99),
    "state": State({"health": 75, "weather": "rain"}, replace_all=True, client_time_us=1700000000002000),
    "stats_request": StatsRequest(7),
    "stats": Stats(7, SESSION, 1000, 990, 8, 2, 60.0, 59.5, 16000, 33000, 12000, 17.25),
    "bye": Bye("client closing"),
    "notice": Notice(NoticeKind.PROMPT_CHANGED, "prompt changed by the preview page", "preview",
                     prompt=Prompt("a snowy forest", "people")),
    "notice_preview": Notice(NoticeKind.INFO, f"preview page: {PREVIEW_URL}", "preview", preview_url=PREVIEW_URL),
    "credit": Credit(1),
    "ping": Ping(5, 1700000000003000),
    "pong": Pong(5, 1700000000003000, 1700000000003100),
    **{f"frame_plane_{kind}": FrameHeader(frame_id=10 + i, planes=(plane,), **_PLANE_FRAME)
       for i, (kind, plane) in enumerate(PLANES.items())},
    "frame_planes_depth_motion": FrameHeader(frame_id=20, planes=_TWO_PLANES, **_PLANE_FRAME),
    # protocol 1.4: every new Params field, the Welcome's capacity and wanted planes, the WantedPlanesChanged Notice,
    # Frame.scene_cut (without and with planes: its id 13 follows planes, 12) and the StyleImage message
    "params_v14": Params(
        controlnet_scale=(AdapterWeight("depth", 0.75), AdapterWeight("canny", 1.25)),
        controlnet_start=(AdapterWeight("depth", 0.25),), controlnet_end=(AdapterWeight("depth", 0.875),),
        latent_feedback=0.25, motion_warp=0.5, motion_warp_step=1, scene_cut_threshold=0.375, ip_adapter_scale=0.625,
        style_blend=(AdapterWeight("watercolor", 0.75), AdapterWeight("ink", 0.25)), stream_id=1),
    "params_v14_attention": Params(  # the cached-attention knobs (protocol 1.4)
        attention_bank=2, attention_bank_interval=3, attention_bank_blocks=AttentionBankBlocks.UP,
        feature_injection=0.5, feature_injection_threshold=0.875, stream_id=1),
    "params_v15": Params(attention_bank=2, attention_bank_warp=True, stream_id=1),  # protocol 1.5: the warped bank
    "welcome_capacity": Welcome(
        session_id=SESSION, protocol_major=1, protocol_minor=4, server_version="0.1.0",
        capabilities=(Capability.CREDITS | Capability.PROMPT_BLEND | Capability.STATS | Capability.HEARTBEAT
                      | Capability.PLANES | Capability.STYLE_IMAGES),
        initial_credits=2, max_width=2048, max_height=2048, max_message_bytes=16781312, latency_frames=1,
        model=ModelInfo("tiny", ModelFamily.SD15, 256, 256), heartbeat_interval_ms=1000, pixel_formats=ALL_FORMATS,
        sessions_open=3, sessions_max=8, wanted_planes=(PlaneKind.DEPTH, PlaneKind.MOTION)),
    "notice_wanted_planes": Notice(NoticeKind.WANTED_PLANES_CHANGED, "the server now uses these planes: Depth, Motion",
                                   "params", wanted_planes=(PlaneKind.DEPTH, PlaneKind.MOTION)),
    "frame_scene_cut": FrameHeader(frame_id=30, scene_cut=True, **_PLANE_FRAME),
    "frame_scene_cut_planes": FrameHeader(
        frame_id=31, scene_cut=True, planes=(PlaneDesc(PlaneKind.MOTION, PlaneFormat.RG16_F, 4, 2, 16,
                                                       motion_units=MotionUnits.PIXELS,
                                                       motion_target=MotionTarget.PREVIOUS),), **_PLANE_FRAME),
    "style_image": StyleImage("watercolor", 4, 2, 16, PixelFormat.RGB8, RowOrder.BOTTOM_UP),
}
