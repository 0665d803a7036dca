"""Shortest paths over what the agent has seen, and what the policy takes from them.

The BabyAI bot that labels imitation plans on a map of what it has seen: it walks the shortest
path to the object it has found, or to the nearest cell it has not seen yet. A policy must learn
path finding from a map through convolutions, and in mazes it does not: it walks away from an
object it saw and does not come back, and leaves rooms behind closed doors unsearched. This
table hands it what a mapping module would: over the agent's whole seen world (never the
unseen truth), the number of steps from its own cell and from the four cells around it (ahead,
left, right, behind) to standing next to the nearest

- object of each type and colour (key, ball, box, door x six colours, or any colour): 28 rows,
- cell not seen yet (the frontier of a search): the last row.

Steps go through cells the agent can walk (floor, open doors, unseen cells); a closed door costs
one step more, a locked one two; walls and lava block, and so do objects, unless
:class:`PlannerSettings` gives them a cost (the steps of moving one aside, as the bot does). The
table itself knows no instruction: its world is the env's ``world`` and ``pose``
(:class:`instructed_rl.games.view.SeenMap`), and :func:`instructed_rl.model.policy.policy_view`
folds it into the view.

What the policy takes from it (:func:`plan_features`): per row, six numbers: reachable (0/1),
how far (0-1), and for the cells ahead, left, right and behind how much nearer they are (-1 to
1; -1 where no path starts there). The policy weighs the object rows by what it reads its
instruction to name (one distribution over rows for the object, one for put next to's second
object) and adds the unseen row as it is: 18 numbers a step, which way the target lies on what
it has seen, and which way the nearest unexplored cell lies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from minigrid.core.constants import COLOR_TO_IDX, DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

from instructed_rl.language.instructions import NO_TARGET
from instructed_rl.language.vocabulary import COLORS, OBJECT_TYPES

COLOUR_CLASSES = len(COLORS) + 1  # the six colours, then "any colour"
OBJECT_ROWS = len(OBJECT_TYPES) * COLOUR_CLASSES
UNSEEN_ROW = OBJECT_ROWS
TABLE_ROWS = OBJECT_ROWS + 1
ORIGINS = 5  # the agent's cell, then the cells ahead, left, right and behind it
FAR = 255  # no path (distances are capped at FAR - 1)

_TYPE_ROW = {OBJECT_TO_IDX[name]: index for index, name in enumerate(OBJECT_TYPES)}
_COLOUR_COLUMN = {COLOR_TO_IDX[name]: index for index, name in enumerate(COLORS)}
_FREE = np.isin(np.arange(256), [OBJECT_TO_IDX[name] for name in ("unseen", "empty", "floor", "goal")])
_DOOR = OBJECT_TO_IDX["door"]
_DOOR_COST = {STATE_TO_IDX["open"]: 1, STATE_TO_IDX["closed"]: 2, STATE_TO_IDX["locked"]: 3}
_LIMIT = 10_000  # larger than any path: "not reached yet"
_ROW_OF_TYPE = np.zeros(256, np.int32)  # table row of each object type (types without a row: 0, never read)
for _kind, _row in _TYPE_ROW.items():
    _ROW_OF_TYPE[_kind] = _row
_COLUMN_OF_COLOUR = np.full(256, -1, np.int32)  # -1: a colour outside COLORS counts for "any colour" only
for _colour, _column in _COLOUR_COLUMN.items():
    _COLUMN_OF_COLOUR[_colour] = _column
_MOVABLE = np.isin(np.arange(256), [OBJECT_TO_IDX[name] for name in ("ball", "box", "key")])


@dataclass(frozen=True)
class PlannerSettings:
    """How the table is computed (``PolicyConfig.planner_object_cost``)."""

    object_cost: int = 0  # 0: a ball, box or key blocks; n > 0: stepping through one costs n steps


def _nearest_neighbour(dist: np.ndarray) -> np.ndarray:
    """(K, W + 2, H + 2) distances -> (K, W, H): each inner cell's smallest of its four neighbours'."""
    return np.minimum(np.minimum(dist[:, :-2, 1:-1], dist[:, 2:, 1:-1]),
                      np.minimum(dist[:, 1:-1, :-2], dist[:, 1:-1, 2:]))


def table_row(type_index: int, colour_index: int) -> int:
    """Row of (type, colour) in the table: indices into OBJECT_TYPES and COLORS, colour
    ``len(COLORS)`` meaning any colour."""
    return type_index * COLOUR_CLASSES + colour_index


def step_costs(world: np.ndarray, object_cost: int = 0) -> np.ndarray:
    """(W, H, 3) world symbols -> (W, H) int cost of stepping into each cell, 0 where it blocks
    (``object_cost``: what a ball, box or key costs; 0, they block)."""
    kind, state = world[..., 0], world[..., 2]
    cost = _FREE[kind].astype(np.int32)
    if object_cost:
        cost[_MOVABLE[kind]] = object_cost
    for door_state, door_cost in _DOOR_COST.items():
        cost[(kind == _DOOR) & (state == door_state)] = door_cost
    return cost


def origins(position: tuple[int, int], direction: int) -> list[tuple[int, int]]:
    """The agent's cell, then the cells ahead, left, right and behind it."""
    x, y = int(position[0]), int(position[1])
    ahead, right = DIR_TO_VEC[direction], DIR_TO_VEC[(direction + 1) % 4]
    return [(x, y), (x + ahead[0], y + ahead[1]), (x - right[0], y - right[1]),
            (x + right[0], y + right[1]), (x - ahead[0], y - ahead[1])]


