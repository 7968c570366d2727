"""``GET``/``HEAD /videos/{id}/content`` as HTTP clients and caches expect: ``ETag`` and ``Last-Modified``,
``If-None-Match``/``If-Modified-Since`` -> 304, ``If-Range`` gating a range, ranges and HEAD, on local files
and on S3 objects (an in-process S3, moto), and ``Content-Disposition`` on presigned URLs."""

import os
from urllib.parse import parse_qs, urlsplit

import pytest

from core.lifecycle import finish
from core.storage import S3Storage
from core.video import VideoStatus
from service.ranges import http_date

DATA = bytes(range(256)) * 40  # 10240 bytes


def completed_video(client, data=DATA):
    """A video made completed by hand (no worker), with ``data`` stored as its MP4."""
    ctx = client.app.state.context
    vid = client.post("/videos", json={"prompt": "x"}).json()["id"]
    ctx.storage.put(vid, "video.mp4", data, "video/mp4")
    assert finish(ctx, vid, VideoStatus.COMPLETED, [VideoStatus.QUEUED])
    return vid


def test_get_and_head_carry_the_same_validators_and_head_no_body(client):
    vid = completed_video(client)
    got = client.get(f"/videos/{vid}/content")
    assert got.status_code == 200 and got.content == DATA
    head = client.head(f"/videos/{vid}/content")
    assert head.status_code == 200 and head.content == b""
    for name in (
        "etag",
        "last-modified",
        "content-length",
        "content-type",
        "accept-ranges",
        "content-disposition",
    ):
        assert head.headers[name] == got.headers[name], name
    assert got.headers["content-length"] == str(len(DATA)) and got.headers["content-type"] == "video/mp4"
    assert (
        got.headers["etag"].startswith('"')
        and got.headers["content-disposition"] == f'inline; filename="{vid}.mp4"'
    )
    path = client.app.state.context.storage.stat(vid, "video.mp4").path
    assert got.headers["last-modified"] == http_date(os.stat(path).st_mtime)


def test_if_none_match_and_if_modified_since_answer_304(client):
    vid = completed_video(client)
    url = f"/videos/{vid}/content"
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    conditions = [
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
    ]
    for headers in conditions:
        for method in (client.get, client.head):
            cached = method(url, headers=headers)
            assert cached.status_code == 304 and cached.content == b"", headers
            assert cached.headers["etag"] == etag and cached.headers["last-modified"] == modified
            assert "content-length" not in cached.headers or cached.headers["content-length"] == "0"
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3): a stale tag means a full answer
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert client.get(url, headers=both).content == DATA


def test_ranges_head_and_if_range(client):
    vid = completed_video(client)
    url = f"/videos/{vid}/content"
    etag, modified = (client.head(url).headers[h] for h in ("etag", "last-modified"))
    part = client.get(url, headers={"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == DATA[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(DATA)}" and part.headers["etag"] == etag
    head = client.head(url, headers={"Range": "bytes=10-109"})
    assert head.status_code == 206 and head.content == b"" and head.headers["content-length"] == "100"
    assert head.headers["content-range"] == part.headers["content-range"]
    for validator in (etag, modified):
        resumed = client.get(url, headers={"Range": "bytes=-16", "If-Range": validator})
        assert resumed.status_code == 206 and resumed.content == DATA[-16:]
    for stale in ('"an-older-etag"', f"W/{etag}", "Thu, 01 Jan 1970 00:00:00 GMT"):
        whole = client.get(url, headers={"Range": "bytes=-16", "If-Range": stale})
        assert whole.status_code == 200 and whole.content == DATA and "content-range" not in whole.headers
    several = client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == DATA  # several ranges: the whole body
    beyond = client.get(url, headers={"Range": f"bytes={len(DATA)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(DATA)}"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"
    stale_beyond = client.get(url, headers={"Range": f"bytes={len(DATA)}-", "If-Range": '"old"'})
    assert stale_beyond.status_code == 200 and stale_beyond.content == DATA


def test_a_rewritten_file_gets_a_new_etag(client):
    vid = completed_video(client)
    url = f"/videos/{vid}/content"
    etag = client.head(url).headers["etag"]
    client.app.state.context.storage.put(vid, "video.mp4", DATA[::-1], "video/mp4")
    fresh = client.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.content == DATA[::-1] and fresh.headers["etag"] != etag


@pytest.fixture
def s3_settings(make_settings, monkeypatch):
    from moto import mock_aws

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "HTTPS_PROXY", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield make_settings(
            storage="s3", s3_bucket="videos", s3_access_key_id="test", s3_secret_access_key="test"
        )


def test_s3_objects_carry_their_etag_and_last_modified(make_client, s3_settings):
    client = make_client(**s3_settings.model_dump())
    store = client.app.state.context.storage
    assert isinstance(store, S3Storage)
    store.ping()
    vid = completed_video(client)
    head = store.client.head_object(Bucket="videos", Key=f"{vid}/video.mp4")
    url = f"/videos/{vid}/content"
    got = client.get(url)
    assert got.status_code == 200 and got.content == DATA
    assert got.headers["etag"] == head["ETag"]
    assert got.headers["last-modified"] == http_date(head["LastModified"].timestamp())
    assert client.head(url).headers["content-length"] == str(len(DATA)) and client.head(url).content == b""
    assert client.get(url, headers={"If-None-Match": head["ETag"]}).status_code == 304
    part = client.get(url, headers={"Range": "bytes=100-199", "If-Range": head["ETag"]})
    assert part.status_code == 206 and part.content == DATA[100:200]
    assert client.get(url, headers={"Range": "bytes=100-199", "If-Range": '"old"'}).content == DATA


def test_presigned_urls_carry_the_content_disposition(make_client, s3_settings):
    client = make_client(**{**s3_settings.model_dump(), "s3_presign_redirect": True})
    client.app.state.context.storage.ping()
    vid = completed_video(client)
    redirect = client.get(f"/videos/{vid}/content", follow_redirects=False)
    assert redirect.status_code == 307
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert query["response-content-disposition"] == [f'inline; filename="{vid}.mp4"']
    assert query["response-content-type"] == ["video/mp4"]
