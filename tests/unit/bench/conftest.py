"""Loading a ``bench/`` script as a module (the folder is scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


@pytest.fixture(scope="module")
def load_bench() -> Callable[[str], ModuleType]:
    """``load_bench("peers")``: ``bench/peers.py`` as module ``bench_peers``, with ``bench/`` importable (scripts
    import their siblings) and the module registered in ``sys.modules`` (dataclasses look their module up)."""

    def load(name: str) -> ModuleType:
        if str(BENCH) not in sys.path:
            sys.path.insert(0, str(BENCH))
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    return load
