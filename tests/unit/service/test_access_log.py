"""The API's request log: one JSON line per request with method, path, route, status, duration and the video id
where the route has one (created, read, cancelled, downloaded), through the same formatter as every line."""

import io
import json


def request_lines(buffer: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return [line for line in lines if line["logger"] == "service.access"]


def test_each_request_logs_one_json_line_with_its_fields(client, json_log):
    created = client.post("/videos", json={"prompt": "a red ball"})
    vid = created.json()["id"]
    client.get(f"/videos/{vid}")
    client.get(f"/videos/{vid}/content")  # 409: not ready yet
    client.get("/videos/vid_000000000000000000000000")  # 404
    client.get("/videos")
    client.get("/healthz")  # a probe: DEBUG, not shown at INFO
    post, get, content, missing, listing = request_lines(json_log)

    assert post["method"] == "POST" and post["path"] == "/videos" and post["status"] == 202
    assert post["video_id"] == vid and post["level"] == "INFO" and post["client"] == "testclient"
    assert post["message"] == f"POST /videos 202 {post['duration_ms']:.1f}ms"
    assert isinstance(post["duration_ms"], float) and 0 < post["duration_ms"] < 10_000
    assert post["time"].endswith("Z")
    assert get["path"] == f"/videos/{vid}" and get["route"] == "/videos/{video_id}"
    assert get["status"] == 200 and get["video_id"] == vid
    assert (content["status"], content["video_id"]) == (409, vid)
    assert (missing["status"], missing["video_id"]) == (404, "vid_000000000000000000000000")
    assert listing["route"] == "/videos" and "video_id" not in listing
    posts = [json.loads(line) for line in json_log.getvalue().splitlines() if '"path": "/videos"' in line]
    assert [p["method"] for p in posts if p.get("video_id") == vid] == ["POST"]  # one line a submit, not two
