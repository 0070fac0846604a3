"""Server configuration: frozen dataclasses, Enums and a strict TOML loader.

Every value has a default, so `ServerConfig()` is a valid configuration. `load_config(path)` reads
a TOML file (see configs/server.toml); an unknown section or key, or a value of the wrong type, is
an error that names the key, its line and what is allowed. No value is ever silently ignored.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from sdbridge import params
from sdbridge.config_device import device_problem
from sdbridge.config_endpoint import MAX_PORT, bind_problem
from sdbridge.config_fix import toml_text, type_fix
from sdbridge.errors import ConfigError
from sdbridge.toml_lines import TomlLines


class Dtype(Enum):
    """Floating point type the model runs in. AUTO picks one for the device (`auto_dtype`)."""

    AUTO = "auto"
    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


def auto_dtype(device: str, flags: frozenset[str] | None = None, accel: str = "eager") -> tuple[Dtype, str]:
    """What `dtype = "auto"` means on `device`, and why: float16 on CUDA; on a CPU bfloat16 when its flags show
    AMX (amx_bf16 + amx_tile) or AVX512-BF16, else float32; float32 elsewhere (MPS, ...).

    `flags`: the CPU feature flags (default: read from /proc/cpuinfo; empty where it does not exist).
    `accel`: the backend ([accel] backend); ONNX Runtime on a CPU stays float32 (its CPU kernels have no
    bfloat16 convolution).
    """
    from sdbridge.cpu_features import CpuBf16, cpu_bf16, cpu_flags

    kind = device.split(":", 1)[0]
    if kind == "cuda":
        return Dtype.FLOAT16, "CUDA device: float16 halves memory and runs on the tensor cores"
    if kind != "cpu":
        return Dtype.FLOAT32, f"{kind} device: auto picks float16 only on CUDA (pass --dtype float16 to try it)"
    if accel == "onnxruntime":
        return Dtype.FLOAT32, "ONNX Runtime on the CPU: its CPU kernels have no bfloat16 convolution"
    flags = cpu_flags() if flags is None else flags
    support = cpu_bf16("flags : " + " ".join(sorted(flags)))
    if support is CpuBf16.AMX:
        return Dtype.BFLOAT16, "CPU with AMX (amx_bf16): bfloat16 ran the small pipeline 1.4-2.1x faster than float32"
    if support is CpuBf16.AVX512:
        return Dtype.BFLOAT16, "CPU with AVX512-BF16 (no AMX): bfloat16 dot products; --dtype float32 to compare"
    if not flags:
        return Dtype.FLOAT32, "CPU flags unreadable (no /proc/cpuinfo): float32"
    return Dtype.FLOAT32, "CPU without AMX or AVX512-BF16 in its flags: float32"


#: The suffix of a `--lora` / `[model] lora` entry whose LoRA stays unfused, its weight changed between frames.
LIVE_SUFFIX = ":live"


@dataclass(frozen=True)
class LoraSpec:
    """One `SOURCE[=SCALE][:live]` entry: fused into the model at `scale`, or (`live`) kept as an adapter whose
    weight starts at `scale` and changes between frames (the `lora_weights` parameter, by `adapter` name)."""

    source: str
    scale: float = 1.0
    live: bool = False

    @property
    def adapter(self) -> str:
        """The adapter's name: the file name without extension, or the last part of a Hub id (letters, digits,
        '_' and '-'; anything else becomes '_'), e.g. "/loras/pixel-art.safetensors" -> "pixel-art"."""
        stem = self.source.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
        stem = stem[: -len(".safetensors")] if stem.endswith(".safetensors") else stem
        return "".join(c if c.isalnum() or c in "_-" else "_" for c in stem) or "lora"


def parse_lora(spec: str, option: str) -> LoraSpec:
    """`SOURCE[=SCALE][:live]` -> LoraSpec; scale 1.0 when absent. `option` names the flag or key in errors.

    A live LoRA's scale is its starting weight, so it must lie in the `lora_weights` range (sdbridge.params)."""
    live = spec.endswith(LIVE_SUFFIX)
    body = spec[: -len(LIVE_SUFFIX)] if live else spec
    source, sep, scale_text = body.rpartition("=")
    if not sep:
        source, scale_text = body, "1.0"
    try:
        scale = float(scale_text)
    except ValueError:
        scale = float("nan")
    if not source.strip() or scale != scale or abs(scale) == float("inf"):
        example = "latent-consistency/lcm-lora-sdv1-5=1.0"
        example = f"--lora {example}" if option.startswith("--") else f'lora = ["{example}"]'
        raise ConfigError(
            f"{option}={spec!r} is not SOURCE[=SCALE][:live]: give a Hub id or .safetensors path, optionally "
            f"followed by '=' and a finite number and by ':live' (weight changed between frames), e.g. {example}"
        )
    if live:
        weights = params.BY_NAME["lora_weights"]
        if not weights.in_range(scale):
            raise ConfigError(f"{option}={spec!r}: a live LoRA's scale is its starting weight; {scale:g} is outside "
                              f"the lora_weights range {weights.range_text}; give a scale in it")
    return LoraSpec(source, scale, live)


