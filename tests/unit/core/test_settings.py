import pytest
from pydantic import ValidationError

from core.settings import Settings, get_settings, parse_size


def test_env_prefix_lists_and_redis_url_alias(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://example:6380/2")
    monkeypatch.setenv("VIDEOGEN_ALLOWED_SIZES", "32x32, 64x48")
    monkeypatch.setenv("VIDEOGEN_API_KEYS", '["k1", "k2"]')
    monkeypatch.setenv("VIDEOGEN_MAX_QUEUED", "7")
    s = Settings()
    assert s.redis_url == "redis://example:6380/2"
    assert s.allowed_sizes == ["32x32", "64x48"]
    assert s.size_pairs == [(32, 32), (64, 48)]
    assert [k.get_secret_value() for k in s.api_keys] == ["k1", "k2"]
    assert "k1" not in repr(s) and "k2" not in str(s.model_dump())  # secrets stay out of reprs and logs
    assert s.max_queued == 7


def test_defaults_cover_demo_and_tiny_sizes(monkeypatch):
    monkeypatch.delenv("VIDEOGEN_ALLOWED_SIZES", raising=False)
    s = Settings()
    assert {"64x64", "32x32"} <= set(s.allowed_sizes)
    assert s.model == "demo" and s.storage == "local" and s.backend == "auto" and s.dtype == "auto"


@pytest.mark.parametrize("bad", ["64", "0x64", "64x", "axb", "64x64x3"])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(ValueError):
        parse_size(bad)
    with pytest.raises(ValidationError):
        Settings(allowed_sizes=[bad])


def test_webhook_secret_must_be_whsec_base64():
    with pytest.raises(ValidationError, match="base64"):
        Settings(webhook_secret="whsec_not base64!")
    assert Settings(webhook_secret="whsec_" + "A" * 32).webhook_secret


def test_get_settings_is_cached(monkeypatch):
    get_settings.cache_clear()
    try:
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()
