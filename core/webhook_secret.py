"""Webhook signing secrets (``whsec_<base64>``, the Standard Webhooks format): parsing and making them. Kept apart
from ``core/webhooks.py`` so that ``core/settings.py`` can validate a secret without importing the webhook sender
(which imports the settings)."""

from __future__ import annotations

import base64
import binascii
import secrets

SECRET_PREFIX = "whsec_"


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; ``ValueError`` if it is not one."""
    body = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from exc
    if len(key) < 16:
        raise ValueError("webhook secret must hold at least 16 bytes (24+ base64 characters)")
    return key


def new_secret() -> str:
    """A fresh secret holding 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