def check_loras(specs: tuple[str, ...], option: str) -> tuple[LoraSpec, ...]:
    """Every entry parsed (`option`[i] named in errors); two live LoRAs may not share an adapter name."""
    parsed = tuple(parse_lora(spec, f"{option}[{i}]" if option.startswith("model.") else option)
                   for i, spec in enumerate(specs))
    names = [p.adapter for p in parsed if p.live]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{option}: two live LoRAs are both named {name!r} (the file name or the Hub id's "
                              f"last part); rename one of the files")
    return parsed


@dataclass(frozen=True)
class ControlNetSpec:
    """One `KIND=SOURCE[@SCALE]` entry (--controlnet, [model] controlnet): the ControlNet named KIND (its name in
    controlnet_scale and set_image: depth, normal, seg, canny, ...) loaded from SOURCE (a Hub id, a folder, or
    "tiny" for the random presets) at a starting conditioning scale (sdbridge.pipeline.controlnet_loading)."""

    kind: str
    source: str
    scale: float = 1.0


_KIND = re.compile(r"[A-Za-z0-9_.-]+")


def _at_in_path(source: str, tail: str) -> bool:
    """Whether the '@' before `tail` belongs to a path: a folder or a weight file's name follows it, or the whole
    source exists (a Hub id has no '@', so 'tiny@abc' is a SCALE that is not a number, refused before any Hub
    lookup)."""
    return ("/" in tail or "\\" in tail or tail.strip().endswith((".safetensors", ".bin"))
            or Path(source.strip()).expanduser().exists())


def parse_controlnet(spec: str, option: str) -> ControlNetSpec:
    """`KIND=SOURCE[@SCALE]` -> ControlNetSpec (scale 1 when absent, else in the controlnet_scale range); an '@'
    not followed by a number belongs to the source. `option` names the flag or key in errors."""
    kind, sep, rest = spec.partition("=")
    source, at, tail = rest.rpartition("@")
    example = "depth=lllyasviel/control_v11f1p_sd15_depth@0.8"
    example = f"--controlnet {example}" if option.startswith("--") else f'controlnet = ["{example}"]'
    try:
        scale = float(tail) if at else 1.0
    except ValueError:
        if not _at_in_path(rest, tail):
            raise ConfigError(f"{option}={spec!r}: SCALE {tail.strip()!r} (after the '@') is not a number; give a "
                              f"number in {params.BY_NAME['controlnet_scale'].range_text} or leave '@SCALE' out "
                              f"(1), e.g. {example}") from None
        source, scale = rest, 1.0
    source = source if at else rest
    if not sep or not kind.strip() or not source.strip():
        raise ConfigError(f"{option}={spec!r} is not KIND=SOURCE[@SCALE] (SOURCE a Hub id, a folder or 'tiny'), "
                          f"e.g. {example}")
    if not _KIND.fullmatch(kind.strip()):
        raise ConfigError(f"{option}={spec!r}: KIND {kind.strip()!r} is not a ControlNet name (letters, digits, "
                          f"'_', '-' or '.', the name clients use in controlnet_scale and set_image), e.g. {example}")
    try:
        params.check("controlnet_scale", [(kind.strip(), scale)], option)
    except params.ParamError as exc:
        raise ConfigError(str(exc)) from None
    return ControlNetSpec(kind.strip(), source.strip(), scale)


def check_controlnets(specs: tuple[str, ...], option: str) -> tuple[ControlNetSpec, ...]:
    """Every entry parsed (`option`[i] named in errors); a KIND given twice is refused."""
    parsed = tuple(parse_controlnet(spec, f"{option}[{i}]" if option.startswith("model.") else option)
                   for i, spec in enumerate(specs))
    kinds = [p.kind for p in parsed]
    for kind in kinds:
        if kinds.count(kind) > 1:
            raise ConfigError(f"{option} names ControlNet {kind!r} twice; give each KIND once")
    return parsed


@dataclass(frozen=True)
class IpAdapterSpec:
    """The `SOURCE[@SCALE]` of --ip-adapter / [model] ip_adapter: an IP-Adapter weight file (a local path, or a Hub
    file REPO_OWNER/REPO_NAME/PATH/FILE.safetensors|.bin; its image encoder in the `image_encoder` folder beside
    it), or "tiny" / "tiny-plus" (random weights for the random presets), at a starting ip_adapter_scale
    (sdbridge.pipeline.ip_adapter_loading)."""

    source: str
    scale: float = 1.0


