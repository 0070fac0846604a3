"""A procedural moving "game" scene for demos and benchmarks (numpy only, no engine).

Sky gradient with a sun that crosses it, rolling hills, and a bouncing box "character", so consecutive
frames differ a little (as in a game) and the similarity filter has something to decide on.
"""

from __future__ import annotations

import numpy as np


class SceneRenderer:
    """Renders frame `index` of the scene as HxWx3 uint8 RGB (or HxWx4 with alpha 255)."""

    def __init__(self, width: int, height: int, channels: int = 3, speed: float = 1.0) -> None:
        if channels not in (3, 4):
            raise ValueError(f"channels={channels} must be 3 (RGB) or 4 (RGBA)")
        self.width, self.height, self.channels, self.speed = width, height, channels, speed
        self._y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]  # (H, 1)
        self._x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]  # (1, W)

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
        hills = 0.65 + 0.06 * np.sin(self._x * 9.0 + t * 0.5) + 0.03 * np.sin(self._x * 23.0 - t)  # (1, W)
        ground = self._y > hills
        shade = (self._y - hills).clip(0, 1) * 200
        green = np.stack(np.broadcast_arrays(np.float32(60), 150 - shade * 0.3, np.float32(60)), -1)  # (H, W?, 3)
        img[ground] = np.broadcast_to(green, (h, w, 3))[ground]
        cx, cy = 0.5 + 0.3 * np.sin(t * 0.7), 0.62 - 0.12 * abs(np.sin(t * 2.0))
        box = (abs(self._x - cx) < 0.06) & (abs(self._y - cy) < 0.08)  # (H, W)
        img[box] = (200, 60, 50)
        img = img.clip(0, 255).astype(np.uint8)
        if self.channels == 4:
            img = np.concatenate([img, np.full((h, w, 1), 255, np.uint8)], axis=-1)
        return img