def distance_table(world: np.ndarray, position: tuple[int, int], direction: int, *,
                   object_cost: int = 0, skip: np.ndarray | None = None) -> np.ndarray:
    """(TABLE_ROWS, ORIGINS) uint8: steps from each origin (:func:`origins`) to standing next to
    the nearest thing of each row, over the cells of ``world`` (W, H, 3) seen so far (unseen = 0);
    ``object_cost`` as :func:`step_costs`. Objects on the cells ``skip`` (W, H) marks count for no
    row (they still stand in the way): those an instruction's place rules out
    (:mod:`instructed_rl.model.places`)."""
    x, y = int(position[0]), int(position[1])
    return distance_tables([world], [(x, y, direction)], object_cost=object_cost, skips=[skip])[0]


def distance_tables(worlds: list[np.ndarray], poses, *, object_cost: int = 0,
                    skips: list[np.ndarray | None] | None = None) -> np.ndarray:
    """:func:`distance_table` of several worlds (each (W, H, 3), sizes may differ) and poses
    ((x, y, direction) each) at once: (N, TABLE_ROWS, ORIGINS) uint8.

    The worlds are padded with blocked cells into one batch, and the shortest paths come from
    sweeps: along one axis, the cost of the best path that runs straight along it is a prefix
    sum and a running minimum (a handful of array operations for every world, origin and line at
    once). Sweeping both axes both ways until nothing changes converges after about as many
    rounds as the shortest paths make turns, where relaxing one step at a time takes as many
    rounds as they are long."""
    worlds = [np.asarray(world) for world in worlds]
    count = len(worlds)
    skips = skips if skips is not None else [None] * count
    width = max(w.shape[0] for w in worlds) + 2
    height = max(w.shape[1] for w in worlds) + 2
    # Entering a cell costs its step cost; a blocked cell (and the padding) costs _LIMIT, so that
    # any path through one ends at or beyond "not reached".
    enter = np.full((count, 1, width, height), _LIMIT, np.int32)
    dist = np.full((count, ORIGINS, width, height), _LIMIT, np.int32)
    objects = np.zeros((count, width, height), bool)
    unseen = np.zeros((count, width, height), bool)
    rows = np.zeros((count, width, height), np.int32)
    columns = np.zeros((count, width, height), np.int32)
    for n, (world, pose, skip) in enumerate(zip(worlds, poses, skips)):
        w, h = world.shape[:2]
        x, y, direction = int(pose[0]), int(pose[1]), int(pose[2])
        cost = step_costs(world, object_cost)
        cost[x, y] = 1  # the agent stands there, whatever the map last showed
        enter[n, 0, 1:w + 1, 1:h + 1] = np.where(cost > 0, cost, _LIMIT)
        for layer, (i, j) in enumerate(origins((x, y), direction)):
            if 0 <= i < w and 0 <= j < h and cost[i, j] > 0:  # a blocked neighbour starts no path
                dist[n, layer, i + 1, j + 1] = 0
        kind, colour = world[..., 0], world[..., 1]
        found = np.isin(kind, list(_TYPE_ROW))
        if skip is not None:
            found &= ~np.asarray(skip)
        objects[n, 1:w + 1, 1:h + 1] = found
        rows[n, 1:w + 1, 1:h + 1] = _ROW_OF_TYPE[kind] * COLOUR_CLASSES
        columns[n, 1:w + 1, 1:h + 1] = _COLUMN_OF_COLOUR[colour]
        seen_not = kind == OBJECT_TO_IDX["unseen"]
        seen_not[x, y] = False
        unseen[n, 1:w + 1, 1:h + 1] = seen_not
    # Reversed views by slicing: np.flip's own overhead was a sixth of a maze table.
    reverse = {2: (slice(None), slice(None), slice(None, None, -1)), 3: (Ellipsis, slice(None, None, -1))}
    prefix = {axis: np.cumsum(enter, axis=axis) for axis in (2, 3)}
    suffix = {axis: np.cumsum(enter[reverse[axis]], axis=axis)[reverse[axis]] for axis in (2, 3)}
    while True:
        before = dist.copy()
        for axis in (2, 3):
            # Forward: dist[k] + enter[k+1..i] = prefix[i] + (dist[k] - prefix[k]); backward alike.
            ahead = prefix[axis]
            np.minimum(dist, ahead + np.minimum.accumulate(dist - ahead, axis=axis), out=dist)
            behind = suffix[axis]
            back = np.minimum.accumulate((dist - behind)[reverse[axis]], axis=axis)[reverse[axis]]
            np.minimum(dist, behind + back, out=dist)
            np.minimum(dist, _LIMIT, out=dist)
        if np.array_equal(dist, before):
            break
    beside = np.full_like(dist, _LIMIT)  # standing next to a cell: the nearest of its four neighbours
    beside[:, :, 1:-1, 1:-1] = _nearest_neighbour(dist.reshape(-1, width, height)).reshape(
        count, ORIGINS, width - 2, height - 2)
    table = np.full((count, TABLE_ROWS, ORIGINS), _LIMIT, np.int32)
    n, i, j = np.nonzero(objects)
    if n.size:
        reach = beside[n, :, i, j]  # (K, ORIGINS)
        flat = table.reshape(count * TABLE_ROWS, ORIGINS)
        base, column = rows[n, i, j], columns[n, i, j]
        named = column >= 0
        np.minimum.at(flat, n[named] * TABLE_ROWS + base[named] + column[named], reach[named])
        np.minimum.at(flat, n * TABLE_ROWS + base + COLOUR_CLASSES - 1, reach)
    table[:, UNSEEN_ROW] = np.where(unseen[:, None], beside, _LIMIT).min(axis=(2, 3))
    return np.where(table >= _LIMIT, FAR, np.minimum(table, FAR - 1)).astype(np.uint8)


