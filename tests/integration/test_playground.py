"""The playground page in a real browser: Debian's Chromium (headless, driven by Playwright's Python package), the
real API served over HTTP by uvicorn, the shared tiny-model worker process and the real Redis. Screenshots are
saved under ``artifacts/playground/``."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import redis
import uvicorn
from integration_harness import REPO
from PIL import Image

from core.keys import Keys
from core.media import png_bytes, read_video
from core.settings import Settings
from core.video import STAGES
from service.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "artifacts" / "playground"
JOB_TIMEOUT_MS = 240_000  # a tiny-model job on 2 busy cores
API_KEY = "playground-test-key"

# What the page calls each stage.
STAGE_LABELS = {
    "reference": "Reference",
    "base": "Base",
    "super_resolution": "Super resolution",
    "temporal_upsampling": "Temporal upsampling",
    "decode": "Decode",
    "encode": "Encode",
    "upload": "Upload",
}
# Quick enough for CI, slow enough (two 40-step stages, ~1 s each on 2 idle cores) for the page's 0.25 s poll
# to see the stages change.
WATCHED = {"size": "32x32", "length": "8", "steps": "40", "upsampling": "1", "seed": "4242"}
SLOW = {
    "size": "64x64",
    "length": "16",
    "steps": "100",
    "upsampling": "1",
    "seed": "7",
}  # minutes, not seconds
QUICK = {"size": "32x32", "length": "4", "steps": "2", "upsampling": "1", "seed": "99"}


class LiveServer:
    """The API app served by uvicorn on a free loopback port in a background thread."""

    def __init__(self, settings: Settings) -> None:
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail("uvicorn did not start")
            time.sleep(0.05)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (scripts/setup.sh --dev installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def serve(redis_url, shared_worker, shared_values) -> Iterator[Callable[..., tuple[str, httpx.Client]]]:
    """``serve(**settings)``: the API on the shared worker's queue over HTTP, ready (a worker is live); returns
    its base URL and an HTTP client for checking what the page did."""
    started: list[tuple[LiveServer, httpx.Client]] = []

    def start(**overrides: object) -> tuple[str, httpx.Client]:
        server = LiveServer(Settings(**{**shared_values, **overrides}))
        headers = {"Authorization": f"Bearer {API_KEY}"} if overrides.get("auth_enabled") else {}
        client = httpx.Client(base_url=server.url, headers=headers, timeout=30)
        started.append((server, client))
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"not ready: {client.get('/readyz').text}")
            time.sleep(0.1)
        return server.url, client

    yield start
    for server, client in started:
        client.close()
        server.stop()


@pytest.fixture
def page(browser, serve):  # after the server in setup, so closed before it: no request is cut off
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def read_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.wait_for_timeout(500)  # let the progress bar's transition finish
    page.screenshot(path=str(path), full_page=True)
    return path


def open_playground(page, url: str) -> None:
    page.goto(url)
    # the form is ready once /options named the worker's model
    page.wait_for_function("() => document.getElementById('server-status').dataset.state === 'up'")
    assert page.locator("#server-status").inner_text() == "tiny on cpu"


def record_stage_labels(page) -> None:
    """Keep every text the stage label shows in ``window.stageLabels`` (the page polls; we watch the DOM)."""
    page.evaluate(
        """() => {
        window.stageLabels = [];
        const label = document.getElementById('stage-label');
        new MutationObserver(() => {
          const text = label.textContent;
          if (window.stageLabels[window.stageLabels.length - 1] !== text) window.stageLabels.push(text);
        }).observe(label, {childList: true, characterData: true, subtree: true});
    }"""
    )


def fill_form(page, prompt: str, values: dict[str, str]) -> None:
    page.fill("#prompt", prompt)
    page.select_option("#size", values["size"])
    page.fill("#length", values["length"])
    page.fill("#num_inference_steps", values["steps"])
    page.select_option("#temporal_upsampling", values["upsampling"])
    page.fill("#seed", values["seed"])


def wait_for_playing(page, width: int, video_id: str | None = None) -> str:
    """Until the result panel shows a completed video (``video_id`` if given) whose <video> has decoded frames
    of the asked width; returns the video's id."""
    page.wait_for_function(
        """([width, id]) => {
        const result = document.getElementById('result');
        const video = document.getElementById('video');
        return result.dataset.status === 'completed' && (id === null || result.dataset.videoId === id)
          && video.readyState >= 2 && video.videoWidth === width;
    }""",
        arg=[width, video_id],
        timeout=JOB_TIMEOUT_MS,
    )
    return page.evaluate("() => document.getElementById('result').dataset.videoId")


