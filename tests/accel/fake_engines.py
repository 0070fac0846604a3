"""Fake `tensorrt` and `onnxruntime` modules for CPU tests of the engine backends' binding code.

A FakeEngine reads its inputs from the addresses it was given, as TensorRT's LINEAR format lays them out
(NCHW, contiguous), computes with a torch callable and writes the output at the output address: a runner
that bound a tensor of another layout by address would get a wrong result, as with a real engine. Only
CPU memory is read this way (the tests run on a CPU).
"""

from __future__ import annotations

import ctypes
import math
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

_TRT_NAMES = {torch.float32: "FLOAT", torch.float16: "HALF", torch.int64: "INT64", torch.bfloat16: "BF16"}


def tensor_at(address: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """The NCHW-contiguous tensor of `shape` at CPU `address` (shares the memory)."""
    size = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    return torch.frombuffer((ctypes.c_char * size).from_address(address), dtype=dtype).view(shape)


@dataclass
class FakeEngine:
    """An engine of named inputs and one output, computing `compute(*inputs)`."""

    inputs: list[tuple[str, torch.dtype]]
    output: tuple[str, torch.dtype]
    compute: Callable[..., torch.Tensor]
    output_shape: Callable[..., tuple[int, ...]]
    bound: list[dict[str, int]] = field(default_factory=list)  # the addresses of each run

    @property
    def num_io_tensors(self) -> int:
        return len(self.inputs) + 1

    def _all(self) -> list[tuple[str, torch.dtype]]:
        return [*self.inputs, self.output]

    def get_tensor_name(self, i: int) -> str:
        return self._all()[i][0]

    def get_tensor_mode(self, name: str) -> str:
        return "OUTPUT" if name == self.output[0] else "INPUT"

    def get_tensor_dtype(self, name: str) -> Any:
        return types.SimpleNamespace(name=_TRT_NAMES[dict(self._all())[name]])

    def create_execution_context(self) -> FakeContext:
        return FakeContext(self)


class FakeContext:
    """set_input_shape / set_tensor_address / get_tensor_shape / execute_async_v3 over CPU memory."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}
        self.streams: list[int] = []

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        self.shapes[name] = shape
        return True

    def set_tensor_address(self, name: str, address: int) -> bool:
        self.addresses[name] = address
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return self.engine.output_shape(*(self.shapes[n] for n, _ in self.engine.inputs))

    def execute_async_v3(self, stream: int) -> bool:
        self.streams.append(stream)
        self.engine.bound.append(dict(self.addresses))
        inputs = [tensor_at(self.addresses[n], self.shapes[n], dtype) for n, dtype in self.engine.inputs]
        name, dtype = self.engine.output
        out = tensor_at(self.addresses[name], self.get_tensor_shape(name), dtype)
        out.copy_(self.engine.compute(*inputs))
        return True


@dataclass
class FakeBuilderConfig:
    """Records what build_engine sets."""

    flags: list[str] = field(default_factory=list)
    pools: dict[str, int] = field(default_factory=dict)
    profiles: list[Any] = field(default_factory=list)
    progress_monitor: Any = None

    def set_flag(self, flag: str) -> None:
        self.flags.append(flag)

    def set_memory_pool_limit(self, pool: str, size: int) -> None:
        self.pools[pool] = size

    def add_optimization_profile(self, profile: Any) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1


def fake_tensorrt(engines: dict[bytes, FakeEngine]) -> types.ModuleType:
    """A `tensorrt` module whose Runtime loads `engines` by plan bytes and whose Builder records its config
    in `module.configs` and writes b"plan" as the serialized engine."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.0.0-fake"  # type: ignore[attr-defined]
    configs: list[FakeBuilderConfig] = []
    trt.configs = configs  # type: ignore[attr-defined]

    class Logger:
        WARNING = 2

        def __init__(self, level: int) -> None:
            self.level = level

    class Runtime:
        def __init__(self, logger: Logger) -> None:
            pass

        def deserialize_cuda_engine(self, plan: bytes) -> FakeEngine | None:
            return engines.get(plan)

    class Profile:
        def __init__(self) -> None:
            self.shapes: dict[str, tuple[Any, ...]] = {}

        def set_shape(self, name: str, lo: Any, opt: Any, hi: Any) -> None:
            self.shapes[name] = (lo, opt, hi)

    class Parser:
        num_errors = 0

        def __init__(self, network: object, logger: Logger) -> None:
            pass

        def parse_from_file(self, path: str) -> bool:
            return True

    class Builder:
        def __init__(self, logger: Logger) -> None:
            pass

        def create_network(self, flags: int) -> object:
            return object()

        def create_builder_config(self) -> FakeBuilderConfig:
            configs.append(FakeBuilderConfig())
            return configs[-1]

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: object, config: FakeBuilderConfig) -> bytes:
            return b"plan"

    class IProgressMonitor:
        def __init__(self) -> None:
            pass

    trt.Logger, trt.Runtime, trt.Builder, trt.OnnxParser = Logger, Runtime, Builder, Parser  # type: ignore[attr-defined]
    trt.IProgressMonitor = IProgressMonitor  # type: ignore[attr-defined]
    trt.BuilderFlag = types.SimpleNamespace(FP16="FP16", BF16="BF16")  # type: ignore[attr-defined]
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")  # type: ignore[attr-defined]
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")  # type: ignore[attr-defined]
    return trt


class FakeBinding:
    """An IOBinding that records every bind call."""

    def __init__(self) -> None:
        self.inputs: list[tuple[Any, ...]] = []
        self.outputs: list[tuple[Any, ...]] = []

    def bind_input(self, *args: Any) -> None:
        self.inputs.append(args)

    def bind_output(self, *args: Any) -> None:
        self.outputs.append(args)


def fake_onnxruntime(input_names: list[str]) -> types.ModuleType:
    """An `onnxruntime` module (CPU provider only) whose sessions record their providers and bindings
    (`module.sessions`) and run nothing."""
    ort = types.ModuleType("onnxruntime")
    ort.__version__ = "1.0.0-fake"  # type: ignore[attr-defined]
    sessions: list[Any] = []
    ort.sessions = sessions  # type: ignore[attr-defined]

    class SessionOptions:
        def add_session_config_entry(self, key: str, value: str) -> None:
            pass

    class InferenceSession:
        def __init__(self, path: str, options: SessionOptions, providers: list[Any]) -> None:
            self.providers = providers
            self.bindings: list[FakeBinding] = []
            self.run_options: list[Any] = []
            sessions.append(self)

        def get_inputs(self) -> list[Any]:
            return [types.SimpleNamespace(name=n) for n in input_names]

        def get_outputs(self) -> list[Any]:
            return [types.SimpleNamespace(name="out")]

        def io_binding(self) -> FakeBinding:
            self.bindings.append(FakeBinding())
            return self.bindings[-1]

        def run_with_iobinding(self, binding: FakeBinding, run_options: Any = None) -> None:
            self.run_options.append(run_options)

    ort.SessionOptions, ort.InferenceSession = SessionOptions, InferenceSession  # type: ignore[attr-defined]
    ort.GraphOptimizationLevel = types.SimpleNamespace(ORT_ENABLE_ALL=99)  # type: ignore[attr-defined]
    ort.ExecutionMode = types.SimpleNamespace(ORT_SEQUENTIAL=0)  # type: ignore[attr-defined]
    ort.get_available_providers = lambda: ["CPUExecutionProvider"]  # type: ignore[attr-defined]
    return ort
