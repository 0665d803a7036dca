"""instructed-rl: language-instructed, zero-shot agents for MiniGrid/BabyAI worlds.

Importing the package registers every shipped game with gymnasium, so
``gymnasium.make("InstructedRL/GoToRoom-v0", split="train", corpus="paraphrase")`` works.
"""

__version__ = "0.1.0"

from instructed_rl.errors import UserError  # noqa: E402
from instructed_rl.games.registry import register_games  # noqa: E402

register_games()

__all__ = ["UserError", "register_games", "__version__"]
