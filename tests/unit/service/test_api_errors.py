"""Every error leaves as {"error": {"code", "message"}} with the right status, never a 500 for client input."""

import pytest

from core.keys import new_video_id


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"json": {"prompt": "x", "bogus": 1}}, 422, "invalid_input"),
        ({"json": {"prompt": ""}}, 422, "invalid_input"),
        ({"json": {"prompt": "x", "size": "999x999"}}, 422, "invalid_input"),
        ({"json": ["a", "list"]}, 422, "invalid_input"),
        ({"json": {"prompt": "x", "num_frames": "many"}}, 422, "invalid_input"),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "malformed_request",
        ),
        ({"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}, 400, "malformed_request"),
        ({"content": b"prompt=x", "headers": {"content-type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"json": {"prompt": "x", "reference_image": "***"}}, 422, "invalid_reference"),
        ({"json": {"prompt": "x", "reference_image": "aGVsbG8="}}, 422, "invalid_reference"),
        ({"json": {"prompt": "x", "webhook_url": "https://93.184.215.14/"}}, 422, "invalid_webhook_url"),
    ],
)
def test_bad_submissions(client, kwargs, status, code):
    assert_error(client.post("/videos", **kwargs), status, code)


def test_unknown_ids_routes_and_methods(client):
    assert_error(client.get(f"/videos/{new_video_id()}"), 404, "not_found")
    assert_error(client.get("/videos/../../etc/passwd"), 404, "not_found")
    assert_error(client.get("/videos/not-an-id/content"), 404, "not_found")
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.put("/videos"), 405, "method_not_allowed")
    assert_error(client.get("/videos", params={"limit": 0}), 422, "invalid_input")
    assert_error(client.get("/videos", params={"status": "weird"}), 422, "invalid_input")
    assert_error(client.get("/videos", params={"after": new_video_id()}), 422, "invalid_input")
    vid = client.post("/videos", json={"prompt": "x"}).json()["id"]
    assert_error(client.get(f"/videos/{vid}/content", params={"variant": "poster"}), 422, "invalid_input")


def test_body_over_the_limit_is_413(make_client):
    client = make_client(max_body_bytes=2048)
    assert_error(client.post("/videos", json={"prompt": "x" * 5000}), 413, "payload_too_large")
    streamed = iter([b'{"prompt": "', b"y" * 4000, b'"}'])  # chunked: no Content-Length to go by
    assert_error(client.post("/videos", content=streamed), 413, "payload_too_large")


def test_redis_down_is_503_with_retry_after(make_client):
    client = make_client(redis_url="redis://127.0.0.1:1/0")
    for response in (
        client.get(f"/videos/{new_video_id()}"),
        client.post("/videos", json={"prompt": "x"}),
        client.get("/videos"),
        client.get("/readyz"),
        client.get("/options"),
    ):
        assert_error(response, 503, "redis_unavailable")
        assert response.headers["retry-after"] == "5"
    assert client.get("/healthz").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "videogen_redis_up 0.0" in metrics.text


def test_storage_down_at_submit_is_503_and_leaves_nothing(make_client, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file where the data folder should be")
    client = make_client(data_dir=blocker)
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
    response = client.post("/videos", json={"prompt": "x", "reference_image": png})
    assert_error(response, 503, "storage_unavailable")
    assert client.get("/videos").json()["data"] == []
