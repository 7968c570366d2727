import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import redis

from core.errors import InvalidWebhookURLError
from core.keys import Keys
from core.webhook_secret import new_secret
from core.webhooks import WebhookOutbox, check_webhook_url, sign, verify

# The test vector published with the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_vector():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_verify_checks_signature_and_freshness():
    secret, now = new_secret(), int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
               "webhook-signature": "v1,bogus " + sign(secret, "msg_1", now, b"{}")}  # fmt: skip
    assert verify(secret, headers, b"{}")
    assert not verify(secret, headers, b"{ }")
    assert not verify(new_secret(), headers, b"{}")
    stale = dict(headers, **{"webhook-timestamp": str(now - 3600)})
    assert not verify(secret, stale, b"{}")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000/hook", "http://localhost/hook", "http://10.1.2.3/", "http://192.168.0.1/",
     "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
     "ftp://example.com/", "http:///nohost", "not a url"],
)  # fmt: skip
def test_ssrf_targets_are_refused(url):
    with pytest.raises(InvalidWebhookURLError):
        check_webhook_url(url, allow_private=False)


def test_public_addresses_pass_and_private_ones_pass_when_allowed():
    check_webhook_url("https://93.184.215.14/hook", allow_private=False)
    check_webhook_url("http://127.0.0.1:9/hook", allow_private=True)


class Receiver:
    """A real HTTP server on loopback that records requests and answers with scripted statuses."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append((dict(self.headers.items()), body, time.monotonic()))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_outbox_signs_retries_with_backoff_and_keeps_the_message_id(make_settings):
    secret = new_secret()
    settings = make_settings(webhook_secret=secret, webhook_allow_private=True, webhook_backoff_s=0.3)
    outbox = WebhookOutbox(redis.Redis.from_url(settings.redis_url), Keys("t"), settings)
    receiver = Receiver([500, 503, 200])
    try:
        body = json.dumps({"id": "vid_x", "status": "completed"}).encode()
        msg_id = outbox.schedule(receiver.url, body, "vid_x")
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 10
            while outbox.pending() and time.monotonic() < deadline:
                outbox.deliver_due(client)
                time.sleep(0.05)
    finally:
        receiver.close()
    assert outbox.pending() == 0
    assert len(receiver.requests) == 3
    for headers, got, _ in receiver.requests:
        assert got == body and headers["webhook-id"] == msg_id
        assert verify(secret, {k.lower(): v for k, v in headers.items()}, got)
    gaps = [b[2] - a[2] for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55  # 0.3 s, then 0.6 s


def test_outbox_gives_up_after_max_attempts_and_refuses_private_targets(make_settings):
    settings = make_settings(webhook_secret=new_secret(), webhook_max_attempts=2, webhook_backoff_s=0)
    outbox = WebhookOutbox(redis.Redis.from_url(settings.redis_url), Keys("t"), settings)
    receiver = Receiver([])
    try:
        outbox.schedule(receiver.url, b"{}", "vid_x")  # loopback, not allowed by these settings
        with httpx.Client(timeout=5) as client:
            for _ in range(5):
                outbox.deliver_due(client)
    finally:
        receiver.close()
    assert receiver.requests == [] and outbox.pending() == 0
