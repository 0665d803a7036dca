"""``instructed-rl demo``: the shipped agent on a handful of fresh worlds, in under a minute.

    instructed-rl demo                          # data/agents/default, writes runs/demo/demo.gif
    instructed-rl demo --agent runs/default/agent --fps 0 --record demo.gif

Each case is a new world from a fixed seed (no cherry-picking: ``--seed`` moves them all):
a trained instruction, an unseen composition, an unseen phrasing, two BabyAI levels by their
own ids (one room, then a maze of rooms) and an instruction sequence. Each is shown in the
terminal as the agent acts, judged by minigrid's verifier, and summarised in a table at the end.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Literal

from instructed_rl.config import option
from instructed_rl.interactive.config import DEFAULT_AGENT, MAX_SEED, PlayConfig
from instructed_rl.interactive.repl import Session
from instructed_rl.render.record import check_writable

# (what it shows, game, split, corpus)
CASES = (
    ("trained instruction", "SkillRoom", "test", "babyai"),
    ("unseen composition", "SkillRoom", "unseen_compositions", "babyai"),
    ("unseen phrasing", "SkillRoom", "unseen_phrasings", "paraphrase"),
    ("BabyAI level", "BabyAI-GoToLocal-v0", "test", "babyai"),
    ("BabyAI maze", "BabyAI-GoTo-v0", "test", "babyai"),
    ("instruction sequence", "SkillRoomSeq", "unseen_sequences", "babyai"),
)


@dataclass
class DemoConfig:
    agent: str = option(DEFAULT_AGENT, "saved agent directory (default: the shipped agent), or bot / random")
    seed: int = option(0, "seed of the worlds (case i uses seed + i)")
    fps: float | None = option(None, "actions per second (default: 12 on a terminal, as fast as possible otherwise)")
    greedy: bool | None = option(None, "greedy actions, or --no-greedy: sampled (default: the agent's own mode, "
                                       "its config.json 'actions')")
    record: str = option("runs/demo/demo.gif", "GIF (or .mp4) of every case")
    color: Literal["auto", "always", "never"] = option("auto", "ANSI colours: auto means on a terminal")

    def __post_init__(self):
        if self.fps is not None and (not math.isfinite(self.fps) or self.fps < 0):
            raise ValueError(f"--fps must be 0 (as fast as possible) or positive, got {self.fps}")
        if not 0 <= self.seed <= MAX_SEED - len(CASES):
            raise ValueError(f"--seed must be from 0 to {MAX_SEED - len(CASES)}, got {self.seed}")


def run(config: DemoConfig) -> int:
    live = sys.stdout.isatty()
    fps = config.fps if config.fps is not None else (12.0 if live else 0.0)
    if config.record:
        check_writable(config.record, make_parent=True)  # type, writer and folder, before the agent loads
    rows = []
    recorder = None
    started = time.perf_counter()
    for index, (label, game, split, corpus) in enumerate(CASES):
        play_config = PlayConfig(agent=config.agent, game=game, split=split, corpus=corpus, seed=config.seed + index,
                                 fps=fps, record=config.record if recorder is None else None, color=config.color,
                                 greedy=config.greedy)
        session = Session(play_config)
        mode = session.stage.action_mode
        if recorder is None:
            recorder = session.recorder
        else:
            session.recorder = recorder  # one recording for every case
        # A log gets each case's last frame, not every step's (a thousand lines would bury the table).
        session.view.every_frame = live
        session.view.say(f"\n=== {index + 1}/{len(CASES)}: {label} ===")
        session.new_world(play_config.seed)
        mission = session.stage.env.mission
        outcome = session.run(mission)
        session.view.say(f"verdict: {outcome.message}")
        rows.append((label, f"{game} [{split}]", mission, outcome.status, outcome.steps))
        if index + 1 < len(CASES):
            session.recorder = None  # keep the shared recording open
        session.close()
    wins = sum(status == "succeeded" for *_, status, _ in rows)
    print("\n| case | game [split] | instruction | outcome | steps |\n|---|---|---|---|---:|")
    for label, where, mission, status, steps in rows:
        print(f"| {label} | {where} | {mission} | {status} | {steps} |")
    print(f"\n{wins}/{len(rows)} succeeded in {time.perf_counter() - started:.0f}s; agent {config.agent}, "
          f"actions {mode}")
    if config.record:
        print(f"recording: {config.record}")
    print("These are single episodes; for numbers with confidence intervals run "
          "'instructed-rl eval --agent ... --suite configs/eval/zero_shot.yaml'.")
    return 0
