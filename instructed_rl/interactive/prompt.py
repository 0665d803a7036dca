"""What a line typed at ``play``'s ``instruction>`` prompt means: an instruction, a ``:command``,
a way out, or a problem to say back.

    read_line("go to the red ball")   # Line("instruction", "go to the red ball")
    read_line(":seed 3")              # Line("command", "3", name=":seed")
    read_line("quit")                 # Line("quit")
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from instructed_rl.interactive.config import MAX_SEED
from instructed_rl.interactive.judge import check_text

PROMPT = "instruction> "
COMMANDS = {
    ":help": "this list",
    ":reset": "next world of the seed sequence (seed + 1)",
    ":seed N": "world N",
    ":game NAME": "another game (same seed); 'instructed-rl envs' lists them",
    ":greedy": "greedy actions",
    ":sample": "sampled actions",
    ":show": "draw the world again",
    ":quit": "leave (also quit, exit, Ctrl-D, or Ctrl-C twice)",
}
QUIT_WORDS = ("quit", "exit", "q")
QUIT_COMMANDS = (":quit", ":q", ":exit")


@dataclass(frozen=True)
class Line:
    kind: Literal["instruction", "command", "quit", "problem"]
    text: str = ""  # the instruction, the command's argument, or the problem
    name: str = ""  # the command, lower-cased


def read_line(line: str) -> Line:
    problem = check_text(line)
    if problem:
        return Line("problem", problem)
    text = line.strip()
    if text.lower().rstrip(".!") in QUIT_WORDS:  # what people type to leave; never an instruction
        return Line("quit")
    if not text.startswith(":"):
        return Line("instruction", text)
    name, _, arg = text.partition(" ")
    name = name.lower()
    if name in QUIT_COMMANDS:
        return Line("quit")
    return Line("command", arg.strip(), name=name)


def help_lines() -> list[str]:
    return [f"  {command:<11} {meaning}" for command, meaning in COMMANDS.items()] + [
        "  anything else is an instruction for the agent; Ctrl-C stops a run"]


def seed_problem(arg: str) -> str | None:
    """Why ``arg`` is no seed for ``:seed``, or None."""
    if re.fullmatch(r"\d{1,9}", arg):
        return None
    return f":seed needs a whole number from 0 to {MAX_SEED}, e.g. :seed 3 (got {arg or 'nothing'})"


def unknown_command(name: str) -> str:
    close = difflib.get_close_matches(name, [c.split()[0] for c in COMMANDS], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown command {name}{hint}: :help lists the commands"
