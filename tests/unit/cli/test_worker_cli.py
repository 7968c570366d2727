"""``videogen worker`` flags become the worker's settings (the worker loop itself is tested in tests/unit/worker)."""

import pytest

import worker.main
from cli.main import main
from core.video import Priority


@pytest.fixture
def started(monkeypatch):
    """The settings ``videogen worker`` would start a worker with."""
    seen = {}

    def fake_run_worker(settings, name=None, burst=False):
        seen.update(settings=settings, name=name, burst=burst)
        return 0

    monkeypatch.setattr(worker.main, "run_worker", fake_run_worker)
    return seen


def test_flags_override_the_environment(started, monkeypatch):
    monkeypatch.setenv("VIDEOGEN_WORKER_PRIORITIES", "low")
    args = [
        "worker",
        "--model",
        "tiny",
        "--priorities",
        "high, normal",
        "--torch-compile",
        "--name",
        "w",
        "--burst",
    ]
    assert main(args) == 0
    settings = started["settings"]
    assert settings.model == "tiny" and settings.torch_compile is True
    assert settings.worker_priorities == [Priority.HIGH, Priority.NORMAL]
    assert started["name"] == "w" and started["burst"] is True


def test_without_flags_the_environment_decides(started, monkeypatch):
    monkeypatch.setenv("VIDEOGEN_WORKER_PRIORITIES", "low")
    monkeypatch.setenv("VIDEOGEN_TORCH_COMPILE", "true")
    assert main(["worker"]) == 0
    assert (
        started["settings"].worker_priorities == [Priority.LOW] and started["settings"].torch_compile is True
    )


def test_a_bad_setting_is_one_clear_line(started, capsys, monkeypatch):
    assert main(["worker", "--priorities", "urgent"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "videogen worker: error: VIDEOGEN_WORKER_PRIORITIES.0: Input should be 'high', 'normal' or 'low'\n"
    )
    monkeypatch.setenv("VIDEOGEN_MAX_QUEUED", "0")
    assert main(["worker"]) == 2
    assert capsys.readouterr().err.endswith(
        "VIDEOGEN_MAX_QUEUED: Input should be greater than or equal to 1\n"
    )
    assert "settings" not in started  # no worker started
