"""The options of the interactive front ends: ``play``'s :class:`PlayConfig`, and the fields it shares
with ``serve`` (who acts, on which worlds) in :class:`WorldOptions`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from instructed_rl.config import option

DEFAULT_AGENT = "data/agents/default"
DEFAULT_GAME = "SkillRoom"
MAX_SEED = 999_999_999


@dataclass
class WorldOptions:
    """Who acts and on which worlds: the first flags of ``play`` and ``serve`` (``serve`` words the
    help of the world fields for a new tab)."""

    agent: str = option(DEFAULT_AGENT, "saved agent directory, or 'bot' (BabyAI bot; needs text that parses) / 'random'")
    game: str = option(DEFAULT_GAME, "game id (see 'instructed-rl envs') or a BabyAI level id")
    seed: int = option(0, "seed of the first world; :reset moves on to seed + 1, seed + 2, ...")
    split: str | None = option(None, "split the worlds and suggestions come from (default: test when the game has it)")
    corpus: str | None = option(None, "corpus that phrases suggestions and parses what you type (default: the game's)")

    def __post_init__(self):
        if not self.agent:
            raise ValueError(f"--agent is empty. Fix: pass a saved agent directory (default {DEFAULT_AGENT}), bot or random")


@dataclass
class PlayConfig(WorldOptions):
    view: Literal["terminal", "window"] = option("terminal", "draw the world in the terminal, or in minigrid's pygame window")
    color: Literal["auto", "always", "never"] = option("auto", "ANSI colours in the terminal: auto means on a terminal")
    record: str | None = option(None, "write what was shown to this .gif (or .mp4, with imageio-ffmpeg installed)")
    fps: float = option(4.0, "actions per second; 0 = as fast as possible")
    instruction: tuple[str, ...] = option((), "run this instruction without prompting (repeatable: in order, same world)")
    max_steps: int | None = option(None, "step limit per instruction (default: the game's max_steps)")
    greedy: bool | None = option(None, "greedy actions, or --no-greedy: sampled (default: the agent's own mode, its "
                                       "config.json 'actions'; :greedy / :sample switch at the prompt)")
    anyway: bool = option(False, "run instructions even when they name words nothing defines (\"the unicorn\")")

    def __post_init__(self):
        super().__post_init__()
        self.instruction = tuple(self.instruction)
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"--seed must be from 0 to {MAX_SEED}, got {self.seed}")
        if not math.isfinite(self.fps) or self.fps < 0:
            raise ValueError(f"--fps must be 0 (as fast as possible) or positive, got {self.fps}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ValueError(f"--max-steps must be positive, got {self.max_steps}")
