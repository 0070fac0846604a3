"""torch.compile backend: the three export modules compiled with static shapes (dynamic=False).

Each input shape gets a graph of its own (static_compile.StaticCompiled). The server compiles every shape it
will use before it binds (warmup.py); a shape first seen while serving is compiled then, logged and counted.
On CUDA, `cuda_graphs=True` uses mode "reduce-overhead": each graph is also captured as a CUDA graph (not run
on a GPU here). On any other device the same code path compiles without CUDA graphs, and says so in the log.
Nothing is cached in engines/: torch keeps its own compile cache.
"""

from __future__ import annotations

import logging
import shutil
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from sdbridge.acceleration.base import AccelOptions, Backend, BackendChoice, Runners
from sdbridge.acceleration.export_modules import export_modules
from sdbridge.acceleration.static_compile import StaticCompiled
from sdbridge.errors import BackendUnavailableError

if TYPE_CHECKING:
    from sdbridge.pipeline import Components

log = logging.getLogger(__name__)

#: The torch.compile backend the server uses ("eager" / "aot_eager" check the compile path without code generation).
COMPILER = "inductor"


class CompiledBackend(Backend):
    """torch.compile(backend=compiler, dynamic=False) of the UNet, VAE encoder and VAE decoder (default COMPILER)."""

    choice = BackendChoice.COMPILE

    def __init__(self, compiler: str | None = None) -> None:
        self.compiler = compiler or COMPILER

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
        """Static-shape torch.compile wrappers (each shape compiled at its first call: the server warms them)."""
        self.check(components)
        graphs = options.cuda_graphs and components.device.type == "cuda"
        if options.cuda_graphs and not graphs:
            log.warning("cuda_graphs: the model is on %s and CUDA graphs need a CUDA device; torch.compile runs the "
                        "same static shapes without CUDA graphs", components.device)
        mode = "reduce-overhead" if graphs else None
        unet, encode, decode = export_modules(components)
        return Runners(unet=StaticCompiled("unet", unet, self.compiler, mode),
                       vae_encode=StaticCompiled("vae_encode", encode, self.compiler, mode),
                       vae_decode=StaticCompiled("vae_decode", decode, self.compiler, mode),
                       description=f"torch {torch.__version__} compile ({self.compiler}, static shapes"
                                   f"{', CUDA graphs' if graphs else ''})")
