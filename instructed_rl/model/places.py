"""Where an instruction places its object relative to the agent, read as BabyAI's verifier reads it.

"the box on your left" names the boxes that were on the agent's left when the instruction was
given, inside the room it stood in then (minigrid's ``ObjDesc.find_matching_objs``): not where
the agent stands when a sequence reaches that part, nor where it stands now. A policy reads such a
place from its view and its memory: well for an instruction it has just been given, wrongly for
a later part of a sequence, which it begins elsewhere. With ``AgentConfig.read_places`` the
planner's distance table (:mod:`instructed_rl.model.planner`) counts only the objects the place
allows, from the pose where the whole instruction was given, so the steps it hands the policy lead
to one of those; and a later part goes to the policy without its place words.

    text, placed = without_places("put the box on your left next to the red key", parser)
    # "put the box next to the red key", (Placed("box", None, "left"), Placed("key", "red", None))
    skip = off_place_cells(world, anchor, placed)   # objects the place rules out, (W, H) bool
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, DIR_TO_VEC, OBJECT_TO_IDX

PLACES = ("front", "behind", "left", "right")
_WALLS = [OBJECT_TO_IDX[name] for name in ("wall", "door", "unseen")]  # what bounds a room, as far as seen


@dataclass(frozen=True)
class Placed:
    """An object an instruction names: its type, colour (None: any) and place (:data:`PLACES`, or
    None where the text gives none)."""

    type: str
    color: str | None
    place: str | None


def without_places(text: str, parser) -> tuple[str, tuple[Placed, ...]]:
    """``text`` without the place words of the objects it names, and those objects, where ``parser``
    (an :class:`instructed_rl.language.parse.InstructionParser`) reads ``text`` as one skill that
    places one; any other text comes back as it is, with no objects."""
    parsed = parser.parse_skill(text)
    objects = [o for o in ((parsed.obj, parsed.obj2) if parsed is not None else ()) if o is not None]
    if not any(o.loc in PLACES for o in objects) or not all(o.type in OBJECT_TO_IDX for o in objects):
        return text, ()
    for phrase in parser.grammar.lookup["location"]:
        text = re.sub(rf"\s+{re.escape(phrase)}(?=\W|$)", "", text)
    return text, tuple(Placed(o.type, o.color, o.loc if o.loc in PLACES else None) for o in objects)


def start_room(world: np.ndarray, x: int, y: int) -> np.ndarray:
    """(W, H) bool: the room the agent stood in at (x, y), as far as ``world`` (W, H, 3) shows it:
    the cells reached without crossing a wall, a door or an unseen cell, and the walls and doors
    around them (a door belongs to the rooms on both sides, as in minigrid's ``Room.pos_inside``)."""
    open_cells = ~np.isin(world[..., 0], _WALLS)
    open_cells[x, y] = True
    room = np.zeros_like(open_cells)
    room[x, y] = True
    while True:
        grown = _grown(room) & open_cells
        if np.array_equal(grown, room):
            return _grown(room)
        room = grown


def _grown(cells: np.ndarray) -> np.ndarray:
    """``cells`` and their four neighbours."""
    grown = cells.copy()
    grown[1:] |= cells[:-1]
    grown[:-1] |= cells[1:]
    grown[:, 1:] |= cells[:, :-1]
    grown[:, :-1] |= cells[:, 1:]
    return grown


def off_place_cells(world: np.ndarray, anchor: tuple[int, int, int], named: tuple[Placed, ...]) -> np.ndarray:
    """(W, H) bool: cells of ``world`` holding an object that a place in ``named`` rules out and no
    other object of ``named`` allows, from ``anchor`` (x, y, direction: where the instruction was
    given). A place rules out what lies outside that room or on the other side (the verifier's
    test: the sign of the object's offset along the heading, for in front / behind, or across it,
    for left / right)."""
    skip = np.zeros(world.shape[:2], bool)
    if not any(description.place for description in named):
        return skip
    x0, y0, direction = (int(v) for v in anchor)
    room = start_room(world, x0, y0)
    ahead = np.asarray(DIR_TO_VEC[direction])
    across = np.array([-ahead[1], ahead[0]])  # the verifier's second axis: negative is the agent's left
    xs, ys = np.meshgrid(np.arange(world.shape[0]), np.arange(world.shape[1]), indexing="ij")
    forward = (xs - x0) * ahead[0] + (ys - y0) * ahead[1]
    sideways = (xs - x0) * across[0] + (ys - y0) * across[1]
    side = {"front": forward > 0, "behind": forward < 0, "left": sideways < 0, "right": sideways > 0}
    allowed = np.zeros_like(skip)
    for description in named:
        cells = world[..., 0] == OBJECT_TO_IDX[description.type]
        if description.color is not None:
            cells &= world[..., 1] == COLOR_TO_IDX[description.color]
        if description.place is None:
            allowed |= cells
        else:
            skip |= cells
            allowed |= cells & room & side[description.place]
    return skip & ~allowed
