"""Where the shipped data lives: ``envs/`` (game specs) and ``data/`` (corpora, agents).

The repository root holds the source of this data. A wheel carries a copy inside the package,
``instructed_rl/_shipped/{envs,data}`` (``setup.py`` copies it there at build time), so an
installed package looks there first and falls back to the checkout. A path given by the user
always wins over a shipped name.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_DIR = PACKAGE_DIR / "_shipped"  # what setup.py's build_py copies into a wheel
CHECKOUT_ROOT = PACKAGE_DIR.parent
SHIPPED_AGENTS = ("default", "reader")


def _data_root() -> Path:
    return SHIPPED_DIR if (SHIPPED_DIR / "envs").is_dir() else CHECKOUT_ROOT


# The folder that holds envs/ and data/: the wheel's copy, else the checkout. So
# PROJECT_ROOT / "data/agents/default" names the default agent both ways.
PROJECT_ROOT = _data_root()


def games_dir() -> Path:
    return PROJECT_ROOT / "envs"


def corpora_dir() -> Path:
    return PROJECT_ROOT / "data" / "corpora"


def agents_dir() -> Path:
    return PROJECT_ROOT / "data" / "agents"


def shipped_agent(name: str) -> Path | None:
    """The directory of a shipped agent (``default``, ``maze``, ``reader``), or None."""
    if name not in SHIPPED_AGENTS:
        return None
    path = agents_dir() / name
    return path if path.is_dir() else None
