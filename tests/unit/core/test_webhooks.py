import datetime
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import redis
import standardwebhooks
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core import webhooks
from core.errors import InvalidWebhookURLError
from core.keys import Keys
from core.webhook_secret import new_secret
from core.webhooks import WebhookOutbox, WebhookSender, check_webhook_url, resolve_webhook_url, sign, verify

# The test vector published with the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_vector():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_verify_checks_signature_and_freshness():
    secret, now = new_secret(), int(time.time())
    signature = "v1,bogus " + sign(secret, "msg_1", now, b"{}")
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify(secret, headers, b"{}")
    assert not verify(secret, headers, b"{ }")
    assert not verify(new_secret(), headers, b"{}")
    stale = dict(headers, **{"webhook-timestamp": str(now - 3600)})
    assert not verify(secret, stale, b"{}")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "ftp://example.com/",
        "http:///nohost",
        "not a url",
    ],
)
def test_ssrf_targets_are_refused(url):
    with pytest.raises(InvalidWebhookURLError):
        check_webhook_url(url, allow_private=False)


def test_public_addresses_pass_and_private_ones_pass_when_allowed():
    check_webhook_url("https://93.184.215.14/hook", allow_private=False)
    check_webhook_url("http://127.0.0.1:9/hook", allow_private=True)


