"""A small reader for this project's Dockerfiles: stages with their base image, ARG defaults, ENV values,
instructions and the ``name==version`` pins their ``pip install`` lines carry. Enough to check the images against
pyproject.toml without a Docker engine; not a general Dockerfile parser."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([A-Za-z0-9_.+\-]+)$")


@dataclass
class Stage:
    name: str
    base: str  # the FROM image with ARGs substituted
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, rest of line)
    env: dict[str, str] = field(default_factory=dict)

    def all(self, instruction: str) -> list[str]:
        return [rest for ins, rest in self.instructions if ins == instruction]

    def pip_pins(self, args: dict[str, str]) -> dict[str, str]:
        """``{package: version}`` for every ``pkg==version`` in this stage's ``pip install`` commands."""
        pins = {}
        for run in self.all("RUN"):
            if "pip install" not in run:
                continue
            for word in shlex.split(substitute(run, args)):
                match = PIN.match(word)
                if match:
                    pins[match.group(1).lower()] = match.group(2)
        return pins


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]  # global ARG defaults (before the first FROM)
    stages: dict[str, Stage]

    @property
    def final(self) -> Stage:
        """The stage ``docker build`` makes without ``--target``."""
        return list(self.stages.values())[-1]


def substitute(text: str, args: dict[str, str]) -> str:
    """Replace ``${NAME}`` and ``$NAME`` with ARG values (unknown names stay)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), text)


def logical_lines(text: str) -> list[str]:
    """Lines with continuations joined and comments dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") and not current:
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    return lines


def parse_env(rest: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(rest) if "=" in item)


def read_dockerfile(path: Path) -> Dockerfile:
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            base = substitute(words[0], args)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else f"stage{len(stages)}"
            if base in stages:  # FROM an earlier stage: inherit its environment
                stage = Stage(name, stages[base].base, env=dict(stages[base].env))
            else:
                stage = Stage(name, base)
            stages[name] = stage
            continue
        if stage is None:
            if instruction == "ARG" and "=" in rest:
                key, value = rest.split("=", 1)
                args[key.strip()] = value.strip()
            continue
        stage.instructions.append((instruction, rest))
        if instruction == "ENV":
            stage.env.update(parse_env(rest))
    return Dockerfile(path, args, stages)
