"""A procedural moving "game" scene for demos and benchmarks (numpy only, no engine).

Sky gradient with a sun that crosses it, rolling hills, and a bouncing box "character", so consecutive
frames differ a little (as in a game) and the similarity filter has something to decide on.

`render_depth` gives the exact linear view depth of the same frame (the depth plane an engine would send), by the
scene's own geometry: the sky (and the sun in it) at SKY_DEPTH, the ground a plane seen from above, its distance
falling towards the bottom of the image (GROUND_HEIGHT / (y - HORIZON)), the box a card standing at BOX_DEPTH.
"""

from __future__ import annotations

import numpy as np

SKY_DEPTH = 1000.0  # view distance of the sky (world units)
HORIZON = 0.45  # image row fraction where the ground plane meets the sky at infinity
GROUND_HEIGHT = 1.5  # the camera's height over the ground: depth of a ground row y is GROUND_HEIGHT / (y - HORIZON)
BOX_DEPTH = 4.0  # the box stands this far away


class SceneRenderer:
    """Renders frame `index` of the scene as HxWx3 uint8 RGB (or HxWx4 with alpha 255)."""

    def __init__(self, width: int, height: int, channels: int = 3, speed: float = 1.0) -> None:
        if channels not in (3, 4):
            raise ValueError(f"channels={channels} must be 3 (RGB) or 4 (RGBA)")
        self.width, self.height, self.channels, self.speed = width, height, channels, speed
        self._y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]  # (H, 1)
        self._x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]  # (1, W)

    def _layout(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hills (1, W) row fractions, ground mask (H, W), box mask (H, W)) of frame `index`."""
        t = index * self.speed / 30.0
        hills = 0.65 + 0.06 * np.sin(self._x * 9.0 + t * 0.5) + 0.03 * np.sin(self._x * 23.0 - t)  # (1, W)
        cx, cy = 0.5 + 0.3 * np.sin(t * 0.7), 0.62 - 0.12 * abs(np.sin(t * 2.0))
        box = (abs(self._x - cx) < 0.06) & (abs(self._y - cy) < 0.08)  # (H, W)
        return hills, self._y > hills, box

    def render_depth(self, index: int) -> np.ndarray:
        """The exact linear view depth (H, W) float32 of frame `index` (module docstring)."""
        _, ground, box = self._layout(index)
        depth = np.full((self.height, self.width), SKY_DEPTH, np.float32)
        rows = np.broadcast_to(GROUND_HEIGHT / np.maximum(self._y - HORIZON, 1e-3), depth.shape)
        depth[ground] = rows[ground]
        depth[box] = BOX_DEPTH
        return depth

    def render(self, index: int) -> np.ndarray:
        """Frame `index` (deterministic)."""
        t = index * self.speed / 30.0
        h, w = self.height, self.width
        sky_top, sky_bottom = np.array([40, 90, 200], np.float32), np.array([170, 210, 250], np.float32)
        img = sky_top + (sky_bottom - sky_top) * self._y[..., None]  # (H, 1, 3)
        img = np.broadcast_to(img, (h, w, 3)).copy()
        sun_x, sun_y = (0.1 + 0.8 * ((t * 0.05) % 1.0)), 0.2
        sun = (self._x - sun_x) ** 2 + ((self._y - sun_y) * h / w) ** 2 < 0.006
        img[sun] = (255, 220, 120)
        hills, ground, box = self._layout(index)
        shade = (self._y - hills).clip(0, 1) * 200
        green = np.stack(np.broadcast_arrays(np.float32(60), 150 - shade * 0.3, np.float32(60)), -1)  # (H, W?, 3)
        img[ground] = np.broadcast_to(green, (h, w, 3))[ground]
        img[box] = (200, 60, 50)
        img = img.clip(0, 255).astype(np.uint8)
        if self.channels == 4:
            img = np.concatenate([img, np.full((h, w, 1), 255, np.uint8)], axis=-1)
        return img
