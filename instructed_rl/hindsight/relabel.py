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
do); with ``locations`` also by where they lay from the agent's start pose ("the ball on your
left"), as BabyAI's Loc levels do. A tracker keeps only candidates that name some object.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling
from minigrid.envs.babyai.core.verifier import LOC_NAMES, GoToInstr, ObjDesc, OpenInstr, PickupInstr, PutNextInstr

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


def candidate_instructions(level, skills: Iterable[str] = SKILLS, *, locations: bool = False) -> list:
    """Verifier instructions for every skill over every object name of ``level`` (``locations``:
    go-to and pick-up also name objects by where they lie from the agent), keeping those the level
    itself could have given as a mission in this world (:func:`level_could_ask`)."""
    skills = tuple(skills)
    unknown = sorted(set(skills) - set(SKILLS))
    if unknown:
        raise ValueError(f"unknown skill(s) {unknown}; the relabeller knows {', '.join(SKILLS)}")
    names = object_descriptions(level)
    doors = [(d.type, d.color) for d in names if d.type == "door"]
    things = [(d.type, d.color) for d in names if d.type != "door"]
    places = (None, *LOC_NAMES) if locations else (None,)
    found: list = []
    if "goto" in skills:
        found += [GoToInstr(ObjDesc(t, c, loc)) for t, c in doors + things for loc in places]
    if "open" in skills:
        found += [OpenInstr(ObjDesc(t, c)) for t, c in doors]
    if "pickup" in skills:
        found += [PickupInstr(ObjDesc(t, c, loc)) for t, c in things for loc in places]
    if "putnext" in skills:
        found += [PutNextInstr(ObjDesc(*move), ObjDesc(*fixed)) for move in things for fixed in things if move != fixed]
    return [instr for instr in found if level_could_ask(level, instr)]


def level_could_ask(level, instr) -> bool:
    """Whether ``level``'s own mission check (BabyAI's ``validate_instrs``) accepts ``instr`` in its
    current world. BabyAI never asks to put an object next to one it already touches, or next to an
    object its own description also matches: picking such an object up and dropping it back would
    otherwise "achieve" a put-next, and cloning that teaches pick-up/drop loops."""
    validate = getattr(level, "validate_instrs", None)
    if validate is None:  # not a BabyAI room-grid level: it has no such rules
        return True
    try:
        validate(instr)
    except RejectSampling:
        return False
    return True


class AchievementTracker:
    """Follows one episode of a live ``level``: build it right after ``level.reset``, then call
    :meth:`step` with each action right after ``level.step(action)``.

    It keeps a copy of the start world, so that :meth:`phrase` names objects the way the mission
    would have at the start (the article depends on how many objects matched then).
    """

    def __init__(self, level, *, skills: Iterable[str] = SKILLS, locations: bool = False, start=None) -> None:
        self.level = level
        self.start = start if start is not None else copy.deepcopy(level)  # ``start``: a copy the caller keeps
        self.pending = []
        for instr in candidate_instructions(level, skills, locations=locations):
            instr.reset_verifier(level)
            if all(desc.obj_set for desc in _descriptions(instr)):  # "the ball on your left" may name nothing
                self.pending.append(instr)
        self.achieved: list[Achievement] = []
        self.steps = 0

    def step(self, action: int) -> list[Achievement]:
        """Feed the action just taken; returns the instructions it completed (also kept in ``achieved``)."""
        self.steps += 1
        if action == self.level.actions.drop:  # as RoomGridLevel.step does for its own mission
            _update_positions(self.level, self.pending)
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


def _update_positions(level, instrs: list) -> None:
    """What ``instr.update_objs_poss()`` does for each of ``instrs`` (each description's tracked
    objects, at their grid positions in the grid's scan order), with one scan of the grid for all
    of them instead of one per description: a tracker holds up to a few hundred."""
    grid = level.grid
    placed = [(cell, (i, j)) for i in range(grid.width) for j in range(grid.height)
              if (cell := grid.get(i, j)) is not None]
    for instr in instrs:
        for desc in _descriptions(instr):
            tracked = {id(obj) for obj in desc.obj_set}
            desc.obj_poss = [pos for cell, pos in placed if id(cell) in tracked]


def _descriptions(instr) -> list[ObjDesc]:
    return [instr.desc_move, instr.desc_fixed] if isinstance(instr, PutNextInstr) else [instr.desc]


def achieved_instructions(start_level, actions: Sequence[int], *, skills: Iterable[str] = SKILLS,
                          locations: bool = False) -> list[Achievement]:
    """Replay ``actions`` on a copy of ``start_level`` (the world as the episode began) and return
    every instruction they satisfied, in the order they were first satisfied."""
    level = copy.deepcopy(start_level)
    tracker = AchievementTracker(level, skills=skills, locations=locations, start=start_level)
    for action in actions:
        level.step(int(action))
        tracker.step(int(action))
    return tracker.achieved