class Receiver:
    """A real HTTP server on loopback that records requests and answers with scripted statuses, each after
    ``delay_s``."""

    def __init__(self, statuses=(), delay_s=0.0, tls=None):
        self.statuses = list(statuses)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(
                    ({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                )
                time.sleep(delay_s)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()


def make_sender(settings, **limits):
    outbox = WebhookOutbox(redis.Redis.from_url(settings.redis_url), Keys("t"), settings)
    return outbox, WebhookSender(outbox, **limits)


def pump_until_sent(outbox, sender, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while (outbox.pending() or sender.in_flight) and time.monotonic() < deadline:
        sender.pump()
        time.sleep(0.02)
    sender.wait_idle(1.0)


def test_a_delivery_verifies_with_the_standardwebhooks_package(make_settings):
    secret = new_secret()
    outbox, sender = make_sender(make_settings(webhook_secret=secret, webhook_allow_private=True))
    receiver = Receiver()
    body = json.dumps(
        {"type": "video.completed", "timestamp": "2026-01-01T00:00:00.000Z", "data": {}}
    ).encode()
    try:
        msg_id = outbox.schedule(receiver.url, body, "vid_x")
        pump_until_sent(outbox, sender)
    finally:
        receiver.close()
        sender.close()
    ((headers, got, _),) = receiver.requests
    assert headers["webhook-id"] == msg_id and got == body
    assert standardwebhooks.Webhook(secret).verify(got, headers)["type"] == "video.completed"
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(got, headers)


def test_outbox_signs_retries_with_backoff_and_keeps_the_message_id(make_settings):
    secret = new_secret()
    settings = make_settings(webhook_secret=secret, webhook_allow_private=True, webhook_backoff_s=0.3)
    outbox, sender = make_sender(settings)
    receiver = Receiver([500, 503, 200])
    try:
        body = json.dumps({"type": "video.failed", "data": {"id": "vid_x"}}).encode()
        msg_id = outbox.schedule(receiver.url, body, "vid_x")
        pump_until_sent(outbox, sender)
    finally:
        receiver.close()
        sender.close()
    assert outbox.pending() == 0
    assert len(receiver.requests) == 3
    for headers, got, _ in receiver.requests:
        assert got == body and headers["webhook-id"] == msg_id
        assert verify(secret, headers, got)
        standardwebhooks.Webhook(secret).verify(got, headers)
    gaps = [b[2] - a[2] for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55  # 0.3 s, then 0.6 s


def test_outbox_gives_up_after_max_attempts_and_refuses_private_targets(make_settings):
    settings = make_settings(webhook_secret=new_secret(), webhook_max_attempts=2, webhook_backoff_s=0)
    outbox, sender = make_sender(settings)
    receiver = Receiver()
    try:
        outbox.schedule(receiver.url, b"{}", "vid_x")  # loopback, not allowed by these settings
        pump_until_sent(outbox, sender, timeout_s=3.0)
    finally:
        receiver.close()
        sender.close()
    assert receiver.requests == [] and outbox.pending() == 0


def test_a_send_connects_to_the_checked_address_and_never_resolves_again(make_settings, monkeypatch):
    """DNS rebinding: the name passes the check (here loopback stands in for a public address), then answers
    with the cloud metadata address. The send must use the first answer, asking DNS once."""
    secret = new_secret()
    outbox, sender = make_sender(make_settings(webhook_secret=secret))
    receiver = Receiver()
    real_getaddrinfo, lookups = socket.getaddrinfo, []

    def rebinding_dns(host, port, *args, **kwargs):
        if host != "hooks.example.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    real_is_public = webhooks._is_public
    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    monkeypatch.setattr(webhooks, "_is_public", lambda a: a == "127.0.0.1" or real_is_public(a))
    url = f"http://hooks.example.test:{receiver.port}/hook"
    try:
        outbox.schedule(url, b'{"type":"video.completed"}', "vid_x")
        pump_until_sent(outbox, sender, timeout_s=3.0)
    finally:
        receiver.close()
        sender.close()
    assert lookups == ["hooks.example.test"]
    ((headers, body, _),) = receiver.requests
    assert headers["host"] == f"hooks.example.test:{receiver.port}"
    standardwebhooks.Webhook(secret).verify(body, headers)
    with pytest.raises(InvalidWebhookURLError, match=r"169\.254\.169\.254"):
        resolve_webhook_url(url, allow_private=False)  # the rebound answer itself is refused


def test_the_target_keeps_the_name_for_host_and_tls_and_pins_the_address():
    target = resolve_webhook_url("https://127.0.0.1:8443/a?b=1", allow_private=True)
    assert target.addresses == ("127.0.0.1",) and target.host_header == "127.0.0.1:8443"
    named = webhooks.WebhookTarget(httpx.URL("https://Hooks.Example.com/x"), ("2001:db8::1",))
    assert str(named.pinned("2001:db8::1")) == "https://[2001:db8::1]/x"
    assert named.host_header == "hooks.example.com"


def test_a_slow_receiver_does_not_hold_up_the_others(make_settings):
    """Three deliveries to a receiver that takes 0.8 s to answer, then one to a fast receiver: with two senders
    per host the fast one is sent at once, not after the slow ones."""
    outbox, sender = make_sender(
        make_settings(webhook_secret=new_secret(), webhook_allow_private=True, webhook_timeout_s=5),
        senders=4,
        per_host=2,
    )
    slow, fast = Receiver(delay_s=0.8), Receiver()
    try:
        for _ in range(3):
            outbox.schedule(slow.url, b"{}", "vid_slow")
        time.sleep(0.01)  # the fast one is due last
        outbox.schedule(fast.url, b"{}", "vid_fast")
        started = time.monotonic()
        assert sender.pump() == 3  # two to the slow host (its limit), one to the fast one
        deadline = started + 0.7
        while not fast.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fast.requests and fast.requests[0][2] - started < 0.4
        assert len(slow.requests) <= 2
        pump_until_sent(outbox, sender, timeout_s=6.0)
    finally:
        slow.close()
        fast.close()
        sender.close()
    assert len(slow.requests) == 3 and len(fast.requests) == 1 and outbox.pending() == 0


def self_signed(name, folder):
    """A certificate for DNS name ``name`` signed by its own key: (cert file, key file, PEM text)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / f"{name}.pem").write_bytes(pem)
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / f"{name}.pem", folder / f"{name}.key", pem.decode()


@pytest.mark.parametrize("cert_name", ["hooks.example.test", "other.example.test"])
def test_https_sends_the_name_in_sni_and_checks_the_certificate_against_it(
    make_settings, monkeypatch, tmp_path, cert_name
):
    """Connecting to the pinned address must not weaken TLS: the server sees the URL's name in SNI, and a
    certificate for another name is refused although the address is the checked one."""
    cert_file, key_file, pem = self_signed(cert_name, tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    seen_sni = []
    server_tls.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    receiver = Receiver(tls=server_tls)
    real_getaddrinfo = socket.getaddrinfo

    def dns(host, port, *args, **kwargs):
        if host == "hooks.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    settings = make_settings(webhook_secret=new_secret(), webhook_allow_private=True, webhook_max_attempts=1)
    outbox = WebhookOutbox(redis.Redis.from_url(settings.redis_url), Keys("t"), settings)
    trust = ssl.create_default_context(cadata=pem)
    sender = WebhookSender(outbox, http=webhooks.webhook_client(5.0, verify=trust))
    try:
        outbox.schedule(f"https://hooks.example.test:{receiver.port}/hook", b"{}", "vid_x")
        pump_until_sent(outbox, sender, timeout_s=3.0)
    finally:
        receiver.close()
        sender.close()
    assert seen_sni == ["hooks.example.test"] and outbox.pending() == 0
    if cert_name == "hooks.example.test":
        ((headers, _, _),) = receiver.requests
        assert headers["host"] == f"hooks.example.test:{receiver.port}"
    else:
        assert receiver.requests == []  # the certificate names another host: nothing was sent
