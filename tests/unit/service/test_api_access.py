"""Auth, per-key rate limits, owner isolation, idempotency and queue backpressure (no worker needed)."""

import base64
import io
import time

from PIL import Image

KEY1, KEY2 = "key-one-0123456789", "key-two-0123456789"


def error_code(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]["code"]


def test_auth_is_required_when_on(make_client):
    client = make_client(auth_enabled=True, api_keys=[KEY1, KEY2])
    assert error_code(client.post("/videos", json={"prompt": "x"}), 401) == "unauthorized"
    assert client.get("/videos").headers["www-authenticate"] == "Bearer"
    assert error_code(client.get("/videos", headers={"Authorization": "Bearer wrong"}), 401) == "unauthorized"
    assert (
        error_code(client.get("/videos", headers={"Authorization": "Basic " + KEY1}), 401) == "unauthorized"
    )
    created = client.post("/videos", json={"prompt": "x"}, headers={"Authorization": f"Bearer {KEY1}"})
    assert created.status_code == 202
    vid = created.json()["id"]
    assert client.get(f"/videos/{vid}", headers={"X-API-Key": KEY1}).status_code == 200
    # another key's videos do not exist for you
    assert error_code(client.get(f"/videos/{vid}", headers={"X-API-Key": KEY2}), 404) == "not_found"
    assert client.get("/videos", headers={"X-API-Key": KEY2}).json()["data"] == []
    assert error_code(client.post(f"/videos/{vid}/cancel", headers={"X-API-Key": KEY2}), 404) == "not_found"
    # public endpoints stay public
    options = client.get("/options").json()
    assert options["auth_required"] is True
    assert client.get("/healthz").status_code == 200


def test_rate_limit_per_key_with_retry_after(make_client):
    while time.time() % 60 > 50:  # the limit counts per clock minute: keep the requests inside one
        time.sleep(0.5)
    client = make_client(auth_enabled=True, api_keys=[KEY1, KEY2], rate_limit_per_minute=2)
    h1, h2 = {"X-API-Key": KEY1}, {"X-API-Key": KEY2}
    assert [client.post("/videos", json={"prompt": "x"}, headers=h1).status_code for _ in range(2)] == [
        202,
        202,
    ]
    limited = client.post("/videos", json={"prompt": "x"}, headers=h1)
    assert error_code(limited, 429) == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert client.post("/videos", json={"prompt": "x"}, headers=h2).status_code == 202  # other key unaffected
    assert client.get("/videos", headers=h1).status_code == 200  # reads are not limited


def test_queue_full_is_503_with_retry_after(make_client):
    client = make_client(max_queued=2)
    assert [client.post("/videos", json={"prompt": f"{i}"}).status_code for i in range(2)] == [202, 202]
    full = client.post("/videos", json={"prompt": "x"})
    assert error_code(full, 503) == "queue_full" and int(full.headers["retry-after"]) > 0
    listed = client.get("/videos").json()["data"]
    assert len(listed) == 2  # nothing half-created


