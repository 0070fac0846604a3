"""ONNX Runtime backend: the three graphs exported to ONNX (cached in engines/) and run by ONNX Runtime.

Execution providers by device: "cpu" -> CPUExecutionProvider (run here); "cuda" -> CUDAExecutionProvider
(needs onnxruntime-gpu; written against ONNX Runtime's documented Python API, not run here). Sessions use
graph optimisation level ALL, `threads` intra-op threads that sleep when idle, and IO binding: inputs and
outputs are bound to torch tensors' memory (NCHW-contiguous, which StreamPipeline feeds engine backends:
Runners.memory_format), so no copies are made on either side. Element types are ONNX's TensorProto enum
values (bfloat16 has no numpy dtype).

CUDA (not run on a GPU here): each session runs on its own torch CUDA stream, passed to ONNX Runtime as the
CUDA / TensorRT execution provider's `user_compute_stream` (ONNX Runtime ignores stream 0, torch's default
stream). A call makes that stream wait for torch's current stream, runs with the run option
`disable_synchronize_execution_providers` (no host synchronisation), and makes torch's current stream wait
for it: the order is kept on the GPU, the host never waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sdbridge.acceleration.base import AccelOptions, Backend, BackendChoice, Runners
from sdbridge.acceleration.onnx_export import cached_onnx, require_onnx
from sdbridge.errors import BackendUnavailableError, InputError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components

log = logging.getLogger(__name__)

# ONNX TensorProto element types (onnx.TensorProto.FLOAT, FLOAT16, INT64, BFLOAT16), which IOBinding.bind_input
# and bind_output accept in place of a numpy dtype
ONNX_ELEMENT_TYPES = {torch.float32: 1, torch.float16: 10, torch.int64: 7, torch.bfloat16: 16}
_STREAM_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError(
            "--accel onnxruntime needs ONNX Runtime, which is not installed: "
            "pip install 'streamdiffusion-bridge[onnx]' (CPU) or pip install onnxruntime-gpu onnx (CUDA)") from exc
    return onnxruntime


def providers_for(device: torch.device, requested: tuple[str, ...] = ()) -> list[str]:
    """The execution providers for `device` (or `requested`, in priority order); BackendUnavailableError if
    ONNX Runtime lacks one of them here. TensorRT's provider ("TensorrtExecutionProvider") needs
    onnxruntime-gpu built with TensorRT and a GPU; not run here."""
    ort = _ort()
    available = ort.get_available_providers()
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise BackendUnavailableError(
                f"--accel onnxruntime: execution provider(s) {missing} requested but onnxruntime {ort.__version__} "
                f"has only {', '.join(available)}; install onnxruntime-gpu (with TensorRT for "
                "TensorrtExecutionProvider) on a GPU machine, or request no providers")
        if device.type != "cuda" and any(p != "CPUExecutionProvider" for p in requested):
            raise BackendUnavailableError(
                f"--accel onnxruntime: providers {list(requested)} run on a GPU but the model is on {device}; "
                "pass --device cuda")
        return list(requested)
    wanted = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}.get(device.type)
    if wanted is None:
        raise BackendUnavailableError(
            f"--accel onnxruntime runs on device cpu or cuda, not {device.type!r}; pass --device cpu or cuda, "
            "or --accel eager")
    if wanted not in available:
        raise BackendUnavailableError(
            f"--accel onnxruntime on {device}: onnxruntime {ort.__version__} has no {wanted} (it has "
            f"{', '.join(available)}); install onnxruntime-gpu matching your CUDA, or use --device cpu")
    return [wanted]


def element_type(dtype: torch.dtype, name: str) -> int:
    """The ONNX element type of `dtype` for IO binding; InputError names the tensor and the dtypes bound."""
    try:
        return ONNX_ELEMENT_TYPES[dtype]
    except KeyError:
        raise InputError(f"onnxruntime input {name!r} is {dtype}; IO binding takes "
                         f"{', '.join(str(d) for d in ONNX_ELEMENT_TYPES)}: load the model in one of those") from None


class OrtSession:
    """One ONNX Runtime session called with torch tensors through IO binding.

    Called, it returns the graph's first output (allocated by `output_shape` and `output_dtype`); `run_into`
    writes every output into tensors the caller allocated (graphs of several outputs: a ControlNet's residuals).
    `copies` counts inputs that were not NCHW-contiguous and had to be copied before binding.
    """

    def __init__(self, path: Path, device: torch.device, threads: int,
                 output_shape: Callable[..., tuple[int, ...]], output_dtype: torch.dtype,
                 providers: tuple[str, ...] = ()) -> None:
        ort = _ort()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle intra-op threads sleep instead of spinning: spinning threads held the cores between runs and
        # slowed every torch op around the sessions (and torch itself in the same process); measured 1.46x
        # more frames/s with small at 256x256, 2 threads.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._device = device
        self._device_type = "cuda" if device.type == "cuda" else "cpu"
        self._device_id = (device.index or 0) if device.type == "cuda" else 0
        self._stream = torch.cuda.Stream(device) if self._device_type == "cuda" else None
        self._run_options = None
        chosen: list[Any] = list(providers_for(device, providers))
        if self._stream is not None:  # pragma: no cover - GPU only; not run on a GPU here
            chosen = stream_providers(chosen, self._device_id, self._stream.cuda_stream)
            self._run_options = ort.RunOptions()
            self._run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        started = time.perf_counter()
        self.session = ort.InferenceSession(str(path), options, providers=chosen)
        log.info("onnxruntime session %s ready in %.1f s", path.name, time.perf_counter() - started)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.output_name = self.output_names[0]
        self._output_shape = output_shape
        self._output_dtype = output_dtype
        self.copies = 0

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = torch.empty(self._output_shape(*inputs), device=self._device, dtype=self._output_dtype)
        self.run_into(inputs, (out,))
        return out

    def run_into(self, inputs: tuple[torch.Tensor, ...], outputs: tuple[torch.Tensor, ...]) -> None:
        """Run with `inputs` bound in the graph's input order and `outputs` (contiguous, of the graph's output
        shapes, in its output order: the first len(outputs) outputs) written in place."""
        binding = self.session.io_binding()
        keep = []  # copies must outlive the run
        for name, tensor in zip(self.input_names, inputs, strict=True):
            t = tensor if tensor.is_contiguous() else tensor.contiguous()
            self.copies += t is not tensor
            keep.append(t)
            binding.bind_input(name, self._device_type, self._device_id, element_type(t.dtype, name),
                               tuple(t.shape), t.data_ptr())
        for name, out in zip(self.output_names, outputs, strict=False):
            binding.bind_output(name, self._device_type, self._device_id, element_type(out.dtype, name),
                                tuple(out.shape), out.data_ptr())
        if self._stream is None:
            self.session.run_with_iobinding(binding)
            return
        current = torch.cuda.current_stream(self._device)  # pragma: no cover - GPU only; not run on a GPU here
        self._stream.wait_stream(current)  # inputs written on torch's stream are read on ONNX Runtime's
        self.session.run_with_iobinding(binding, self._run_options)
        current.wait_stream(self._stream)  # torch's next kernels read the outputs after ONNX Runtime wrote them


def stream_providers(providers: list[Any], device_id: int, stream: int) -> list[Any]:
    """`providers` with the CUDA / TensorRT execution providers running on CUDA stream `stream` (a
    cudaStream_t as an int, non-zero), as (name, options) pairs; the others unchanged."""
    return [(p, {"device_id": str(device_id), "user_compute_stream": str(stream)}) if p in _STREAM_PROVIDERS else p
            for p in providers]


class OnnxRuntimeBackend(Backend):
    """ONNX export (cached) + ONNX Runtime sessions."""

    choice = BackendChoice.ONNXRUNTIME

    def check(self, components: Components) -> None:
        """ONNX Runtime and onnx importable, with the execution provider of the components' device."""
        require_onnx()
        providers_for(components.device)

    def version(self) -> str:
        """onnxruntime's version."""
        return str(_ort().__version__)

    def runners(self, components: Components, options: AccelOptions) -> Runners:
        """Export (or find) the three ONNX files and open one session per graph."""
        self.check(components)
        providers_for(components.device, options.ort_providers)  # before any export: a missing provider fails fast
        threads = options.threads or torch.get_num_threads()
        paths = {component: path for component, (path, _) in cached_onnx(components, options).items()}
        dev, dtype, f = components.device, components.dtype, components.vae_scale_factor
        wanted = options.ort_providers
        unet = OrtSession(paths["unet"], dev, threads, lambda x, *_: tuple(x.shape), dtype, wanted)
        encode = OrtSession(paths["vae_encoder"], dev, threads,
                            lambda x: (x.shape[0], components.latent_channels, x.shape[2] // f, x.shape[3] // f), dtype,
                            wanted)
        decode = OrtSession(paths["vae_decoder"], dev, threads,
                            lambda z: (z.shape[0], 3, z.shape[2] * f, z.shape[3] * f), dtype, wanted)

        def run_unet(sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                     text_embeds: torch.Tensor | None = None, time_ids: torch.Tensor | None = None) -> torch.Tensor:
            extra = (text_embeds, time_ids) if len(unet.input_names) == 5 else ()
            return unet(sample, timestep.to(torch.int64), context, *extra)  # type: ignore[arg-type]

        return Runners(unet=run_unet, vae_encode=encode, vae_decode=decode,
                       description=f"onnxruntime {self.version()} ({', '.join(providers_for(dev, wanted))}, "
                                   f"{threads} threads)", memory_format=torch.contiguous_format)
