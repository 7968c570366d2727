"""Passing command-line options on to a config whose own defaults cover the rest."""

from __future__ import annotations

from typing import Any


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave: those not ``None`` (an option's ``None`` default means "the config's own")."""
    return {name: value for name, value in options.items() if value is not None}
