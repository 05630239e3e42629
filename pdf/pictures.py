"""Pictures a document embeds (the provider's logo, photos' thumbnails, a client's drawn signature), checked
and, if far larger than the page needs, scaled down.

The logo is printed at most 45 x 18 mm. A 2 MB camera-sized image would make every PDF megabytes, so an
image larger than its box in pixels (the logo's `LOGO_PIXELS`, still over 400 dpi at that size) is scaled to
fit it with Pillow, which fpdf2 itself uses for images. The result depends only on the bytes given, so it is
cached per process: a second render of a document with ten photos decodes none of them again.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, UnidentifiedImageError

LOGO_PIXELS = (800, 320)
THUMBNAIL_PIXELS = (480, 480)  # thumbnails are made at most 480 px; a larger one is scaled down here
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Picture:
    data: bytes  # PNG or JPEG
    width: int  # pixels
    height: int


def prepare_logo(data: bytes) -> Picture | None:
    return prepare_picture(data, LOGO_PIXELS, "logo")


@lru_cache(maxsize=256)
def prepare_picture(data: bytes, most: tuple[int, int], what: str) -> Picture | None:
    """The picture to embed, at most `most` pixels, or None if the bytes are not a PNG or JPEG image Pillow can
    read (logged once as `what`)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            if kind not in ("PNG", "JPEG"):
                return None
            image.load()
            width, height = image.size
            if width <= most[0] and height <= most[1]:
                return Picture(data, width, height)
            scaled = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
            if kind == "JPEG" and scaled.mode not in ("RGB", "L"):
                scaled = scaled.convert("RGB")
            scaled = scaled.copy()
            scaled.thumbnail(most, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if kind == "JPEG":
                scaled.save(out, "JPEG", quality=90)
            else:
                scaled.save(out, "PNG")
            return Picture(out.getvalue(), *scaled.size)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as error:
        log.warning("%s ignored: %s", what, error)
        return None
