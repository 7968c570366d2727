"""Webhooks as Standard Webhooks (https://www.standardwebhooks.com) says: the body is the envelope
``{"type": "video.completed", "timestamp": "<ISO 8601 UTC>", "data": <the video object>}``, signed in the headers
``webhook-id`` (the same on every retry), ``webhook-timestamp`` (unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, keyed with the base64 part of the ``whsec_`` secret).

Deliveries wait in Redis (a hash per delivery, a sorted set by due time) and are sent by whichever process runs
the maintenance loop (API replicas and workers' side threads, never the GPU loop), retried with doubling backoff.
A delivery is leased, not removed, while it is being sent, so a crash mid-send means a resend, not a loss.
``WebhookSender`` sends several at once, at most ``per_host`` to one host, so a slow receiver delays only its own.

Targets that resolve to loopback, private, link-local or other non-global addresses are refused (SSRF) unless
the settings allow them; the check runs at submit time and again before every send, and a send connects to an
address that check resolved and passed (the URL's host goes in ``Host`` and TLS SNI), never resolving the name a
second time, so a DNS answer that changes between check and connect (rebinding) cannot redirect it.
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
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import redis

from core.errors import InvalidWebhookURLError
from core.keys import Keys
from core.settings import Settings
from core.video import Video
from core.webhook_secret import decode_secret

logger = logging.getLogger(__name__)

LEASE_S = 30.0  # a claimed delivery is offered again after this (or 4 send timeouts), should its sender die
SENDERS = 8  # deliveries in flight at once, per process
PER_HOST = 2  # of which at most this many to one host (name and port)
SCAN = 200  # due deliveries looked at per pump: those of busy hosts are skipped, not waited for

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


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL and the addresses its host resolved to when it was checked: the only ones to connect to."""

    url: httpx.URL
    addresses: tuple[str, ...]

    def pinned(self, address: str) -> httpx.URL:
        """The URL with its host replaced by ``address`` (one of ``addresses``)."""
        return self.url.copy_with(host=address)

    @property
    def host_header(self) -> str:
        """The ``Host`` header the URL itself would send (IDNA host, and the port unless it is the default)."""
        return self.url.netloc.decode("ascii").rsplit("@", 1)[-1]


