"""`sdbridge check`: what this machine offers (versions, GPU, accelerators, models on disk). No network."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass

NAME = "check"
HELP = "print versions of Python, torch, CUDA, TensorRT, ONNX Runtime, the GPU and the models on disk"


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    name: str
    value: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`sdbridge check` takes no required arguments."""
    parser.add_argument("--cache-dir", default=None,
                        help="Hugging Face cache to scan (default: HF_HUB_CACHE / ~/.cache/huggingface/hub)")


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _torch_findings() -> list[Finding]:
    try:
        torch = importlib.import_module("torch")
    except ImportError as exc:
        return [Finding("torch", f"not importable ({exc})")]
    found = [Finding("torch", torch.__version__)]
    cuda_build = torch.version.cuda or "none (CPU build)"
    found.append(Finding("CUDA (torch build)", cuda_build))
    if torch.cuda.is_available():
        found.append(Finding("cuDNN", str(torch.backends.cudnn.version())))
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            found.append(Finding(f"GPU {index}", f"{props.name}, {props.total_memory / 2**30:.1f} GiB, "
                                                 f"compute capability {props.major}.{props.minor}"))
    else:
        found.append(Finding("GPU", "none visible to torch (torch.cuda.is_available() is False)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(Finding("Apple MPS", "available"))
    found.append(Finding("CPU threads (torch)", str(torch.get_num_threads())))
    from sdbridge.cpu_features import CpuBf16, cpu_bf16

    support = cpu_bf16()
    found.append(Finding("CPU bfloat16", {
        CpuBf16.AMX: "AMX (amx_bf16): --dtype bfloat16 runs about 2x faster than float32 on this CPU",
        CpuBf16.AVX512: "AVX512-BF16 (no AMX): bfloat16 dot products; compare `sdbridge bench pipeline --dtype "
                        "bfloat16` with `sdbridge bench pipeline --dtype float32`",
        CpuBf16.NONE: "no bfloat16 units in the CPU flags: keep float32 on the CPU",
    }[support]))
    found += _auto_dtype_findings(torch.cuda.is_available())
    return found


def _auto_dtype_findings(cuda_available: bool) -> list[Finding]:
    """What `--dtype auto` (the default) picks on the CPU, and on CUDA when a GPU is visible, and why."""
    from sdbridge.config import auto_dtype

    found = []
    for device in ("cpu", "cuda") if cuda_available else ("cpu",):
        dtype, why = auto_dtype(device)
        onnx = auto_dtype(device, accel="onnxruntime")[0]
        note = f" (with --accel onnxruntime: {onnx.value})" if onnx is not dtype else ""
        found.append(Finding(f"dtype auto ({device})", f"{dtype.value}: {why}{note}"))
    return found


def _onnxruntime_findings() -> list[Finding]:
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError:
        return [Finding("ONNX Runtime", "not installed (pip install 'streamdiffusion-bridge[onnx]')")]
    providers = ", ".join(ort.get_available_providers())
    return [Finding("ONNX Runtime", f"{ort.__version__} (providers: {providers})")]


def _tensorrt_findings() -> list[Finding]:
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError:
        return [Finding("TensorRT", "not installed (needs an NVIDIA GPU; pip install "
                                    "'streamdiffusion-bridge[tensorrt]')")]
    except Exception as exc:  # a broken TensorRT install raises all sorts of errors on import
        return [Finding("TensorRT", f"installed but not importable: {exc}")]
    return [Finding("TensorRT", str(trt.__version__))]


def _model_findings(cache_dir: str | None) -> list[Finding]:
    try:
        hub = importlib.import_module("huggingface_hub")
    except ImportError:
        return [Finding("models", "huggingface_hub not installed; cannot scan the cache")]
    try:
        info = hub.scan_cache_dir(cache_dir)
    except Exception as exc:  # CacheNotFound and friends: an empty or missing cache is normal
        where = cache_dir or os.environ.get("HF_HUB_CACHE") or "~/.cache/huggingface/hub"
        return [Finding("models on disk", f"none (no Hugging Face cache at {where}: {type(exc).__name__})")]
    models = sorted((r for r in info.repos if r.repo_type == "model"), key=lambda r: r.repo_id)
    if not models:
        return [Finding("models on disk", "none in the Hugging Face cache")]
    return [
        Finding("model", f"{r.repo_id} ({r.size_on_disk / 2**20:.0f} MiB, {len(r.revisions)} revision(s))")
        for r in models
    ]


def _numba_finding() -> str:
    """numba's version and what it does here, or what is lost without it (sdbridge.host_kernels)."""
    version = _dist_version("numba")
    if importlib.util.find_spec("numba") is None:
        return f"{version}: the CPU pixel conversions run as array operations (slower); pip install numba"
    return f"{version} (compiles the CPU pixel conversions)"


def collect(cache_dir: str | None = None) -> list[Finding]:
    """Gather every finding. Imports torch; never touches the network."""
    from sdbridge import __version__
    from sdbridge.protocol.version import PROTOCOL_MAJOR, PROTOCOL_MINOR

    zmq = importlib.import_module("zmq")
    found = [
        Finding("sdbridge", f"{__version__} (protocol {PROTOCOL_MAJOR}.{PROTOCOL_MINOR})"),
        Finding("Python", f"{platform.python_version()} ({sys.executable})"),
        Finding("platform", f"{platform.system()} {platform.release()} {platform.machine()}, "
                            f"{os.cpu_count()} CPUs"),
    ]
    found += _torch_findings()
    found += [
        Finding("diffusers", _dist_version("diffusers")),
        Finding("transformers", _dist_version("transformers")),
        Finding("pyzmq / libzmq", f"{zmq.__version__} / {zmq.zmq_version()}"),
        Finding("flatbuffers", _dist_version("flatbuffers")),
        Finding("numba", _numba_finding()),
    ]
    found += _onnxruntime_findings()
    found += _tensorrt_findings()
    found += _model_findings(cache_dir)
    try:
        from sdbridge.pipeline.components import IDENTITY, PRESET_NAMES

        builtin = f"{', '.join(PRESET_NAMES)} (random weights), {IDENTITY} (plumbing); no download"
    except ImportError as exc:  # torch or diffusers missing: the server cannot run models at all
        builtin = f"unavailable: {exc}"
    found.append(Finding("built-in models", builtin))
    return found


def run(args: argparse.Namespace) -> int:
    """Print one `name: value` line per finding. Always exits 0: a missing GPU is a fact, not an error."""
    findings = collect(args.cache_dir)
    width = max(len(f.name) for f in findings)
    for finding in findings:
        print(f"{finding.name:<{width}}  {finding.value}")
    return 0