def parse_ip_adapter(spec: str, option: str) -> IpAdapterSpec | None:
    """`SOURCE[@SCALE]` -> IpAdapterSpec (scale 1 when absent, else in the ip_adapter_scale range), None for "";
    an '@' not followed by a number belongs to the source. `option` names the flag or key in errors."""
    if not spec.strip():
        return None
    source, at, tail = spec.rpartition("@")
    try:
        scale = float(tail) if at else 1.0
    except ValueError:
        if not _at_in_path(spec, tail):
            raise ConfigError(f"{option}={spec!r}: SCALE {tail.strip()!r} (after the '@') is not a number; give a "
                              f"number in {params.BY_NAME['ip_adapter_scale'].range_text} or leave '@SCALE' out "
                              f"(1), e.g. tiny@0.8") from None
        source, scale = spec, 1.0
    source = (source if at else spec).strip()
    if not source:
        raise ConfigError(f"{option}={spec!r} is not SOURCE[@SCALE] (SOURCE a weight file, a Hub file "
                          "h94/IP-Adapter/models/ip-adapter_sd15.safetensors, or tiny), e.g. tiny@0.8")
    try:
        params.check("ip_adapter_scale", scale, option)
    except params.ParamError as exc:
        raise ConfigError(str(exc)) from None
    return IpAdapterSpec(source, scale)


def parse_segmentation(specs: tuple[str, ...], option: str) -> dict[int, str | int]:
    """`ID=CLASS` entries ([model] segmentation) -> {game id: ADE20K class name or index 0..149}: which ADE20K class
    a Segmentation plane's id is for a seg ControlNet (sdbridge.runtime.control_inputs; class names are checked
    against sdbridge.pipeline.ade20k when the server starts). An id given twice is refused."""
    mapping: dict[int, str | int] = {}
    for i, spec in enumerate(specs):
        where = f"{option}[{i}]"
        game_id, sep, cls = (part.strip() for part in spec.partition("="))
        if not sep or not game_id.isdigit() or not cls:
            raise ConfigError(f"{where}={spec!r} is not ID=CLASS (ID a game id >= 0, CLASS an ADE20K class name or "
                              f'index 0..149), e.g. segmentation = ["1=wall", "2=floor", "7=person"]')
        if int(game_id) in mapping:
            raise ConfigError(f"{where}={spec!r}: id {game_id} is mapped twice; give each id once")
        mapping[int(game_id)] = int(cls) if cls.isdigit() else cls
    return mapping


def _is_folder(value: str) -> bool:
    """True when `value` names an existing folder; False for any other text, one the OS cannot even look up (a name
    too long for it raises OSError from Path.is_dir) included."""
    try:
        return Path(value).expanduser().is_dir()
    except (OSError, ValueError):
        return False


def check_vae(value: str, option: str) -> str:
    """`taesd`, `full`, or a source: an existing folder or a Hub id 'owner/name'. Returns `value`."""
    if value in ("taesd", "full") or _is_folder(value) or (value.count("/") == 1 and all(value.split("/"))):
        return value
    raise ConfigError(
        f"{option}={value!r} is not taesd, full, an existing folder or a Hub id 'owner/name' of an autoencoder; "
        "use taesd (the fast tiny autoencoder, default), full (the model's own VAE) or fix the path"
    )


class ProcessingSize(Enum):
    """Which size the pipeline processes frames at.

    MODEL: the configured [model] width/height; frames of another size are resized in and out.
    CLIENT: each session's frame size (only sensible for the identity model, where it is the default).
    """

    MODEL = "model"
    CLIENT = "client"


class GuidanceMode(Enum):
    """Classifier-free guidance of the pipeline (values match sdbridge.pipeline.CfgMode)."""

    NONE = "none"
    FULL = "full"
    SELF = "self"
    INITIALIZE = "initialize"


