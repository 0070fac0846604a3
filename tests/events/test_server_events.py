"""End to end over a real server (tiny model, tcp loopback): GameEvent and State messages sent by a
BridgeClient drive the prompt through the rules file; sessions are recorded and replayed bit for bit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sdbridge.config import ServerConfig, with_overrides
from sdbridge.pipeline import Components
from sdbridge.protocol import messages as m
from sdbridge.record.format import Recording
from sdbridge.record.replay import replay
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

pytestmark = pytest.mark.integration

SIZE = 64
RULES = """
version = 1
[state]
biome = { type = "string", default = "forest" }
time_of_day = { type = "string", default = "day" }

[prompt]
template = "a {biome} at {time_of_day}"

[[rules]]
event = "enter_biome"
copy = { biome = "biome" }

[[rules]]
name = "flash"
event = "hit"
prompt = "a {biome} drenched in red"
duration = { frames = 2 }
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    return path


def _server(tiny: Components, rules: Path | None, record: Path | None = None) -> BridgeServer:
    cfg = with_overrides(ServerConfig(), model={"name": "tiny", "width": SIZE, "height": SIZE},
                         session={"heartbeat_timeout_s": 120.0}, top={"bind": "tcp://127.0.0.1:*"})
    factory, model = factory_from_components(tiny, cfg)
    server = BridgeServer(cfg, factory, model, rules_path=str(rules) if rules else None,
                          record_dir=str(record) if record else None)
    server.start_in_thread()
    return server


@pytest.fixture
def rules_server(tiny: Components, rules_file: Path, tmp_path: Path) -> Iterator[BridgeServer]:
    server = _server(tiny, rules_file, tmp_path / "recordings")
    yield server
    server.close()


def _frames(count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(count)]


def _run(client: BridgeClient, frames: list[np.ndarray], before: dict[int, object]) -> list[np.ndarray]:
    """Send frames one at a time; before frame i call before[i](). Returns the output images."""
    out = []
    for i, frame in enumerate(frames):
        if i in before:
            before[i]()  # type: ignore[operator]
        assert client.submit(frame) is not None
        result = client.receive(timeout=30)
        assert result is not None, f"no result for frame {i}"
        out.append(result.image)
    return out


def _session(server: BridgeServer, client: BridgeClient):
    return next(s for s in server.table.sessions() if s.session_id == client.session_id)


def test_the_welcome_offers_game_events_only_with_a_rules_file(tiny: Components, rules_file: Path) -> None:
    """A real handshake with the Python client (which offers GAME_EVENTS): the server's Welcome grants it
    when a rules file is loaded, and not without one (its other capabilities are the same)."""
    granted: dict[bool, m.Capability] = {}
    for with_rules in (True, False):
        server = _server(tiny, rules_file if with_rules else None)
        try:
            with BridgeClient(server.endpoint, name="caps") as client:
                welcome = client.connect(timeout=10)
                assert welcome is client.welcome and welcome is not None
                granted[with_rules] = welcome.capabilities
        finally:
            server.close()
    assert granted[True] & m.Capability.GAME_EVENTS
    assert not granted[False] & m.Capability.GAME_EVENTS
    assert granted[True] & ~m.Capability.GAME_EVENTS == granted[False]
    assert granted[False] & m.Capability.CREDITS  # the handshake negotiated the others as before


def test_events_from_a_client_change_the_prompt_the_pipeline_uses(rules_server: BridgeServer) -> None:
    frames = _frames(6, seed=11)
    with BridgeClient(rules_server.endpoint, name="game") as game:
        game.connect(timeout=10)
        got = _run(game, frames, {3: lambda: game.send_event("enter_biome", {"biome": "desert"})})
        assert _session(rules_server, game).prompt_values["prompt"] == "a desert at day"
        # State re-renders the template; a key that is no variable of the rules is ignored
        game.set_state({"time_of_day": "night", "not_a_variable": 3})
        _run(game, frames[:1], {})
        assert _session(rules_server, game).prompt_values["prompt"] == "a desert at night"
        assert game.last_error is None
    # the same frames with the same prompt set directly at the same frame give the same pictures
    with BridgeClient(rules_server.endpoint, name="reference") as ref:
        ref.connect(timeout=10)
        want = _run(ref, frames, {3: lambda: ref.set_prompt("a desert at day")})
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"output {i}")
    # and a session without the event does not (the event really changed the pictures)
    with BridgeClient(rules_server.endpoint, name="control") as control:
        control.connect(timeout=10)
        plain = _run(control, frames, {})
    assert np.array_equal(plain[2], got[2])
    assert not np.array_equal(plain[5], got[5])