def wait_for_another_video(page, video_id: str) -> str:
    page.wait_for_function(
        "(id) => (document.getElementById('result').dataset.videoId || id) !== id", arg=video_id
    )
    return page.evaluate("() => document.getElementById('result').dataset.videoId")


def test_submit_watch_the_stages_and_play(page, serve):
    url, client = serve()
    open_playground(page, url)

    # A 422 appears next to the field it names, and nothing is created.
    fill_form(page, "a red ball moving right", {**WATCHED, "steps": "101"})
    page.press("#prompt", "Enter")
    steps_field = page.locator(".field", has=page.locator("#num_inference_steps"))
    error = steps_field.locator(".field-error")
    error.wait_for(state="visible")
    assert "num_inference_steps" in error.inner_text() and "100" in error.inner_text()
    assert page.get_attribute("#num_inference_steps", "aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "num_inference_steps"
    assert page.locator(".field-error:visible").count() == 1
    assert client.get("/videos").json()["data"] == []

    # Fixed, submitted with Enter: the stages advance, then the MP4 plays inline.
    page.fill("#num_inference_steps", WATCHED["steps"])
    assert not error.is_visible()  # editing the field cleared its error
    record_stage_labels(page)
    page.press("#prompt", "Enter")
    first_id = wait_for_playing(page, width=32)
    shot = screenshot(page, "completed")

    labels = page.evaluate("() => window.stageLabels")
    stage_order = [STAGE_LABELS[s] for s in STAGES]
    stages_seen = [label for label in labels if label in stage_order]
    assert len(set(stages_seen)) >= 2, labels
    assert stages_seen == sorted(stages_seen, key=stage_order.index), labels  # only ever forward
    assert labels[-1] == "Complete"
    assert page.locator("#params dt:text-is('Video id') + dd").inner_text() == first_id
    first = client.get(f"/videos/{first_id}").json()
    assert first["status"] == "completed" and first["params"]["seed"] == 4242
    assert first["params"]["num_inference_steps"] == 40 and first["params"]["size"] == "32x32"

    video = page.evaluate(
        """() => { const v = document.getElementById('video');
        return {autoplay: v.autoplay, muted: v.muted, loop: v.loop, controls: v.controls,
                playsinline: v.playsInline, height: v.videoHeight, src: v.currentSrc}; }"""
    )
    assert video == {
        "autoplay": True,
        "muted": True,
        "loop": True,
        "controls": True,
        "playsinline": True,
        "height": 32,
        "src": f"{url}/videos/{first_id}/content",
    }
    page.wait_for_function("() => !document.getElementById('video').paused")  # autoplay (muted) works
    assert page.evaluate("() => document.getElementById('reference').naturalWidth") == 32
    assert page.get_attribute("#download", "href") == f"/videos/{first_id}/content"
    assert page.locator("#params dt:text-is('Seed') + dd").inner_text() == "4242"
    peak_mib = round(max(first["memory"].values()) / 2**20)
    assert page.locator("#params dt:text-is('Peak memory') + dd").inner_text() == f"{peak_mib} MiB"
    assert page.locator("#stages li[data-mark='done']").count() == 7
    assert page.locator("#cancel").is_hidden()
    assert shot.stat().st_size > 10_000


def test_image_to_video_same_again_history_and_edit_in_form(page, serve):
    url, client = serve()
    open_playground(page, url)
    fill_form(page, "a yellow ball bouncing", QUICK)
    page.fill("#negative_prompt", "blur")
    red = png_bytes(np.full((48, 64, 3), (240, 20, 20), np.uint8))
    page.set_input_files(
        "#reference_image", files=[{"name": "red.png", "mimeType": "image/png", "buffer": red}]
    )
    page.locator("#reference-preview").wait_for(state="visible")
    page.press("#prompt", "Enter")
    first_id = wait_for_playing(page, width=32)
    first = client.get(f"/videos/{first_id}").json()
    assert first["params"]["has_reference_image"] is True
    assert page.locator("#params dt:text-is('Reference image') + dd").inner_text() == "uploaded"
    reference = read_png(client.get(f"/videos/{first_id}/content?variant=reference").content)
    assert reference.shape == (32, 32, 3) and reference[..., 0].mean() > 200 and reference[..., 1].mean() < 50

    # "Same again": the same parameters, seed and reference image, so the same frames.
    page.click("#again")
    second_id = wait_for_another_video(page, first_id)
    wait_for_playing(page, width=32, video_id=second_id)
    second = client.get(f"/videos/{second_id}").json()
    assert second["params"] == first["params"] and second["params"]["negative_prompt"] == "blur"
    frames = [read_video(client.get(f"/videos/{v}/content").content) for v in (first_id, second_id)]
    assert frames[0].shape == (4, 32, 32, 3) and np.array_equal(frames[0], frames[1])

    # The history strip: newest first, with thumbnails, and clickable.
    items = page.locator("#history button[data-id]")
    page.wait_for_function("() => document.querySelectorAll('#history img[src]').length === 2")
    assert [items.nth(i).get_attribute("data-id") for i in range(2)] == [second_id, first_id]
    thumbnails = page.evaluate(
        "() => [...document.querySelectorAll('#history img')].map(i => i.naturalWidth)"
    )
    assert len(thumbnails) == 2 and min(thumbnails) > 0
    items.nth(1).click()
    wait_for_playing(page, width=32, video_id=first_id)
    assert page.evaluate("() => location.hash") == f"#{first_id}"
    assert items.nth(1).get_attribute("aria-current") is not None

    # "Edit in form" puts the effective parameters back into the form, the seed included.
    page.fill("#prompt", "")
    page.fill("#seed", "")
    page.click("#edit")
    assert page.input_value("#prompt") == "a yellow ball bouncing" and page.input_value("#seed") == "99"
    assert page.input_value("#length") == "4" and page.input_value("#num_inference_steps") == "2"
    assert page.evaluate("() => document.activeElement.id") == "prompt"


def test_queue_position_and_cancel_while_queued(page, serve):
    # A queue no worker serves (the workers' model is still what /options reports): jobs wait there.
    url, client = serve(queue_name="playground-idle")
    open_playground(page, url)
    fill_form(page, "a slow blue square", SLOW)
    page.click("#submit")
    page.locator("#status-badge", has_text="Queued").wait_for()
    first_id = page.evaluate("() => document.getElementById('result').dataset.videoId")
    assert page.locator("#stage-label").inner_text() == "Queued: position 1"
    assert page.locator("#status-line").inner_text() == "Next in line."
    page.fill("#seed", "8")
    page.click("#submit")
    second_id = wait_for_another_video(page, first_id)
    assert page.locator("#stage-label").inner_text() == "Queued: position 2"
    assert page.locator("#status-line").inner_text() == "Waiting in the queue, 1 video ahead."
    screenshot(page, "queued")

    page.click("#cancel")
    page.locator("#status-badge", has_text="Cancelled").wait_for()
    assert client.get(f"/videos/{second_id}").json()["status"] == "cancelled"
    # the first one, through the history strip: still next in line, and cancelled the same way
    page.locator(f"#history button[data-id='{first_id}']").click()
    page.wait_for_function("(id) => document.getElementById('result').dataset.videoId === id", arg=first_id)
    assert page.locator("#stage-label").inner_text() == "Queued: position 1"
    page.click("#cancel")
    page.locator("#status-badge", has_text="Cancelled").wait_for()
    assert page.locator("#cancel").is_hidden()
    assert client.get(f"/videos/{first_id}").json()["status"] == "cancelled"


def test_cancel_a_running_video(page, serve):
    url, client = serve()
    open_playground(page, url)
    fill_form(page, "a slow blue square", SLOW)
    page.click("#submit")
    page.wait_for_function(
        "() => document.getElementById('result').dataset.status === 'in_progress'", timeout=JOB_TIMEOUT_MS
    )
    video_id = page.evaluate("() => document.getElementById('result').dataset.videoId")
    page.locator("#stages li[aria-current='step']").wait_for()
    page.click("#cancel")
    page.locator("#status-badge", has_text="Cancelled").wait_for()
    assert page.locator("#cancel").is_hidden() and page.locator("#media").is_hidden()
    video = client.get(f"/videos/{video_id}").json()
    assert video["status"] == "cancelled" and video["progress"] < 90
    screenshot(page, "cancelled")


def test_failed_job_and_rate_limit_are_shown_with_their_codes(page, serve, shared_values, redis_url):
    url, client = serve(job_timeout_s=1, rate_limit_per_minute=1)
    open_playground(page, url)
    fill_form(page, "too slow for a one second limit", SLOW)
    page.click("#submit")
    error = page.locator("#job-error")
    error.wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    assert error.inner_text().startswith("timeout: ")
    assert page.locator("#status-badge").inner_text().lower() == "failed"

    # One more submission is over the limit (the counters of this minute and the next say so, whenever the
    # clock turns): a 429, the wait the server asked for, and a waiting button.
    keys = Keys(str(shared_values["key_prefix"]))
    window = int(time.time() // 60)
    for w in (window, window + 1):
        redis.Redis.from_url(redis_url).set(keys.rate("ip:127.0.0.1", w), 1, ex=180)
    page.click("#submit")
    banner = page.locator("#banner")
    banner.wait_for(state="visible")
    assert "rate_limited" in banner.inner_text() and "You can submit again in" in banner.inner_text()
    assert page.locator("#submit").is_disabled() and page.locator("#submit").inner_text().startswith("Wait ")
    assert len(client.get("/videos").json()["data"]) == 1
    screenshot(page, "rate-limited")


def test_api_key_is_asked_for_kept_and_used_for_media(browser, serve):
    url, client = serve(auth_enabled=True, api_keys=[API_KEY])
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    try:
        page.goto(url)
        dialog = page.locator("#key-dialog")
        dialog.wait_for(state="visible")
        page.fill("#api-key", "wrong-key")
        page.click("#key-save")
        # the history request with a wrong key is refused and the dialog comes back, saying why
        page.locator("#key-error", has_text="invalid API key").wait_for()
        page.fill("#api-key", API_KEY)
        page.press("#api-key", "Enter")
        dialog.wait_for(state="hidden")
        assert page.evaluate("() => localStorage.getItem('videogen.apiKey')") == API_KEY

        fill_form(page, "a green ball moving left", {**QUICK, "seed": "5"})
        page.press("#prompt", "Enter")
        wait_for_playing(page, width=32)
        # with auth on the media is fetched with the key and played from a blob
        assert page.evaluate("() => document.getElementById('video').currentSrc").startswith("blob:")
        assert page.evaluate("() => document.getElementById('reference').naturalWidth") == 32
        assert client.get("/videos").json()["data"][0]["params"]["seed"] == 5

        # readable on a phone: nothing wider than the screen
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        screenshot(page, "phone")

        # the key survives a reload
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#history img[src]').length === 1")
        assert not dialog.is_visible()
    finally:
        context.close()


def test_every_control_has_a_label_and_the_form_works_from_the_keyboard(page, serve):
    url, client = serve()
    open_playground(page, url)
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.textContent.trim())
        .map(el => el.id || el.outerHTML)"""
    )
    assert unlabeled == []
    # Tab from the top: the skip link, then the prompt; the dice button is reachable and picks a seed.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "prompt"
    page.focus("#seed")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "dice"
    page.keyboard.press("Enter")
    seed = page.input_value("#seed")
    assert seed.isdigit() and 0 <= int(seed) < 2**32
    # An empty prompt is the server's 422, shown next to the prompt.
    page.focus("#prompt")
    page.keyboard.press("Enter")
    error = page.locator("#err-prompt")
    error.wait_for(state="visible")
    assert "prompt" in error.inner_text()
    assert client.get("/videos").json()["data"] == []
