"""Keep libraries' load-time chatter off the console unless `sdbridge -v`: the user sees our log lines.

Without --verbose (`quiet_libraries(False)`, called by the CLI before any command runs):

- diffusers and transformers log only errors (DIFFUSERS_VERBOSITY / TRANSFORMERS_VERBOSITY, unless the user set
  them): their load-time warnings ("There are modules in UNet2DConditionModel that should be kept in float32: []",
  "`CLIPImageProcessor` requires torchvision") are not ours to act on;
- their loading progress bars ("Loading weights", "Loading pipeline components") are off; huggingface_hub's
  download bars stay (a first run fetches gigabytes), and so do errors of every library;
- their FutureWarning / DeprecationWarning lines are not shown;
- websockets' INFO lines (the preview's "server listening on ...", "server closing") are dropped, ours say it;
- torch's INFO lines are dropped too ("FakeTensor cache stats: cache_hits: 0 ..." printed at exit when a start was
  interrupted, compile internals); its warnings stay.

The switches take effect when each library is first imported (an import hook, so a command that never loads a model
pays nothing); one already imported is switched at once. With --verbose nothing is changed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType

Action = Callable[[ModuleType], None]
NOISY = ("diffusers", "transformers")  # libraries whose warnings and loading bars are kept off the console
QUIET_INFO = ("websockets", "torch")  # libraries whose INFO lines are kept off the console


def _diffusers_quiet(module: ModuleType) -> None:
    module.set_verbosity_error()
    module.disable_progress_bar()


def _transformers_quiet(module: ModuleType) -> None:
    module.set_verbosity_error()
    # transformers' disable_progress_bar() turns huggingface_hub's download bars off too: only its own flag here
    module._tqdm_active = False


ACTIONS: dict[str, Action] = {"diffusers.utils.logging": _diffusers_quiet,
                              "transformers.utils.logging": _transformers_quiet}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs an action on a module right after its first import (then forgets it)."""

    def __init__(self, actions: dict[str, Action]) -> None:
        self.actions = dict(actions)

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        action = self.actions.pop(fullname, None)
        if action is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_then_act(module: ModuleType) -> None:
            run(module)
            action(module)

        loader.exec_module = exec_then_act  # type: ignore[method-assign]
        return spec


def quiet_libraries(verbose: bool) -> None:
    """Without `verbose`: the switches of the module docstring. With it: nothing (every library speaks)."""
    if verbose:
        return
    for library in NOISY:
        os.environ.setdefault(f"{library.upper()}_VERBOSITY", "error")
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=rf"{library}(\.|$)")
    for library in QUIET_INFO:
        logging.getLogger(library).setLevel(logging.WARNING)
    pending = {name: action for name, action in ACTIONS.items() if name not in sys.modules}
    for name, action in ACTIONS.items():
        if name in sys.modules:
            action(sys.modules[name])
    if pending and not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(pending))
