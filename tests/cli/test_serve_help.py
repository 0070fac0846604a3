"""`sdbridge serve --help` says where each flag's value comes from when it is left out: the config file's key,
else the built-in default (--bind claimed tcp://127.0.0.1:5555 even with a --config that binds elsewhere; --device,
--credits and --engines-dir named no default)."""

from __future__ import annotations

import pytest

from sdbridge.cli import build_parser


def test_serve_help_names_the_config_key_and_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for words in ("(default: config bind or tcp://127.0.0.1:5555)", "(default: config [model] device or cpu)",
                  "(default: config [session] credits, 2)", "(default: [accel] engines_dir, engines/)",
                  "(default: config [limits] max_sessions, 8)"):
        assert words in text, (words, text)


def test_serve_help_says_where_the_stream_settings_are(capsys: pytest.CaptureFixture[str]) -> None:
    """The temporal and cached-attention knobs have no flags: the help names the [pipeline] keys that set them (a
    user looking for latent_feedback or motion_warp in `serve --help` found no word of them)."""
    from sdbridge.config import PipelineConfig

    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "[pipeline] keys of --config (configs/server.toml)" in text, text
    for name in PipelineConfig.__dataclass_fields__:
        if name not in ("similarity_filter", "similarity_threshold", "max_skip_frames"):
            assert f"{name}" in text, (name, text)
