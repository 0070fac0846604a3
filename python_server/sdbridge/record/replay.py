"""Re-run a recording: rebuild each pipeline with the recorded StreamConfig, replay every prepare,
update and call in order on the recorded input frames, and compare with the recorded outputs.

On the same machine, model and library versions the outputs are identical byte for byte (the pipeline
is deterministic: seeded noise, no sampling at run time); `ReplayReport.mismatches` lists the calls
whose output differs.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sdbridge.errors import InputError
from sdbridge.record.format import Recording, from_json

log = logging.getLogger(__name__)


@dataclass
class ReplayReport:
    """What a replay did."""

    calls: int = 0
    compared: int = 0
    mismatches: list[int] = field(default_factory=list)  # call numbers whose output differs
    max_abs_diff: int = 0
    updates: int = 0
    builds: int = 0
    outputs: list[Path] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """True when every recorded output was reproduced exactly."""
        return not self.mismatches and self.compared == self.calls


def _enums() -> dict[str, type]:
    from sdbridge.pipeline import CfgMode, Interpolation

    return {"CfgMode": CfgMode, "Interpolation": Interpolation}


def _config(raw: dict[str, Any]) -> Any:
    from sdbridge.pipeline import StreamConfig

    values = from_json(raw, _enums())
    if "seed" in values and isinstance(values["seed"], list):
        values["seed"] = [tuple(pair) for pair in values["seed"]]
    return StreamConfig(**values)


def _spec(value: Any) -> Any:
    """A prompt spec back from JSON: a text, or [(text, weight), ...]."""
    if isinstance(value, list):
        return [(str(t), float(w)) for t, w in value]
    return value


def replay(recording: Recording, components: Any, out_dir: str | Path | None = None,
           on_call: Callable[[int, np.ndarray], None] | None = None) -> ReplayReport:
    """Replay `recording` with `components` (loaded by the caller); optionally write outputs as PNG."""
    from sdbridge.pipeline import build_pipeline

    enums = _enums()
    report = ReplayReport()
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    pipeline: Any = None
    for entry in recording.entries():
        data = entry.data
        if entry.kind == "build":
            pipeline = build_pipeline(components, _config(data["config"]))
            report.builds += 1
        elif entry.kind == "prepare":
            _need(pipeline, entry.seq)
            pipeline.prepare(prompt=_spec(data["prompt"]), negative_prompt=_spec(data["negative_prompt"]))
        elif entry.kind == "update":
            _need(pipeline, entry.seq)
            values = from_json(data["values"], enums)
            for key in ("prompt", "negative_prompt"):
                if key in values:
                    values[key] = _spec(values[key])
            if isinstance(values.get("seed"), list):
                values["seed"] = [tuple(pair) for pair in values["seed"]]
            report.updates += 1
            try:
                pipeline.update(**values)
            except Exception as exc:
                if not data.get("failed"):
                    raise InputError(f"log line {entry.seq}: update {values} failed on replay but not when "
                                     f"recorded: {exc}") from exc
        elif entry.kind == "call":
            _need(pipeline, entry.seq)
            call = int(data["call"])
            result = pipeline(recording.frame(call, "in"))
            image = np.asarray(result.image)
            report.calls += 1
            try:
                want = recording.frame(call, "out")
            except (KeyError, FileNotFoundError):
                want = None
            if want is not None:
                report.compared += 1
                if want.shape != image.shape or not np.array_equal(want, image):
                    report.mismatches.append(call)
                    if want.shape == image.shape:
                        diff = int(np.abs(want.astype(np.int16) - image.astype(np.int16)).max())
                        report.max_abs_diff = max(report.max_abs_diff, diff)
            if out is not None:
                path = out / f"{call:06d}.png"
                path.write_bytes(png_bytes(image))
                report.outputs.append(path)
            if on_call is not None:
                on_call(call, image)
    return report


def _need(pipeline: Any, seq: int) -> None:
    if pipeline is None:
        raise InputError(f"recording log line {seq} uses a pipeline before any 'build' line: the log is damaged")


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit RGB(A) or grey PNG of an (H, W[, C]) uint8 array (no imaging library needed)."""
    array = np.ascontiguousarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    height, width, channels = array.shape
    color = {1: 0, 3: 2, 4: 6}.get(channels)
    if color is None:
        raise InputError(f"png_bytes: {channels} channels; give 1, 3 or 4")
    rows = np.concatenate([np.zeros((height, 1), np.uint8), array.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, color, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
            + chunk(b"IEND", b""))
