"""Native TensorRT backend (NVIDIA GPUs only; NOT RUN HERE: this machine has no GPU and no TensorRT).

Written against TensorRT 10's documented Python API: the cached ONNX graphs (onnx_export.cached_onnx) are
parsed by trt.OnnxParser and built into serialized engines with one optimisation profile spanning the
ShapeRange (so any batch and size inside the range runs without a rebuild), the FP16 builder flag for
float16 models and BF16 for bfloat16 ones, and a tqdm progress bar fed by trt.IProgressMonitor. Engines are
cached in engines/ under a key with the TensorRT version and the GPU's compute capability. At run time,
tensors are bound by address (set_tensor_address) and run with execute_async_v3 on torch's current CUDA
stream.

Layout: the engines' I/O tensors keep TensorRT's default LINEAR format (NCHW, torch.contiguous_format).
TensorRT's channel-last I/O formats do not match torch's channels_last for these models: HWC is FP32/UINT8
only, HWC8/HWC16 pad the channels to 8/16 (a latent has 4). So the runners say so (Runners.memory_format)
and StreamPipeline feeds engines NCHW tensors, which are bound as they are: no copy. A tensor in another
layout is copied once into NCHW (counted in TrtRunner.copies).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sdbridge.acceleration.base import AccelOptions, Backend, BackendChoice, Runners, ShapeRange
from sdbridge.acceleration.engine_cache import EngineCache, EngineKey
from sdbridge.acceleration.onnx_export import OPSET, cached_onnx, require_onnx
from sdbridge.errors import BackendUnavailableError, EngineBuildError, InputError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components

log = logging.getLogger(__name__)
ENGINE_FILE = "engine.plan"
WORKSPACE_BYTES = 4 << 30
_TORCH_DTYPES = {"FLOAT": torch.float32, "HALF": torch.float16, "INT64": torch.int64, "INT32": torch.int32,
                 "BF16": torch.bfloat16}


def _trt() -> Any:
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendUnavailableError(
            "--accel tensorrt needs NVIDIA TensorRT, which is not installed: pip install "
            "'streamdiffusion-bridge[tensorrt]' on a machine with an NVIDIA GPU and driver (TensorRT >= 10)") from exc
    return tensorrt


def gpu_arch(device: torch.device) -> str:
    """"sm_XY" of the CUDA device (engines only run on the architecture they were built for)."""
    major, minor = torch.cuda.get_device_capability(device)
    return f"sm_{major}{minor}"


def input_profiles(component: str, components: Components, shapes: ShapeRange) -> dict[str, list[tuple[int, ...]]]:
    """(min, opt, max) shape of every input of a graph for the TensorRT optimisation profile."""
    f, c = components.vae_scale_factor, components.latent_channels
    def at(i: int) -> tuple[int, int, int, int]:
        return shapes.batch[i], shapes.vae_batch[i], shapes.height[i], shapes.width[i]
    out: dict[str, list[tuple[int, ...]]] = {}
    for i in range(3):
        b, n, h, w = at(i)
        if component == "unet":
            assert components.unet is not None
            config = components.unet.config  # type: ignore[attr-defined]
            rows = {"sample": (b, c, h // f, w // f), "timestep": (b,),
                    "encoder_hidden_states": (b, 77, int(config.cross_attention_dim))}
            if getattr(config, "addition_embed_type", None) == "text_time":
                pooled = int(config.projection_class_embeddings_input_dim) - 6 * int(config.addition_time_embed_dim)
                rows.update({"text_embeds": (b, pooled), "time_ids": (b, 6)})
        elif component == "vae_encoder":
            rows = {"images": (n, 3, h, w)}
        else:
            rows = {"latents": (n, c, h // f, w // f)}
        for name, shape in rows.items():
            out.setdefault(name, []).append(shape)
    return out


def engine_key(onnx_key: EngineKey, shapes: ShapeRange, version: str, arch: str,
               extra: dict[str, Any] | None = None) -> EngineKey:
    """The TensorRT engine key of an ONNX graph (every engine: UNet, VAE, ControlNets): its ONNX key's component,
    model, weights hash, dtype and digest (which covers everything the ONNX file depends on), the shape range,
    the TensorRT version, the GPU architecture and the workspace; `extra` adds names (e.g. the ControlNet's)."""
    return EngineKey(component=onnx_key.component, model=onnx_key.model, weights_hash=onnx_key.weights_hash,
                     shapes=shapes.as_dict(), dtype=onnx_key.dtype, backend="tensorrt", backend_version=version,
                     gpu_arch=arch, opset=OPSET,
                     extra={**(extra or {}), "onnx": onnx_key.digest, "workspace_bytes": WORKSPACE_BYTES})


class _Progress:
    """A trt.IProgressMonitor (created lazily: the base class only exists when tensorrt imports) on tqdm."""

    @staticmethod
    def create(trt: Any, description: str, enabled: bool) -> Any:
        from tqdm import tqdm

        class Monitor(trt.IProgressMonitor):  # type: ignore[misc,name-defined]
            def __init__(self) -> None:
                trt.IProgressMonitor.__init__(self)
                self.bars: dict[str, Any] = {}

            def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
                self.bars[phase_name] = tqdm(total=num_steps, desc=f"{description}: {phase_name}",
                                             disable=not enabled, leave=parent_phase is None)

            def step_complete(self, phase_name: str, step: int) -> bool:
                bar = self.bars.get(phase_name)
                if bar is not None:
                    bar.update(step + 1 - bar.n)
                return True  # keep building

            def phase_finish(self, phase_name: str) -> None:
                bar = self.bars.pop(phase_name, None)
                if bar is not None:
                    bar.close()

        return Monitor()


def precision_flags(trt: Any, dtype: torch.dtype) -> list[Any]:
    """The builder flags that let TensorRT pick kernels of the model's precision (none for float32)."""
    flags = {torch.float16: "FP16", torch.bfloat16: "BF16"}
    return [getattr(trt.BuilderFlag, flags[dtype])] if dtype in flags else []


def build_engine(onnx_path: Path, plan_path: Path, profiles: dict[str, list[tuple[int, ...]]], dtype: torch.dtype,
                 progress: bool, description: str) -> None:
    """Parse `onnx_path` and write a serialized TensorRT engine to `plan_path` (`dtype`: the model's)."""
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineBuildError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    for flag in precision_flags(trt, dtype):
        config.set_flag(flag)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in profiles.items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    config.progress_monitor = _Progress.create(trt, description, progress)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(
            f"TensorRT failed to build {description} (see the TensorRT log above); out of GPU memory is the usual "
            "cause: narrow the shape range in the profile or close other GPU programs")
    plan_path.write_bytes(bytes(serialized))


class TrtRunner:
    """One deserialized engine, called with CUDA torch tensors bound by address.

    Called, it returns the engine's first output; `run_into` writes every output into tensors the caller
    allocated (engines of several outputs: a ControlNet's residuals, controlnet_trt.py).
    NCHW-contiguous inputs of the engine's dtype are bound as they are; `copies` counts the inputs that had
    to be copied into NCHW first (0 when StreamPipeline feeds it: see the module docstring).
    """

    def __init__(self, plan: Path, device: torch.device, shapes: ShapeRange, component: str) -> None:
        trt = _trt()
        self._trt = trt
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self.engine is None:
            raise EngineBuildError(f"TensorRT could not load {plan}: built by another TensorRT version or GPU? "
                                   "Rebuild with sdbridge build-engines")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.output = self.outputs[0]
        self._out_dtype = _TORCH_DTYPES[self.engine.get_tensor_dtype(self.output).name]
        self._in_dtypes = [_TORCH_DTYPES[self.engine.get_tensor_dtype(n).name] for n in self.inputs]
        self._device, self._shapes, self._component = device, shapes, component
        self.copies = 0

    def _bindable(self, name: str, tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """`tensor` itself when the engine can read it in place (LINEAR = NCHW-contiguous), else one copy."""
        if tensor.dtype != dtype:
            raise InputError(f"TensorRT {self._component} engine input {name!r} is {tensor.dtype}, the engine was "
                             f"built for {dtype}; load the model in the dtype the engine was built with, or "
                             "rebuild the engines with sdbridge build-engines")
        if tensor.is_contiguous():
            return tensor
        self.copies += 1
        return tensor.contiguous()

    def _bind_inputs(self, tensors: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        keep = []  # a copied input must outlive the asynchronous run
        for name, tensor, dtype in zip(self.inputs, tensors, self._in_dtypes, strict=True):
            t = self._bindable(name, tensor, dtype)
            keep.append(t)
            self.context.set_input_shape(name, tuple(t.shape))
            self.context.set_tensor_address(name, t.data_ptr())
        return keep

    def _execute(self, keep: list[torch.Tensor]) -> None:
        if not self.context.execute_async_v3(torch.cuda.current_stream(self._device).cuda_stream):
            raise EngineBuildError(f"TensorRT {self._component} engine failed to run shapes "
                                   f"{[tuple(t.shape) for t in keep]}")

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        keep = self._bind_inputs(tensors)
        out = torch.empty(tuple(self.context.get_tensor_shape(self.output)), device=self._device,
                          dtype=self._out_dtype)
        self.context.set_tensor_address(self.output, out.data_ptr())
        self._execute(keep)
        return out

    def run_into(self, tensors: tuple[torch.Tensor, ...], outputs: tuple[torch.Tensor, ...]) -> None:
        """Bind `tensors` (the engine's inputs, in order) and `outputs` (every output, in the engine's order,
        contiguous, of the shapes the engine reports for these inputs: checked) and run."""
        keep = self._bind_inputs(tensors)
        if len(outputs) != len(self.outputs):
            raise InputError(f"TensorRT {self._component} engine has {len(self.outputs)} outputs, "
                             f"{len(outputs)} tensors given for them")
        for name, out in zip(self.outputs, outputs, strict=True):
            expected = tuple(self.context.get_tensor_shape(name))
            if tuple(out.shape) != expected or not out.is_contiguous():
                raise InputError(f"TensorRT {self._component} engine output {name!r} is {expected}; the tensor "
                                 f"given for it is {tuple(out.shape)} (contiguous: {out.is_contiguous()})")
            self.context.set_tensor_address(name, out.data_ptr())
        self._execute(keep)


class TensorRTBackend(Backend):
    """ONNX (cached) -> TensorRT engines (cached) -> execute_async_v3. GPU only; not run here."""

    choice = BackendChoice.TENSORRT

    def check(self, components: Components) -> None:
        """TensorRT importable, a CUDA build of torch with a GPU, and the model on that GPU."""
        if components.device.type != "cuda":
            raise BackendUnavailableError(
                f"--accel tensorrt needs the model on a CUDA device, not {components.device}; pass --device cuda "
                "(and a CUDA build of torch), or use --accel onnxruntime on this machine")
        if not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"--accel tensorrt: torch {torch.__version__} sees no CUDA GPU; install a CUDA build of torch")
        require_onnx()
        _trt()

    def version(self) -> str:
        """TensorRT's version."""
        return str(_trt().__version__)

    def keys(self, components: Components, options: AccelOptions, onnx: dict[str, tuple[Path, EngineKey]]
             ) -> dict[str, EngineKey]:
        """The TensorRT engine key of each graph (includes its ONNX key's digest, TensorRT version, GPU)."""
        return {component: engine_key(onnx_key, options.shapes, self.version(), gpu_arch(components.device))
                for component, (_, onnx_key) in onnx.items()}

    def runners(self, components: Components, options: AccelOptions) -> Runners:
        """Build (or load) the three engines and wrap them."""
        self.check(components)
        onnx = cached_onnx(components, options)
        cache = EngineCache(options.engines_dir)
        runners = {}
        for component, key in self.keys(components, options, onnx).items():
            def produce(folder: Path, step: Callable[[str], None], component: str = component) -> None:
                step(f"TensorRT build of {component}")
                build_engine(onnx[component][0], folder / ENGINE_FILE,
                             input_profiles(component, components, options.shapes),
                             dtype=components.dtype, progress=options.progress,
                             description=component)
            engine = cache.get_or_build(key, produce, steps=1, progress=options.progress)
            runners[component] = TrtRunner(engine.file(ENGINE_FILE), components.device, options.shapes, component)
        return engine_runners(runners, components.vae_scale_factor, options.shapes,
                              f"TensorRT {self.version()} on {gpu_arch(components.device)}")


def engine_runners(runners: dict[str, TrtRunner], vae_scale_factor: int, shapes: ShapeRange,
                   description: str) -> Runners:
    """The Runners over the three engines ("unet", "vae_encoder", "vae_decoder") built for `shapes`: the UNet
    refuses a call outside the range (InputError) and announces its batch range (shared calls split to fit);
    every runner binds NCHW tensors without a copy."""
    f, unet = vae_scale_factor, runners["unet"]

    def run_unet(sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor,
                 text_embeds: torch.Tensor | None = None, time_ids: torch.Tensor | None = None) -> torch.Tensor:
        b, h, w = sample.shape[0], sample.shape[2] * f, sample.shape[3] * f
        if not shapes.contains(b, h, w):
            raise InputError(
                f"UNet batch {b} at {w}x{h} is outside the TensorRT engine's range (batch {shapes.batch}, "
                f"width {shapes.width}, height {shapes.height}, as min/opt/max); build engines for it with "
                "`sdbridge build-engines --profile ...` covering that size and batch")
        extra = (text_embeds, time_ids) if len(unet.inputs) == 5 else ()
        return unet(sample, timestep.to(torch.int64), context, *extra)  # type: ignore[arg-type]

    return Runners(unet=run_unet, vae_encode=runners["vae_encoder"], vae_decode=runners["vae_decoder"],
                   description=description, unet_batch=(shapes.batch[0], shapes.batch[2]),
                   memory_format=torch.contiguous_format)
