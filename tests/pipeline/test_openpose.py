"""The OpenPose control image renderer (sdbridge.pipeline.openpose): the annotator's convention on known pixels,
missing and far-outside keypoints, the limits, and the reference images the C# and C++ renderers are tested
against (schemas/golden/pose) still being what this renderer draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdbridge.errors import InputError
from sdbridge.pipeline import openpose
from sdbridge.pipeline.openpose import COLORS, LIMBS, read_keypoints, render_openpose

GOLDEN = Path(__file__).resolve().parents[2] / "schemas" / "golden" / "pose"


def _body(**points: tuple[float, float]) -> list[tuple[float, float] | None]:
    body: list[tuple[float, float] | None] = [None] * 18
    for name, point in points.items():
        body[openpose.KEYPOINTS.index(name)] = point
    return body


def test_a_limb_is_an_ellipse_of_half_width_four_in_sixty_percent_of_its_colour() -> None:
    # limb 0 joins neck (1) and right shoulder (2), colour (255, 0, 0) -> (153, 0, 0)
    image = render_openpose(_body(neck=(10.0, 10.0), right_shoulder=(30.0, 10.0)), 40, 24)
    assert tuple(image[14, 20]) == (153, 0, 0, 255)  # 4 pixels from the axis: on the ellipse's edge, covered
    assert tuple(image[15, 20]) == (0, 0, 0, 255)  # 5 pixels: outside
    assert tuple(image[6, 20]) == (153, 0, 0, 255)
    assert tuple(image[5, 20]) == (0, 0, 0, 255)


def test_keypoints_are_discs_of_radius_four_in_full_colour_drawn_over_the_limbs() -> None:
    image = render_openpose(_body(neck=(10.0, 10.0), right_shoulder=(30.0, 10.0)), 40, 24)
    assert tuple(image[10, 10]) == (*COLORS[1], 255)
    assert tuple(image[10, 30]) == (*COLORS[2], 255)
    assert tuple(image[14, 30]) == (*COLORS[2], 255)  # radius 4 covered (the limb's edge would be dimmed red)
    assert tuple(image[13, 33]) == (0, 0, 0, 255)  # 3^2 + 3^2 > 16 and past the limb's end


def test_keypoints_snap_to_the_nearest_pixel_centre_half_up() -> None:
    assert openpose.snap_keypoints(_body(nose=(2.5, -0.5), neck=(2.49, 3.5)), 8, 8)[:2] == [(3, 0), (2, 4)]


def test_a_missing_keypoint_drops_its_disc_and_its_limbs() -> None:
    body = _body(neck=(10.0, 10.0), right_shoulder=(30.0, 10.0))
    drawn = render_openpose(body, 40, 24)
    body[2] = (float("nan"), 10.0)
    missing = render_openpose(body, 40, 24)
    assert tuple(drawn[10, 20]) == (153, 0, 0, 255)
    assert tuple(missing[10, 20]) == (0, 0, 0, 255)
    assert tuple(missing[10, 10]) == (*COLORS[1], 255)


def test_a_keypoint_more_than_half_the_image_outside_is_missing_and_a_nearer_one_is_clipped() -> None:
    near = render_openpose(_body(neck=(10.0, 10.0), right_shoulder=(-15.0, 10.0)), 40, 24)
    far = render_openpose(_body(neck=(10.0, 10.0), right_shoulder=(-21.0, 10.0)), 40, 24)
    assert tuple(near[10, 0]) == (153, 0, 0, 255)
    assert tuple(far[10, 0]) == (0, 0, 0, 255)


def test_every_drawn_colour_is_a_keypoint_or_a_dimmed_limb_colour_on_black() -> None:
    width, height, points = read_keypoints(GOLDEN / "standing.keypoints")
    image = render_openpose(points, width, height)
    allowed = {(0, 0, 0)} | set(COLORS) | {tuple(int(c * 0.6) for c in COLORS[i]) for i in range(len(LIMBS))}
    drawn = {tuple(int(v) for v in px) for px in image[..., :3].reshape(-1, 3)}
    assert drawn <= allowed
    assert len(drawn) > 30  # every limb and keypoint shows
    assert (image[..., 3] == 255).all()


@pytest.mark.parametrize("name", ["standing", "partial", "diagonal"])
def test_the_reference_images_are_what_the_renderer_draws(name: str) -> None:
    width, height, points = read_keypoints(GOLDEN / f"{name}.keypoints")
    expected = np.frombuffer((GOLDEN / f"{name}.rgba").read_bytes(), np.uint8).reshape(height, width, 4)
    assert np.array_equal(render_openpose(points, width, height), expected), (
        f"schemas/golden/pose/{name}.rgba is stale: run python -m sdbridge.pipeline.openpose schemas/golden/pose")


def test_limits_and_keypoint_count_are_refused_in_their_own_words() -> None:
    with pytest.raises(InputError, match=r"width 0 is outside 1\.\.4096"):
        render_openpose([None] * 18, 0, 8)
    with pytest.raises(InputError, match="height 5000"):
        render_openpose([None] * 18, 8, 5000)
    with pytest.raises(InputError, match="keypoints has 17 entries"):
        render_openpose([None] * 17, 8, 8)


def test_a_keypoint_file_line_that_is_not_understood_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.keypoints"
    path.write_text("size 8 8\nkp 18 1 1\n")
    with pytest.raises(InputError, match=r"bad\.keypoints:2"):
        read_keypoints(path)
