"""The S3 backend against a real S3 endpoint over HTTP (moto): objects, ranges, presigned URLs, a worker storing
to S3, the presigned redirect, and an outage during a job (storage_error, nothing half-written)."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import pytest
from integration_harness import QUICK, make_api, wait_for, wait_ready

from core.errors import StorageError
from core.keys import new_video_id
from core.media import read_video
from core.settings import Settings
from core.storage import S3Storage


@pytest.fixture
def s3_values(redis_url, fleet, group_values):
    fleet.ready("s3-worker")
    return group_values["s3"]


def test_s3_backend_objects_ranges_and_presigned_urls(group_values):
    store = S3Storage(Settings(**{**group_values["s3"], "s3_bucket": f"fresh-{new_video_id()[4:16]}"}))
    store.ping()  # creates the missing bucket
    vid = new_video_id()
    data = bytes(range(256)) * 1000
    store.put(vid, "video.mp4", data, "video/mp4")
    assert store.size(vid, "video.mp4") == len(data) and store.size(vid, "reference.png") is None
    assert b"".join(store.read(vid, "video.mp4", 100, 4099)) == data[100:4100]
    info = store.stat(vid, "video.mp4")
    url = store.presigned_url(vid, "video.mp4", 60, "video/mp4", f'inline; filename="{vid}.mp4"')
    fetched = httpx.get(url)
    assert (
        fetched.status_code == 200
        and fetched.content == data
        and fetched.headers["content-type"] == "video/mp4"
    )
    assert fetched.headers["content-disposition"] == f'inline; filename="{vid}.mp4"'
    assert info.size == len(data) and info.etag == fetched.headers["etag"] and info.path is None
    assert abs(info.last_modified - parsedate_to_datetime(fetched.headers["last-modified"]).timestamp()) < 1
    assert store.names(vid) == ["video.mp4"]
    store.delete_all(vid)
    assert store.names(vid) == [] and store.size(vid, "video.mp4") is None
    with pytest.raises(StorageError):
        store.put("../x", "video.mp4", b"", "video/mp4")


def test_worker_stores_to_s3_and_content_redirects_to_a_presigned_url(s3_values):
    api = make_api(s3_values)
    redirecting = make_api({**s3_values, "s3_presign_redirect": True}, maintenance=False)
    try:
        wait_ready(api)
        video = api.post("/videos", json=QUICK, headers={"Prefer": "wait=60"}).json()
        if video["status"] != "completed":
            video = wait_for(api, video["id"], {"completed", "failed"})
        assert video["status"] == "completed", video
        redirect = redirecting.get(video["links"]["content"], follow_redirects=False)
        assert redirect.status_code == 307
        direct = httpx.get(redirect.headers["location"])
        assert direct.status_code == 200 and read_video(direct.content).shape == (4, 32, 32, 3)
        streamed = api.get(video["links"]["content"], headers={"Range": "bytes=0-31"})
        assert streamed.status_code == 206 and streamed.content == direct.content[:32]
        assert api.get(video["links"]["thumbnail"]).headers["content-type"] == "image/jpeg"
    finally:
        api.__exit__(None, None, None)
        redirecting.__exit__(None, None, None)


def test_storage_outage_during_a_job_fails_it_with_storage_error_and_leaves_nothing(s3_values, s3_endpoint):
    api = make_api(s3_values)
    try:
        wait_ready(api)
        ctx = api.app.state.context
        video = api.post("/videos", json={**QUICK, "num_frames": 8, "num_inference_steps": 8}).json()
        wait_for(api, video["id"], {"in_progress"})
        s3_endpoint.stop()
        try:
            failed = wait_for(api, video["id"], {"failed", "completed"})
        finally:
            s3_endpoint.start()
        assert failed["status"] == "failed" and failed["error"]["code"] == "storage_error", failed
        assert ctx.storage.names(video["id"]) == []  # no partial object of any kind
        content = api.get(f"/videos/{video['id']}/content")
        assert content.status_code == 409 and content.json()["error"]["code"] == "not_ready"
    finally:
        api.__exit__(None, None, None)
