"""Re-run a recording: rebuild each pipeline with the recorded StreamConfig, replay every prepare,
update and call in order on the recorded input frames, and compare with the recorded outputs.

A pipeline with ControlNets (`controlnets=`, the served ones) gets each call's control images as the server set
them: from the planes recorded before the call (or the fallback for a frame without them) through
sdbridge.runtime.control_inputs.ControlPlanes, on the recorded input frame. A pipeline with an IP-Adapter
(`ip_adapter=`, the served one: sdbridge.record.ip_adapter loads what meta.json names) gets each "styles" line's
images as the server gave them; the scale and style_blend come back with the build and update lines.

On the same machine, model and library versions the outputs are identical byte for byte (the pipeline
is deterministic: seeded noise, no sampling at run time); `ReplayReport.mismatches` lists the calls
whose output differs. The recording is untrusted input (see sdbridge.record.format.Recording): every
problem in it is an InputError naming the log line.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sdbridge.errors import InputError
from sdbridge.record.format import WORKER_KINDS, Entry, Recording, from_json

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


def _config(raw: Any) -> Any:
    """The StreamConfig of a "build" line; an unknown or wrong key is an InputError naming it."""
    import dataclasses

    from sdbridge.pipeline import StreamConfig

    if not isinstance(raw, dict):
        raise InputError(f"config is a JSON {type(raw).__name__}; a build line's config is an object")
    known = {f.name for f in dataclasses.fields(StreamConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"config keys {unknown} are not StreamConfig fields of this sdbridge (known: "
                         f"{sorted(known)}); the recording comes from another version or is damaged")
    values = from_json(raw, _enums())
    if "seed" in values and isinstance(values["seed"], list):
        values["seed"] = [tuple(pair) for pair in values["seed"]]
    return StreamConfig(**values)


def _spec(value: Any) -> Any:
    """A prompt spec back from JSON: a text, or [(text, weight), ...]."""
    if isinstance(value, list):
        return [(str(t), float(w)) for t, w in value]
    return value


class _Replayer:
    """Applies log entries in order to the pipeline they build (one `replay` run)."""

    def __init__(self, recording: Recording, components: Any, out: Path | None,
                 on_call: Callable[[int, np.ndarray], None] | None, controlnets: Any = None,
                 segmentation: Mapping[int, str | int] | None = None, ip_adapter: Any = None) -> None:
        from sdbridge.runtime.control_inputs import ControlPlanes

        self.recording, self.components, self.out, self.on_call = recording, components, out, on_call
        self.enums = _enums()
        self.report = ReplayReport()
        self.pipeline: Any = None
        self.controlnets = controlnets
        self.ip_adapter = ip_adapter
        self.controls = ControlPlanes(segmentation)
        self.planes: tuple[Any, ...] = ()  # the next call's frame's planes (a "planes" line)

    def apply(self, entry: Entry) -> None:
        """Re-run one worker entry (build, prepare, update, call); notes of engine inputs are skipped."""
        from sdbridge.pipeline import build_pipeline

        data = entry.data
        if entry.kind == "build":
            config = _config(data["config"])
            served = (self.controlnets, self.ip_adapter)  # the optional arguments up to the last one given
            given = max((i + 1 for i, part in enumerate(served) if part is not None), default=0)
            self.pipeline = build_pipeline(self.components, config, *served[:given])
            self.report.builds += 1
        elif entry.kind == "prepare":
            self._need(entry)
            self.pipeline.prepare(prompt=_spec(data["prompt"]), negative_prompt=_spec(data["negative_prompt"]))
        elif entry.kind == "update":
            self._need(entry)
            self._update(data)
        elif entry.kind == "planes":
            self._need(entry)
            self.planes = _planes(self.recording, int(data["call"]), data["descs"])
        elif entry.kind == "scene_cut":  # the client's Frame.scene_cut (protocol 1.4)
            self._need(entry)
            self.pipeline.scene_cut()
        elif entry.kind == "styles":  # style images (protocol 1.4 StyleImage, a rules file's [styles])
            self._need(entry)
            self._styles(data)
        elif entry.kind == "call":
            self._need(entry)
            self._call(int(data["call"]))

    def _update(self, data: Mapping[str, Any]) -> None:
        values = from_json(data["values"], self.enums)
        if not isinstance(values, dict):
            raise InputError(f"update values are a JSON {type(values).__name__}; they are an object")
        for key in ("prompt", "negative_prompt"):
            if key in values:
                values[key] = _spec(values[key])
        if isinstance(values.get("seed"), list):
            values["seed"] = [tuple(pair) for pair in values["seed"]]
        self.report.updates += 1
        try:
            self.pipeline.update(**values)
        except Exception as exc:
            if not data.get("failed"):
                raise InputError(f"update {values} failed on replay but not when recorded: {exc}") from exc

    def _styles(self, data: Mapping[str, Any]) -> None:
        from sdbridge.events.style_files import StyleImages

        names, n = data.get("names"), data.get("set")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names) or not isinstance(n, int):
            raise InputError(f"a 'styles' line with names={names!r}, set={n!r}; the log is damaged")
        images = [(name, self.recording.frame(n, f"style-{k}")) for k, name in enumerate(names)]
        try:
            self.pipeline.update(style_images=StyleImages.of(images))
        except Exception as exc:  # a refusal the server met too is replayed as one (older lines lack "failed")
            if not data.get("failed"):
                raise InputError(f"style images {names} failed on replay but not when recorded: {exc}") from exc

    def _call(self, call: int) -> None:
        report = self.report
        frame = self.recording.frame(call, "in")
        if self.controls.kinds(self.pipeline):  # the frame's control images, as the server set them
            self.controls.apply(0, self.pipeline, self.planes, frame)
        self.planes = ()
        result = self.pipeline(frame)
        image = np.asarray(result.image)
        report.calls += 1
        if self.recording.has_frame(call, "out"):
            want = self.recording.frame(call, "out")
            report.compared += 1
            if want.shape != image.shape or not np.array_equal(want, image):
                report.mismatches.append(call)
                if want.shape == image.shape:
                    diff = int(np.abs(want.astype(np.int16) - image.astype(np.int16)).max())
                    report.max_abs_diff = max(report.max_abs_diff, diff)
        if self.out is not None:
            path = self.out / f"{call:06d}.png"
            path.write_bytes(png_bytes(image))
            report.outputs.append(path)
        if self.on_call is not None:
            self.on_call(call, image)

    def _need(self, entry: Entry) -> None:
        if self.pipeline is None:
            raise InputError(f"a {entry.kind!r} line before any 'build' line: the log is damaged")


def _planes(recording: Recording, call: int, descs: Any) -> tuple[Any, ...]:
    """The recorded planes of call `call`'s frame (top-down arrays, as the server's Plane holds them)."""
    from sdbridge.protocol import messages as m
    from sdbridge.runtime.planes import Plane

    if not isinstance(descs, list):
        raise InputError(f"planes descs are a JSON {type(descs).__name__}; they are a list of PlaneDesc objects")
    enums = {cls.__name__: cls for cls in (m.PlaneKind, m.PlaneFormat, m.RowOrder, m.DepthEncoding, m.NormalSpace,
                                           m.NormalEncoding, m.MotionUnits, m.MotionTarget)}
    planes = []
    for k, raw in enumerate(descs):
        values = from_json(raw, enums)
        if not isinstance(values, dict):
            raise InputError(f"planes descs[{k}] is not an object of PlaneDesc fields")
        planes.append(Plane(m.PlaneDesc(**values), recording.plane(call, k)))
    return tuple(planes)


def replay(recording: Recording, components: Any, out_dir: str | Path | None = None,
           on_call: Callable[[int, np.ndarray], None] | None = None, controlnets: Any = None,
           segmentation: Mapping[int, str | int] | None = None, ip_adapter: Any = None) -> ReplayReport:
    """Replay `recording` with `components` (loaded by the caller); optionally write outputs as PNG.
    `controlnets`: the sdbridge.pipeline.controlnet.ControlNets the recorded server served (None: none);
    `segmentation`: its [model] segmentation map (sdbridge.config.parse_segmentation); `ip_adapter`: the
    sdbridge.pipeline.ip_adapter.IpAdapter it served (None: none), attached to `components` (meta.json's model
    "ip_adapter" names it: see sdbridge.record.ip_adapter).

    A damaged or crafted log line is an InputError naming its line number (never a raw traceback).
    """
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    replayer = _Replayer(recording, components, out, on_call, controlnets, segmentation, ip_adapter)
    for entry in recording.entries():
        if entry.kind not in WORKER_KINDS:
            continue  # an engine input the server accepted: its effect is in the worker lines
        try:
            replayer.apply(entry)
        except InputError as exc:
            raise InputError(f"{recording.path}: log.jsonl line {entry.line} ({entry.kind}): {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RecursionError, RuntimeError) as exc:
            what = f"missing field {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise InputError(f"{recording.path}: log.jsonl line {entry.line} ({entry.kind}): {what}; the "
                             f"recording is damaged or was not written by this sdbridge") from None
    return replayer.report


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
