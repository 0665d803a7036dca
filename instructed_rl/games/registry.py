"""One function registers every shipped game with gymnasium."""

from __future__ import annotations

import gymnasium

from instructed_rl.games.spec import shipped_games


def register_games() -> list[str]:
    """Register ``InstructedRL/<id>-v0`` for each spec in ``envs/``; safe to call twice."""
    ids = []
    for spec in shipped_games().values():
        if spec.env_id not in gymnasium.registry:
            gymnasium.register(id=spec.env_id, entry_point="instructed_rl.games.env:make_game_env",
                               kwargs={"game": spec.id})
        ids.append(spec.env_id)
    return ids