@dataclass(frozen=True)
class ModelConfig:
    """Which model to load and at which size."""

    name: str = "tiny"  # "tiny", "small", "identity", a Hub id or a local path
    device: str = "cpu"
    dtype: Dtype = Dtype.AUTO  # "auto": float16 on CUDA, bfloat16 on CPUs with AMX/AVX512-BF16, else float32
    vae: str = "taesd"  # "taesd" | "full" | a Hub id or folder of an autoencoder (tiny or KL)
    lora: tuple[str, ...] = ()  # "SOURCE[=SCALE][:live]" entries: fused at load, or live (LoraSpec)
    controlnet: tuple[str, ...] = ()  # "KIND=SOURCE[@SCALE]" entries (ControlNetSpec)
    ip_adapter: str = ""  # "SOURCE[@SCALE]" (IpAdapterSpec): style reference images; "" = none
    segmentation: tuple[str, ...] = ()  # "ID=CLASS" entries: game id -> ADE20K class (parse_segmentation)
    width: int = 64
    height: int = 64
    processing_size: ProcessingSize = ProcessingSize.MODEL
    # Frames of several sessions waiting at the same size run as ONE UNet call (each session keeps its own
    # prompt, parameters and buffers). docs/benchmarks.md ("Sessions sharing one UNet call") says when it is faster.
    share_unet_batch: bool = True
    # The identity model answers each Frame on the I/O thread as it arrives, skipping the two thread
    # hand-offs (I/O -> worker -> I/O) a real model needs; false runs it on the worker like any model.
    identity_inline: bool = True

    def __post_init__(self) -> None:
        check_vae(self.vae, "model.vae")
        check_loras(self.lora, "model.lora")
        check_controlnets(self.controlnet, "model.controlnet")
        parse_ip_adapter(self.ip_adapter, "model.ip_adapter")
        parse_segmentation(self.segmentation, "model.segmentation")

    def segmentation_map(self) -> dict[int, str | int]:
        """{game id: ADE20K class} of the `segmentation` entries (empty: ids are ADE20K class indices)."""
        return parse_segmentation(self.segmentation, "model.segmentation")

    def ip_adapter_spec(self) -> IpAdapterSpec | None:
        """The `ip_adapter` entry parsed (None: no IP-Adapter)."""
        return parse_ip_adapter(self.ip_adapter, "model.ip_adapter")

    def controlnets(self) -> tuple[ControlNetSpec, ...]:
        """The `controlnet` entries parsed, in order."""
        return check_controlnets(self.controlnet, "model.controlnet")

    def loras(self) -> dict[str, float]:
        """{source: scale} of the `lora` entries fused at load, in order."""
        return {p.source: p.scale for p in check_loras(self.lora, "model.lora") if not p.live}

    def live_loras(self) -> dict[str, tuple[str, float]]:
        """{adapter name: (source, starting weight)} of the live `lora` entries, in order."""
        return {p.adapter: (p.source, p.scale) for p in check_loras(self.lora, "model.lora") if p.live}

    def resolved_dtype(self, accel: str = "eager") -> tuple[Dtype, str]:
        """The dtype the model runs in (AUTO resolved for `device` and the `accel` backend) and why."""
        if self.dtype is not Dtype.AUTO:
            return self.dtype, "as configured"
        return auto_dtype(self.device, accel=accel)


@dataclass(frozen=True)
class PipelineConfig:
    """Initial pipeline settings of every new session (clients change them with Prompt/Params).

    The live parameters' defaults and ranges are the parameter registry's (sdbridge.params), declared there once;
    the server config checks them with the registry's check (`_pipeline_ranges`).
    """

    prompt: str = "a watercolor painting"
    negative_prompt: str = ""
    t_index_list: tuple[int, ...] = params.BY_NAME["t_index_list"].default
    cfg_mode: GuidanceMode = GuidanceMode(params.BY_NAME["cfg_mode"].default)  # noqa: RUF009 (an enum member)
    guidance_scale: float = params.BY_NAME["guidance_scale"].default
    delta: float = params.BY_NAME["delta"].default
    seed: int = params.BY_NAME["seed"].default
    similarity_filter: bool = params.BY_NAME["similarity_filter"].default
    similarity_threshold: float = params.BY_NAME["similarity_threshold"].default
    max_skip_frames: int = params.BY_NAME["max_skip_frames"].default
    # temporal coherence (sdbridge.pipeline.temporal): every session's starting strengths (0 = off), the warp's step
    # and the scene-cut threshold; clients change them with Params, rules files and the page too
    latent_feedback: float = params.BY_NAME["latent_feedback"].default
    motion_warp: float = params.BY_NAME["motion_warp"].default
    motion_warp_step: int = params.BY_NAME["motion_warp_step"].default
    scene_cut_threshold: float = params.BY_NAME["scene_cut_threshold"].default
    # cached attention and feature injection (sdbridge.pipeline.cached_attention): every session's starting values
    # (attention_bank 0 = off); attention_bank > 0 needs the eager backend (refused when the first pipeline is built)
    attention_bank: int = params.BY_NAME["attention_bank"].default
    attention_bank_interval: int = params.BY_NAME["attention_bank_interval"].default
    attention_bank_blocks: str = params.BY_NAME["attention_bank_blocks"].default
    feature_injection: float = params.BY_NAME["feature_injection"].default
    feature_injection_threshold: float = params.BY_NAME["feature_injection_threshold"].default
    attention_bank_warp: bool = params.BY_NAME["attention_bank_warp"].default  # warp the bank with the motion


