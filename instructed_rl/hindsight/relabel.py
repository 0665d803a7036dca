"""What an episode achieved: every single instruction its actions satisfied, and when.

An episode that failed its mission still did *something*: it went to some object, picked one up,
opened a door, put one thing next to another. Hindsight relabelling (ACTRCE, HIGhER) turns that
into a training example with the instruction it did satisfy. Whether an instruction is satisfied
is never decided here: each candidate is one of minigrid's own verifier instructions
(``GoToInstr``, ``PickupInstr``, ``OpenInstr``, ``PutNextInstr``), reset on the world at the
episode's start and fed every action, exactly as a BabyAI level feeds its mission.

Two ways in:

- :class:`AchievementTracker` follows a live world step by step (a trainer's collection loop);
- :func:`achieved_instructions` replays a finished episode's actions on a copy of its start world.

Candidates name objects by type and colour, and by type alone ("the ball" when any ball will
do); locations ("on your left") are left out: they depend on where the agent stood at the start.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from minigrid.envs.babyai.core.verifier import GoToInstr, ObjDesc, OpenInstr, PickupInstr, PutNextInstr

from instructed_rl.language.corpus import Phraser, instruction_kind
from instructed_rl.language.instructions import instruction_to_dict
from instructed_rl.language.vocabulary import OBJECT_TYPES

SKILLS: tuple[str, ...] = ("goto", "pickup", "open", "putnext")


@dataclass(frozen=True)
class Achievement:
    """A single instruction the episode satisfied: its verifier ``instr`` and the ``step`` (1-based:
    the number of actions taken) after which minigrid's verifier first said success."""

    instr: Any
    step: int

    @property
    def kind(self) -> str:
        return instruction_kind(self.instr)

    @property
    def instruction(self) -> dict[str, Any]:
        """The structured instruction (``{"kind": "pickup", "obj": {...}}``), as trainers store targets."""
        return instruction_to_dict(self.instr)


def object_descriptions(level) -> list[ObjDesc]:
    """Every way a candidate names an object of ``level``: (type, colour) and type alone, for each
    type and colour present (walls, floors, goals and lava are not nameable)."""
    present: set[tuple[str, str | None]] = set()
    for cell in level.grid.grid:
        if cell is not None and cell.type in OBJECT_TYPES:
            present.add((cell.type, cell.color))
    if level.carrying is not None:
        present.add((level.carrying.type, level.carrying.color))
    names = sorted(present | {(t, None) for t, _ in present}, key=lambda n: (n[0], n[1] or ""))
    return [ObjDesc(t, c) for t, c in names]


def candidate_instructions(level, skills: Iterable[str] = SKILLS) -> list:
    """Fresh (not yet reset) verifier instructions for every skill over every object name of ``level``."""
    skills = tuple(skills)
    unknown = sorted(set(skills) - set(SKILLS))
    if unknown:
        raise ValueError(f"unknown skill(s) {unknown}; the relabeller knows {', '.join(SKILLS)}")
    names = object_descriptions(level)
    doors = [(d.type, d.color) for d in names if d.type == "door"]
    things = [(d.type, d.color) for d in names if d.type != "door"]
    found: list = []
    if "goto" in skills:
        found += [GoToInstr(ObjDesc(t, c)) for t, c in doors + things]
    if "open" in skills:
        found += [OpenInstr(ObjDesc(t, c)) for t, c in doors]
    if "pickup" in skills:
        found += [PickupInstr(ObjDesc(t, c)) for t, c in things]
    if "putnext" in skills:
        found += [PutNextInstr(ObjDesc(*move), ObjDesc(*fixed)) for move in things for fixed in things if move != fixed]
    return found


class AchievementTracker:
    """Follows one episode of a live ``level``: build it right after ``level.reset``, then call
    :meth:`step` with each action right after ``level.step(action)``.

    It keeps a copy of the start world, so that :meth:`phrase` names objects the way the mission
    would have at the start (the article depends on how many objects matched then).
    """

    def __init__(self, level, *, skills: Iterable[str] = SKILLS, start=None) -> None:
        self.level = level
        self.start = start if start is not None else copy.deepcopy(level)  # ``start``: a copy the caller keeps
        self.pending = candidate_instructions(level, skills)
        for instr in self.pending:
            instr.reset_verifier(level)
        self.achieved: list[Achievement] = []
        self.steps = 0

    def step(self, action: int) -> list[Achievement]:
        """Feed the action just taken; returns the instructions it completed (also kept in ``achieved``)."""
        self.steps += 1
        if action == self.level.actions.drop:  # as RoomGridLevel.step does for its own mission
            for instr in self.pending:
                instr.update_objs_poss()
        done, still = [], []
        for instr in self.pending:
            (done if instr.verify(action) == "success" else still).append(instr)
        self.pending = still
        new = [Achievement(instr, self.steps) for instr in done]
        self.achieved += new
        return new

    def phrase(self, achievement: Achievement, phraser: Phraser, rng: np.random.Generator) -> str:
        """The achievement in the corpus's words, objects named as at the episode's start."""
        instr = copy.deepcopy(achievement.instr)  # rendering re-finds objects: not in the verifier's copy
        return phraser.render(instr, self.start, rng).text


def achieved_instructions(start_level, actions: Sequence[int], *, skills: Iterable[str] = SKILLS) -> list[Achievement]:
    """Replay ``actions`` on a copy of ``start_level`` (the world as the episode began) and return
    every instruction they satisfied, in the order they were first satisfied."""
    level = copy.deepcopy(start_level)
    tracker = AchievementTracker(level, skills=skills, start=start_level)
    for action in actions:
        level.step(int(action))
        tracker.step(int(action))
    return tracker.achieved
