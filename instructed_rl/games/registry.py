"""Registration with gymnasium: every shipped game at import, a user's own spec file on request."""

from __future__ import annotations

from pathlib import Path

import gymnasium

from instructed_rl.errors import GameSpecError
from instructed_rl.games.spec import NAMESPACE, load_game_spec, shipped_game_ids

ENTRY_POINT = "instructed_rl.games.env:make_game_env"


def register_games() -> list[str]:
    """Register ``InstructedRL/<id>-v0`` for each spec in ``envs/``; safe to call twice. Only the
    files' id lines are read: a spec is parsed when its env is made."""
    ids = []
    for game_id in shipped_game_ids():
        env_id = f"{NAMESPACE}/{game_id}-v0"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=ENTRY_POINT, kwargs={"game": game_id})
        ids.append(env_id)
    return ids


def register_game_file(path: str | Path) -> str:
    """Register a user's own spec file as ``InstructedRL/<id>-v0`` and return that env id (the
    file is parsed now, so a mistake in it surfaces here)."""
    spec = load_game_spec(path)
    source = str(Path(path).resolve())
    known = gymnasium.registry.get(spec.env_id)
    if known is not None and known.kwargs.get("game") != source:
        raise GameSpecError(f"{path}: id: {spec.env_id} is already registered (for {known.kwargs.get('game')}). "
                            "Fix: give your game its own id")
    if known is None:
        gymnasium.register(id=spec.env_id, entry_point=ENTRY_POINT, kwargs={"game": source})
    return spec.env_id
