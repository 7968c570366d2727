"""Client reference images (image + text to video): base64 or uploaded bytes, checked and re-encoded as PNG
before they are stored, so the worker only ever reads an image we wrote."""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image, UnidentifiedImageError

from core.errors import InvalidReferenceError, PayloadTooLargeError
from core.settings import Settings

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
_DATA_URL = re.compile(r"^data:image/[a-zA-Z0-9.+-]+;base64,", re.ASCII)


def decode_base64_image(text: str) -> bytes:
    """Bytes of a base64 string or ``data:image/...;base64,`` URL."""
    body = _DATA_URL.sub("", text.strip(), count=1)
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidReferenceError("reference_image is not valid base64") from exc


def normalize_reference(data: bytes, settings: Settings) -> bytes:
    """Check a reference image (size, format, pixel count) and return it as RGB PNG bytes."""
    if len(data) > settings.max_reference_bytes:
        raise PayloadTooLargeError(
            f"reference_image is {len(data)} bytes; the limit is {settings.max_reference_bytes}"
        )
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ACCEPTED_FORMATS:
                raise InvalidReferenceError(
                    f"reference_image is {img.format}; send one of {', '.join(ACCEPTED_FORMATS)}"
                )
            if img.width * img.height > settings.max_reference_pixels:
                raise InvalidReferenceError(
                    f"reference_image is {img.width}x{img.height}, over {settings.max_reference_pixels} pixels"
                )
            rgb = img.convert("RGB")
    except InvalidReferenceError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, UnidentifiedImageError) as exc:
        raise InvalidReferenceError(f"reference_image is not a readable image: {exc}") from exc
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return buffer.getvalue()