@dataclass(frozen=True)
class LimitsConfig:
    """What the server accepts. Everything beyond is refused with an Error naming the limit."""

    max_sessions: int = 8
    max_width: int = 2048
    max_height: int = 2048
    max_message_bytes: int = 2048 * 2048 * 4 + 4096  # largest ZeroMQ part (ZMQ_MAXMSGSIZE)
    max_text_chars: int = 4096  # prompts, event names, state keys
    # GameEvent and State messages per second and session (a one-second burst of this many is allowed);
    # the excess is refused with an Error and counted
    max_events_per_second: int = 200
    # Per-session budgets: one client costs only itself. Each refusal names the budget, the value and the fix.
    max_state_bytes: int = 64 * 1024  # bytes of State kept per session (keys + values, UTF-8)
    max_event_payload_bytes: int = 256 * 1024  # bytes of GameEvent payload kept per session (recent events)
    max_recent_events: int = 64  # GameEvents kept per session (for Stats, rules and the preview)
    max_prompt_blend: int = 8  # entries of one Prompt blend
    max_seed_blend: int = 8  # entries of one seed blend
    max_t_index_list: int = 8  # denoising steps per frame (t_index_list length)
    # auxiliary planes (depth, normals, ids, motion, control images) one Frame may carry, one ZeroMQ part each after
    # the pixels (protocol 1.3, Capability Planes); each part within max_message_bytes
    max_planes: int = 6
    # named style images (StyleImage messages, protocol 1.4, servers with an IP-Adapter) a session may hold; each
    # within max_width x max_height and max_message_bytes like a Frame
    max_style_images: int = 8
    # Messages (Results, Credits, Pongs, Notices, Errors) beyond `session.credits` that a client may leave
    # unread before the server frees its session as not reading; sets the ROUTER's send HWM (see
    # ServerConfig.send_hwm), which bounds what a client that never reads can pin in the server's memory
    max_queued_results: int = 4
    idle_session_s: float = 300.0  # a session that sends no frame (only Pings) is freed after this long
    max_preview_pages: int = 8  # preview pages (websockets) open at once, per server
    max_preview_snapshot_bytes: int = 64 * 1024  # bytes of one session snapshot sent to a preview page


@dataclass(frozen=True)
class SessionConfig:
    """Flow control and liveness of sessions."""

    credits: int = 2  # frames a client may have in flight; each Result returns one
    heartbeat_interval_ms: int = 1000  # clients ping at least this often when idle
    heartbeat_timeout_s: float = 10.0  # a silent session is freed after this long
    # ZeroMQ receive high-water mark (messages) of the ROUTER socket. The send HWM is not set here: it is
    # derived from credits and limits.max_queued_results (ServerConfig.send_hwm).
    recv_hwm: int = 16


