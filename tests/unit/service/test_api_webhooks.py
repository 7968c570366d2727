"""A finished video's webhook, end to end through the API: the Standard Webhooks envelope, verified with the
``standardwebhooks`` package as a receiver would."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks

from core.webhook_secret import new_secret
from core.webhooks import WebhookSender


def test_a_cancelled_video_posts_a_signed_video_cancelled_envelope(make_client):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (dict(self.headers.items()), self.rfile.read(int(self.headers["content-length"])))
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    secret = new_secret()
    client = make_client(webhook_secret=secret, webhook_allow_private=True)
    sender = WebhookSender(client.app.state.context.outbox)
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        vid = client.post("/videos", json={"prompt": "x", "webhook_url": url}).json()["id"]
        assert client.post(f"/videos/{vid}/cancel").status_code == 200
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            sender.pump()
            time.sleep(0.02)
    finally:
        server.shutdown()
        sender.close()
    ((headers, body),) = received
    event = standardwebhooks.Webhook(secret).verify(body, headers)
    assert event["type"] == "video.cancelled"
    assert event["data"] == client.get(f"/videos/{vid}").json()
    assert json.loads(body)["timestamp"].endswith("Z")
