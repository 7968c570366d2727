"""Webhooks, signed as the Standard Webhooks spec says (https://www.standardwebhooks.com): headers
``webhook-id`` (the same on every retry), ``webhook-timestamp`` (unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, keyed with the base64 part of the ``whsec_`` secret).

Deliveries wait in Redis (a hash per delivery, a sorted set by due time) and are sent by whichever process runs
the maintenance loop (API replicas and workers' side threads, never the GPU loop), retried with doubling backoff.
A delivery is leased, not removed, while it is being sent, so a crash mid-send means a resend, not a loss.
Targets that resolve to loopback, private, link-local or other non-global addresses are refused (SSRF) unless
the settings allow them; the check runs at submit time and again before every send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from urllib.parse import urlsplit

import httpx
import redis

from core.errors import InvalidWebhookURLError
from core.keys import Keys
from core.settings import Settings
from core.video import Video
from core.webhook_secret import decode_secret

logger = logging.getLogger(__name__)

LEASE_S = 30.0  # a claimed delivery is offered again after this, should its sender die

# KEYS: due zset. ARGV: delivery id, now, lease-until. Claims a due delivery by pushing its due time forward.
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if due and tonumber(due) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_s: int = 300) -> bool:
    """Check a received webhook the way a receiver should: signature and timestamp freshness."""
    msg_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    if abs(time.time() - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, sig) for sig in headers["webhook-signature"].split())


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, allow_private: bool) -> None:
    """Raise ``InvalidWebhookURLError`` for a URL that is not http(s), has no host, does not resolve, or
    resolves to a non-public address (unless ``allow_private``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookURLError(f"webhook_url must be an http(s) URL with a host, got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidWebhookURLError(f"webhook_url has a bad port: {exc}") from exc
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidWebhookURLError(f"webhook_url host {parts.hostname!r} does not resolve") from exc
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise InvalidWebhookURLError(
                f"webhook_url host {parts.hostname!r} resolves to {address}, a non-public address"
            )


class WebhookOutbox:
    """Scheduling and sending webhook deliveries."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self.redis = client
        self.keys = keys
        self.settings = settings
        self._claim = client.register_script(_CLAIM)

    def schedule(self, url: str, body: bytes, video_id: str) -> str:
        """Queue one message for delivery now; returns its ``webhook-id``."""
        msg_id = f"msg_{secrets.token_hex(12)}"
        pipe = self.redis.pipeline(transaction=True)
        fields = {"url": url, "body": body, "video_id": video_id, "attempts": 0}
        pipe.hset(self.keys.webhook(msg_id), mapping=fields)
        pipe.zadd(self.keys.webhooks_due, {msg_id: time.time()})
        pipe.execute()
        return msg_id

    def deliver_due(self, client: httpx.Client, limit: int = 20) -> int:
        """Send up to ``limit`` due deliveries; returns how many were attempted."""
        now = time.time()
        due = self.redis.zrangebyscore(self.keys.webhooks_due, 0, now, start=0, num=limit)
        sent = 0
        for raw_id in due:
            msg_id = raw_id.decode()
            if self._claim(keys=[self.keys.webhooks_due], args=[msg_id, now, now + LEASE_S]):
                self._deliver(client, msg_id)
                sent += 1
        return sent

    def _deliver(self, client: httpx.Client, msg_id: str) -> None:
        key = self.keys.webhook(msg_id)
        raw = self.redis.hgetall(key)
        if not raw:
            self.redis.zrem(self.keys.webhooks_due, msg_id)
            return
        url, body = raw[b"url"].decode(), raw[b"body"]
        attempts = int(raw[b"attempts"]) + 1
        error = self._send(client, msg_id, url, body)
        if error is None:
            self._drop(msg_id)
            logger.info("webhook %s delivered to %s", msg_id, url)
            return
        if attempts >= self.settings.webhook_max_attempts:
            logger.warning(
                "webhook %s to %s failed for good after %d attempts: %s", msg_id, url, attempts, error
            )
            self._drop(msg_id)
            return
        delay = self.settings.webhook_backoff_s * 2 ** (attempts - 1)
        logger.info("webhook %s to %s failed (%s); retry %d in %.1fs", msg_id, url, error, attempts, delay)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, "attempts", attempts)
        pipe.zadd(self.keys.webhooks_due, {msg_id: time.time() + delay})
        pipe.execute()

    def _drop(self, msg_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.keys.webhooks_due, msg_id)
        pipe.delete(self.keys.webhook(msg_id))
        pipe.execute()

    def _send(self, client: httpx.Client, msg_id: str, url: str, body: bytes) -> str | None:
        """POST one message; returns None on a 2xx, else why it failed."""
        try:
            check_webhook_url(url, self.settings.webhook_allow_private)
        except InvalidWebhookURLError as exc:
            return str(exc)
        secret = self.settings.webhook_secret
        if secret is None:
            return "no webhook secret is configured"
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body),
            "user-agent": "videogen-webhooks/1",
        }
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def pending(self) -> int:
        return int(self.redis.zcard(self.keys.webhooks_due))


def webhook_body(video: Video) -> bytes:
    """The delivered JSON: the same object ``GET /videos/{id}`` returns."""
    return json.dumps(video.model_dump(mode="json"), separators=(",", ":")).encode()
