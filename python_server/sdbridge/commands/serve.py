"""`sdbridge serve`: load a model and serve engine clients over ZeroMQ until SIGINT/SIGTERM (SIGTERM drains first
when metrics.drain_grace_s > 0: deploy/README.md)."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType
from typing import Any

from sdbridge.commands import serve_checks
from sdbridge.commands.arg_types import device_name, int_at_least, port_number
from sdbridge.config import (
    Accel,
    Dtype,
    ServerConfig,
    check_controlnets,
    check_loras,
    check_vae,
    load_config,
    parse_ip_adapter,
    with_overrides,
)
from sdbridge.runtime import host_heap

NAME = "serve"
HELP = "run the bridge server: ROUTER socket, sessions, one worker (stops cleanly on SIGINT; SIGTERM drains first)"
EPILOG = ("Each session's starting stream settings are [pipeline] keys of --config (configs/server.toml): prompt, "
          "negative_prompt, t_index_list, cfg_mode, guidance_scale, delta, seed, the similarity filter, temporal "
          f"coherence ({', '.join(serve_checks.TEMPORAL_COHERENCE_KEYS)}) and cached attention "
          f"({', '.join(serve_checks.CACHED_ATTENTION_KEYS)}); the processing size is [model] width and height. "
          "Clients, the preview page and --rules files change them live.")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `sdbridge serve`; each overrides the same value of --config."""
    parser.add_argument("--model", default=None,
                        help='"tiny", "small", "identity", a Hub id or a local folder (default: config or tiny)')
    parser.add_argument("--bind", default=None, help="ZeroMQ endpoint (default: config bind or tcp://127.0.0.1:5555)")
    parser.add_argument("--config", default=None, help="server TOML config (see configs/server.toml)")
    parser.add_argument("--device", type=device_name, default=None,
                        help='torch device, e.g. "cpu", "cuda", "mps" (default: config [model] device or cpu)')
    parser.add_argument("--dtype", default=None, choices=[d.value for d in Dtype],
                        help="auto (default): float16 on CUDA, bfloat16 on CPUs with AMX or AVX512-BF16, else "
                             "float32; `sdbridge check` says what auto picks here")
    parser.add_argument("--vae", default=None, metavar="taesd|full|SOURCE",
                        help="autoencoder: taesd (tiny, default), full (the model's own VAE), or a Hub id / folder")
    parser.add_argument("--lora", action="append", default=None, metavar="SOURCE[=SCALE][:live]",
                        help="LoRA (Hub id or .safetensors file) fused into the model at load at SCALE (default 1); "
                             "with :live it stays unfused, SCALE is its starting weight and clients change it "
                             "between frames (lora_weights); repeat for several; replaces [model] lora of --config")
    parser.add_argument("--controlnet", action="append", default=None, metavar="KIND=SOURCE[@SCALE]",
                        help="ControlNet KIND (depth, normal, seg, canny, ...) from SOURCE (a Hub id, a folder or "
                             "tiny) at a starting scale (default 1); repeat for several; replaces [model] controlnet "
                             "of --config; needs --accel eager")
    parser.add_argument("--ip-adapter", default=None, metavar="SOURCE[@SCALE]",
                        help="IP-Adapter for style reference images: a weight file (local, or a Hub file such as "
                             "h94/IP-Adapter/models/ip-adapter_sd15.safetensors; its image encoder in image_encoder/ "
                             "beside it) or tiny / tiny-plus, at a starting ip_adapter_scale (default 1); replaces "
                             "[model] ip_adapter of --config; needs --accel eager")
    parser.add_argument("--max-sessions", type=int_at_least(1, 8), default=None,
                        help="sessions at once (default: config [limits] max_sessions, 8)")
    parser.add_argument("--credits", type=int_at_least(1, 2), default=None,
                        help="frames in flight per client (default: config [session] credits, 2)")
    parser.add_argument("--accel", default=None, choices=["eager", "compile", "onnxruntime", "tensorrt"],
                        help="model backend (default: config or eager); one that cannot run here stops the server")
    parser.add_argument("--engines-dir", default=None, help="engine cache (default: [accel] engines_dir, engines/)")
    parser.add_argument("--background-build", action="store_true", default=None,
                        help="onnxruntime/tensorrt: serve with torch eager while engines build, then switch")
    parser.add_argument("--cuda-graphs", action="store_true", default=None,
                        help="compile: CUDA graphs on a CUDA device (config [accel] cuda_graphs)")
    parser.add_argument("--rules", default=None, metavar="FILE",
                        help="game-event rules file (docs/rules.md, configs/rules/); reloaded when it changes")
    parser.add_argument("--record", default=None, metavar="DIR",
                        help="record every session to DIR/session-*.sdrec (replay with `sdbridge replay`)")
    parser.add_argument("--preview-port", type=port_number(8765), default=None,
                        help="serve the browser preview page on this port (0 = any free port)")
    parser.add_argument("--preview-host", default=None,
                        help="preview address (default 127.0.0.1; any other needs a token)")
    parser.add_argument("--preview-token", default=None,
                        help="token the preview page address must carry (generated when binding beyond loopback)")
    parser.add_argument("--metrics-port", type=port_number(9464), default=None,
                        help="serve Prometheus /metrics, /healthz and /readyz on this port (0 = any free port)")
    parser.add_argument("--metrics-host", default=None,
                        help="metrics address (default 127.0.0.1; 0.0.0.0 for a scraper or balancer elsewhere)")
    parser.add_argument("--drain-grace", type=float, default=None, metavar="SECONDS",
                        help="SIGTERM drains this long at most: new sessions refused, open ones told to move "
                             "(Notice ServerShutdown), exit once they have (default 0: SIGTERM stops at once)")
    parser.add_argument("--curve-secret-key", default=None, metavar="FILE",
                        help="CurveZMQ: the server's NAME.key_secret (from `sdbridge keys generate`)")
    parser.add_argument("--authorized-keys", default=None, metavar="DIR",
                        help="CurveZMQ: folder of the public NAME.key files of the clients allowed to connect")
    parser.add_argument("--insecure", action="store_true", default=None,
                        help="allow a non-loopback --bind without CurveZMQ (anyone who can connect is served)")


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The config file (or defaults) with the command-line flags applied on top."""
    cfg = load_config(args.config) if args.config else ServerConfig()
    model: dict[str, Any] = {}
    if args.model is not None:
        model["name"] = args.model
    if args.device is not None:
        model["device"] = args.device
    if args.dtype is not None:
        model["dtype"] = Dtype(args.dtype)
    if getattr(args, "vae", None) is not None:
        model["vae"] = check_vae(args.vae, "--vae")
    if getattr(args, "lora", None) is not None:
        model["lora"] = tuple(args.lora)
        check_loras(model["lora"], "--lora")
    if getattr(args, "controlnet", None) is not None:
        model["controlnet"] = tuple(args.controlnet)
        check_controlnets(model["controlnet"], "--controlnet")
    if getattr(args, "ip_adapter", None) is not None:
        model["ip_adapter"] = args.ip_adapter
        parse_ip_adapter(args.ip_adapter, "--ip-adapter")
    top = {"bind": args.bind} if args.bind is not None else {}
    limits = {"max_sessions": args.max_sessions} if args.max_sessions is not None else {}
    session = {"credits": args.credits} if args.credits is not None else {}
    security: dict[str, Any] = {}
    for flag, key in (("curve_secret_key", "server_secret_key"), ("authorized_keys", "authorized_keys"),
                      ("insecure", "insecure")):
        if getattr(args, flag, None) is not None:
            security[key] = getattr(args, flag)
    preview: dict[str, Any] = {}
    if getattr(args, "preview_port", None) is not None:
        preview.update(enabled=True, port=args.preview_port)
    if getattr(args, "preview_host", None) is not None:
        preview["host"] = args.preview_host
    if getattr(args, "preview_token", None) is not None:
        preview["token"] = args.preview_token
    metrics: dict[str, Any] = {}
    if getattr(args, "metrics_port", None) is not None:
        metrics.update(enabled=True, port=args.metrics_port)
    if getattr(args, "metrics_host", None) is not None:
        metrics["host"] = args.metrics_host
    if getattr(args, "drain_grace", None) is not None:
        metrics["drain_grace_s"] = args.drain_grace
    accel: dict[str, Any] = {}
    if getattr(args, "accel", None) is not None:
        accel["backend"] = Accel(args.accel)
    if getattr(args, "engines_dir", None) is not None:
        accel["engines_dir"] = args.engines_dir
    if getattr(args, "background_build", None):
        accel["background"] = True
    if getattr(args, "cuda_graphs", None):
        accel["cuda_graphs"] = True
    return with_overrides(cfg, model=model, limits=limits, session=session, security=security, top=top,
                          preview=preview, metrics=metrics, accel=accel)


def resolve_auto_dtype(cfg: ServerConfig) -> ServerConfig:
    """`dtype = auto` replaced by what it means here (logged with the reason), so that the server, its log and
    its recordings (replayed with that dtype) name a real dtype."""
    from sdbridge.pipeline.components import IDENTITY

    if cfg.model.dtype is not Dtype.AUTO:
        return cfg
    dtype, why = cfg.model.resolved_dtype(cfg.accel.backend.value)
    # the identity model computes nothing: its dtype is no news to the user
    log.log(logging.DEBUG if cfg.model.name == IDENTITY else logging.INFO, "dtype auto picked %s for device %s: %s",
            dtype.value, cfg.model.device, why)
    return with_overrides(cfg, model={"dtype": dtype})


def resolve_model_defaults(cfg: ServerConfig) -> ServerConfig:
    """The model's own pipeline defaults (sdbridge.pipeline.presets.model_defaults: one step for turbo models)
    when the config file sets no [pipeline] t_index_list; logged with the reason."""
    from sdbridge.pipeline.presets import model_defaults

    defaults = model_defaults(cfg.model.name)
    if defaults is None or defaults.t_index_list == cfg.pipeline.t_index_list:
        return cfg
    if "pipeline.t_index_list" in cfg.file_keys:
        return cfg  # the file's choice stands
    log.info("t_index_list %s (not %s): %s", list(defaults.t_index_list), list(cfg.pipeline.t_index_list),
             defaults.why)
    return with_overrides(cfg, pipeline={"t_index_list": defaults.t_index_list})


def refuse_identity_additions(cfg: ServerConfig) -> None:
    """ControlNets, an IP-Adapter and LoRAs need a model with a UNet; `--model identity` has none (it raised
    AttributeError while loading a ControlNet or IP-Adapter, and served with the LoRAs silently ignored)."""
    from sdbridge.pipeline.components import IDENTITY

    model = cfg.model
    adds = [flag for flag, on in (("--controlnet", model.controlnet), ("--ip-adapter", model.ip_adapter.strip()),
                                  ("--lora", model.lora)) if on]
    if model.name == IDENTITY and adds:
        raise identity_refusal(f"{adds[0]} ([model] {adds[0][2:].replace('-', '_')})", adds[0])


def identity_refusal(what: str, flag: str) -> Exception:
    """The ConfigError for `what` (an option that needs a UNet) given with `--model identity`; `flag` to drop."""
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.components import IDENTITY

    return ConfigError(f"{what} needs a diffusion model, and --model {IDENTITY} is none (it returns frames "
                       f"unchanged); use --model tiny (random weights) or a real model, or drop {flag}")


def check_model_name(name: str) -> None:
    """A model name that is no preset, no existing path and no Hub id 'owner/name' is refused before anything
    loads, naming --model and [model] name (the loader's "unknown model '/data/sd-turbo': not a preset ..." named
    neither, and came after the imports and the 'loading model' line)."""
    from sdbridge.errors import ConfigError
    from sdbridge.pipeline.components import MODEL_NAME_FORMS, names_a_model

    if not names_a_model(name):
        raise ConfigError(f"--model ([model] name) {name!r} is not {MODEL_NAME_FORMS}; fix the path (a diffusers "
                          "folder holding model_index.json) or the id, or try the plumbing with --model tiny")


def check_server_key(cfg: ServerConfig) -> None:
    """The CurveZMQ secret key file, read as the server will read it, its errors naming the key and the flag that
    gave it ("certificate file keys/srv.key_secret does not exist" named neither)."""
    from sdbridge.errors import ConfigError
    from sdbridge.transport.curve import load_pair

    path = cfg.security.server_secret_key
    if not path:
        return
    try:
        load_pair(path)
    except ConfigError as exc:
        raise ConfigError(f"security.server_secret_key (--curve-secret-key) = {path!r}: {exc}") from None


def check_accel_profile(cfg: ServerConfig) -> None:
    """`[accel] profile`, read before the model loads and named in its errors (a missing file was reported after
    the model had loaded, as "cannot read engine profile ..."); with the eager backend, which builds no engines and
    never reads it, a warning says so (it was ignored without a word)."""
    from sdbridge.errors import ConfigError

    profile = cfg.accel.profile
    if not profile:
        return
    if cfg.accel.backend is Accel.EAGER:
        log.warning("accel.profile=%r is not read: the eager backend builds no engines (compile, onnxruntime and "
                    "tensorrt read it); drop the key or pick one of those with --accel", profile)
        return
    from sdbridge.acceleration.profiles import load_profile

    try:
        load_profile(profile)
    except ConfigError as exc:
        raise ConfigError(f"accel.profile={profile!r}: {exc}") from None


def tune_host_heap() -> bool:
    """Keep freed frame-sized host buffers in the heap (runtime.host_heap: process-wide glibc malloc thresholds,
    so the entry point sets them, not the worker); called once the model has loaded, so its load's transient
    buffers still go back to the kernel. Logs what it did; True when glibc took the thresholds."""
    applied = host_heap.keep_freed_buffers()
    if applied:
        log.info("frame buffers are reused in memory instead of being handed back to the OS after each frame (saves "
                 "page faults: glibc malloc serves blocks under %d MiB from its heap and keeps up to %d MiB freed)",
                 host_heap.MMAP_THRESHOLD >> 20, host_heap.TRIM_THRESHOLD >> 20)
    else:
        log.info("frame buffers: malloc thresholds left as they are (not glibc, or glibc refused them), so each "
                 "frame may fault its buffers' pages in again")
    return applied


def run(args: argparse.Namespace) -> int:
    """Serve until a signal arrives; exit 0 after a clean shutdown."""
    from sdbridge.commands.port_probe import check_ports_free
    from sdbridge.server import BridgeServer

    if args.record:  # refuse an unusable --record folder before anything loads
        from sdbridge.record.recorder import check_folder

        check_folder(args.record)
    config = resolve_model_defaults(resolve_auto_dtype(config_from_args(args)))
    refuse_identity_additions(config)
    serve_checks.warn_unknown_controlnet_kinds(config)
    check_model_name(config.model.name)
    check_server_key(config)
    check_accel_profile(config)
    serve_checks.check_backend_for_pipeline(config)
    serve_checks.check_ip_adapter_source(config)
    serve_checks.log_temporal_settings(config)
    check_ports_free(config)  # before the model loads (minutes for a real one)
    server = BridgeServer(config, rules_path=args.rules, record_dir=args.record)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        grace = config.metrics.drain_grace_s
        if signum == signal.SIGTERM and grace > 0 and not server.draining:
            log.info("SIGTERM received: draining for at most %g s (a second SIGTERM stops at once)", grace)
            server.drain()
            return
        log.info("%s received: shutting down", signal.Signals(signum).name)
        server.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        endpoint = server.start()
        tune_host_heap()
        print(f"sdbridge serving {server.model.name if server.model else '?'} on {endpoint}", flush=True)
        if server.preview_url:
            print(f"sdbridge preview page: {server.preview_url}", flush=True)
        if server.metrics_url:
            print(f"sdbridge metrics: {server.metrics_url}/metrics", flush=True)
        server.run()
        if server.fatal_error is not None:
            raise server.fatal_error
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("server stopped")
    return 0
