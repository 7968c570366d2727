"""The official ``openai`` SDK (``client.videos``) pointed at a videogen server: a real uvicorn API process and the
shared tiny-model worker, as code written for OpenAI's retired Videos API would run against it."""

from __future__ import annotations

import io
import time
import warnings
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest
from integration_harness import api_server, env_for
from openai import OpenAI
from PIL import Image

from core.media import png_bytes, read_video

# SDK calls with videogen's own fields beside OpenAI's: small, quick jobs on the tiny model.
QUICK = {"num_inference_steps": 2, "seed": 11}


@pytest.fixture
def client(redis_url, shared_worker, shared_values, tmp_path) -> Iterator[OpenAI]:
    env = env_for({**shared_values, "model_aliases": "sora-2,sora-2-pro", "allowed_sizes": "32x32,64x64"})
    with api_server(env, tmp_path / "api.log") as port:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while (
            ready := httpx.get(f"{base_url}/readyz", timeout=10)
        ).status_code != 200:  # the worker re-announces
            if time.monotonic() > deadline:
                pytest.fail(f"not ready: {ready.text}")
            time.sleep(0.1)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # the SDK marks the (retired) Videos API deprecated
            yield OpenAI(api_key="unused-here", base_url=base_url, max_retries=0)
    print((tmp_path / "api.log").read_text()[-4000:])  # shown when the test fails


@pytest.mark.timeout(300)  # a poll that never ends is a failure, not a hang
def test_openai_sdk_create_poll_list_download_remix_extend_edit_delete(client):
    videos = client.videos
    with pytest.raises(openai.UnprocessableEntityError, match="accepted: tiny, sora-2, sora-2-pro"):
        videos.create(prompt="a red ball", model="gpt-image-1")
    with pytest.raises(openai.UnprocessableEntityError, match="allowed sizes: 32x32, 64x64"):
        videos.create(prompt="a red ball", size="720x1280")

    video = videos.create_and_poll(
        prompt="a red ball moving right",
        model="sora-2",
        size="32x32",
        seconds="1",
        extra_body=QUICK,
        poll_interval_ms=50,
    )
    assert video.status == "completed", video
    assert (video.model, video.size, video.seconds, video.progress) == ("sora-2", "32x32", "1", 100)
    assert isinstance(video.created_at, int) and video.completed_at >= video.created_at
    assert videos.retrieve(video.id).prompt == "a red ball moving right"
    mp4 = videos.download_content(video.id).read()
    frames = read_video(mp4)
    assert frames.shape == (8, 32, 32, 3)  # 1 s at the default 8 fps
    assert videos.download_content(video.id, variant="thumbnail").read()[:2] == b"\xff\xd8"  # JPEG
    assert videos.download_content(video.id, variant="spritesheet").read()[:2] == b"\xff\xd8"

    remix = videos.poll(videos.remix(video.id, prompt="a red ball moving left").id, poll_interval_ms=50)
    assert remix.status == "completed" and remix.remixed_from_video_id == video.id
    assert (remix.size, remix.seconds, remix.prompt) == ("32x32", "1", "a red ball moving left")

    # The SDK sends a source video as a file (its own client refuses video={"id": ...} in a multipart body;
    # HTTP clients can name one: tests/unit/service/test_api_derived.py).
    extended = videos.poll(
        videos.extend(
            video=("source.mp4", mp4, "video/mp4"), prompt="the red ball keeps moving", seconds="1"
        ).id,
        poll_interval_ms=50,
    )
    assert extended.status == "completed" and extended.seconds == "2", extended  # the stitched total
    joined = read_video(videos.download_content(extended.id).read())
    assert joined.shape == (16, 32, 32, 3)
    # the source first: equal but for a second H.264 pass (the tiny model's noise-like frames lose ~4 levels)
    assert abs(joined[:8].astype(int) - frames.astype(int)).mean() < 8

    edited = videos.poll(
        videos.edit(video=("source.mp4", mp4, "video/mp4"), prompt="a red ball moving down").id,
        poll_interval_ms=50,
    )
    assert edited.status == "completed" and edited.seconds == "1", edited

    ids = [v.id for v in videos.list(order="asc", limit=2)]  # auto-paginates through last_id / has_more
    assert ids == [video.id, remix.id, extended.id, edited.id]
    assert [v.id for v in videos.list(order="desc")] == ids[::-1]

    # OpenAI's input_reference, as the SDK uploads it: the image the cascade starts from, served back as-is.
    png = png_bytes(np.full((32, 32, 3), (200, 30, 30), np.uint8))
    referenced = videos.poll(
        videos.create(
            prompt="a red ball",
            size="32x32",
            seconds="1",
            input_reference=("ref.png", png, "image/png"),
            extra_body=QUICK,
        ).id,
        poll_interval_ms=50,
    )
    assert referenced.status == "completed", referenced
    stored = httpx.get(f"{client.base_url}/videos/{referenced.id}/content", params={"variant": "reference"})
    assert (
        stored.status_code == 200
        and (np.asarray(Image.open(io.BytesIO(stored.content))) == (200, 30, 30)).all()
    )

    with pytest.raises(openai.NotFoundError, match="characters are not supported"):
        videos.get_character("char_123")
    deleted = videos.delete(remix.id)
    assert deleted.deleted and deleted.id == remix.id
    with pytest.raises(openai.NotFoundError):
        videos.retrieve(remix.id)
