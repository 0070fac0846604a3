"""BridgeClient's calls refuse what they cannot send with an InputError naming the call, the value and the fix
(a wrong prompt blend raised "could not convert string to float", a payload list "cannot convert dictionary update
sequence element", a list value the codec's ProtocolError "KeyValue 'k' has a list value", a list image "image has
shape None dtype list"). The builders are pure functions, so no server is needed."""

from __future__ import annotations

import numpy as np
import pytest

from sdbridge.errors import InputError
from sdbridge.transport import client_messages as build


@pytest.mark.parametrize(("prompt", "words"), [
    (None, ["set_prompt: prompt=None is a NoneType", 'set_prompt([("a castle", 0.7)']),
    ([("castle", "x")], ["blend entry [0]=('castle', 'x') is not a (text, weight) pair"]),
    ([("castle", 0.5), "forest"], ["blend entry [1]='forest'"]),
    ([(1, 0.5)], ["blend entry [0]=(1, 0.5)"]),
])
def test_a_prompt_that_is_no_text_or_blend(prompt: object, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        build.prompt(prompt, "", transition_frames=0, transition_seconds=0.0, stream_id=0)  # type: ignore[arg-type]
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_a_good_blend_still_builds() -> None:
    message = build.prompt([("castle", 1), ("forest", 0.5)], "", transition_frames=0, transition_seconds=0.0,
                           stream_id=0)
    assert [(w.text, w.weight) for w in message.blend] == [("castle", 1.0), ("forest", 0.5)]


@pytest.mark.parametrize(("payload", "words"), [
    ([1, 2], ["send_event('hit') payload: [1, 2] is a list", "pass a mapping of names"]),
    ({"pos": [1, 2]}, ["send_event('hit') payload: 'pos'=[1, 2] is a list", "as several keys, or as a JSON text"]),
    ({"hp": np.int64(3)}, ["'hp'=", "is a int64", "value.item()"]),
    ({3: "x"}, ["key 3 is a int; keys are texts"]),
])
def test_an_event_payload_that_cannot_be_sent(payload: object, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        build.game_event("hit", payload, 0)  # type: ignore[arg-type]
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert dict(build.game_event("hit", {"hp": 3, "kind": "fire", "boss": True, "dmg": 2.5}, 0).payload)["hp"] == 3


def test_a_state_value_that_cannot_be_sent() -> None:
    with pytest.raises(InputError, match=r"set_state: 'pos'=\[1, 2\] is a list; values are bool, int, float or str"):
        build.state("pos", [1, 2], False)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"set_state: \['a'\] is a list; pass a mapping"):
        build.state(["a"], None, False)  # type: ignore[arg-type]
    assert dict(build.state({"time_of_day": "night"}, None, False).entries) == {"time_of_day": "night"}


@pytest.mark.parametrize(("image", "words"), [
    ([[1, 2, 3]], ["image is a builtins.list, not a numpy array"]),
    (np.zeros((4, 4, 4), np.float32), ["dtype float32", "uint8 numpy array"]),
])
def test_an_image_that_is_no_uint8_array(image: object, words: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        build.check_image(image, None)  # type: ignore[arg-type]
    for word in words:
        assert word in str(caught.value), str(caught.value)


@pytest.mark.parametrize(("endpoint", "words"), [
    ("127.0.0.1:5555", ["endpoint='127.0.0.1:5555' must start with tcp://, ipc://, inproc://", "tcp://127.0.0.1:5555"]),
    ("tcp://127.0.0.1", ["needs the server's port, tcp://HOST:PORT"]),
    ("tcp://127.0.0.1:99999", ["PORT in [1, 65535]"]),
])
def test_an_endpoint_zeromq_cannot_connect_to(endpoint: str, words: list[str]) -> None:
    """Before: connect() raised zmq.ZMQError "Invalid argument (addr='127.0.0.1:5555')"."""
    from sdbridge.transport.client import BridgeClient

    with pytest.raises(InputError) as caught:
        BridgeClient(endpoint)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    for good in ("tcp://127.0.0.1:5555", "tcp://[::1]:5555", "ipc:///tmp/sdbridge.sock", "inproc://bridge"):
        BridgeClient(good).close()
