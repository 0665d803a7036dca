"""Games: declarative specs (``envs/*.yaml``) turned into registered gymnasium envs."""

from instructed_rl.games.spec import SPLITS, GameSpec, find_game, shipped_games

__all__ = ["SPLITS", "GameSpec", "find_game", "shipped_games"]
