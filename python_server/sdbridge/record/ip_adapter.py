"""The IP-Adapter a replay serves: the one the recorded server had (meta.json's model "ip_adapter", the
`SOURCE[@SCALE]` of `serve --ip-adapter` / [model] ip_adapter, "" for none), or the one `replay --ip-adapter`
names instead, loaded for the replay's components as `serve` loads it (sdbridge.pipeline.ip_adapter_loading).

A source read from the (untrusted) recording is loaded from disk only: a recording never downloads ("tiny" and
"tiny-plus" are made offline; a Hub file must be in the local cache). One that cannot be loaded, or a recording
whose "styles" lines need an adapter it does not name (one made before the note existed), is refused before
anything runs, with an InputError naming the recording's adapter and the `--ip-adapter` override. The starting
scale needs no loading: it is in each "build" line's StreamConfig (ip_adapter_scale), and later changes in the
"update" lines.
"""

from __future__ import annotations

import logging
from typing import Any

from sdbridge.config import parse_ip_adapter
from sdbridge.errors import ConfigError, InputError, ModelNotFoundError
from sdbridge.record.format import Recording

log = logging.getLogger(__name__)

META_KEY = "ip_adapter"  # meta.json's model key (written by sdbridge.serving.recorder_observer)
FIX = ("pass --ip-adapter SOURCE[@SCALE] (a local IP-Adapter weight file with its image_encoder folder beside it, "
       "a Hub file in the local cache, or tiny / tiny-plus) to replay with that adapter")


def recorded_source(model: dict[str, Any]) -> str:
    """The recorded server's `SOURCE[@SCALE]` ("" when it had none, or the recording predates the note)."""
    value = model.get(META_KEY, "")
    if not isinstance(value, str):
        raise InputError(f"meta.json's model.{META_KEY} is {str(value)[:200]!r}; it is a text SOURCE[@SCALE] (or "
                         f"\"\"): the recording is damaged")
    return value


def has_styles(recording: Recording) -> bool:
    """True when the recording holds a "styles" line (style images the pipeline needs an adapter for)."""
    return any(entry.kind == "styles" for entry in recording.entries())


def load_replay_adapter(recording: Recording, model: dict[str, Any], components: Any, override: str | None,
                        max_style_images: int) -> Any:
    """The IpAdapter to replay `recording` with, attached to `components` (None: the recording needs none).

    `override`: `replay --ip-adapter` (None: the recorded one; "": none); `max_style_images`: the recording
    server's limits.max_style_images (each pipeline holds at most this many, as on the server).
    """
    recorded = recorded_source(model)
    text = recorded if override is None else override
    where = f"{recording.path}: meta.json model.{META_KEY}" if override is None else "--ip-adapter"
    try:
        spec = parse_ip_adapter(text, where)
    except ConfigError as exc:
        raise InputError(f"{exc}; {FIX}") from None
    if spec is None:
        if override is None and has_styles(recording):
            raise InputError(f"{recording.path} has style images (\"styles\" lines) but its meta.json names no "
                             f"IP-Adapter (model.{META_KEY}; a recording made before it was noted); {FIX}, the one "
                             f"the server ran with `serve --ip-adapter`")
        return None
    from sdbridge.pipeline.ip_adapter_loading import load_ip_adapter

    try:  # a source read from the recording never downloads; one given on the command line may
        adapter = load_ip_adapter(spec, components, local_files_only=True if override is None else None)
    except (ModelNotFoundError, ConfigError, OSError, ValueError) as exc:
        named = f"the recording's IP-Adapter {recorded!r}" if override is None else f"--ip-adapter {override!r}"
        raise InputError(f"{recording.path}: cannot load {named} (recorded: {recorded or 'none'!r}): {exc}; "
                         f"{FIX}") from None
    adapter.max_style_images = max_style_images
    log.info("IP-Adapter for the replay: %s (%s, recorded %r)", spec.source, "Plus" if adapter.plus else "plain",
             recorded)
    return adapter
