"""The provider's logo, checked and, if it is far larger than the page needs, scaled down.

The logo is printed at most 45 x 18 mm. A 2 MB camera-sized image would make every PDF megabytes, so an
image larger than `MAX_PIXELS` is scaled to fit it (still over 400 dpi at that size) with Pillow, which
fpdf2 itself uses for images. The result depends only on the bytes given, so it is cached per process.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, UnidentifiedImageError

MAX_PIXELS = (800, 320)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Logo:
    data: bytes  # PNG or JPEG
    width: int  # pixels
    height: int


@lru_cache(maxsize=8)
def prepare_logo(data: bytes) -> Logo | None:
    """The logo to embed, or None if the bytes are not a PNG or JPEG image Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            if kind not in ("PNG", "JPEG"):
                return None
            image.load()
            width, height = image.size
            if width <= MAX_PIXELS[0] and height <= MAX_PIXELS[1]:
                return Logo(data, width, height)
            scaled = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
            if kind == "JPEG" and scaled.mode not in ("RGB", "L"):
                scaled = scaled.convert("RGB")
            scaled = scaled.copy()
            scaled.thumbnail(MAX_PIXELS, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if kind == "JPEG":
                scaled.save(out, "JPEG", quality=90)
            else:
                scaled.save(out, "PNG")
            return Logo(out.getvalue(), *scaled.size)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        log.warning("logo ignored: %s", error)
        return None
