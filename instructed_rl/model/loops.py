"""Greedy actions that leave a loop: the argmax, except that back at a place, heading and view it
already held in the current part, the agent takes the best of the actions it took least often there.

A greedy policy is deterministic given its memory, and its failures are loops: it comes back to
a pose it held earlier, sees the same view and, its memory cycling too, takes the same action
again until the step limit. The guard notices the return and takes the best action not yet tried
from there (once all have been, the best of those tried least often), so the agent explores
instead of repeating itself and, in a maze, a loop of any length is eventually left through its
least used exit. Everything it uses the agent knows by itself: the heading is in the
observation, the cell is dead-reckoned from its own forward steps and what its view showed ahead
(minigrid moves the agent exactly when the cell in front can be entered), and the view includes
what the agent carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from minigrid.core.actions import Actions
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

if TYPE_CHECKING:
    import torch

_ENTERABLE = {OBJECT_TO_IDX[kind] for kind in ("empty", "floor", "goal", "lava")}  # and an open door
_DOOR, _OPEN = OBJECT_TO_IDX["door"], STATE_TO_IDX["open"]


ESCAPE_RULE = ("back at a cell, heading and view it already held in the same part, it takes the best "
               "of the actions it took least often there")


def action_mode(greedy: bool, escape_loops: bool = False) -> str:
    """How actions were chosen, in the words every result and report uses."""
    if not greedy:
        return "sampled"
    return "greedy, escaping loops" if escape_loops else "greedy"


def _front_enterable(image: np.ndarray) -> bool:
    """Whether minigrid's forward step moves the agent: the cell ahead (view x 3, y 5; the agent
    stands at x 3, y 6) can be overlapped."""
    kind, _, state = (int(v) for v in image[3, 5])
    return kind in _ENTERABLE or (kind == _DOOR and state == _OPEN)


class LoopGuard:
    """Per env, the agent's dead-reckoned cell and, for every (cell, heading, view) it held in the
    current part, how often it took each action there. :meth:`choose` picks greedy actions;
    :meth:`restart` forgets env ``index``'s history (a new episode, or a new part of a sequence:
    a new goal may return anywhere)."""

    def __init__(self, n: int) -> None:
        self.cells = [(0, 0)] * n
        self.taken: list[dict[tuple, np.ndarray]] = [{} for _ in range(n)]  # key -> times each action was taken

    def restart(self, index: int) -> None:
        self.cells[index] = (0, 0)
        self.taken[index].clear()

    def choose(self, logits: torch.Tensor, images: np.ndarray, directions: np.ndarray) -> torch.Tensor:
        """Greedy actions (B,) for logits (B, A) given each env's view (B, 7, 7, 3), or one view
        (7, 7, 3), and heading (B,): the argmax among the actions taken least often from the same
        cell, heading and view in this part (among all of them, the first time there)."""
        logits = logits.float().cpu().clone()
        images = np.asarray(images).reshape(-1, *np.shape(images)[-3:])
        directions = np.asarray(directions).reshape(-1)
        keys = []
        for i, taken in enumerate(self.taken):
            key = (self.cells[i], int(directions[i]), images[i].tobytes())
            counts = taken.get(key)
            if counts is not None:
                logits[i, np.flatnonzero(counts > counts.min()).tolist()] = float("-inf")
            keys.append(key)
        actions = logits.argmax(dim=-1)
        for i, taken in enumerate(self.taken):
            action = int(actions[i])
            taken.setdefault(keys[i], np.zeros(logits.shape[1], dtype=np.int64))[action] += 1
            if action == Actions.forward and _front_enterable(images[i]):
                dx, dy = (int(v) for v in DIR_TO_VEC[int(directions[i]) % 4])
                self.cells[i] = (self.cells[i][0] + dx, self.cells[i][1] + dy)
        return actions