ROW_FEATURES = 6
PLAN_FEATURES = 3 * ROW_FEATURES  # the object, put next to's second object, the unseen
PLAN_CLASSES = OBJECT_ROWS + 1  # a slot names an object row, or (put next to's slot) nothing
NOTHING = OBJECT_ROWS
NEAR = 40  # distances are reported as min(d, NEAR) / NEAR


def row_features(table: torch.Tensor) -> torch.Tensor:
    """(N, TABLE_ROWS, ORIGINS) step counts (FAR: no path) -> (N, TABLE_ROWS, 6) features."""
    table = table.float()
    here, around = table[..., 0], table[..., 1:]
    reachable = (here < FAR).float()
    gain = torch.where(around < FAR, (here.unsqueeze(-1) - around).clamp(-2, 2) / 2, torch.full_like(around, -1.0))
    gain = gain * reachable.unsqueeze(-1)
    near = here.clamp(max=NEAR) / NEAR * reachable
    return torch.cat([reachable.unsqueeze(-1), near.unsqueeze(-1), gain], dim=-1)


def plan_features(table: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(N, TABLE_ROWS, ORIGINS) tables and (N, 2, PLAN_CLASSES) row weights (each slot's
    probabilities; the last class, nothing, adds nothing) -> (N, PLAN_FEATURES)."""
    rows = row_features(table)
    slots = torch.einsum("nsr,nrf->nsf", weights[..., :OBJECT_ROWS], rows[:, :OBJECT_ROWS])
    return torch.cat([slots.flatten(1), rows[:, UNSEEN_ROW]], dim=-1)


def unfold_table(view: torch.Tensor, start: int) -> torch.Tensor:
    """(N, 7, 7, C) policy views whose channels from ``start`` hold the folded table -> (N, TABLE_ROWS, ORIGINS)."""
    flat = view[..., start:].reshape(view.shape[0], -1)
    return flat[:, :TABLE_ROWS * ORIGINS].reshape(-1, TABLE_ROWS, ORIGINS)


def plan_classes(target: tuple[int, ...]) -> tuple[int, int]:
    """An episode's target (colour, type, colour, type classes of the instruction's object and of put
    next to's second one, as :func:`instructed_rl.language.instructions.instruction_targets`) ->
    the table row each slot should read (NOTHING for a slot without a second object; -1 unlabelled)."""
    colour, kind, second_colour, second_kind = target
    first = -1 if NO_TARGET in (colour, kind) else table_row(kind, colour)
    if second_kind == len(OBJECT_TYPES):
        second = NOTHING
    else:
        second = -1 if NO_TARGET in (second_colour, second_kind) else table_row(second_kind, second_colour)
    return first, second


def plan_reading_loss(logits: torch.Tensor, targets: list[tuple[int, ...]]) -> tuple[torch.Tensor, float]:
    """Cross-entropy of :meth:`Policy.plan_class_logits` (B, 2, PLAN_CLASSES) against the episodes'
    targets, and the share of labelled slots read right."""
    labels = torch.tensor([plan_classes(tuple(target)) for target in targets], dtype=torch.long,
                          device=logits.device)
    labelled = labels >= 0
    if not labelled.any():
        return logits.sum() * 0.0, 1.0
    loss = torch.nn.functional.cross_entropy(logits[labelled], labels[labelled])
    with torch.no_grad():
        right = (logits[labelled].argmax(-1) == labels[labelled]).float().mean().item()
    return loss, right
