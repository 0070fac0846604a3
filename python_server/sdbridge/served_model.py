"""The served model: loaded once per server, one pipeline per session, described in the Welcome.

`load_model` reads `[model]`, `[pipeline]` and `[accel]` of the server config; `factory_from_components`
does the same over components that are already loaded (tests, tools). Both return the per-session pipeline
factory the worker calls and the `ModelDescription` the handshake sends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sdbridge import host_kernels
from sdbridge.config import Accel, Dtype, ServerConfig
from sdbridge.errors import ConfigError
from sdbridge.protocol import messages as m
from sdbridge.runtime.cuda_thread import bind_thread
from sdbridge.runtime.worker import PipelineFactory
from sdbridge.serving.served_names import ServedNames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDescription:
    """What the Welcome says about the loaded model, and what the server plans its threads and sizes by.

    `family` is for the Welcome only; the server decides by `passthrough` (never by the wire enum).
    """

    name: str
    family: m.ModelFamily
    width: int
    height: int
    latency_frames: int
    #: The model returns its input unchanged at any frame size (the "identity" preset): no model work, so frames
    #: keep the client's size and may be answered on the I/O thread (ModelConfig.identity_inline).
    passthrough: bool = False
    #: What a Params may name (live LoRAs, ControlNets, the IP-Adapter), checked where it enters the server; None:
    #: not known (a passthrough model, a test's fake), so only the session pipelines check the names they get.
    names: ServedNames | None = None



def load_model(config: ServerConfig, on_fatal: Callable[[BaseException], None] | None = None
               ) -> tuple[PipelineFactory, ModelDescription]:
    """Load the configured model once; return a per-session pipeline factory and its description.

    Imports torch and sdbridge.pipeline (only here, never at package import). `[accel]` picks the backend
    (sdbridge.acceleration); `on_fatal` gets a failed background engine build. The compiled backend is warmed
    here (acceleration/warmup.py: every UNet batch the server will use, logged "warm in N s"), so the server,
    which binds after this returns, serves its first client without compiling. Its calls run on a device lane
    made for it, returned inside the factory (runtime.device_lane.WarmedFactory) for the worker to adopt: the
    thread that recorded the CUDA graphs replays them (not run on a GPU here).
    """
    import torch

    from sdbridge.pipeline import ModelFamily, load_components
    from sdbridge.pipeline.components import IDENTITY

    mc = config.model
    dtype, why = mc.resolved_dtype(config.accel.backend.value)
    chosen = f" (dtype auto: {why})" if mc.dtype is Dtype.AUTO else ""  # `sdbridge serve` resolved it and said why
    if mc.name == IDENTITY:  # no weights: nothing is loaded in any dtype
        log.info("model identity: frames pass through unchanged")
    else:
        log.info("loading model %s on %s in %s%s", mc.name, mc.device, dtype.value, chosen)
    bind_thread(mc.device)  # this thread loads and warms on the device: not on cuda:0 when given cuda:N
    seconds = host_kernels.warm()  # compiled (or read from numba's cache) before the first frame
    if seconds is not None:
        log.info("CPU pixel kernels ready in %.2f s", seconds)
    components = load_components(mc.name, device=mc.device, dtype=getattr(torch, dtype.value), vae=mc.vae,
                                 lora=mc.loras() or None, live_lora=mc.live_loras() or None)
    # no "model loaded" line here: load_components logs the load with its time and description (identity: above)
    if components.family is not ModelFamily.IDENTITY:
        from sdbridge.cpu_features import bf16_hint

        hint = bf16_hint(mc.device, dtype.value)
        if hint:
            log.info("%s", hint)
    if config.accel.backend is Accel.EAGER:
        return factory_from_components(components, config, _controlnets(components, config),
                                       _ip_adapter(components, config))
    from sdbridge.acceleration.serving import accelerate_for_server

    components, handle = accelerate_for_server(components, config, on_fatal)
    factory, description = factory_from_components(components, config)
    if config.accel.backend is Accel.COMPILE:  # every UNet batch it will use compiled before the server binds,
        from sdbridge.acceleration.warmup import compiled_runners, warm_on_lane  # on the lane that will serve it

        return warm_on_lane(factory, config, compiled_runners(handle)), description
    return factory, description


def _check_bankable(base: Any, unet: Any, config: ServerConfig) -> None:
    """Refuse `[pipeline] attention_bank` > 0 on a UNet that cannot bank (an ONNX Runtime / TensorRT engine, a
    compiled UNet) before the server binds: the pipeline's own check (TemporalState.check), naming the backend."""
    from sdbridge.pipeline.temporal import TemporalState

    try:
        TemporalState.check(base, unet)
    except ConfigError as exc:
        raise ConfigError(f"pipeline.attention_bank={base.attention_bank} with accel.backend="
                          f"{config.accel.backend.value}: {exc}") from exc