@dataclass(frozen=True)
class PreviewConfig:
    """The browser preview and control page (sdbridge.preview). Off unless enabled.

    Binding any host other than loopback requires a token (an empty one is generated and printed).
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8765  # 0 picks a free port
    token: str = ""  # required in the page address and websocket when set; generated for non-loopback hosts
    fps: float = 10.0  # preview images per second and per view (input, output) of the watched session
    jpeg_quality: int = 80
    max_side: int = 320  # previews larger than this are subsampled (every n-th pixel) before encoding


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics with /healthz and /readyz for balancers and probes (sdbridge.serving.metrics), and how
    long a draining replica (SIGTERM) waits for its sessions to move. The endpoint is off unless enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"  # the metrics address; scrapers and health checks beyond this host need another
    port: int = 9464  # 0 picks a free port
    # SIGTERM drains for at most this long (refuse new sessions, tell the open ones to move, serve them until they
    # have); 0 = SIGTERM stops at once, like SIGINT
    drain_grace_s: float = 0.0


@dataclass(frozen=True)
class SecurityConfig:
    """CurveZMQ encryption and client authorisation (keys from `sdbridge keys generate`).

    A bind address other than loopback (127.0.0.1, ::1, localhost, ipc://, inproc://) refuses to start
    unless `server_secret_key` and `authorized_keys` are set, or `insecure` is true.
    """

    server_secret_key: str = ""  # the server's secret certificate file (NAME.key_secret); "" = no CurveZMQ
    authorized_keys: str = ""  # folder of allowed clients' public certificates (*.key); required with CurveZMQ
    insecure: bool = False  # allow a non-loopback bind without CurveZMQ (anyone who can connect is served)


class Accel(Enum):
    """Acceleration backend of the model (values match sdbridge.acceleration.BackendChoice)."""

    EAGER = "eager"
    COMPILE = "compile"
    ONNXRUNTIME = "onnxruntime"
    TENSORRT = "tensorrt"


@dataclass(frozen=True)
class AccelConfig:
    """How the model runs (engines/README.md). A backend that cannot run here stops the server, naming why."""

    backend: Accel = Accel.EAGER
    engines_dir: str = "engines"  # engine cache folder
    background: bool = False  # onnxruntime/tensorrt: serve with torch eager while engines build, then switch
    threads: int = 0  # ONNX Runtime intra-op threads (0 = torch's thread count)
    profile: str = ""  # engine profile TOML whose [shapes] range to build; "" = the model size
    ort_providers: tuple[str, ...] = ()  # ONNX Runtime execution providers in order; () = by device
    # compile: CUDA graphs (torch.compile mode "reduce-overhead") when the model is on CUDA; elsewhere the same
    # path compiles without graphs and says so in the log. Every UNet batch the server uses is compiled (and
    # captured) before it binds: engines/README.md, "torch.compile and CUDA graphs"
    cuda_graphs: bool = False


@dataclass(frozen=True)
class ServerConfig:
    """Everything `sdbridge serve` needs."""

    bind: str = "tcp://127.0.0.1:5555"
    model: ModelConfig = field(default_factory=ModelConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    preview: PreviewConfig = field(default_factory=PreviewConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    accel: AccelConfig = field(default_factory=AccelConfig)
    #: the keys the config file set, dotted ("pipeline.t_index_list"), so a later default (e.g. a model's own
    #: steps) can tell a value the file chose from a default; not a config key itself
    file_keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False, metadata={"internal": True})

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def send_hwm(self) -> int:
        """The ROUTER's per-peer send high-water mark (messages), derived from the budgets.

        An honest client leaves at most `session.credits` Results (or their Credits) plus a few Pongs,
        Notices and Errors unread: limits.max_queued_results is that margin, so it needs room for
        C = credits + max_queued_results messages. libzmq's writer learns that queued messages were taken
        only every lwm = (hwm + 1) // 2 of them (pipe low-water mark), so its view of the fill level lags
        by up to lwm - 1: hwm = 2 * C - 1 is the smallest HWM that always leaves room for C. A client that
        never reads can therefore pin at most hwm messages (plus the one the connection is writing), and is
        freed as not reading when a Result hits the HWM.
        """
        return 2 * (self.session.credits + self.limits.max_queued_results) - 1


def _validate(cfg: ServerConfig) -> None:
    lim = cfg.limits
    checks: list[tuple[bool, str]] = [
        (lim.max_sessions >= 1, f"limits.max_sessions={lim.max_sessions} must be >= 1"),
        (lim.max_width >= 1, f"limits.max_width={lim.max_width} must be >= 1"),
        (lim.max_height >= 1, f"limits.max_height={lim.max_height} must be >= 1"),
        (lim.max_message_bytes >= 1024,
         f"limits.max_message_bytes={lim.max_message_bytes} must be >= 1024"),
        (cfg.session.credits >= 1, f"session.credits={cfg.session.credits} must be >= 1"),
        (cfg.accel.threads >= 0, f"accel.threads={cfg.accel.threads} must be >= 0 (0 = torch's thread count)"),
        (lim.max_events_per_second >= 1,
         f"limits.max_events_per_second={lim.max_events_per_second} must be >= 1"),
        *_budget_checks(lim),
        (bool(cfg.security.server_secret_key) == bool(cfg.security.authorized_keys),
         "security.server_secret_key (serve --curve-secret-key) and security.authorized_keys (serve "
         "--authorized-keys) go together: set both for CurveZMQ (see `sdbridge keys generate`) or neither"),
        (cfg.session.heartbeat_timeout_s > 0,
         f"session.heartbeat_timeout_s={cfg.session.heartbeat_timeout_s} must be > 0"),
        (cfg.session.heartbeat_interval_ms >= 0,
         f"session.heartbeat_interval_ms={cfg.session.heartbeat_interval_ms} must be >= 0"),
        (cfg.session.recv_hwm >= 1, f"session.recv_hwm={cfg.session.recv_hwm} must be >= 1"),
        (len(cfg.pipeline.t_index_list) <= lim.max_t_index_list,
         f"pipeline.t_index_list has {len(cfg.pipeline.t_index_list)} steps, above limits.max_t_index_list="
         f"{lim.max_t_index_list}; use fewer steps or raise limits.max_t_index_list"),
        (cfg.model.width % 8 == 0 and cfg.model.width > 0,
         f"model.width={cfg.model.width} must be a positive multiple of 8"),
        (cfg.model.height % 8 == 0 and cfg.model.height > 0,
         f"model.height={cfg.model.height} must be a positive multiple of 8"),
        (len(cfg.pipeline.t_index_list) >= 1, "pipeline.t_index_list must not be empty"),
        (cfg.accel.backend is Accel.EAGER or not any(spec.endswith(LIVE_SUFFIX) for spec in cfg.model.lora),
         f"model.lora has live LoRAs (':live'), which need accel.backend=eager (the {cfg.accel.backend.value} backend "
         f"builds the UNet's weights in); use --accel eager or fuse them (drop ':live')"),
        *_controlnet_checks(cfg),
        *_placement_checks(cfg),
        (0 <= cfg.preview.port <= MAX_PORT, f"preview.port={cfg.preview.port} must be in [0, {MAX_PORT}]"),
        (0 < cfg.preview.fps <= 30, f"preview.fps={cfg.preview.fps} must be in (0, 30]"),
        (1 <= cfg.preview.jpeg_quality <= 95, f"preview.jpeg_quality={cfg.preview.jpeg_quality} must be in [1, 95]"),
        (cfg.preview.max_side >= 16, f"preview.max_side={cfg.preview.max_side} must be >= 16"),
        (0 <= cfg.limits.max_planes <= 16,
         f"limits.max_planes={cfg.limits.max_planes} must be in [0, 16] (0: frames carry no planes)"),
        (0 <= cfg.metrics.port <= MAX_PORT, f"metrics.port={cfg.metrics.port} must be in [0, {MAX_PORT}]"),
        (0 <= cfg.metrics.drain_grace_s <= 3600,
         f"metrics.drain_grace_s={cfg.metrics.drain_grace_s} must be in [0, 3600] seconds"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    if cfg.session.heartbeat_interval_ms / 1000.0 >= cfg.session.heartbeat_timeout_s:
        raise ConfigError(
            f"session.heartbeat_interval_ms={cfg.session.heartbeat_interval_ms} must be shorter than "
            f"session.heartbeat_timeout_s={cfg.session.heartbeat_timeout_s} (in ms), or idle clients expire"
        )
    needed = lim.max_width * lim.max_height * 4
    if lim.max_message_bytes < needed:
        raise ConfigError(
            f"limits.max_message_bytes={lim.max_message_bytes} cannot hold a max_width x max_height RGBA "
            f"frame ({needed} bytes); raise it to >= {needed} or lower max_width/max_height"
        )
    _pipeline_ranges(cfg.pipeline)


def _placement_checks(cfg: ServerConfig) -> list[tuple[bool, str]]:
    """Where the server listens and runs: the bind endpoint, the device name, CUDA graphs only with compile."""
    bind, device = bind_problem(cfg.bind), device_problem(cfg.model.device)
    return [(bind is None, str(bind)),
            (device is None, str(device)),
            (cfg.accel.backend is Accel.COMPILE or not cfg.accel.cuda_graphs,
             f"accel.cuda_graphs needs accel.backend=compile (CUDA graphs are a torch.compile mode; the "
             f"{cfg.accel.backend.value} backend would ignore them); add --accel compile or drop --cuda-graphs")]


def _controlnet_checks(cfg: ServerConfig) -> list[tuple[bool, str]]:
    """ControlNets and the IP-Adapter run on the eager backend only (an engine's or compiled UNet takes no residual
    inputs and has no image projection)."""
    return [(cfg.accel.backend is Accel.EAGER or not cfg.model.controlnet,
             f"model.controlnet needs accel.backend=eager (the {cfg.accel.backend.value} backend's UNet takes no "
             f"ControlNet residuals); use --accel eager or drop the ControlNets"),
            (cfg.accel.backend is Accel.EAGER or not cfg.model.ip_adapter.strip(),
             f"model.ip_adapter needs accel.backend=eager (the {cfg.accel.backend.value} backend's UNet has no "
             f"IP-Adapter image projection or image cross-attention inputs); use --accel eager or drop the "
             f"IP-Adapter")]


def _pipeline_ranges(pipe: PipelineConfig) -> None:
    """Each [pipeline] value that is a registry parameter, checked in its one range (sdbridge.params): a
    ConfigError such as "pipeline.guidance_scale: guidance_scale=45.0 must be a number in [0, 30]"."""
    for f in dataclasses.fields(pipe):
        if f.name in params.BY_NAME:
            try:
                params.check(f.name, getattr(pipe, f.name), f"pipeline.{f.name}")
            except params.ParamError as exc:
                raise ConfigError(str(exc)) from None


def _budget_checks(lim: LimitsConfig) -> list[tuple[bool, str]]:
    """The per-session budgets: each must be at least 1 (a budget of 0 would refuse everything)."""
    names = ("max_state_bytes", "max_event_payload_bytes", "max_recent_events", "max_prompt_blend",
             "max_seed_blend", "max_t_index_list", "max_queued_results", "max_preview_pages",
             "max_preview_snapshot_bytes")
    checks = [(getattr(lim, name) >= 1, f"limits.{name}={getattr(lim, name)} must be >= 1") for name in names]
    checks.append((lim.idle_session_s > 0, f"limits.idle_session_s={lim.idle_session_s} must be > 0 (seconds)"))
    checks.append((0 <= lim.max_style_images <= 64,
                   f"limits.max_style_images={lim.max_style_images} must be in [0, 64] (0: no StyleImage accepted)"))
    return checks


def _where(path: str, text: str, section: str | None, key: str) -> str:
    """`path:line: [section] ` for an error about `key` (the key's line, a `[section.key]` table's header or, if
    neither is written, the section's header line)."""
    line = TomlLines(text).line((*section.split("."), key) if section else (key,))
    place = f"[{section}] " if section else ""
    return f"{path}:{line}: {place}" if line else f"{path}: {place}"


def _convert(value: Any, hint: Any, name: str, where: str, example: Any = None) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        allowed = [m.value for m in hint]
        if value not in allowed:
            raise ConfigError(f"{where}{name}={value!r} is not one of {allowed}")
        return hint(value)
    if origin is tuple:
        (item_type, _) = typing.get_args(hint)
        if not isinstance(value, list):
            scalar = isinstance(value, str | int | float)
            fix = f"; write it in brackets, e.g. {name} = [{toml_text(value)}]" if scalar else ""
            raise ConfigError(f"{where}{name}={value!r} must be a list{fix}")
        return tuple(_convert(v, item_type, f"{name}[{i}]", where) for i, v in enumerate(value))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}{name}={value!r} must be a number{type_fix(value, hint, name, example)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}{name}={value!r} must be an integer{type_fix(value, hint, name, example)}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            fix = type_fix(value, hint, name, example)
            raise ConfigError(f"{where}{name}={value!r} must be a {hint.__name__}{fix}")
        return value
    raise ConfigError(f"{where}{name}: unsupported type {hint!r}")  # pragma: no cover


#: live parameters whose starting value a config sets elsewhere than under their own name
_SET_ELSEWHERE = {
    "ip_adapter_scale": 'the starting scale is the @SCALE of [model] ip_adapter, e.g. ip_adapter = "tiny@0.7"',
    "controlnet_scale": "a ControlNet's starting scale is the @SCALE of its [model] controlnet entry, e.g. "
                        'controlnet = ["depth=tiny@0.8"]',
    "lora_weights": "a live LoRA's starting weight is the SCALE of its [model] lora entry, e.g. "
                    'lora = ["SOURCE=0.8:live"]',
}


def _key_hint(key: str, names: set[str], section: str | None, value: Any = None) -> str:
    """" (did you mean 'x'?)" for a misspelt key, " (it belongs in [s])" for a key of another section, where a
    parameter's starting value is set instead, or, for an unknown table, the section its keys belong in."""
    close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.75)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if key in _SET_ELSEWHERE:
        return f" ({_SET_ELSEWHERE[key]})"
    hints = typing.get_type_hints(ServerConfig)
    tables = {name: {f.name for f in dataclasses.fields(hint)} for name, hint in hints.items()
              if dataclasses.is_dataclass(hint)}
    if section is None and isinstance(value, dict) and value:
        homes = [name for name, fields in tables.items() if set(value) <= fields]
        if homes:
            return f" (no [{key}] table: {', '.join(sorted(value))} belong in [{homes[0]}])"
    owners = [name for name, fields in tables.items() if name != section and key in fields]
    return f" (it belongs in [{owners[0]}])" if owners else ""


