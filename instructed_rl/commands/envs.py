"""``instructed-rl envs``: list the games; ``instructed-rl envs show GAME``: draw one world.

    instructed-rl envs
    instructed-rl envs show SkillRoom --seed 3 --split unseen_compositions --corpus paraphrase
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Literal

from instructed_rl.config import option
from instructed_rl.games.env import InstructedEnv, quiet
from instructed_rl.games.spec import SPLITS, find_game, shipped_games
from instructed_rl.render.terminal import LEGEND, render_grid


@dataclass
class EnvsShowConfig:
    game: str = option("", "game id (see 'instructed-rl envs') or a BabyAI level id")
    seed: int = option(0, "world seed: same seed, same world, same phrasing")
    split: str = option("train", f"one of the game's splits ({', '.join(SPLITS)})")
    corpus: str | None = option(None, "corpus name or YAML path (default: babyai; paraphrase for unseen_phrasings)")
    color: Literal["auto", "always", "never"] = option("auto", "ANSI colours: auto means when printing to a terminal")

    def __post_init__(self):
        if not self.game:
            raise ValueError("give a game id, e.g. 'instructed-rl envs show GoToRoom'")
        if self.seed < 0:
            raise ValueError(f"--seed must be 0 or more (minigrid seeds), got {self.seed}. Fix: --seed 3")

    @property
    def use_color(self) -> bool:
        return self.color == "always" or (self.color == "auto" and sys.stdout.isatty())


def list_games() -> str:
    lines = []
    for spec in shipped_games().values():
        sequences = f" + {', '.join(spec.sequences)}" if spec.sequences else ""
        lines.append(f"{spec.id}  ({spec.env_id})")
        lines.append(f"    {spec.title}")
        lines.append(f"    world:       {spec.world}")
        lines.append(f"    skills:      {', '.join(spec.skills)}{sequences}")
        lines.append(f"    splits:      {', '.join(spec.splits)}")
        if spec.heldout_compositions:
            lines.append(f"    held out:    {'; '.join(str(c) for c in spec.heldout_compositions)}")
        lines.append(f"    description: {spec.description}")
        lines.append("")
    lines.append("Any registered BabyAI level id (e.g. BabyAI-GoToLocal-v0) works as a game too.")
    lines.append("Show one world: instructed-rl envs show GAME --seed N [--split S] [--corpus FILE]")
    return "\n".join(lines)


def show_game(config: EnvsShowConfig) -> str:
    spec = find_game(config.game)
    env = InstructedEnv(spec, split=config.split, corpus=config.corpus)
    with quiet():
        _, info = env.reset(seed=config.seed)
    level = env.level
    subtasks = "\n".join(
        f"  {i + 1}. {text}" for i, text in enumerate(info["subtasks"])
    )
    return "\n".join([
        f"{spec.id} ({spec.env_id})  seed {config.seed}  split {config.split}  corpus {info['corpus']}",
        render_grid(level, color=config.use_color),
        LEGEND,
        f"mission:     {info['mission']}",
        f"description: {info['description']}",
        f"phrasing:    {', '.join(info['phrasing'])}",
        f"max steps:   {level.max_steps}",
        "subtasks (in order):",
        subtasks,
        "instruction:",
        json.dumps(info["instruction"], indent=2),
    ])
