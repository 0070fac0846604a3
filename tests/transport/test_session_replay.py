"""What BridgeClient replays after a reconnect (sdbridge.transport.client_session.SessionReplay): the parameters the
old session ended with, merged the way the server applied them (named weights by name; a `selection` whole)."""

from __future__ import annotations

from sdbridge import params
from sdbridge.protocol import messages as m
from sdbridge.transport.client_session import SessionReplay


def _w(*pairs: tuple[str, float]) -> tuple[m.AdapterWeight, ...]:
    return tuple(m.AdapterWeight(name, weight) for name, weight in pairs)


def test_named_weights_merge_by_name_and_a_selection_is_replaced_whole() -> None:
    assert not params.BY_NAME["lora_weights"].selection and params.BY_NAME["style_blend"].selection
    replay = SessionReplay()
    replay.remember_params(m.Params(lora_weights=_w(("ink", 1.0), ("grain", 0.5)),
                                    style_blend=_w(("a", 1.0), ("b", 1.0))))
    replay.remember_params(m.Params(lora_weights=_w(("grain", 0.25), ("neon", 2.0)), style_blend=_w(("c", 0.5))))
    replay.remember_params(m.Params(guidance_scale=1.5))
    [sent] = replay.messages(client_time_us=0)
    assert isinstance(sent, m.Params)
    # the server left "ink" at 1.0 when the second message named only grain and neon: the replay must say so
    assert dict((w.name, w.weight) for w in sent.lora_weights) == {"ink": 1.0, "grain": 0.25, "neon": 2.0}
    # style_blend names the whole selection: "a" and "b" got no weight from the second message on
    assert sent.style_blend == _w(("c", 0.5))
    assert sent.guidance_scale == 1.5


def test_a_seed_replaces_a_seed_blend_and_the_other_way_round() -> None:
    replay = SessionReplay()
    replay.remember_params(m.Params(seed_blend=(m.SeedWeight(1, 1.0), m.SeedWeight(2, 1.0))))
    replay.remember_params(m.Params(seed=7))
    [sent] = replay.messages(client_time_us=0)
    assert sent.seed == 7 and sent.seed_blend is None
