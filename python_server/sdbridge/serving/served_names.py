"""The names a pipeline update may refer to on this server, checked where the update enters.

A Params value can name things the served model must have: a live LoRA (`lora_weights`), a ControlNet
(`controlnet_scale`, `controlnet_start`, `controlnet_end`) or, through `style_blend`, the IP-Adapter that style
images need. The session's pipeline refuses a name it lacks too, but only when the worker applies the update: the
client then got "a Prompt/Params update failed" without the field, or, for values sent before its first frame, a
failed frame, and its other values sent before that frame were dropped with the bad one. Here every source (a
client's Params, the preview page, a rules file: `Dispatcher.queue_update`) is refused at once, with the field, the
value and the fix, and nothing is queued. The texts are the pipeline's own (`unknown_adapter`,
`unknown_controlnet`, `no_ip_adapter`), so both refusals say the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sdbridge import params
from sdbridge.errors import ConfigError, FieldError
from sdbridge.protocol.messages import ErrorCode

CONTROLNET_KEYS = ("controlnet_scale", "controlnet_start", "controlnet_end")


@dataclass(frozen=True)
class ServedNames:
    """The live LoRAs, the ControlNets and whether an IP-Adapter runs in this server's session pipelines."""

    live_loras: tuple[str, ...] = ()
    controlnets: tuple[str, ...] = ()
    ip_adapter: bool = False

    @classmethod
    def of(cls, components: Any, controlnets: Any = None, ip_adapter: Any = None) -> ServedNames:
        """What the session pipelines built on `components` with `controlnets` (sdbridge.pipeline.controlnet.
        ControlNets) and `ip_adapter` run (sdbridge.served_model.factory_from_components)."""
        live = getattr(components, "live_loras", None)
        return cls(tuple(live.names) if live is not None else (),
                   tuple(controlnets.names) if controlnets is not None else (), ip_adapter is not None)

    def check(self, values: Mapping[str, Any], source: str = "") -> None:
        """Refuse (FieldError BAD_PARAM naming `source` + the registry's wire field) an update naming a live LoRA,
        ControlNet or IP-Adapter this server does not run; `values` are pipeline keywords (already range-checked)."""
        for key, value in values.items():
            problem = self._problem(key, value)
            if problem is not None:
                field = source + params.BY_NAME[key].field_path
                raise FieldError(ErrorCode.BAD_PARAM, field, f"{source}{problem}")

    def _problem(self, key: str, value: Any) -> str | None:
        from sdbridge.pipeline.controlnet import unknown_controlnet
        from sdbridge.pipeline.live_lora import unknown_adapter
        from sdbridge.pipeline.style_images import no_ip_adapter

        error: ConfigError | None = None
        if key == "lora_weights":
            name = _first_unknown(value, self.live_loras)
            error = None if name is None else unknown_adapter(name, self.live_loras)
        elif key in CONTROLNET_KEYS:
            name = _first_unknown(value, self.controlnets)
            error = None if name is None else unknown_controlnet(key, name, self.controlnets)
        elif key == "style_blend" and value and not self.ip_adapter:
            error = no_ip_adapter("style_blend")
        return None if error is None else str(error)


def _first_unknown(pairs: Iterable[tuple[str, float]], known: tuple[str, ...]) -> str | None:
    """The first name of (name, weight) `pairs` not in `known`, or None."""
    return next((str(name) for name, _ in pairs if name not in known), None)
