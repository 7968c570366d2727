"""Shared fixtures. Model fixtures build the ``tiny`` preset in code: a few MB, no files."""

from __future__ import annotations

import io
import logging
import os

import pytest

from core.logging import make_handler

# Two CPU cores in CI: keep torch from oversubscribing them when several processes run.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_pipeline():
    """One tiny VideoGenPipeline per test session (random weights, seed 0). Do not mutate it."""
    from models.loading import load_pipeline

    return load_pipeline("tiny")


# An SD 1.x-shaped tiny UNet: attention in every block but the last, the same head count at every width (so
# channels per head 8/16/16, as SD 1.5's 8 heads give 40/80/160/160), 1x1-conv attention projections.
TINY_SD1_UNET = {
    "block_out_channels": (16, 32, 32),
    "layers_per_block": 1,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 32,
    "attention_head_dim": 2,
    "use_linear_projection": False,
    "norm_num_groups": 8,
    "sample_size": 16,
}


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory):
    """A random-weights Stable Diffusion folder in the diffusers layout (the tiny preset's SD parts: 2 blocks,
    16x16 latents, a 2-layer CLIP, the offline tokenizer), written with ``save_pretrained``. Do not modify it."""
    return _write_tiny_sd(tmp_path_factory.mktemp("sd"), None)


@pytest.fixture(scope="session")
def tiny_sd1_dir(tmp_path_factory):
    """``tiny_sd_dir`` with an SD 1.x-shaped UNet (``TINY_SD1_UNET``: one head count, head size per block)."""
    return _write_tiny_sd(tmp_path_factory.mktemp("sd1"), TINY_SD1_UNET)


def _write_tiny_sd(folder, unet_config):
    """Write a tiny random SD folder into ``folder``; ``unet_config`` None takes the tiny preset's UNet."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from models.presets import PRESETS, SCHEDULER
    from models.tokenizer import build_tokenizer

    torch.manual_seed(0)
    tiny = PRESETS["tiny"]
    tokenizer = build_tokenizer()
    text_config = {"vocab_size": len(tokenizer), "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    unet = UNet2DConditionModel(in_channels=4, out_channels=4, **(unet_config or tiny.reference_unet))
    # Random weights where diffusers zero-initialises (output convs), so no equality holds trivially.
    with torch.no_grad():
        for p in unet.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.05)
    sd = StableDiffusionPipeline(
        vae=AutoencoderKL(**tiny.vae),
        text_encoder=CLIPTextModel(CLIPTextConfig(**{**text_config, **tiny.text_encoder})),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=DDIMScheduler(**SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    sd.save_pretrained(folder, safe_serialization=True)
    return folder


# --- service, worker and core tests: a real Redis on a dedicated DB, flushed before and after each test ---

SERVICE_REDIS_URL = os.environ.get("VIDEOGEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def service_redis_url():
    """The test Redis DB URL, for session-scoped fixtures (processes that outlive one test)."""
    return SERVICE_REDIS_URL


@pytest.fixture
def redis_url():
    """The URL of the test Redis DB, empty before and after the test."""
    import redis

    client = redis.Redis.from_url(SERVICE_REDIS_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {SERVICE_REDIS_URL} ({exc}); start it with"
            " `redis-server --daemonize yes --port 6379 --save '' --appendonly no`"
        )
    yield SERVICE_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def make_settings(redis_url, tmp_path):
    """``make_settings(**overrides)``: service Settings on the test Redis DB and a temporary data folder, auth
    off, fast sweeps, no warm-up; the environment is not read for anything the test sets."""
    from core.settings import Settings

    def make(**overrides):
        values = {
            "redis_url": redis_url,
            "data_dir": tmp_path / "data",
            "auth_enabled": False,
            "model": "tiny",
            "warmup": False,
            "heartbeat_ttl_s": 3.0,
            "maintenance_interval_s": 0.5,
            "progress_interval_s": 0.0,
            "webhook_backoff_s": 0.2,
            "storage_retry_backoff_s": 0.1,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def json_log():
    """The root logger at INFO writing JSON lines to a buffer (beside pytest's own handlers)."""
    root = logging.getLogger()
    buffer, level = io.StringIO(), root.level
    handler = make_handler("json", buffer)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)
