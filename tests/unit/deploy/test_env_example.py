""".env.example and the settings table in docs/operations.md list exactly the fields of ``core.settings.Settings``;
every value they show is what the code, the images or compose really use; and every variable the compose files
read is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dockerfile_model import read_dockerfile

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
ENV_LINE = re.compile(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$")
FIELDS = Settings.model_fields


def env_example() -> dict[str, tuple[bool, str]]:
    """``{NAME: (commented, value)}`` for every ``NAME=value`` line of .env.example."""
    entries = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = ENV_LINE.match(line)
        if match:
            name = match.group(2)
            assert name not in entries, f".env.example sets {name} twice"
            entries[name] = (match.group(1) == "#", match.group(3))
    return entries


def setting_name(variable: str) -> str:
    return variable.removeprefix("VIDEOGEN_").lower()


def parsed(name: str, value: str) -> object:
    """``value`` as the service would read it from the environment."""
    return getattr(Settings(**{name: value or None} if FIELDS[name].default is None else {name: value}), name)


def test_every_setting_is_in_env_example_and_nothing_else_is():
    variables = {n for n in env_example() if n.startswith("VIDEOGEN_")}
    names = {setting_name(v) for v in variables}
    missing = sorted(f"VIDEOGEN_{n.upper()}" for n in set(FIELDS) - names)
    unknown = sorted(f"VIDEOGEN_{n.upper()}" for n in names - set(FIELDS))
    assert not missing, f"add these settings to .env.example (and docs/operations.md): {missing}"
    assert not unknown, f".env.example names variables core/settings.py does not read: {unknown}"


def effective_defaults(compose_config) -> dict[str, str]:
    """What the compose stack's API and worker get for a variable left unset: compose's environment, else the
    image's ENV (API image, GPU worker image), else nothing (the code's default applies)."""
    project = compose_config("docker-compose.yml")
    values: dict[str, str] = {}
    api = read_dockerfile(ROOT / "docker" / "Dockerfile.api").stages["api"].env
    worker = read_dockerfile(ROOT / "docker" / "Dockerfile.worker").stages["gpu"].env
    for image_env in (api, worker):
        values.update({k: v for k, v in image_env.items() if k.startswith("VIDEOGEN_")})
    for service in ("api", "worker"):
        values.update(project["services"][service]["environment"])
    return values


def test_commented_values_are_what_the_stack_uses(compose_config, tmp_path: Path):
    """A commented line shows the value in effect when it stays commented. (The filled env only sets the two
    secrets, so compose's view here is that of an untouched .env.example.)"""
    stack = effective_defaults(compose_config)
    checked = 0
    for variable, (commented, value) in env_example().items():
        if not (commented and variable.startswith("VIDEOGEN_")):
            continue
        name = setting_name(variable)
        if variable in stack:
            assert parsed(name, value) == parsed(name, stack[variable]), (
                f".env.example shows {variable}={value} but the stack uses {stack[variable]!r}"
            )
        else:
            assert parsed(name, value) == FIELDS[name].default, (
                f".env.example shows {variable}={value} but the default is {FIELDS[name].default!r}"
            )
        checked += 1
    assert checked >= 40


def test_active_values_are_valid_settings():
    for variable, (commented, value) in env_example().items():
        if variable.startswith("VIDEOGEN_") and not commented:
            parsed(setting_name(variable), value)  # raises on anything the service would refuse


def test_compose_variables_are_documented():
    """Every ``${NAME}`` the compose files interpolate is in .env.example."""
    documented = set(env_example())
    used: set[str] = set()
    for path in [
        ROOT / "docker-compose.yml",
        ROOT / "docker-compose.cpu.yml",
        *ROOT.glob("docker/compose*.yml"),
    ]:
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", path.read_text()))
    assert used - documented == set(), "document these in .env.example"


def settings_table() -> dict[str, str]:
    """``{VARIABLE: default cell}`` from the settings table in docs/operations.md."""
    rows = {}
    for line in (ROOT / "docs" / "operations.md").read_text().splitlines():
        match = re.match(r"^\| `(VIDEOGEN_[A-Z0-9_]+)` \| ([^|]*) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_settings_table_lists_every_setting_with_its_default():
    rows = settings_table()
    assert {setting_name(v) for v in rows} == set(FIELDS), (
        "docs/operations.md's settings table and core/settings.py disagree: "
        f"missing {sorted(set(FIELDS) - {setting_name(v) for v in rows})}, "
        f"unknown {sorted({setting_name(v) for v in rows} - set(FIELDS))}"
    )
    for variable, cell in rows.items():
        name = setting_name(variable)
        shown = "" if cell == "(empty)" else cell.strip("`")
        assert parsed(name, shown) == FIELDS[name].default, f"{variable}: the table shows {cell}"


@pytest.mark.parametrize("variable", ["VIDEOGEN_API_KEYS", "VIDEOGEN_S3_SECRET_ACCESS_KEY"])
def test_secrets_ship_empty(variable: str):
    commented, value = env_example()[variable]
    assert not commented and value == ""
