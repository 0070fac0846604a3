"""The server's `[model] device` (`--device`), checked when the config is validated, before the model loads.

A name torch does not know ("gpu") used to surface as torch's RuntimeError traceback from inside the model load.
The usual names are recognised without importing torch; anything else is asked of `torch.device` itself.
"""

from __future__ import annotations

import re

USUAL = re.compile(r"(cpu|cuda|mps|xpu)(:\d+)?")
EXAMPLES = "cpu, cuda, cuda:1 or mps"


def device_problem(device: str, field: str | None = "model.device") -> str | None:
    """What is wrong with the device name `device` (naming `field` and the value, and the fix), or None when torch
    accepts it. `field` None: the value alone (argparse names the option itself)."""
    if USUAL.fullmatch(device):
        return None
    import torch

    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        named = f"{field}={device!r}" if field else repr(device)
        return f"{named} is not a torch device; use {EXAMPLES} (--device cpu without a GPU)"
    return None
