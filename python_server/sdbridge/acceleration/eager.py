"""torch eager backend (the default): the export modules run as they are. Always available."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from sdbridge.acceleration.base import AccelOptions, Backend, BackendChoice, Runners
from sdbridge.acceleration.export_modules import export_modules

if TYPE_CHECKING:
    from sdbridge.pipeline import Components


def eager_runners(components: Components) -> Runners:
    """Runners over the components' own torch modules (what a background build serves with meanwhile)."""
    unet, encode, decode = export_modules(components)
    return Runners(unet=unet, vae_encode=encode, vae_decode=decode, description=f"torch {torch.__version__} eager")


class EagerBackend(Backend):
    """Plain torch."""

    choice = BackendChoice.EAGER

    def check(self, components: Components) -> None:
        """Always available."""

    def version(self) -> str:
        """torch's version."""
        return str(torch.__version__)

    def runners(self, components: Components, options: AccelOptions) -> Runners:
        """The components' own modules."""
        return eager_runners(components)
