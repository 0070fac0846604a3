"""The calling thread's CUDA device.

CUDA keeps the current device per host thread, and every new thread starts on cuda:0. Whatever a thread does on
"the current device" then goes to cuda:0 whichever device the server was given: an event recorded without a
stream lands on cuda:0's stream (so a pinned staging buffer guarded by it can be reused while the copy on the
server's device still reads it), pinned memory and streams open a context on cuda:0, and with one replica per GPU
(`sdbridge serve --device cuda:N`) every process would put a context on the first GPU. So each thread that works
on the device calls `bind_thread(device)` first: the loading thread, the worker, its device lane and the
background engine builder.

Not run on a GPU here: tests/runtime/test_cuda_thread.py checks, with torch.cuda.set_device replaced, that each of
those threads binds the configured device.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


def bind_thread(device: object) -> None:
    """Make `device` (a torch.device or its name) the calling thread's current CUDA device.

    Nothing for a non-CUDA device, or for "cuda" without an index (the current device, whatever it is); torch is
    imported only for a CUDA device."""
    name = "" if device is None else str(device)
    if not name.startswith("cuda:"):
        return
    import torch

    torch.cuda.set_device(torch.device(name))
    log.debug("thread %s on %s", threading.current_thread().name, name)