def _build(cls: type, data: dict[str, Any], section: str | None, path: str, text: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = _where(path, text, section, key)
        if key not in names:
            raise ConfigError(f"{where}unknown key {key!r}{_key_hint(key, names, section, value)}; allowed keys: "
                              f"{sorted(names)}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{key} must be a [{key}] table")
            kwargs[key] = _build(hint, value, key, path, text)
        else:
            if isinstance(hint, types.UnionType):  # pragma: no cover - no optional fields yet
                raise ConfigError(f"{where}{key}: unsupported optional type")
            kwargs[key] = _convert(value, hint, key, where, _default(cls, key))
    return cls(**kwargs)


def _default(cls: type, key: str) -> Any:
    """The default of field `key` of dataclass `cls` (None when it has none)."""
    for f in dataclasses.fields(cls):
        if f.name == key:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    return None


def _located(message: str, path: str, text: str) -> str:
    """`message` of a value check ("pipeline.guidance_scale: ...", "limits.max_sessions=0 ...") prefixed with the
    file and the line of the key it names, as the type checks of `_build` are."""
    if message.startswith(path):
        return message
    named = re.match(r"(\w+)\.(\w+)|(\w+)=", message)
    line = TomlLines(text).line(tuple(g for g in named.groups() if g)) if named else None
    return f"{path}:{line}: {message}" if line else f"{path}: {message}"


def parse_config(text: str, path: str = "<string>") -> ServerConfig:
    """Parse TOML text into a ServerConfig; unknown keys and wrong types raise ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    try:
        cfg: ServerConfig = _build(ServerConfig, data, None, path, text)
    except ConfigError as exc:
        raise ConfigError(_located(str(exc), path, text)) from None
    keys = [f"{name}.{key}" for name, section in data.items() if isinstance(section, dict) for key in section]
    keys += [name for name, value in data.items() if not isinstance(value, dict)]
    return dataclasses.replace(cfg, file_keys=frozenset(keys))


def load_config(path: str | Path) -> ServerConfig:
    """Read and parse a TOML server config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror}; pass an existing --config") from exc
    return parse_config(text, str(p))


def with_overrides(cfg: ServerConfig, **sections: dict[str, Any]) -> ServerConfig:
    """A copy of `cfg` with some fields of some sections replaced (used by CLI flags).

    Example: `with_overrides(cfg, model={"name": "identity"}, top={"bind": "tcp://*:5555"})`.
    """
    top = dict(sections.pop("top", {}))
    for name, values in sections.items():
        top[name] = dataclasses.replace(getattr(cfg, name), **values)
    return dataclasses.replace(cfg, **top)
