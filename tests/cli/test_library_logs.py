"""Library chatter stays off the console unless -v: after `sdbridge ...` without -v, loading a transformers model
draws no 'Loading weights' bar and diffusers' 'should be kept in float32' warning is not printed (both were shown
to a user running `sdbridge serve --model tiny --controlnet depth=tiny` or a real model); a library's error still
is; with -v everything is shown as before."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_PROGRAM = textwrap.dedent("""
    import sys, tempfile
    import torch
    from sdbridge import cli

    # a command refused at once (exit 2): the CLI has set up logging as for any command
    assert cli.main([*sys.argv[1:], "serve", "--model", "tiny", "--controlnet", "depth=tiny@abc"]) == 2
    from transformers import CLIPTextConfig, CLIPTextModel
    from diffusers import UNet2DConditionModel
    import diffusers.utils.logging

    cfg = CLIPTextConfig(vocab_size=100, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=16)
    with tempfile.TemporaryDirectory() as folder:
        CLIPTextModel(cfg).save_pretrained(folder)
        CLIPTextModel.from_pretrained(folder)
    UNet2DConditionModel(sample_size=8, block_out_channels=(8, 8), layers_per_block=1, cross_attention_dim=8,
                         attention_head_dim=2, norm_num_groups=4, down_block_types=("DownBlock2D", "DownBlock2D"),
                         up_block_types=("UpBlock2D", "UpBlock2D")).to(torch.bfloat16)
    diffusers.utils.logging.get_logger("diffusers.test").error("a library error")
""")


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [True, False])
def test_library_chatter_only_with_verbose(verbose: bool) -> None:
    # without the switches an earlier quiet CLI call in this process left in the environment (children inherit them)
    env = {k: v for k, v in os.environ.items() if k not in ("DIFFUSERS_VERBOSITY", "TRANSFORMERS_VERBOSITY")}
    run = subprocess.run([sys.executable, "-c", _PROGRAM, *(["-v"] if verbose else [])], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    err = run.stderr
    assert "SCALE 'abc'" in err and "a library error" in err, err  # our errors and the library's errors stay
    assert ("Loading weights" in err) == verbose, err
    assert ("should be kept in float32" in err) == verbose, err
