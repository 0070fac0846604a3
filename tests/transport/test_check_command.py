"""`sdbridge check` reports versions and scans a model cache without network."""

from __future__ import annotations

from pathlib import Path

import pytest

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


def test_each_cpu_bfloat16_line_ends_in_a_complete_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # the AVX512-BF16 line ended in "compare with sdbridge bench pipeline --dtype": a flag without its value
    from sdbridge import cpu_features

    for support in cpu_features.CpuBf16:
        monkeypatch.setattr(cpu_features, "cpu_bf16", lambda support=support: support)
        line = next(f.value for f in check.collect(str(Path("/no/cache"))) if f.name == "CPU bfloat16")
        assert not line.rstrip("`").endswith(("--dtype", "--dtype ")), line
        if "bench pipeline" in line:
            assert "--dtype bfloat16" in line and "--dtype float32" in line, line


def test_numba_line_says_what_it_does_and_the_fix_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    line = next(f.value for f in check.collect(str(Path("/no/cache"))) if f.name == "numba")
    assert "compiles the CPU pixel conversions" in line
    real = check.importlib.util.find_spec
    monkeypatch.setattr(check.importlib.util, "find_spec", lambda name: None if name == "numba" else real(name))
    line = next(f.value for f in check.collect(str(Path("/no/cache"))) if f.name == "numba")
    assert "array operations" in line and "pip install numba" in line
