"""minigrid's frames, drawn fast, and where the agent's view lies on the world.

    render = FrameRenderer()
    image = render(level, tile_size(level))   # == level.get_frame(highlight=True, tile_size=...)
    png = png_bytes(image)
"""

from __future__ import annotations

import io
from typing import Iterator

import numpy as np


def pose_of(level) -> tuple:
    """The agent's ``(position, direction vector, right vector)`` now."""
    return tuple(level.agent_pos), tuple(level.dir_vec), tuple(level.right_vec)


def view_cells(level, pose: tuple | None = None) -> Iterator[tuple[int, int, int, int]]:
    """``(view x, view y, world x, world y)`` for each cell of the agent's view inside the grid, as
    minigrid maps them (``pose``: where the agent was, see :func:`pose_of`; default now)."""
    size = level.agent_view_size
    position, forward, right = (np.asarray(v) for v in (pose or pose_of(level)))
    top_left = position + forward * (size - 1) - right * (size // 2)
    for view_x in range(size):
        for view_y in range(size):
            x, y = top_left - forward * view_y + right * view_x
            if 0 <= x < level.width and 0 <= y < level.height:
                yield view_x, view_y, int(x), int(y)


def visible_cells(level) -> set[tuple[int, int]]:
    """World cells the agent sees now (walls occlude), from minigrid's own visibility mask: the
    cells ``get_frame(highlight=True)`` highlights."""
    _, mask = level.gen_obs_grid()
    return {(x, y) for view_x, view_y, x, y in view_cells(level) if mask[view_x, view_y]}


class FrameRenderer:
    """minigrid's ``level.get_frame(highlight=True, tile_size=...)``, pixel for pixel, redrawing only
    the tiles whose content changed since the last frame (a step changes a few dozen of a room's
    hundreds). Tiles come from minigrid's own ``Grid.render_tile``, keyed as its cache keys them.
    minigrid's whole-grid render was two thirds of a web page's step."""

    def __init__(self) -> None:
        self._image: np.ndarray | None = None
        self._keys: list[list[tuple]] = []
        self._tile = 0

    def __call__(self, level, tile: int) -> np.ndarray:
        from minigrid.core.grid import Grid

        width, height = level.width, level.height
        if self._image is None or self._tile != tile or self._image.shape[:2] != (height * tile, width * tile):
            self._image = np.zeros((height * tile, width * tile, 3), dtype=np.uint8)
            self._keys = [[()] * width for _ in range(height)]
            self._tile = tile
        highlight = visible_cells(level)
        agent = tuple(int(v) for v in level.agent_pos)
        for j in range(height):
            for i in range(width):
                cell = level.grid.get(i, j)
                direction = level.agent_dir if (i, j) == agent else None
                key = (direction, (i, j) in highlight, None if cell is None else cell.encode())
                if self._keys[j][i] != key:
                    self._keys[j][i] = key
                    self._image[j * tile:(j + 1) * tile, i * tile:(i + 1) * tile] = Grid.render_tile(
                        cell, agent_dir=direction, highlight=key[1], tile_size=tile)
        return self._image


def png_bytes(frame: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