def test_idempotency_key_replays_or_conflicts(client):
    body = {"prompt": "a red ball", "seed": 3}
    first = client.post("/videos", json=body, headers={"Idempotency-Key": "abc"})
    again = client.post("/videos", json=body, headers={"Idempotency-Key": "abc"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    other = client.post("/videos", json={**body, "seed": 4}, headers={"Idempotency-Key": "abc"})
    assert error_code(other, 409) == "idempotency_conflict"
    assert (
        client.post("/videos", json=body, headers={"Idempotency-Key": "xyz"}).json()["id"]
        != first.json()["id"]
    )
    assert error_code(client.post("/videos", json=body, headers={"Idempotency-Key": "k" * 300}), 422)
    assert len(client.get("/videos").json()["data"]) == 2


def png_bytes(size=(40, 24)):
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_reference_image_as_base64_or_multipart_file(client):
    raw = png_bytes()
    as_json = client.post("/videos", json={"prompt": "x", "reference_image": base64.b64encode(raw).decode()})
    as_data_url = client.post(
        "/videos",
        json={"prompt": "x", "reference_image": "data:image/png;base64," + base64.b64encode(raw).decode()},
    )
    as_file = client.post(
        "/videos",
        data={"prompt": "x", "num_frames": "4", "metadata": '{"user": "u1"}'},
        files={"reference_image": ("ref.png", raw, "image/png")},
    )
    for response in (as_json, as_data_url, as_file):
        assert response.status_code == 202, response.text
        assert response.json()["params"]["has_reference_image"] is True
    assert as_file.json()["params"]["num_frames"] == 4 and as_file.json()["metadata"] == {"user": "u1"}
    store = client.app.state.context.storage
    stored = b"".join(store.read(as_file.json()["id"], "input.png"))
    assert Image.open(io.BytesIO(stored)).size == (40, 24)


def test_input_reference_as_the_openai_sdk_sends_it(client):
    """OpenAI's field name beside ours: ``input_reference`` as a multipart file (the SDK's ``input_reference=``)
    or as ``{"image_url": <data URL>}``; both become the video's reference image. Both files at once: 400."""
    raw = png_bytes((24, 40))
    as_file = client.post(
        "/videos", data={"prompt": "x"}, files={"input_reference": ("ref.png", raw, "image/png")}
    )
    data_url = "data:image/png;base64," + base64.b64encode(raw).decode()
    as_object = client.post("/videos", json={"prompt": "x", "input_reference": {"image_url": data_url}})
    store = client.app.state.context.storage
    for response in (as_file, as_object):
        assert response.status_code == 202, response.text
        assert response.json()["params"]["has_reference_image"] is True
        stored = b"".join(store.read(response.json()["id"], "input.png"))
        assert Image.open(io.BytesIO(stored)).size == (24, 40)
    both = client.post(
        "/videos",
        data={"prompt": "x"},
        files={
            "input_reference": ("a.png", raw, "image/png"),
            "reference_image": ("b.png", raw, "image/png"),
        },
    )
    assert both.status_code == 400, both.text  # one file per request (the form parser refuses a second)


def test_multipart_mistakes_are_client_errors(client):
    raw = png_bytes()
    bad = [
        {"data": {"prompt": "x", "metadata": "{not json"}},
        {"data": {"prompt": "x"}, "files": {"other": ("a.png", raw, "image/png")}},
        {"data": {"prompt": "x"}, "files": {"reference_image": ("a.txt", b"plain text", "text/plain")}},
        {"data": {"prompt": "x", "bogus": "1"}},
        {"data": {"prompt": "x", "num_frames": "lots"}},
    ]
    for kwargs in bad:
        response = client.post("/videos", **kwargs)
        assert response.status_code in (400, 422), (kwargs, response.text)
        assert response.json()["error"]["code"]


def test_webhook_urls_need_a_secret_and_a_public_host(make_client):
    no_secret = make_client()
    assert (
        error_code(
            no_secret.post("/videos", json={"prompt": "x", "webhook_url": "https://93.184.215.14/h"}), 422
        )
        == "invalid_webhook_url"
    )
    secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
    strict = make_client(webhook_secret=secret)
    for url in (
        "http://127.0.0.1:9000/h",
        "http://169.254.169.254/",
        "http://10.0.0.8/h",
        "file:///etc/passwd",
    ):
        assert error_code(strict.post("/videos", json={"prompt": "x", "webhook_url": url}), 422) == (
            "invalid_webhook_url"
        )
    ok = strict.post("/videos", json={"prompt": "x", "webhook_url": "https://93.184.215.14/h"})
    assert ok.status_code == 202 and ok.json()["webhook_url"] == "https://93.184.215.14/h"
    relaxed = make_client(webhook_secret=secret, webhook_allow_private=True)
    assert (
        relaxed.post("/videos", json={"prompt": "x", "webhook_url": "http://127.0.0.1:9/h"}).status_code
        == 202
    )
