"""The server's `[model] device` (`--device`), checked when the config is validated, before the model loads.

A name torch does not know ("gpu") used to surface as torch's RuntimeError traceback from inside the model load.
The usual names are recognised without importing torch; anything else is asked of `torch.device` itself.
"""

from __future__ import annotations

import re

USUAL = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")
EXAMPLES = "cpu, cuda, cuda:1 or mps"


def device_problem(device: str) -> str | None:
    """What is wrong with the device name `device` (naming the value and the fix), or None when torch accepts it."""
    if USUAL.fullmatch(device):
        return None
    import torch

    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        return f"model.device={device!r} is not a torch device; use {EXAMPLES} (--device cpu without a GPU)"
    return None
