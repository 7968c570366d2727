"""The images agree with pyproject.toml: the same torch, a Python that satisfies ``requires-python`` (the same
minor in every image), every pinned package inside the project's own range, CUDA / TensorRT / onnxruntime builds
that fit together, every project package copied in, a non-root user and a healthcheck. And the slim API image
holds everything the API imports, and no torch."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_model import Dockerfile, read_dockerfile
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
API = read_dockerfile(ROOT / "docker" / "Dockerfile.api")
WORKER = read_dockerfile(ROOT / "docker" / "Dockerfile.worker")
RUNTIME_STAGES = [(API, "api"), (API, "dashboard"), (WORKER, "cpu"), (WORKER, "gpu")]


def project_requirements(*extras: str) -> dict[str, SpecifierSet]:
    """The base dependencies plus ``extras``, following the extras' references to ``videogen[...]`` itself."""
    own = canonicalize_name(PYPROJECT["project"]["name"])
    reqs = list(PYPROJECT["project"]["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in PYPROJECT["project"]["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == own:
                todo += sorted(req.extras)
            else:
                reqs.append(text)
    return {canonicalize_name(r.name): r.specifier for r in map(Requirement, reqs)}


def requirements_file(name: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / "docker" / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{name}: {line} is not pinned with =="
            pins[canonicalize_name(req.name)] = spec.version
    return pins


def stage_pins(dockerfile: Dockerfile, stage: str, *files: str) -> dict[str, str]:
    """Every ``pkg==version`` a stage installs: its requirement files plus its own pip lines."""
    s = dockerfile.stages[stage]
    args = {**dockerfile.args, **s.env}
    pins = {canonicalize_name(k): v for k, v in s.pip_pins(args).items()}
    for f in files:
        pins.update(requirements_file(f))
    return pins


def python_minor(dockerfile: Dockerfile, stage: str) -> str:
    """The Python X.Y a stage runs: from a python:X.Y.Z image tag, or the python3.X it installs with apt."""
    s = dockerfile.stages[stage]
    match = re.match(r"python:(\d+\.\d+)", s.base)
    if match:
        return match.group(1)
    for run in s.all("RUN"):
        match = re.search(r"apt-get install[^&]*\bpython(3\.\d+)-venv\b", run)
        if match:
            return match.group(1)
    raise AssertionError(f"{dockerfile.path.name} stage {stage}: cannot tell its Python version")


def test_every_image_runs_one_python_that_the_project_supports():
    requires = SpecifierSet(PYPROJECT["project"]["requires-python"])
    minors = {python_minor(d, s) for d, s in RUNTIME_STAGES}
    assert len(minors) == 1, f"images disagree on Python: {minors}"
    (minor,) = minors
    assert Version(f"{minor}.0") in requires, f"Python {minor} is outside requires-python {requires}"
    target = PYPROJECT["tool"]["ruff"][
        "target-version"
    ]  # e.g. py311: the oldest Python the code is written for
    assert Version(minor) >= Version(f"{target[2]}.{target[3:]}")


def test_torch_is_the_projects_pin_in_both_worker_targets():
    (torch_spec,) = project_requirements("worker")["torch"]
    assert torch_spec.operator == "=="
    assert WORKER.args["TORCH_VERSION"] == torch_spec.version
    for stage in ("cpu", "gpu"):
        assert stage_pins(WORKER, stage)["torch"] == torch_spec.version


def test_cpu_target_takes_torch_from_the_cpu_index():
    runs = " ".join(WORKER.stages["cpu"].all("RUN"))
    assert "download.pytorch.org/whl/cpu" in runs


def test_cuda_base_tensorrt_and_onnxruntime_gpu_fit_together():
    gpu = WORKER.stages["gpu"]
    match = re.match(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-(?:cudnn-)?runtime-ubuntu(\d+\.\d+)$", gpu.base)
    assert match, f"the GPU stage must start from a CUDA runtime image, not {gpu.base}"
    cuda = f"{match.group(1)}.{match.group(2)}"
    assert cuda == WORKER.args["TORCH_CUDA"], "the CUDA base must be the CUDA torch's wheel is built for"
    pins = stage_pins(WORKER, "gpu", "requirements-worker.txt")
    gpu_extra = project_requirements("gpu")
    for name in ("tensorrt", "onnxruntime-gpu"):
        assert name in pins, f"the GPU image does not install {name}"
        assert Version(pins[name]) in gpu_extra[name], f"{name}=={pins[name]} is outside the gpu extra"
    assert "onnxruntime" not in pins, "onnxruntime and onnxruntime-gpu cannot share an environment"
    # TensorRT 10 is the API export/tensorrt_build.py is written against (explicit-batch networks, precision flags).
    assert Version(pins["tensorrt"]).major == 10


@pytest.mark.parametrize(
    ("dockerfile", "stage", "files"),
    [
        (API, "api", ("requirements-api.txt",)),
        (API, "dashboard", ("requirements-api.txt",)),
        (WORKER, "cpu", ("requirements-worker.txt",)),
        (WORKER, "gpu", ("requirements-worker.txt",)),
    ],
)
def test_every_pin_is_inside_the_projects_range(dockerfile: Dockerfile, stage: str, files: tuple[str, ...]):
    ranges = project_requirements("cpu", "gpu", "train", "local")
    pins = stage_pins(dockerfile, stage, *files)
    checked = 0
    for name, version in pins.items():
        if name in ranges:
            assert Version(version) in ranges[name], f"{stage}: {name}=={version} is outside {ranges[name]}"
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    ("dockerfile", "stage", "file", "extra"),
    [
        (API, "api", "requirements-api.txt", "api"),
        (WORKER, "cpu", "requirements-worker.txt", "cpu"),
        (WORKER, "gpu", "requirements-worker.txt", "gpu"),
    ],
)
def test_each_image_installs_exactly_its_extra(dockerfile: Dockerfile, stage: str, file: str, extra: str):
    """An image's packages are the base dependencies plus its role's extra: nothing missing, nothing else."""
    pins = set(stage_pins(dockerfile, stage, file))
    required = set(project_requirements(extra))
    assert required - pins == set(), f"{stage} image misses {required - pins}"
    assert pins - required == set(), f"{stage} image installs {pins - required}, which .[{extra}] does not"


def test_gpu_extra_replaces_onnxruntime_instead_of_adding_it():
    assert "onnxruntime" not in project_requirements("gpu")
    assert "onnxruntime-gpu" in project_requirements("gpu")
    assert {"onnxruntime", "onnxruntime-gpu"} & set(project_requirements("worker")) == set()


def test_api_extra_and_image_install_no_torch_stack():
    torch_stack = {"torch", "diffusers", "transformers", "accelerate", "onnxruntime", "onnx", "numpy"}
    assert not torch_stack & set(stage_pins(API, "api", "requirements-api.txt"))
    assert not torch_stack & set(project_requirements("api"))


def test_dev_extra_pulls_every_role_the_tests_need():
    dev = set(project_requirements("dev"))
    assert set(project_requirements("api", "cpu", "train", "local")) <= dev
    assert "onnxruntime-gpu" not in dev


def test_license_is_an_spdx_string_and_rq_is_3():
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    build = {
        canonicalize_name(r.name): r.specifier
        for r in map(Requirement, PYPROJECT["build-system"]["requires"])
    }
    assert "76" not in build["setuptools"] and "77" in build["setuptools"]  # SPDX strings need setuptools 77
    rq = project_requirements()["rq"]
    assert "3.0.0" in rq and "2.9" not in rq and "4.0" not in rq


def distribution_closure(names: set[str]) -> set[str]:
    """``names`` and everything they require (unconditional requirements), from the installed metadata."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


API_IMPORTS = """
import importlib.abc, importlib.metadata as md, json, sys
from packaging.utils import canonicalize_name
allowed = set(json.loads(sys.argv[1]))
owners = md.packages_distributions()
project = {"core", "service", "worker", "cli", "models", "export"}

class OnlyTheImage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in project:
            return None
        dists = {canonicalize_name(d) for d in owners.get(top, [])}
        if dists and not dists & allowed:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the API image)", name=name)
        return None

sys.meta_path.insert(0, OnlyTheImage())
import uvicorn, cli.main
cli.main.build_parser()
from fastapi.testclient import TestClient
from core.settings import Settings
from core.storage import S3Storage
from service.app import create_app
import service.routes.videos, service.routes.content, service.submission, service.reference
S3Storage(Settings(storage="s3", s3_endpoint_url="http://127.0.0.1:1"))
app = create_app(Settings(auth_enabled=False, redis_url="redis://127.0.0.1:1/0"), maintenance=False)
assert TestClient(app).get("/healthz").status_code == 200
print(",".join(m for m in ("torch", "diffusers", "numpy", "models") if m in sys.modules))
"""


def test_api_image_holds_everything_the_api_imports():
    """Run what ``videogen serve`` imports (the CLI, uvicorn, the app, S3 storage) where only the distributions
    the API image installs can be imported: it must work, and load no torch."""
    import json

    allowed = distribution_closure(set(requirements_file("requirements-api.txt")) | {"httpx"})
    result = subprocess.run(
        [sys.executable, "-c", API_IMPORTS, json.dumps(sorted(allowed))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""


def test_every_project_package_is_copied_into_both_images():
    packages = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    for dockerfile in (API, WORKER):
        copied = {rest.split()[0] for rest in dockerfile.stages["wheel"].all("COPY")}
        assert packages <= copied, f"{dockerfile.path.name} does not copy {packages - copied}"


def test_copied_files_exist_and_are_in_the_build_context():
    """Every COPY source exists and the whitelist in .dockerignore lets it through."""
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for dockerfile in (API, WORKER):
        for stage in dockerfile.stages.values():
            for rest in stage.all("COPY"):
                words = [w for w in rest.split() if not w.startswith("--")]
                for source in words[:-1]:
                    assert (ROOT / source).exists(), f"{dockerfile.path.name}: COPY {source} does not exist"
                    top = source.split("/")[0]
                    assert top in allowed, f"{source} is excluded from the build context by .dockerignore"


@pytest.mark.parametrize(("dockerfile", "stage"), RUNTIME_STAGES)
def test_runtime_images_run_as_a_non_root_user(dockerfile: Dockerfile, stage: str):
    users = dockerfile.stages[stage].all("USER")
    assert users and users[-1].split(":")[0] not in ("0", "root")


@pytest.mark.parametrize(("dockerfile", "stage"), [(API, "api"), (WORKER, "cpu"), (WORKER, "gpu")])
def test_service_images_have_a_healthcheck(dockerfile: Dockerfile, stage: str):
    (check,) = dockerfile.stages[stage].all("HEALTHCHECK")
    assert "healthcheck.py" in check


def test_worker_images_keep_engines_on_a_volume_and_read_models_from_a_mount():
    for stage in ("cpu", "gpu"):
        s = WORKER.stages[stage]
        assert s.env["VIDEOGEN_ENGINE_DIR"] == "/cache/engines"
        assert s.env["VIDEOGEN_MODEL"].startswith("/models/")
        assert any("/cache/engines" in v for v in s.all("VOLUME"))
        assert s.all("ENTRYPOINT") == ['["videogen-worker-entrypoint"]']


def test_worker_images_default_to_the_fastest_backend():
    """Both targets run ``auto``: on a CPU, ONNX Runtime for the modules it measured faster, torch for the rest."""
    for stage in ("cpu", "gpu"):
        assert WORKER.stages[stage].env["VIDEOGEN_BACKEND"] == "auto", stage


def test_default_build_targets():
    """``docker build`` without --target gives the API and the GPU worker."""
    assert API.final.name == "api"
    assert WORKER.final.name == "gpu"
