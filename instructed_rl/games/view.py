"""The agent's partial view, encoded without building intermediate grids.

minigrid's ``gen_obs`` slices the world into a new ``Grid``, rotates it (one more new grid per
quarter turn), walks the occlusion rules over numpy scalars and then encodes cell by cell. On
BabyAI's small levels that is about half of a step's cost. :func:`encode_view` computes the
same array (bit for bit; ``tests/test_view.py`` checks it against minigrid over random
rollouts in every shipped game) from a cached index map and plain Python lists.
:func:`use_fast_view` installs it on a level instance; everything else about the level
(``gen_obs_grid``, rendering) is untouched; the quick BabyAI bot reads :func:`view_mask`.
"""

from __future__ import annotations

import types
from functools import lru_cache

import numpy as np
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.world_object import Wall

_EMPTY = (OBJECT_TO_IDX["empty"], 0, 0)
_OUTSIDE = Wall()  # what minigrid's Grid.slice puts beyond the world's edge


def agent_cell(size: int) -> int:
    """The agent's own cell in the flat view: bottom row, middle column."""
    return (size // 2) * size + size - 1


@lru_cache(maxsize=None)
def view_sources(view_size: int, agent_dir: int) -> tuple[tuple[int, int], ...]:
    """For each view cell ``(i, j)``, flattened as ``i * view_size + j``: its cell in the slice.

    The slice is rotated left ``agent_dir + 1`` times, as minigrid's ``gen_obs_grid`` does;
    one left turn moves slice cell ``(i, j)`` to ``(j, size - 1 - i)``.
    """
    size = view_size
    sources = {(i, j): (i, j) for i in range(size) for j in range(size)}
    for _ in range(agent_dir + 1):
        sources = {(j, size - 1 - i): sources[(i, j)] for i in range(size) for j in range(size)}
    return tuple(sources[(i, j)] for i in range(size) for j in range(size))


def visible_cells(clear: list[bool], size: int, see_through_walls: bool) -> list[bool]:
    """minigrid's ``Grid.process_vis`` on a flat ``i * size + j`` list of see-through flags."""
    if see_through_walls:
        return [True] * (size * size)
    mask = [False] * (size * size)
    mask[agent_cell(size)] = True
    for j in reversed(range(size)):
        for i in range(size - 1):
            if mask[i * size + j] and clear[i * size + j]:
                mask[(i + 1) * size + j] = True
                if j > 0:
                    mask[(i + 1) * size + j - 1] = True
                    mask[i * size + j - 1] = True
        for i in reversed(range(1, size)):
            if mask[i * size + j] and clear[i * size + j]:
                mask[(i - 1) * size + j] = True
                if j > 0:
                    mask[(i - 1) * size + j - 1] = True
                    mask[i * size + j - 1] = True
    return mask


def _view_objects(level) -> tuple[list, list[bool]]:
    """The objects in the view's cells (flat ``i * size + j``) and which of them the agent sees."""
    size = level.agent_view_size
    top_x, top_y, _, _ = level.get_view_exts()
    grid = level.grid
    width, height, cells = grid.width, grid.height, grid.grid
    objects = []
    for si, sj in view_sources(size, level.agent_dir):
        x, y = top_x + si, top_y + sj
        objects.append(cells[y * width + x] if 0 <= x < width and 0 <= y < height else _OUTSIDE)
    clear = [obj is None or obj.see_behind() for obj in objects]
    return objects, visible_cells(clear, size, level.see_through_walls)


def view_mask(level) -> np.ndarray:
    """``level.gen_obs_grid()[1]``, computed directly: which view cells the agent sees, a
    ``(size, size)`` bool array indexed ``[i, j]`` (what the BabyAI bot reads every step)."""
    size = level.agent_view_size
    return np.array(_view_objects(level)[1], dtype=bool).reshape(size, size)


def encode_view(level) -> np.ndarray:
    """``level.gen_obs()["image"]``, computed directly: shape ``(size, size, 3)``, uint8."""
    size = level.agent_view_size
    objects, mask = _view_objects(level)
    # The agent sees what it carries in its own cell (and never what it stands on).
    objects[agent_cell(size)] = level.carrying
    image = bytearray(size * size * 3)
    for cell, (obj, seen) in enumerate(zip(objects, mask)):
        if seen:
            image[3 * cell:3 * cell + 3] = bytes(_EMPTY if obj is None else obj.encode())
    return np.frombuffer(image, dtype=np.uint8).reshape(size, size, 3)


def _fast_gen_obs(level) -> dict:
    return {"image": encode_view(level), "direction": level.agent_dir, "mission": level.mission}


def use_fast_view(level) -> None:
    """Make ``level.gen_obs`` (called by its ``reset`` and ``step``) use :func:`encode_view`, and
    give the level a ``view_mask()`` method (:func:`view_mask`) that the quick BabyAI bot uses
    instead of building the rotated view grid."""
    level.gen_obs = types.MethodType(_fast_gen_obs, level)
    level.view_mask = types.MethodType(view_mask, level)


# The remembered map: MAP_SIZE x MAP_SIZE cells around the agent (10 each way), turned with it.
MAP_SIZE = 21
MAP_CENTER = MAP_SIZE // 2


class SeenMap:
    """What the agent has seen of its world this episode: the symbols (object, colour, state) it
    last saw in each cell, zeros (minigrid's "unseen") where it has not looked yet.

    The agent could keep this itself: where it stands follows from its actions and what its view
    showed ahead, so the map adds memory, not knowledge. :meth:`observe` folds in a view and
    returns the map around the agent as its view is oriented: ``(MAP_SIZE, MAP_SIZE, 3)`` uint8,
    indexed ``[i, j]`` like the image, the agent at the centre facing decreasing ``j``.

    The world's cells sit in an array padded by the map's reach, so the map around the agent is a
    slice of it turned to the agent's heading (a view, no index arithmetic), and the agent's own
    view is a block of that slice: an env step pays a few microseconds for it.
    """

    def __init__(self) -> None:
        self.cells = np.zeros((MAP_SIZE, MAP_SIZE, 3), np.uint8)  # world cells, MAP_CENTER of padding each side
        self.inside = np.zeros((MAP_SIZE, MAP_SIZE), bool)  # which of them are in the world

    def reset(self, level) -> None:
        width, height = level.grid.width + 2 * MAP_CENTER, level.grid.height + 2 * MAP_CENTER
        self.cells = np.zeros((width, height, 3), np.uint8)
        self.inside = np.zeros((width, height), bool)
        self.inside[MAP_CENTER:width - MAP_CENTER, MAP_CENTER:height - MAP_CENTER] = True

    def observe(self, level, image: np.ndarray) -> np.ndarray:
        x, y = level.agent_pos
        turns = (3 - level.agent_dir) % 4  # np.rot90 turns that put the agent's heading up (decreasing j)
        around = np.rot90(self.cells[x:x + MAP_SIZE, y:y + MAP_SIZE], turns)
        size = image.shape[0]
        i0, j0 = MAP_CENTER - size // 2, MAP_CENTER - size + 1  # the view's block in the map around the agent
        inside = np.rot90(self.inside[x:x + MAP_SIZE, y:y + MAP_SIZE], turns)[i0:i0 + size, j0:j0 + size]
        seen = inside & (image[..., 0] != 0)
        seen[size // 2, size - 1] = False  # the view shows what the agent carries there, not the floor
        np.copyto(around[i0:i0 + size, j0:j0 + size], image, where=seen[..., None])  # writes through to cells
        return around.copy()

    def world(self) -> np.ndarray:
        """The world's cells as seen so far, (width, height, 3) indexed [x, y]: a copy."""
        return self.cells[MAP_CENTER:-MAP_CENTER, MAP_CENTER:-MAP_CENTER].copy()