def test_a_temporary_effect_reverts_after_its_frames(rules_server: BridgeServer) -> None:
    frames = _frames(5, seed=12)
    seen: list[str] = []
    with BridgeClient(rules_server.endpoint, name="flash") as game:
        game.connect(timeout=10)
        session = None
        for i, frame in enumerate(frames):
            if i == 1:
                game.send_event("hit")
            game.submit(frame)
            assert game.receive(timeout=30) is not None
            session = session or _session(rules_server, game)
            seen.append(session.prompt_values["prompt"])
    assert seen == ["a forest at day", "a forest drenched in red", "a forest drenched in red",
                    "a forest at day", "a forest at day"]


def test_bad_state_value_is_reported_to_the_client(tiny: Components, tmp_path: Path) -> None:
    path = tmp_path / "typed.toml"
    path.write_text('[state]\nlevel = { type = "int", default = 1, min = 1, max = 9 }\n'
                    '[prompt]\ntemplate = "level {level}"\n', encoding="utf-8")
    server = _server(tiny, path)
    try:
        with BridgeClient(server.endpoint, name="typed") as game:
            game.connect(timeout=10)
            game.set_state("level", 12)
            game.submit(_frames(1, seed=1)[0])
            result = game.receive(timeout=30)
            assert result is not None
            assert game.last_error is not None and "above its max=9" in game.last_error.message
            assert _session(server, game).prompt_values["prompt"] == "level 1"
    finally:
        server.close()


def test_rules_file_reloads_while_serving_and_a_bad_edit_keeps_the_old_rules(rules_server: BridgeServer,
                                                                             rules_file: Path) -> None:
    host = rules_server.rules
    host.poll_interval = 0.0
    with BridgeClient(rules_server.endpoint, name="reload") as game:
        game.connect(timeout=10)
        _run(game, _frames(1, seed=3), {})
        rules_file.write_text(RULES.replace("a {biome} at {time_of_day}", "a {biome} at {nope}"), encoding="utf-8")
        deadline = time.monotonic() + 10
        while host.failed_reloads == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "unknown variable {nope}" in host.last_error and "rules.toml:8: prompt.template" in host.last_error
        _run(game, _frames(1, seed=3), {})
        assert _session(rules_server, game).prompt_values["prompt"] == "a forest at day"  # old rules in force
        rules_file.write_text(RULES.replace("a {biome} at {time_of_day}", "an oil painting of a {biome}"),
                              encoding="utf-8")
        while host.reloads == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert host.reloads == 1
        _run(game, _frames(1, seed=3), {})
        assert _session(rules_server, game).prompt_values["prompt"] == "an oil painting of a forest"


def test_recorded_session_replays_bit_for_bit(rules_server: BridgeServer, tiny: Components,
                                              tmp_path: Path) -> None:
    frames = _frames(8, seed=21)
    with BridgeClient(rules_server.endpoint, name="recorded") as game:
        game.connect(timeout=10)
        game.set_params(seed=5, guidance_scale=1.1)
        recorded = _run(game, frames, {
            2: lambda: game.send_event("enter_biome", {"biome": "swamp"}),
            4: lambda: game.set_prompt("a castle", transition_frames=3),
            6: lambda: game.send_event("hit"),
        })
    rules_server.recorder.close_all()
    files = sorted((tmp_path / "recordings").glob("session-*.sdrec"))
    assert len(files) == 1 and files[0].is_file()  # packed into one zip file
    with Recording(files[0]) as recording:
        kinds = [e.kind for e in recording.entries()]
        assert kinds.count("call") == len(frames)
        assert {"event", "params", "prompt", "build", "prepare", "update"} <= set(kinds)
        first = replay(recording, tiny, tmp_path / "out")
        second = replay(recording, tiny)
        outputs = [recording.frame(i, "out") for i in range(len(frames))]
    assert first.identical and second.identical and first.compared == len(frames)
    assert len(first.outputs) == len(frames) and first.outputs[0].read_bytes().startswith(b"\x89PNG")
    for i, image in enumerate(recorded):  # the recording holds what the client received
        np.testing.assert_array_equal(outputs[i], image, err_msg=f"recorded output {i}")
    assert len({o.tobytes() for o in outputs}) > 1


def test_events_and_state_apply_only_to_their_own_session(rules_server: BridgeServer) -> None:
    frame = _frames(1, seed=5)
    with BridgeClient(rules_server.endpoint, name="a") as a, BridgeClient(rules_server.endpoint, name="b") as b:
        a.connect(timeout=10)
        b.connect(timeout=10)
        a.send_event("enter_biome", {"biome": "cave"})
        b.set_state("time_of_day", "dusk")
        _run(a, frame, {})
        _run(b, frame, {})
        host = rules_server.rules
        assert host.engine(a.session_id).state == {"biome": "cave", "time_of_day": "day"}
        assert host.engine(b.session_id).state == {"biome": "forest", "time_of_day": "dusk"}
        assert _session(rules_server, a).prompt_values["prompt"] == "a cave at day"
        assert _session(rules_server, b).prompt_values["prompt"] == "a forest at dusk"
