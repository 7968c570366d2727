import pytest
from pydantic import ValidationError

from core.errors import InvalidInputError
from core.params import TINY_PRESET_CAPABILITIES, VideoRequest, fill_for_model, resolve_params
from core.settings import Settings

TINY = TINY_PRESET_CAPABILITIES  # the tiny preset: 8 frames at 32x32, 4 steps, guidance 3


@pytest.fixture
def settings():
    return Settings(allowed_sizes=["32x32", "64x64", "36x36"], max_num_frames=64, auth_enabled=False)


def test_defaults_are_filled_from_the_model_and_a_seed_is_drawn(settings):
    p = resolve_params(VideoRequest(prompt="a ball"), settings, TINY, has_reference=False)
    assert (p.num_frames, p.size, p.num_inference_steps, p.guidance_scale) == (8, "32x32", 4, 3.0)
    assert p.temporal_upsampling == 1 and p.fps == settings.default_fps
    assert 0 <= p.seed < 2**32 and p.is_complete


def test_without_capabilities_open_fields_stay_open(settings):
    p = resolve_params(VideoRequest(prompt="a ball", seed=5), settings, None, has_reference=True)
    assert p.seed == 5 and p.num_frames is None and p.size is None and p.has_reference_image
    assert not p.is_complete


def test_seconds_times_fps_gives_frames(settings):
    p = resolve_params(VideoRequest(prompt="x", seconds=2, fps=6), settings, TINY, False)
    assert p.num_frames == 12 and p.fps == 6


def test_unspecified_upsampling_rises_until_the_frames_fit(settings):
    # 40 frames at the default 1 doubling needs 21 base frames > 16; 2 doublings need 11
    p = resolve_params(VideoRequest(prompt="x", num_frames=40), settings, TINY, False)
    assert p.temporal_upsampling == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"num_frames": 8, "seconds": 1}, "not both"),
        ({"size": "128x128"}, "not allowed"),
        ({"num_frames": 65}, "above the limit"),
        ({"num_frames": 40, "temporal_upsampling": 1}, "base frames"),
        ({"size": "36x36"}, "multiples of 8"),
        ({"fps": 31}, "fps"),
        ({"metadata": {"k": "v" * 3000}}, "metadata"),
        ({"num_inference_steps": 101}, "num_inference_steps"),
    ],
)
def test_limits_and_model_checks_name_the_problem(settings, fields, message):
    with pytest.raises(InvalidInputError, match=message):
        resolve_params(VideoRequest(prompt="x", **fields), settings, TINY, False)


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": "   "},
        {"prompt": "x", "unknown": 1},
        {"prompt": "x", "seed": -1},
        {"prompt": "x", "size": "64"},
        {"prompt": "x", "temporal_upsampling": 4},
        {"prompt": "x", "guidance_scale": float("nan")},
    ],
)
def test_request_schema_refuses_bad_fields(fields):
    with pytest.raises(ValidationError):
        VideoRequest.model_validate(fields)


def test_fill_for_model_keeps_what_the_client_chose():
    from core.video import VideoParams

    p = VideoParams(
        prompt="x", fps=8, seed=1, num_frames=5, size="64x64", temporal_upsampling=0, guidance_scale=0
    )
    filled = fill_for_model(p, TINY)
    assert (filled.num_frames, filled.size, filled.temporal_upsampling, filled.guidance_scale) == (
        5,
        "64x64",
        0,
        0,
    )
    assert filled.num_inference_steps == 4
