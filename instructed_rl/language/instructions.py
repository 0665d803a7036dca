"""Structured instructions: minigrid verifier trees as plain data, plus subtask bookkeeping.

Trainers, evaluators and the sequence executor read instructions through these helpers,
never through minigrid's classes directly, so the rest of the package stays JSON-friendly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from minigrid.envs.babyai.core.verifier import (AfterInstr, AndInstr, BeforeInstr, GoToInstr, ObjDesc, OpenInstr,
                                                PickupInstr, PutNextInstr)

from instructed_rl.language.corpus import SEQUENCE_SLOTS, instruction_kind
from instructed_rl.language.vocabulary import COLORS, OBJECT_TYPES

# What a reader's target head names (policy.py): (colour, type) of the instruction's object and
# of put next to's second object. Colour class 6 = "no colour given"; second type class 4 = "none".
TARGET_COLORS = COLORS
TARGET_TYPES = OBJECT_TYPES
TARGET_CLASSES = (len(TARGET_COLORS) + 1, len(TARGET_TYPES), len(TARGET_COLORS) + 1, len(TARGET_TYPES) + 1)
NO_TARGET = -1  # a slot with no label (a sequence, an unknown name): the loss ignores it


def describe_object(desc: ObjDesc) -> dict[str, str | None]:
    return {"type": desc.type, "color": desc.color, "loc": desc.loc}


def instruction_to_dict(instr) -> dict[str, Any]:
    """``{"kind": "putnext", "obj": {...}, "obj2": {...}}`` or ``{"kind": "before", "a": ..., "b": ...}``."""
    kind = instruction_kind(instr)
    if kind in SEQUENCE_SLOTS:
        return {"kind": kind, "a": instruction_to_dict(instr.instr_a), "b": instruction_to_dict(instr.instr_b)}
    if kind == "putnext":
        return {"kind": kind, "obj": describe_object(instr.desc_move), "obj2": describe_object(instr.desc_fixed)}
    return {"kind": kind, "obj": describe_object(instr.desc)}


_BUILDERS = {"goto": GoToInstr, "pickup": PickupInstr, "open": OpenInstr}
_SEQUENCES = {"and": AndInstr, "before": BeforeInstr, "after": AfterInstr}


def instruction_from_dict(data: dict[str, Any]):
    """A fresh minigrid verifier tree from :func:`instruction_to_dict`'s output (reset it on a world)."""
    def desc(obj: dict[str, Any]) -> ObjDesc:
        return ObjDesc(obj["type"], obj.get("color"), obj.get("loc"))

    kind = data["kind"]
    if kind in _SEQUENCES:
        return _SEQUENCES[kind](instruction_from_dict(data["a"]), instruction_from_dict(data["b"]))
    if kind == "putnext":
        return PutNextInstr(desc(data["obj"]), desc(data["obj2"]))
    if kind not in _BUILDERS:
        raise ValueError(f"unknown instruction kind {kind!r}; expected one of "
                         f"{', '.join([*_BUILDERS, 'putnext', *_SEQUENCES])}")
    return _BUILDERS[kind](desc(data["obj"]))


def instruction_targets(instr) -> tuple[int, int, int, int]:
    """Class ids of what a single instruction names, for the reader's target head
    (:data:`TARGET_CLASSES`): (colour, type) of its object, then of put
    next to's fixed object. A colour left out is its own class; a second object that is not
    there is the last type class. Sequences and unknown names give :data:`NO_TARGET`."""
    if instruction_kind(instr) in SEQUENCE_SLOTS:
        return (NO_TARGET,) * len(TARGET_CLASSES)

    def classes(desc) -> tuple[int, int]:
        if desc.type not in TARGET_TYPES or (desc.color is not None and desc.color not in TARGET_COLORS):
            return NO_TARGET, NO_TARGET
        color = len(TARGET_COLORS) if desc.color is None else TARGET_COLORS.index(desc.color)
        return color, TARGET_TYPES.index(desc.type)

    if instruction_kind(instr) == "putnext":
        return classes(instr.desc_move) + classes(instr.desc_fixed)
    return classes(instr.desc) + (NO_TARGET, len(TARGET_TYPES))


def leaves_in_order(instr) -> list:
    """Single-skill instructions in the order they are meant to be done.

    ``after`` reverses its operands ("A after you B" means B first); ``and`` keeps text order.
    """
    kind = instruction_kind(instr)
    if kind not in SEQUENCE_SLOTS:
        return [instr]
    first, second = (instr.instr_b, instr.instr_a) if kind == "after" else (instr.instr_a, instr.instr_b)
    return leaves_in_order(first) + leaves_in_order(second)


def _done_leaves(instr, done_here: bool) -> Iterator[tuple[Any, bool]]:
    """Yield (leaf, done) using the verifier's own bookkeeping (``a_done``/``b_done``)."""
    kind = instruction_kind(instr)
    if kind not in SEQUENCE_SLOTS:
        yield instr, done_here
        return
    a_done = done_here or getattr(instr, "a_done", False) == "success"
    b_done = done_here or getattr(instr, "b_done", False) == "success"
    yield from _done_leaves(instr.instr_a, a_done)
    yield from _done_leaves(instr.instr_b, b_done)


@dataclass(frozen=True)
class SubtaskStatus:
    """Which single-skill parts of the mission are done, and which one is due next."""

    leaves: tuple  # verifier leaves, in plan order
    done: tuple[bool, ...]

    @property
    def active(self) -> int | None:
        return next((i for i, d in enumerate(self.done) if not d), None)


def subtask_status(instr, *, succeeded: bool) -> SubtaskStatus:
    ordered = leaves_in_order(instr)
    done_of = {id(leaf): done for leaf, done in _done_leaves(instr, succeeded)}
    return SubtaskStatus(leaves=tuple(ordered), done=tuple(done_of[id(leaf)] for leaf in ordered))


def named_objects(instr) -> list[ObjDesc]:
    """Every object description a (possibly nested) instruction names."""
    kind = instruction_kind(instr)
    if kind in SEQUENCE_SLOTS:
        return named_objects(instr.instr_a) + named_objects(instr.instr_b)
    if kind == "putnext":
        return [instr.desc_move, instr.desc_fixed]
    return [instr.desc]


def is_sequence(instr) -> bool:
    return instruction_kind(instr) in SEQUENCE_SLOTS
