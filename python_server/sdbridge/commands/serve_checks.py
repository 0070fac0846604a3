"""Checks `sdbridge serve` runs on its resolved config before the model loads: combinations the backend cannot
run, sources of no known form, and settings that would be silently without effect (warned). Each names the option,
the value and the fix."""

from __future__ import annotations

import difflib
import logging

from sdbridge.config import Accel, Dtype, ServerConfig

log = logging.getLogger(__name__)

#: The refusal of bfloat16 models on ONNX Runtime's CPU provider (they failed after the ONNX export, with
#: ONNX Runtime's "INVALID_GRAPH ... Type 'tensor(bfloat16)' of input parameter (sample) of operator (Conv)" traceback)
ORT_BFLOAT16 = ("{flag} with --accel onnxruntime on a CPU: ONNX Runtime's CPU kernels have no bfloat16 convolution "
                "(the exported UNet would not load); use --dtype float32 (what --dtype auto picks with onnxruntime) "
                "or --accel eager for bfloat16")


def warn_unknown_controlnet_kinds(cfg: ServerConfig) -> list[str]:
    """A ControlNet KIND the server has no plane or fallback for (not depth, normal(s), seg(mentation) or a Canny-like
    KIND) is fed only from a Control plane of that name: warn at start, with the known KIND it resembles (a typo such
    as `--controlnet depht=tiny` loaded, served, and left that ControlNet off for every client that sent a Depth
    plane). Returns the warnings."""
    from sdbridge.config import check_controlnets
    from sdbridge.runtime.control_inputs import CANNY_KINDS, PLANE_FOR_KIND

    known = sorted({*PLANE_FOR_KIND, *CANNY_KINDS})
    warnings = []
    for spec in check_controlnets(cfg.model.controlnet, "model.controlnet"):
        if spec.kind in known:
            continue
        close = difflib.get_close_matches(spec.kind, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        warnings.append(f"ControlNet KIND {spec.kind!r} is not one the server feeds itself ({', '.join(known)}), "
                        f"so only a Control plane named {spec.kind!r} conditions it (until a client sends one, it "
                        f"is off); {hint}KIND names the plane it reads (README 'ControlNet and engine planes')")
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def check_ip_adapter_source(cfg: ServerConfig) -> None:
    """An IP-Adapter SOURCE that is neither tiny / tiny-plus, nor a file here, nor of a Hub file's form
    OWNER/REPO/PATH/FILE is refused before the model loads (it was refused by the loader only once the model had
    loaded: minutes for a real one), naming the option, the value and the forms."""
    from pathlib import Path

    spec = cfg.model.ip_adapter_spec()
    if spec is None:
        return
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.ip_adapter_loading import TINY

    if spec.source in TINY or Path(spec.source).expanduser().is_file():
        return
    path = Path(spec.source)
    hub_form = (len(spec.source.split("/")) >= 3 and not path.exists() and not path.is_absolute()
                and not spec.source.startswith(".") and not path.parent.is_dir())
    if not hub_form:
        close = difflib.get_close_matches(spec.source, sorted(TINY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"--ip-adapter ([model] ip_adapter) {spec.source!r}{hint} is not tiny, tiny-plus, a weight "
                          "file here or a Hub file OWNER/REPO/PATH/FILE; give e.g. "
                          "h94/IP-Adapter/models/ip-adapter_sd15.safetensors, a local .safetensors file, or tiny")


def check_backend_for_pipeline(cfg: ServerConfig) -> None:
    """Settings the chosen backend cannot run, refused before the model loads (a `[pipeline] attention_bank` > 0
    with `--accel onnxruntime` was refused only once the model had loaded and its engines were built or read), and
    float16 on a CPU warned about (it served at a crawl without a word)."""
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.components import IDENTITY

    if cfg.model.name == IDENTITY:
        return
    bank, backend = cfg.pipeline.attention_bank, cfg.accel.backend
    if bank > 0 and backend is not Accel.EAGER:
        raise ConfigError(f"pipeline.attention_bank={bank} with accel.backend={backend.value}: cached attention needs "
                          f"the eager backend's diffusers UNet (the {backend.value} UNet's self-attention is fixed in "
                          "its graph and cannot attend to banked keys and values); set [pipeline] attention_bank = 0 "
                          "or serve with --accel eager")
    on_cpu = cfg.model.device.split(":")[0] == "cpu"
    if backend is Accel.ONNXRUNTIME and on_cpu and cfg.model.dtype is Dtype.BFLOAT16:
        raise ConfigError(ORT_BFLOAT16.format(flag="--dtype bfloat16 ([model] dtype)"))
    if cfg.model.dtype is Dtype.FLOAT16 and on_cpu and backend in (Accel.EAGER, Accel.COMPILE):  # torch runs it
        log.warning("dtype float16 on device cpu: torch runs float16 convolutions on a CPU with slow fallback "
                    "kernels (a convolution ran about 200x slower than in float32 on the project's test CPU); use "
                    "--dtype auto (it says what suits this CPU), bfloat16 or float32, or a GPU (--device cuda)")


#: [pipeline] keys of temporal coherence and of cached attention (`serve --help` lists them; named at start when
#: not at their defaults)
TEMPORAL_COHERENCE_KEYS = ("latent_feedback", "motion_warp", "motion_warp_step", "scene_cut_threshold")
CACHED_ATTENTION_KEYS = ("attention_bank", "attention_bank_interval", "attention_bank_blocks", "feature_injection",
                         "feature_injection_threshold", "attention_bank_warp")
TEMPORAL_KEYS = TEMPORAL_COHERENCE_KEYS + CACHED_ATTENTION_KEYS


def log_temporal_settings(cfg: ServerConfig) -> str:
    """One INFO line naming the temporal-coherence and cached-attention settings every session starts with, when any
    differs from its default, and what motion-guided warping needs from the client (a config that turned them on
    showed no sign of it at start, and a client sending no Motion plane got no warp without a word). Returns it."""
    from sdbridge import params
    from sdbridge.pipeline.components import IDENTITY

    if cfg.model.name == IDENTITY:
        return ""
    changed = {key: getattr(cfg.pipeline, key) for key in TEMPORAL_KEYS
               if getattr(cfg.pipeline, key) != params.BY_NAME[key].default}
    if not changed:
        return ""
    text = ", ".join(f"{key}={value}" for key, value in changed.items())
    motion = cfg.pipeline.motion_warp > 0 or (cfg.pipeline.attention_bank > 0 and cfg.pipeline.attention_bank_warp)
    needs = ("; the warp needs a Motion plane in each Frame (the Welcome's wanted_planes asks for it): a frame "
             "without one is not warped") if motion else ""
    line = f"every session starts with {text} ([pipeline] of the config){needs}"
    log.info("%s", line)
    return line
