"""`sdbridge check` reports versions and scans a model cache without network."""

from __future__ import annotations

from pathlib import Path

from sdbridge.commands import check


def test_collect_names_every_component(tmp_path: Path) -> None:
    names = {f.name for f in check.collect(str(tmp_path / "no-cache"))}
    for expected in ("Python", "torch", "CUDA (torch build)", "ONNX Runtime", "TensorRT", "models on disk"):
        assert expected in names
    assert "GPU" in names or "GPU 0" in names


def test_cache_scan_lists_a_model_on_disk(tmp_path: Path) -> None:
    # the layout huggingface_hub writes: models--<org>--<name>/{snapshots/<rev>/file, refs/main}
    repo = tmp_path / "models--acme--tiny-sd"
    snap = repo / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    found = [f for f in check.collect(str(tmp_path)) if f.name == "model"]
    assert [f.value.split(" ")[0] for f in found] == ["acme/tiny-sd"]