def _parse(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL, or ``InvalidWebhookURLError``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookURLError(f"webhook_url must be an http(s) URL with a host, got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise InvalidWebhookURLError(f"webhook_url has a bad port: {exc}") from exc
    return parts.hostname, port


def _resolve(host: str, port: int, allow_private: bool) -> tuple[str, ...]:
    """The addresses ``host`` resolves to (one DNS lookup), each checked unless ``allow_private``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidWebhookURLError(f"webhook_url host {host!r} does not resolve") from exc
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise InvalidWebhookURLError(f"webhook_url host {host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _is_public(address):
                raise InvalidWebhookURLError(
                    f"webhook_url host {host!r} resolves to {address}, a non-public address"
                )
    return addresses


def check_webhook_url(url: str, allow_private: bool) -> None:
    """Raise ``InvalidWebhookURLError`` for a URL that is not http(s), has no host, does not resolve, or
    resolves to a non-public address (unless ``allow_private``, which also skips the lookup)."""
    host, port = _parse(url)
    if not allow_private:
        _resolve(host, port, allow_private)


def resolve_webhook_url(url: str, allow_private: bool) -> WebhookTarget:
    """Check ``url`` as ``check_webhook_url`` does, always resolving it (once): the target to send to. The host
    checked is the one httpx parses, the same parse the request is built from."""
    _parse(url)
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidWebhookURLError(f"webhook_url is not a valid URL: {exc}") from exc
    host = parsed.raw_host.decode("ascii")
    if parsed.scheme not in ("http", "https") or not host:
        raise InvalidWebhookURLError(f"webhook_url must be an http(s) URL with a host, got {url!r}")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return WebhookTarget(parsed, _resolve(host, port, allow_private))


def post_pinned(
    http: httpx.Client, target: WebhookTarget, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST ``body`` to ``target``, connecting only to its checked addresses (in order, the next on a connect
    failure) and never following redirects. The response body is not read. Raises ``httpx.HTTPError``."""
    extensions = {"sni_hostname": target.url.raw_host.decode("ascii")} if target.url.scheme == "https" else {}
    error: httpx.HTTPError | None = None
    for address in target.addresses:
        request = http.build_request(
            "POST",
            target.pinned(address),
            content=body,
            headers={**headers, "host": target.host_header},
            extensions=extensions,
        )
        try:
            response = http.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:
            error = exc
            continue
        response.close()
        return response
    raise error if error is not None else httpx.ConnectError(f"no address to connect to for {target.url}")


def webhook_client(timeout_s: float, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    """The HTTP client for webhook sends: no proxies from the environment (a send must reach the checked address
    itself) and no kept-alive connections (one to an address under one TLS name is never reused for another).
    ``verify``: the trust for TLS certificates (default: the system's; tests pass their own CA)."""
    return httpx.Client(
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        verify=verify,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


class WebhookOutbox:
    """Scheduling webhook deliveries, claiming due ones and sending one (``WebhookSender`` drives the sends)."""

    def __init__(self, client: redis.Redis, keys: Keys, settings: Settings) -> None:
        self.redis = client
        self.keys = keys
        self.settings = settings
        self._claim = client.register_script(_CLAIM)
        # longer than a send can take (connect, write, read, each up to the timeout), so no second send overlaps
        self.lease_s = max(LEASE_S, 4 * settings.webhook_timeout_s)

    def schedule(self, url: str, body: bytes, video_id: str) -> str:
        """Queue one message for delivery now; returns its ``webhook-id``."""
        msg_id = f"msg_{secrets.token_hex(12)}"
        pipe = self.redis.pipeline(transaction=True)
        fields = {"url": url, "body": body, "video_id": video_id, "attempts": 0}
        pipe.hset(self.keys.webhook(msg_id), mapping=fields)
        pipe.zadd(self.keys.webhooks_due, {msg_id: time.time()})
        pipe.execute()
        return msg_id

    def due(self, limit: int = SCAN) -> list[tuple[str, str]]:
        """Up to ``limit`` deliveries due now, oldest first, as (message id, url)."""
        ids = [
            raw.decode() for raw in self.redis.zrangebyscore(self.keys.webhooks_due, 0, time.time(), 0, limit)
        ]
        pipe = self.redis.pipeline(transaction=False)
        for msg_id in ids:
            pipe.hget(self.keys.webhook(msg_id), "url")
        urls = pipe.execute() if ids else []
        for msg_id, url in zip(ids, urls, strict=True):
            if url is None:
                self.redis.zrem(self.keys.webhooks_due, msg_id)
        return [(msg_id, url.decode()) for msg_id, url in zip(ids, urls, strict=True) if url is not None]

    def claim(self, msg_id: str) -> bool:
        """Lease a due delivery for ``lease_s``; False when it is not due (another process claimed it)."""
        now = time.time()
        return bool(self._claim(keys=[self.keys.webhooks_due], args=[msg_id, now, now + self.lease_s]))

    def deliver(self, client: httpx.Client, msg_id: str) -> None:
        """Send one claimed delivery; on failure schedule its retry, or drop it after the last attempt."""
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
        """POST one message to an address checked just now; returns None on a 2xx, else why it failed."""
        try:
            target = resolve_webhook_url(url, self.settings.webhook_allow_private)
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
            "webhook-signature": sign(secret.get_secret_value(), msg_id, timestamp, body),
            "user-agent": "videogen-webhooks/1",
        }
        try:
            response = post_pinned(client, target, body, headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    def pending(self) -> int:
        return int(self.redis.zcard(self.keys.webhooks_due))


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    try:
        return f"{parts.hostname}:{parts.port}"
    except ValueError:
        return str(parts.hostname)


class WebhookSender:
    """Sends due deliveries on short-lived daemon threads: up to ``senders`` at once, at most ``per_host`` of them
    to one host (name and port), each bounded by ``webhook_timeout_s`` per connect/read/write. A slow or dead
    receiver therefore holds up only its own deliveries; the others' go out on the next ``pump``."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        senders: int = SENDERS,
        per_host: int = PER_HOST,
        http: httpx.Client | None = None,
    ) -> None:
        self.outbox = outbox
        self.senders = senders
        self.per_host = per_host
        self.http = http if http is not None else webhook_client(outbox.settings.webhook_timeout_s)
        self._lock = threading.Lock()
        self._busy: Counter[str] = Counter()
        self._idle = threading.Condition(self._lock)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return sum(self._busy.values())

    def pump(self) -> int:
        """Start sending the due deliveries there is room for; returns how many were started."""
        if self.in_flight >= self.senders:
            return 0
        started = 0
        for msg_id, url in self.outbox.due():
            host = _host_of(url)
            with self._lock:
                if sum(self._busy.values()) >= self.senders:
                    break
                if self._busy[host] >= self.per_host:
                    continue
                self._busy[host] += 1
            if not self.outbox.claim(msg_id):
                self._release(host)
                continue
            name = f"videogen-webhook-{msg_id}"
            threading.Thread(target=self._run, args=(msg_id, host), name=name, daemon=True).start()
            started += 1
        return started

    def _run(self, msg_id: str, host: str) -> None:
        try:
            self.outbox.deliver(self.http, msg_id)
        except Exception:
            logger.exception("webhook %s: sending failed", msg_id)  # its lease expires and it is sent again
        finally:
            self._release(host)

    def _release(self, host: str) -> None:
        with self._lock:
            self._busy[host] -= 1
            if self._busy[host] <= 0:
                del self._busy[host]
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no send is in flight; False if some still are after ``timeout_s``."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout_s)

    def close(self) -> None:
        self.http.close()


def webhook_body(video: Video, event_type: str | None = None) -> bytes:
    """The delivered JSON, a Standard Webhooks envelope: ``{"type", "timestamp", "data"}``. ``data`` is the
    object ``GET /videos/{id}`` returns; ``type`` defaults to ``video.<status>`` (``video.completed``,
    ``video.failed``, ``video.cancelled`` for the terminal ones); ``timestamp`` is now (ISO 8601, UTC),
    fixed in the stored body, so every retry of a message carries the same one."""
    envelope = {
        "type": event_type or f"video.{video.status}",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": video.model_dump(mode="json"),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()
