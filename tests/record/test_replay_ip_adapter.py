"""A recording of a server with an IP-Adapter (`serve --ip-adapter`) replays bit-identical: meta.json's model notes
the adapter's SOURCE[@SCALE] and `sdbridge replay` loads the same one (sdbridge.record.ip_adapter); an adapter that
cannot be loaded, or style images with no adapter noted, are refused before anything runs, naming the adapter and
the `--ip-adapter` override; a recording without the note and without style images replays as before."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from sdbridge.cli import main
from sdbridge.config import ServerConfig, with_overrides
from sdbridge.errors import ConfigError, InputError
from sdbridge.events.style_files import StyleImages
from sdbridge.pipeline import Components, StreamConfig, build_pipeline
from sdbridge.pipeline.components import load_components
from sdbridge.pipeline.ip_adapter_loading import load_ip_adapter
from sdbridge.pipeline.ip_adapter_tiny import tiny_ip_adapter
from sdbridge.record.format import Recording, RecordingWriter
from sdbridge.record.recorder import RecordingPipeline
from sdbridge.record.replay import replay
from sdbridge.served_model import factory_from_components
from sdbridge.server import BridgeServer
from sdbridge.transport.client import BridgeClient

SIZE, ADAPTER = 64, "tiny@0.8"


def _style(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (40, 48, 3), dtype=np.uint8)


def _record_styled_session(folder: Path) -> Path:
    """A session on a server with the tiny IP-Adapter: a style image, frames, a second image with style_blend and
    ip_adapter_scale changed, more frames. The recording's path."""
    comps = load_components("tiny", device="cpu", dtype=torch.float32)  # its own UNet: the adapter attaches to it
    model = {"name": "tiny", "width": SIZE, "height": SIZE, "ip_adapter": ADAPTER}
    cfg = with_overrides(ServerConfig(), model=model, top={"bind": "tcp://127.0.0.1:*"})
    adapter = load_ip_adapter(cfg.model.ip_adapter_spec(), comps)  # type: ignore[arg-type]
    factory, description = factory_from_components(comps, cfg, None, adapter)
    server = BridgeServer(cfg, factory, description, record_dir=str(folder))
    server.start_in_thread()
    rng = np.random.default_rng(3)
    try:
        with BridgeClient(server.endpoint, name="styled") as client:
            client.connect(timeout=30)
            client.set_prompt("a castle")
            client.send_style_image("ink", _style(1))
            client.set_params(style_blend=[("ink", 1.0)])
            for i in range(6):
                if i == 3:
                    client.send_style_image("wash", _style(2))
                    client.set_params(style_blend=[("ink", 0.5), ("wash", 1.0)], ip_adapter_scale=0.4)
                client.submit(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
                assert client.receive(timeout=60) is not None
        server.recorder.close_all()
    finally:
        server.close()
    (path,) = sorted(folder.glob("session-*.sdrec"))
    return path


def test_a_session_with_style_images_replays_bit_identical(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = _record_styled_session(tmp_path / "rec")
    with Recording(path) as recording:
        assert recording.meta["model"]["ip_adapter"] == ADAPTER  # noted like the model and its ControlNets
        entries = list(recording.entries())
        assert [e.data["names"] for e in entries if e.kind == "styles"] == [["ink"], ["ink", "wash"]]
        values = [e.data["values"] for e in entries if e.kind == "update"]
        assert any(v.get("ip_adapter_scale") == pytest.approx(0.4) and "style_blend" in v for v in values)
        calls = sum(e.kind == "call" for e in entries)
        other = load_components("tiny", device="cpu", dtype=torch.float32)
        wrong = replay(recording, other, ip_adapter=tiny_ip_adapter(other, seed=1))
    assert calls == 6
    assert wrong.calls == 6 and not wrong.identical  # able to fail: another adapter's weights give other outputs
    assert main(["replay", str(path), "--dtype", "float32"]) == 0  # loads the recorded adapter itself
    assert "all 6 outputs identical" in capsys.readouterr().out


def _writer(folder: Path, model: dict[str, str]) -> RecordingWriter:
    return RecordingWriter(folder, {"session": {"id": 1}, "model": {"width": SIZE, "height": SIZE, **model}})


def _build_line(writer: RecordingWriter) -> None:
    writer.write("build", 0, width=SIZE, height=SIZE, config=dataclasses.asdict(StreamConfig(width=SIZE,
                                                                                             height=SIZE)))


def test_an_adapter_that_cannot_be_loaded_is_refused_up_front(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "gone" / "ip-adapter.safetensors") + "@0.7"
    writer = _writer(tmp_path / "a.sdrec", {"name": "tiny", "ip_adapter": missing})
    _build_line(writer)
    writer.write_styles(0, StyleImages.of([("ink", _style(1))]))
    folder = writer.close(pack=False)
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        assert main(["replay", str(folder), "--out", str(out)]) == 2
    message = caplog.text
    assert repr(missing) in message and "--ip-adapter SOURCE[@SCALE]" in message, message
    assert not out.exists()  # refused before replay made its output folder, or built a pipeline
    capsys.readouterr()
    assert main(["replay", str(folder), "--ip-adapter", "tiny"]) == 0  # able to fail: the override loads one
    assert "replayed 0 pipeline calls (1 pipeline builds" in capsys.readouterr().out


def test_style_images_without_a_noted_adapter_are_refused_naming_the_override(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = _writer(tmp_path / "old.sdrec", {"name": "tiny"})  # made before meta.json noted the adapter
    _build_line(writer)
    writer.write_styles(0, StyleImages.of([("ink", _style(1))]))
    folder = writer.close(pack=False)
    with caplog.at_level(logging.ERROR):
        assert main(["replay", str(folder)]) == 2
    assert "names no IP-Adapter" in caplog.text and "--ip-adapter SOURCE[@SCALE]" in caplog.text, caplog.text
    assert main(["replay", str(folder), "--ip-adapter", "tiny@0.5"]) == 0  # able to fail: with one it runs


def test_a_recording_without_the_note_and_without_styles_still_replays(tiny: Components, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    writer = _writer(tmp_path / "older.sdrec", {"name": "tiny"})
    pipeline = RecordingPipeline(build_pipeline(tiny, StreamConfig(width=SIZE, height=SIZE)), writer, lambda: 0)
    pipeline.prepare("a castle")
    rng = np.random.default_rng(5)
    for _ in range(2):
        pipeline(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    folder = writer.close(pack=False)
    assert "ip_adapter" not in Recording(folder).meta["model"]
    assert main(["replay", str(folder), "--dtype", "float32"]) == 0
    assert "all 2 outputs identical" in capsys.readouterr().out


class _RefusingStyles:
    """A pipeline whose update refuses style images (as a pipeline without room for one more does)."""

    config = StreamConfig(width=SIZE, height=SIZE)

    def update(self, **values: object) -> None:
        if "style_images" in values:
            raise ConfigError("style_images: refused")


def test_a_refused_style_update_is_recorded_as_failed_and_replays_as_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _writer(tmp_path / "refused.sdrec", {"name": "tiny"})
    pipeline = RecordingPipeline(_RefusingStyles(), writer, lambda: 0)
    with pytest.raises(ConfigError):
        pipeline.update(style_images=StyleImages.of([("ink", _style(1))]))
    writer.write_styles(0, StyleImages.of([("wash", _style(2))]))  # one the server applied (no "failed")
    folder = writer.close(pack=False)
    monkeypatch.setattr("sdbridge.pipeline.build_pipeline", lambda components, config, *served: _RefusingStyles())
    with Recording(folder) as recording:
        styles = [e.data for e in recording.entries() if e.kind == "styles"]
        assert styles == [{"set": 0, "names": ["ink"], "failed": True}, {"set": 1, "names": ["wash"]}]
        with pytest.raises(InputError, match=r"line 3 \(styles\): style images \['wash'\] failed on replay but "
                                             r"not when recorded"):
            replay(recording, components=None)  # the first, refused when recorded too, went through
