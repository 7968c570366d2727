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


def scheduled_types(ctx) -> list[str]:
    """The ``type`` of every delivery waiting in the outbox, oldest first (nothing is sent here)."""
    return [
        json.loads(ctx.redis.hget(ctx.keys.webhook(msg_id), "body"))["type"] for msg_id, _ in ctx.outbox.due()
    ]


def test_webhook_events_choose_which_deliveries_are_scheduled(make_client):
    """``webhook_events`` filters as Replicate's ``webhook_events_filter`` does: none given, only the end is
    sent; ``queued`` and ``started`` when asked; an end not asked for is not sent."""
    from core.lifecycle import notify
    from core.video import VideoStatus, WebhookEvent

    client = make_client(webhook_secret=new_secret(), webhook_allow_private=True)
    ctx = client.app.state.context
    url = "http://127.0.0.1:9/hook"

    def run(events):
        ctx.redis.delete(ctx.keys.webhooks_due)
        body = {"prompt": "x", "webhook_url": url} | ({} if events is None else {"webhook_events": events})
        vid = client.post("/videos", json=body).json()["id"]
        # what the worker does when it claims the video
        assert ctx.records.transition(vid, [VideoStatus.QUEUED], VideoStatus.IN_PROGRESS) == 1
        notify(ctx, vid, WebhookEvent.STARTED)
        assert client.post(f"/videos/{vid}/cancel").status_code == 200
        return scheduled_types(ctx)

    assert run(None) == ["video.cancelled"]
    assert run(["queued", "started", "completed"]) == ["video.queued", "video.in_progress", "video.cancelled"]
    assert run(["queued"]) == ["video.queued"]
    assert run(["completed"]) == ["video.cancelled"]