def _controlnets(components: Any, config: ServerConfig) -> Any:
    """The ControlNets of `[model] controlnet` loaded for the components, or None (config.py refuses them with a
    backend other than eager)."""
    specs = config.model.controlnets()
    if not specs:
        return None
    from sdbridge.pipeline.controlnet_loading import load_controlnets

    nets, _ = load_controlnets(specs, components)
    log.info("ControlNets loaded: %s", ", ".join(f"{s.kind} ({s.source}, scale {s.scale:g})" for s in specs))
    return nets


def _ip_adapter(components: Any, config: ServerConfig) -> Any:
    """The IP-Adapter of `[model] ip_adapter` attached to the components' UNet, or None (config.py refuses it with
    a backend other than eager)."""
    spec = config.model.ip_adapter_spec()
    if spec is None:
        return None
    from sdbridge.pipeline.ip_adapter_loading import load_ip_adapter

    adapter = load_ip_adapter(spec, components)
    adapter.max_style_images = config.limits.max_style_images  # each session's pipeline holds at most this many
    log.info("IP-Adapter loaded: %s (%s, scale %g)", spec.source, "Plus" if adapter.plus else "plain", spec.scale)
    return adapter


def factory_from_components(components: Any, config: ServerConfig, controlnets: Any = None,
                            ip_adapter: Any = None) -> tuple[PipelineFactory, ModelDescription]:
    """A per-session pipeline factory over already loaded (shared) components; `controlnets`: the shared
    sdbridge.pipeline.controlnet.ControlNets every session's pipeline runs (their starting scales from
    `[model] controlnet`); `ip_adapter`: the shared sdbridge.pipeline.ip_adapter.IpAdapter (its starting scale from
    `[model] ip_adapter`)."""
    from sdbridge.pipeline import ModelFamily, StreamConfig, build_pipeline
    from sdbridge.pipeline.guidance import CfgMode

    p = config.pipeline
    base = StreamConfig(
        width=config.model.width,
        height=config.model.height,
        t_index_list=p.t_index_list,
        cfg_mode=CfgMode(p.cfg_mode.value),
        guidance_scale=p.guidance_scale,
        delta=p.delta,
        seed=p.seed,
        similarity_filter=p.similarity_filter,
        similarity_threshold=p.similarity_threshold,
        max_skip_frames=p.max_skip_frames,
        latent_feedback=p.latent_feedback,
        motion_warp=p.motion_warp,
        motion_warp_step=p.motion_warp_step,
        scene_cut_threshold=p.scene_cut_threshold,
        attention_bank=p.attention_bank,
        attention_bank_interval=p.attention_bank_interval,
        attention_bank_blocks=p.attention_bank_blocks,
        feature_injection=p.feature_injection,
        feature_injection_threshold=p.feature_injection_threshold,
        attention_bank_warp=p.attention_bank_warp,
        controlnet_scale=tuple((s.kind, s.scale) for s in config.model.controlnets()) if controlnets else (),
    )
    spec = config.model.ip_adapter_spec()
    if ip_adapter is not None and spec is not None:
        base = base.replace(ip_adapter_scale=spec.scale)

    def build(width: int, height: int) -> Any:
        if components.family is ModelFamily.IDENTITY:  # any frame size, nothing to validate
            return build_pipeline(components, base)
        return build_pipeline(components, base.replace(width=width, height=height), controlnets, ip_adapter)

    if components.family is not ModelFamily.IDENTITY:
        _check_bankable(base, components.unet, config)
    probe = build(config.model.width, config.model.height)
    family = {
        "sd15": m.ModelFamily.SD15, "sd21": m.ModelFamily.SD21, "sdxl": m.ModelFamily.SDXL,
        "identity": m.ModelFamily.IDENTITY,
    }.get(components.family.value, m.ModelFamily.UNKNOWN)
    passthrough = components.family is ModelFamily.IDENTITY
    return build, ModelDescription(components.name, family, config.model.width, config.model.height,
                                   int(probe.latency_frames), passthrough=passthrough,
                                   names=None if passthrough else ServedNames.of(components, controlnets, ip_adapter))
