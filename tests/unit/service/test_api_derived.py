"""The OpenAI-shaped parts of the API without a worker: model names, remix / extension / edit records (what the
worker will be asked to do), list order and cursors, the character endpoints, inline references."""

from __future__ import annotations

import pytest

from core.lifecycle import finish, publish_worker
from core.video import VideoStatus


@pytest.fixture
def api(make_client, tiny_capabilities):
    client = make_client(model_aliases=["sora-2", "sora-2-pro"])
    publish_worker(client.app.state.context, "tiny-worker", tiny_capabilities, busy=None, ttl_s=60)
    return client


def completed(api, **body) -> dict:
    """A video as POST /videos makes it, then marked completed (no worker runs here)."""
    video = api.post("/videos", json={"prompt": "a red ball moving right", "seed": 5, **body}).json()
    ctx = api.app.state.context
    assert finish(ctx, video["id"], VideoStatus.COMPLETED, [VideoStatus.QUEUED])
    return api.get(f"/videos/{video['id']}").json()


def test_model_names_the_served_model_or_an_alias(api):
    assert api.post("/videos", json={"prompt": "x"}).json()["model"] == "tiny"
    assert api.post("/videos", json={"prompt": "x", "model": "sora-2"}).json()["model"] == "sora-2"
    refused = api.post("/videos", json={"prompt": "x", "model": "sora-3"})
    assert refused.status_code == 422
    assert (
        refused.json()["error"]["message"]
        == "model 'sora-3' is not served here; accepted: tiny, sora-2, sora-2-pro"
    )


def test_seconds_and_size_as_the_sdk_sends_them(api):
    video = api.post("/videos", data={"prompt": "x", "seconds": "4", "size": "32x32"}).json()
    assert (video["seconds"], video["size"], video["params"]["num_frames"]) == ("4", "32x32", 32)
    refused = api.post("/videos", data={"prompt": "x", "size": "720x1280"})
    assert refused.status_code == 422 and "allowed sizes: 64x64, 32x32" in refused.json()["error"]["message"]


def test_input_reference_must_carry_its_image(api):
    for ref, words in (
        ({"image_url": "https://example.com/cat.png"}, "does not fetch URLs"),
        ({"file_id": "file_123"}, "keeps no uploaded files"),
        ({}, "needs image_url"),
    ):
        refused = api.post("/videos", json={"prompt": "x", "input_reference": ref})
        assert refused.status_code == 422 and words in refused.json()["error"]["message"], refused.text


def test_remix_takes_the_sources_parameters_and_reference(api):
    source = completed(api, size="32x32", num_frames=8)
    remix = api.post(f"/videos/{source['id']}/remix", json={"prompt": "a red ball moving left"})
    assert remix.status_code == 202, remix.text
    video = remix.json()
    assert video["remixed_from_video_id"] == source["id"] and video["source"]["operation"] == "remix"
    assert video["prompt"] == "a red ball moving left" and video["params"]["has_reference_image"]
    same = (
        "seed",
        "size",
        "num_frames",
        "fps",
        "num_inference_steps",
        "guidance_scale",
        "temporal_upsampling",
    )
    assert {k: video["params"][k] for k in same} == {k: source["params"][k] for k in same}


def test_only_a_completed_video_of_yours_can_be_a_source(api, make_client):
    queued = api.post("/videos", json={"prompt": "x"}).json()
    refused = api.post(f"/videos/{queued['id']}/remix", json={"prompt": "y"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_ready"
    missing = api.post(
        "/videos/extensions", json={"prompt": "y", "seconds": 1, "video": {"id": "vid_" + "0" * 24}}
    )
    assert missing.status_code == 404
    neither = api.post("/videos/edits", data={"prompt": "y"})
    assert neither.status_code == 422 and "or upload an MP4" in neither.json()["error"]["message"]


def test_an_extension_appends_to_its_source_and_counts_the_total(api):
    source = completed(api, size="32x32", num_frames=8)
    form = {
        "prompt": "the ball keeps going",
        "seconds": "1",
        "video[id]": source["id"],
    }  # the SDK's form shape
    video = api.post("/videos/extensions", data=form).json()
    assert video["source"] == {"video_id": source["id"], "operation": "extension", "num_frames": 8}
    assert video["params"]["num_frames"] == 9  # 8 new frames and the first, which is the source's last
    assert video["seconds"] == "2" and video["params"]["seed"] == source["params"]["seed"]
    as_json = api.post(
        "/videos/extensions", json={"prompt": "on", "seconds": 0.5, "video": {"id": source["id"]}}
    )
    assert as_json.status_code == 202 and as_json.json()["params"]["num_frames"] == 5
    # Past the frame limit, from a named or an uploaded source alike: the client's error, not a 500.
    upload = {"video": ("clip.mp4", b"any", "video/mp4")}
    for data, files in ((form, None), ({"prompt": "on"}, upload)):
        too_long = api.post("/videos/extensions", data={**data, "seconds": "1250"}, files=files)
        assert too_long.status_code == 422, too_long.text
        assert "num_frames" in too_long.json()["error"]["message"]


def test_an_uploaded_source_is_stored_for_the_worker(api):
    upload = {"video": ("clip.mp4", b"not checked until a worker reads it", "video/mp4")}
    video = api.post("/videos/edits", data={"prompt": "a red ball moving down"}, files=upload).json()
    assert video["source"] == {"video_id": None, "operation": "edit", "num_frames": None}
    assert video["remixed_from_video_id"] is None and video["params"]["has_reference_image"]
    storage = api.app.state.context.storage
    assert b"".join(storage.read(video["id"], "source.mp4")) == b"not checked until a worker reads it"
    both = api.post("/videos/edits", data={"prompt": "x", "video[id]": video["id"]}, files=upload)
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]


def test_lists_in_either_order_with_first_and_last_ids(api):
    ids = [api.post("/videos", json={"prompt": f"v{i}"}).json()["id"] for i in range(3)]
    page = api.get("/videos", params={"order": "asc", "limit": 2}).json()
    assert [v["id"] for v in page["data"]] == ids[:2] and page["has_more"]
    assert (page["first_id"], page["last_id"]) == (ids[0], ids[1])
    rest = api.get("/videos", params={"order": "asc", "after": page["last_id"]}).json()
    assert [v["id"] for v in rest["data"]] == ids[2:] and not rest["has_more"]
    assert [v["id"] for v in api.get("/videos").json()["data"]] == ids[::-1]


def test_characters_are_refused_naming_what_is_supported(api):
    for response in (
        api.post("/videos/characters", data={"name": "x"}),
        api.get("/videos/characters/char_1"),
    ):
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "not_supported" and "remix, extensions, edits" in error["message"]


def test_webhook_events_need_a_webhook_url(api):
    refused = api.post("/videos", json={"prompt": "x", "webhook_events": ["queued"]})
    assert refused.status_code == 422 and "webhook_url" in refused.json()["error"]["message"]
