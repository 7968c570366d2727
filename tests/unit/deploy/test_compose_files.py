"""The compose files validate with the real Compose v2 binary and wire the stack the way docs/operations.md says:
GPU reservation in the default file, none in the CPU file, persistence on volumes, the bucket made before the
service starts, secrets required, ports on loopback, and a stop grace period above the worker's drain window."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]

BASE = "docker-compose.yml"
CPU = "docker-compose.cpu.yml"
MULTI_GPU = "docker/compose.multi-gpu.yml"
ALL_PROFILES = ("dashboard", "monitoring", "gpu-monitoring")


def seconds(duration: str) -> float:
    """Compose's normalised durations (``10m20s``, ``5m0s``, ``30s``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts, duration
    return sum(float(value) * units[unit] for value, unit in parts)


def gpu_devices(service: dict) -> list[dict]:
    reservations = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    return reservations.get("devices", [])


def test_the_validator_rejects_an_invalid_file(compose, tmp_path: Path):
    """The check below means something: Compose exits non-zero on a file that breaks its schema."""
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  api:\n    image: x\n    restart: sometimes-maybe\n    portz: [1]\n")
    result = compose("-f", str(bad), "config", "-q")
    assert result.returncode != 0
    assert "portz" in result.stderr or "restart" in result.stderr


def test_every_compose_file_validates(compose, filled_env: Path):
    for files in ([BASE], [BASE, CPU], [BASE, MULTI_GPU]):
        args = [arg for f in files for arg in ("-f", f)]
        for profile in ALL_PROFILES:
            args += ["--profile", profile]
        result = compose(*args, "config", "-q", env_file=filled_env)
        assert result.returncode == 0, f"{files}: {result.stderr}"


def test_the_s3_secret_is_required(compose):
    """Without a .env (or with .env.example unedited) compose refuses to start and names the missing value."""
    result = compose("-f", BASE, "config", "-q", env_file=ROOT / ".env.example")
    assert result.returncode != 0
    assert "VIDEOGEN_S3_SECRET_ACCESS_KEY" in result.stderr


def test_gpu_stack_reserves_one_nvidia_gpu_per_worker(compose_config):
    project = compose_config(BASE)
    worker = project["services"]["worker"]
    assert worker["build"]["target"] == "gpu"
    (device,) = gpu_devices(worker)
    assert device["driver"] == "nvidia"
    assert device["capabilities"] == ["gpu"]
    assert device["count"] == 1


def test_cpu_stack_has_no_gpu_and_runs_the_cpu_image(compose_config):
    project = compose_config(BASE, CPU)
    worker = project["services"]["worker"]
    assert gpu_devices(worker) == []
    assert worker["build"]["target"] == "cpu"
    assert worker["environment"]["VIDEOGEN_DEVICE"] == "cpu"
    assert worker["environment"]["VIDEOGEN_MODEL"] == "/models/demo"  # from .env.example: the demo model
    # The fastest backend by default, as on a GPU: ONNX Runtime where it measured faster, torch for the rest.
    assert worker["environment"]["VIDEOGEN_BACKEND"] == "auto"
    # ... and what the entrypoint exports stays on the named volume, so a second start does not export again.
    mounts = {m["target"]: m for m in worker["volumes"]}
    assert mounts["/cache/engines"]["type"] == "volume" and mounts["/cache/engines"]["source"] == "engines"
    assert worker["environment"].get("WORKER_ENGINES", "auto") == "auto"
    for name, service in project["services"].items():
        assert gpu_devices(service) == [], f"{name} still reserves a GPU in the CPU stack"


def test_multi_gpu_override_pins_one_gpu_per_worker(compose_config):
    project = compose_config(BASE, MULTI_GPU)
    workers = {n: s for n, s in project["services"].items() if n.startswith("worker")}
    assert len(workers) >= 2
    ids = [tuple(gpu_devices(s)[0]["device_ids"]) for s in workers.values()]
    assert all(len(i) == 1 for i in ids) and len(set(ids)) == len(ids), ids
    for service in workers.values():
        assert "CUDA_VISIBLE_DEVICES" not in service.get("environment", {})  # the container sees only its GPU


def test_worker_mounts_the_model_read_only_and_caches_engines_on_a_volume(compose_config):
    worker = compose_config(BASE)["services"]["worker"]
    mounts = {m["target"]: m for m in worker["volumes"]}
    assert mounts["/models"]["read_only"] is True
    assert mounts["/cache/engines"]["type"] == "volume"
    assert worker["environment"]["VIDEOGEN_MODEL"].startswith("/models/")
    assert worker["init"] is True  # PID 1 forwards SIGTERM


def test_worker_gets_time_to_drain_and_hand_back_its_job_on_sigterm(compose_config):
    """The grace period covers the drain window plus the hand-back and the process's exit."""
    worker = compose_config(BASE)["services"]["worker"]
    assert seconds(worker["stop_grace_period"]) >= Settings().worker_drain_s + 15


def test_redis_and_the_store_persist_on_named_volumes(compose_config):
    project = compose_config(BASE)
    redis = project["services"]["redis"]
    assert {"type": "volume", "target": "/data"}.items() <= redis["volumes"][0].items()
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    s3 = project["services"]["s3"]
    assert s3["volumes"][0]["type"] == "volume"
    assert {"redis-data", "s3-data", "engines"} <= set(project["volumes"])


def test_bucket_is_created_before_api_and_workers_start(compose_config):
    project = compose_config(BASE)
    assert "init_bucket.py" in " ".join(project["services"]["bucket"]["command"])
    for name in ("api", "worker"):
        depends = project["services"][name]["depends_on"]
        assert depends["bucket"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"


def test_store_credentials_are_the_services_own(compose_config):
    project = compose_config(BASE)
    content = project["configs"]["seaweedfs-s3"]["content"]
    env = project["services"]["api"]["environment"]
    assert env["VIDEOGEN_S3_SECRET_ACCESS_KEY"] == "s3-secret-for-tests"
    assert f'"secretKey": "{env["VIDEOGEN_S3_SECRET_ACCESS_KEY"]}"' in content
    assert f'"accessKey": "{env["VIDEOGEN_S3_ACCESS_KEY_ID"]}"' in content


def test_published_ports_bind_to_loopback_by_default(compose_config):
    project = compose_config(BASE, profiles=ALL_PROFILES)
    for name, service in project["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond this host"


def test_services_with_healthchecks(compose_config):
    project = compose_config(BASE)
    for name in ("redis", "api", "worker"):
        assert project["services"][name]["healthcheck"]["test"], name


def test_third_party_images_are_pinned(compose_config):
    project = compose_config(BASE, profiles=ALL_PROFILES)
    for name, service in project["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, f"{name}: {image} has no pinned tag"


def test_image_tag_defaults_to_the_project_version(compose_config):
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    project = compose_config(BASE)
    assert project["services"]["api"]["image"] == f"videogen-api:{version}"
    assert project["services"]["worker"]["image"] == f"videogen-worker:{version}"
