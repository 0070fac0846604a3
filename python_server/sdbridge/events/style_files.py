"""Style reference images for the IP-Adapter: `StyleImages` (named (H, W, 3) uint8 RGB images, top row first, the
value of `StreamPipeline.update(style_images=...)`) and the image files a rules file declares under `[styles]`
(`load_style_files`: paths relative to the rules file, read when the file is loaded, each refused with an error
naming the file, the style and the problem).

Torch-free (numpy and Pillow): the rules engine stays pure of the model; sdbridge.pipeline.style_images embeds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sdbridge.config import LimitsConfig

#: Bytes of one style image file a rules file may name (a 2048 x 2048 RGBA image fits).
MAX_FILE_BYTES = LimitsConfig().max_message_bytes


@dataclass(frozen=True, eq=False)
class StyleImages:
    """Named style images (H, W, 3) uint8 RGB, top row first, for `StreamPipeline.update(style_images=...)`: each
    is set (added, or replacing the one of that name); style images not named here stay. Equal when names and
    pixels are; its str() names the styles, not the pixels (session snapshots show it)."""

    images: tuple[tuple[str, np.ndarray], ...]

    @classmethod
    def of(cls, images: Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]) -> StyleImages:
        """StyleImages from a mapping or (name, image) pairs."""
        pairs = images.items() if isinstance(images, Mapping) else images
        return cls(tuple((str(name), image) for name, image in pairs))

    def with_image(self, name: str, image: np.ndarray) -> StyleImages:
        """These images with `image` as `name` (replacing the one of that name in place, else added last)."""
        images = dict(self.images)
        images[str(name)] = image
        return StyleImages(tuple(images.items()))

    @property
    def names(self) -> tuple[str, ...]:
        """The styles' names, in order."""
        return tuple(name for name, _ in self.images)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the names, shapes and pixels (equal content, equal digest)."""
        h = hashlib.sha256()
        for name, image in self.images:
            h.update(name.encode() + b"\0" + repr(np.shape(image)).encode())
            h.update(np.ascontiguousarray(image).tobytes())
        return h.digest()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StyleImages) and self.digest == other.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __str__(self) -> str:
        return f"style images {list(self.names)}"

    __repr__ = __str__


def load_style_file(path: Path, limits: LimitsConfig | None = None) -> np.ndarray:
    """One style image file (PNG, JPEG, ... as Pillow reads it) as (H, W, 3) uint8 RGB, top row first; ValueError
    naming the problem and the limit otherwise (the caller names the file)."""
    from PIL import Image, UnidentifiedImageError

    lim = limits or LimitsConfig()
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValueError("is not a regular file; name an image file")
        if size > MAX_FILE_BYTES:
            raise ValueError(f"has {size} bytes, above the limit of {MAX_FILE_BYTES} for a style image file; "
                             "use a smaller image")
        with Image.open(path) as image:
            width, height = image.size
            if width > lim.max_width or height > lim.max_height:
                raise ValueError(f"is {width}x{height} pixels, above limits.max_width x max_height = "
                                 f"{lim.max_width}x{lim.max_height}; use a smaller image")
            return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    except FileNotFoundError:
        raise ValueError("does not exist; give a path relative to the rules file") from None
    except UnidentifiedImageError:
        raise ValueError("is not an image Pillow can read (PNG, JPEG, ...)") from None
    except OSError as exc:
        raise ValueError(f"cannot be read: {exc}") from None
