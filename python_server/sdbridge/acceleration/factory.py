"""accelerate(): the one entry point that applies a backend to loaded components.

EAGER returns the components unchanged. Every other backend returns a copy whose `unet` and `vae` are
adapters over that backend's runners (the originals stay untouched and shared). A backend that cannot run
raises BackendUnavailableError naming why and how to fix it, before anything is built; there is no fallback.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sdbridge.acceleration.adapters import RunnerSlot, UnetAdapter, VaeAdapter
from sdbridge.acceleration.base import AccelOptions, Backend, BackendChoice, Runners
from sdbridge.acceleration.builder import BackgroundBuilder, BuildState
from sdbridge.errors import ConfigError
from sdbridge.runtime.cuda_thread import bind_thread

if TYPE_CHECKING:
    from sdbridge.pipeline import Components

log = logging.getLogger(__name__)


def backend_for(choice: BackendChoice) -> Backend:
    """The Backend object of `choice` (imports its module only now)."""
    if choice is BackendChoice.EAGER:
        from sdbridge.acceleration.eager import EagerBackend

        return EagerBackend()
    if choice is BackendChoice.COMPILE:
        from sdbridge.acceleration.compiled import CompiledBackend

        return CompiledBackend()
    if choice is BackendChoice.ONNXRUNTIME:
        from sdbridge.acceleration.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend()
    from sdbridge.acceleration.tensorrt_backend import TensorRTBackend

    return TensorRTBackend()


def check_available(components: Components, choice: BackendChoice) -> None:
    """Raise BackendUnavailableError (why + fix) if `choice` cannot run `components` here."""
    from sdbridge.pipeline import ModelFamily

    if choice is not BackendChoice.EAGER and (components.family is ModelFamily.IDENTITY or components.unet is None):
        raise ConfigError(f"--accel {choice.value}: the {components.name!r} components have no model to accelerate; "
                          "use --accel eager or load a model")
    from sdbridge.pipeline.ip_adapter import has_ip_adapter

    if choice.builds_engines and has_ip_adapter(components.unet):
        raise ConfigError(f"--accel {choice.value}: the UNet carries an IP-Adapter, whose image projection and image "
                          "cross-attention need image_embeds, an input the exported engine graph does not have; use "
                          "--accel eager (or compile) with the IP-Adapter, or accelerate components without it")
    backend_for(choice).check(components)


@dataclass
class AccelHandle:
    """What accelerate_with_handle returns next to the components: the runner slot and any background build."""

    choice: BackendChoice
    slot: RunnerSlot | None
    builder: BackgroundBuilder | None = None

    @property
    def description(self) -> str:
        """The runners in use right now."""
        return self.slot.current.description if self.slot else "torch eager"

    @property
    def ready(self) -> bool:
        """True once the requested backend is the one running."""
        return self.builder is None or self.builder.state is BuildState.READY


def accelerate(components: Components, options: AccelOptions) -> Components:
    """Components running on `options.backend` (built now; see accelerate_with_handle for background)."""
    accelerated, _ = accelerate_with_handle(components, dataclasses.replace(options, background=False))
    return accelerated


def accelerate_with_handle(components: Components, options: AccelOptions,
                           on_error: Callable[[BaseException], None] | None = None,
                           build: Callable[[], Runners] | None = None) -> tuple[Components, AccelHandle]:
    """Components on `options.backend` and a handle. With options.background the returned components run on
    torch eager until the engine is built in a thread, then switch; a failed build calls `on_error`.
    `build` replaces the backend's own build (tests use a fake slow builder)."""
    choice = options.backend
    if choice is BackendChoice.EAGER:
        return components, AccelHandle(choice, None)
    check_available(components, choice)
    backend = backend_for(choice)

    def run_build() -> Runners:
        bind_thread(components.device)  # a background build runs on a thread of its own (runtime.cuda_thread)
        return backend.runners(components, options)

    builder_fn = build or run_build
    if options.background:
        if not choice.builds_engines:
            raise ConfigError(f"background builds apply to engine backends (onnxruntime, tensorrt), not "
                              f"--accel {choice.value}; drop the background option")
        from sdbridge.acceleration.eager import eager_runners

        slot = RunnerSlot(eager_runners(components))
        handle = AccelHandle(choice, slot)
        handle.builder = BackgroundBuilder(slot, builder_fn, name=f"{choice.value} engines of {components.name}",
                                           on_error=on_error).start()
    else:
        slot = RunnerSlot(builder_fn())
        handle = AccelHandle(choice, slot)
        log.info("acceleration: %s", slot.current.description)
    assert components.unet is not None and components.vae is not None
    accelerated = dataclasses.replace(
        components, unet=UnetAdapter(slot, components.unet.config),  # type: ignore[attr-defined]
        vae=VaeAdapter(slot, components.vae.config))  # type: ignore[attr-defined]
    return accelerated, handle
