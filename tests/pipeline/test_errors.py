"""Bad input gets a clear error naming the value, the limit and the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sdbridge.errors import BridgeError, ConfigError, InputError, ModelNotFoundError
from sdbridge.pipeline import StreamConfig, StreamPipeline, load_components


@pytest.fixture()
def pipe(tiny):
    p = StreamPipeline(tiny, StreamConfig(width=64, height=64, t_index_list=[32, 45]))
    p.prepare(prompt="castle")
    return p


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((64, 64, 3), dtype=np.float32), r"dtype is float32; expected uint8"),
        (np.zeros((64, 64, 4), dtype=np.uint8),
         r"\(1, 64, 64, 4\) does not match .*\(1, 64, 64, 3\).*resize frames to 64x64"),
        (np.zeros((32, 64, 3), dtype=np.uint8), r"\(1, 32, 64, 3\) does not match.*64x64"),
        (np.zeros((64, 64), dtype=np.uint8), r"image shape \(64, 64\) has 2 dims; expected"),
        (torch.zeros(3, 48, 64), r"\(1, 3, 48, 64\) does not match"),
        (torch.zeros(64, 64, 3, dtype=torch.int32), r"torch.int32; expected torch.uint8"),
        ([[0, 1]], r"is a list; expected a numpy array"),
    ],
)
def test_bad_images(pipe, image, match):
    with pytest.raises(InputError, match=match):
        pipe(image)


def test_frame_before_prepare(tiny):
    fresh = StreamPipeline(tiny, StreamConfig(width=64, height=64))
    with pytest.raises(InputError, match=r"prepare\(prompt="):
        fresh(np.zeros((64, 64, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"t_index_list": [10, 50]}, r"t_index_list entry 50 \(index 1\) is refused: "
         r"each entry must be an integer in \[0, 49\]"),
        ({"t_index_list": [-1]}, r"t_index_list entry -1 \(index 0\) is refused"),
        ({"t_index_list": [30, 20]}, r"must be strictly ascending"),
        ({"t_index_list": []}, r"t_index_list is empty"),
        ({"width": 100}, r"width=100 must be a positive multiple of 8.*use 96"),
        ({"height": 0}, r"height=0 must be a positive multiple of 8"),
        ({"delta": 3.0}, r"StreamConfig: delta=3.0 must be a number in \[0, 2\]"),
        ({"similarity_threshold": 1.0}, r"similarity_threshold=1.0 must be a number in \[0, 1\)"),
        ({"frame_buffer_size": 0}, r"frame_buffer_size=0 must be >= 1"),
        ({"seed": [(1, -1.0)]}, r"non-negative weights"),
    ],
)
def test_bad_config(changes, match):
    with pytest.raises(ConfigError, match=match):
        StreamConfig(**changes)


def test_bad_update_keeps_the_old_config(pipe):
    before = pipe.config
    with pytest.raises(ConfigError, match="t_index_list entry 99"):
        pipe.update(t_index_list=[10, 99])
    with pytest.raises(ConfigError, match=r"unknown pipeline setting\(s\) \['strength'\]"):
        pipe.update(strength=0.5)
    assert pipe.config == before


def test_unknown_model_names_where_it_looked():
    with pytest.raises(ModelNotFoundError, match=r"unknown model 'nonsense'.*not a preset \(identity, tiny"):
        load_components("nonsense")
    with pytest.raises(ModelNotFoundError, match=r"'someone/missing-model' is not on disk \(looked in .*huggingface"
                                                 r".*(hf|huggingface-cli) download someone/missing-model"):
        load_components("someone/missing-model", local_files_only=True)


def test_a_weight_file_of_another_kind_is_named_a_file(tmp_path):
    """A file that is no diffusers folder and no single-file checkpoint: the loader says so (it was sent to the
    Hub as an id when its path had one slash, and called unknown otherwise)."""
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"\0")
    with pytest.raises(ModelNotFoundError, match=r"model\.bin is a file, not a diffusers model folder.*model_index"):
        load_components(str(weights))


def test_every_error_is_a_bridge_error():
    for cls in (ConfigError, InputError, ModelNotFoundError):
        assert issubclass(cls, BridgeError)
