"""``instructed-rl play``: type instructions and watch an agent act (see :mod:`instructed_rl.interactive.repl`).

    instructed-rl play --agent runs/default/agent --game GoToRoom --seed 3
    instructed-rl play --agent reader --game RoleRoom --seed 2
    instructed-rl play --agent bot --game GoToRoom --seed 1 --instruction "go to the grey box" --record run.gif
"""

from __future__ import annotations

import argparse

from instructed_rl.config import add_arguments
from instructed_rl.interactive.config import PlayConfig
from instructed_rl.interactive.repl import play


def add_play_arguments(parser: argparse.ArgumentParser) -> None:
    """PlayConfig's flags, with ``--instruction`` repeatable (the parser must resolve conflicts)."""
    add_arguments(parser, PlayConfig)
    parser.add_argument("--instruction", dest="instruction", action="append", default=argparse.SUPPRESS,
                        metavar="TEXT", help="run this instruction without prompting; repeat it to run several "
                        "in order on the same world (exit status 0 only if all succeed)")


def run(config: PlayConfig) -> int:
    return play(config)
