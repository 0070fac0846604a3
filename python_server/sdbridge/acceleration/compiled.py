"""torch.compile backend: the three export modules compiled with inductor (dynamic shapes).

Compilation is lazy: the first call of each new shape compiles (seconds to minutes); later calls run the
compiled code. On CUDA, `cuda_graphs=True` uses mode "reduce-overhead" (CUDA graphs; not run here).
Nothing is cached in engines/: torch keeps its own compile cache.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from sdbridge.acceleration.base import AccelOptions, Backend, BackendChoice, Runners
from sdbridge.acceleration.export_modules import export_modules
from sdbridge.errors import BackendUnavailableError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components


class CompiledBackend(Backend):
    """torch.compile(backend="inductor") of the UNet, VAE encoder and VAE decoder."""

    choice = BackendChoice.COMPILE

    def __init__(self, compiler: str = "inductor") -> None:
        self.compiler = compiler

    def check(self, components: Components) -> None:
        """Inductor on CPU needs a C++ compiler and Python headers; CUDA graphs need a CUDA device."""
        if self.compiler != "inductor":
            return
        if components.device.type == "cpu":
            cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++") or shutil.which("cl")
            if cxx is None:
                raise BackendUnavailableError(
                    "--accel compile on CPU needs a C++ compiler for torch inductor and none is on PATH "
                    "(g++, c++, clang++ or cl); install one (apt install g++ / Xcode tools / MSVC) "
                    "or use --accel eager")
            include = sysconfig.get_paths().get("include")
            if include is None or not (Path(include) / "Python.h").is_file():
                raise BackendUnavailableError(
                    f"--accel compile on CPU needs the Python headers (Python.h in {include}); install them "
                    "(apt install python3-dev) or use --accel eager")

    def version(self) -> str:
        """torch's version."""
        return str(torch.__version__)

    def runners(self, components: Components, options: AccelOptions) -> Runners:
        """torch.compile wrappers (compiled at their first call)."""
        self.check(components)
        if options.cuda_graphs and components.device.type != "cuda":
            raise BackendUnavailableError(
                f"cuda_graphs=True needs a CUDA device, the model is on {components.device}; "
                "drop cuda_graphs or run on a GPU")
        mode = "reduce-overhead" if options.cuda_graphs else None
        unet, encode, decode = export_modules(components)

        def compiled(module: torch.nn.Module) -> torch.nn.Module:
            return torch.compile(module, backend=self.compiler, mode=mode, dynamic=None)  # type: ignore[return-value]

        return Runners(unet=compiled(unet), vae_encode=compiled(encode), vae_decode=compiled(decode),
                       description=f"torch {torch.__version__} compile ({self.compiler}"
                                   f"{', CUDA graphs' if mode else ''})")

