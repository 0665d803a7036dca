"""Where the shipped data lives: ``envs/`` (game specs) and ``data/`` (corpora, agents).

The package is installed in editable mode from a checkout, so the data sits beside it
at the repository root. A path given by the user always wins over a shipped name.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def games_dir() -> Path:
    return PROJECT_ROOT / "envs"


def corpora_dir() -> Path:
    return PROJECT_ROOT / "data" / "corpora"
