"""The target map's auxiliary loss: which cells of each view hold the object the instruction means.

A policy built with ``target_map`` scores every cell of its 7x7 view for each object slot
(``instructed_rl.model.policy.TARGET_SLOTS``) and feeds that map to its memory. Behaviour
cloning alone hardly teaches it: measured on the shipped default agent, GoToRoom success was
70% with the true instruction and 66% with another episode's (100 episodes each), i.e. it had
learned to walk up to objects, rarely which one. Here the answer is given per cell: a cell is
positive when its object has the type the instruction names and its colour (if one is named),
read from the view itself and the episode's target (:func:`instruction_targets`). In rule
games the target is the *resolved* object ("the treasure" -> the green ball), so this also
teaches grounding through the description.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

from instructed_rl.language.instructions import NO_TARGET, TARGET_COLORS, TARGET_TYPES

_TYPE_IDS = torch.tensor([OBJECT_TO_IDX[t] for t in TARGET_TYPES] + [-1])  # last: "no object" matches nothing
_COLOR_IDS = torch.tensor([COLOR_TO_IDX[c] for c in TARGET_COLORS] + [-1])  # last: "any colour"


def target_cells(image: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels (B, L, SLOTS, 7, 7) float and which (B, SLOTS) slots have labels, for views ``image``
    (B, L, 7, 7, 3) of episodes whose targets are ``targets`` (B, 4) as in :func:`instruction_targets`."""
    colors, types = targets[:, 0::2], targets[:, 1::2]  # (B, SLOTS)
    labelled = (types != NO_TARGET) & (colors != NO_TARGET)
    type_ids = _TYPE_IDS[types.clamp(min=0)]  # (B, SLOTS)
    color_ids = _COLOR_IDS[colors.clamp(min=0)]
    any_color = colors == len(TARGET_COLORS)
    cell_type = image[..., 0].unsqueeze(2)  # (B, L, 1, 7, 7)
    cell_color = image[..., 1].unsqueeze(2)
    match = cell_type == type_ids[:, None, :, None, None]
    match &= (cell_color == color_ids[:, None, :, None, None]) | any_color[:, None, :, None, None]
    return match.float(), labelled


def grounding_loss(map_logits: torch.Tensor, image: np.ndarray, valid: np.ndarray,
                   targets: list[tuple[int, ...]], *, balanced: bool = False) -> tuple[torch.Tensor, float]:
    """Binary cross-entropy of the map (B, L, SLOTS, 7, 7) on valid steps of labelled slots, and
    the fraction of those (step, slot) views whose every cell is classified right. ``balanced``:
    three groups of cells weigh a third each: the named objects, the other objects an instruction
    could name, and the rest. A named object fills about 1 cell of 49, and plain BCE can settle on
    marking nothing; an object of the named type but another colour is 1 of 40-odd negatives, and
    a map that marks it anyway costs little unless the other objects form a group of their own."""
    pixels = torch.from_numpy(image)
    labels, labelled = target_cells(pixels, torch.tensor(targets, dtype=torch.long))
    use = torch.from_numpy(valid)[:, :, None] & labelled[:, None, :]  # (B, L, SLOTS)
    if not use.any():
        return map_logits.sum() * 0.0, 1.0
    logits, labels = map_logits[use], labels[use]  # (N, 7, 7)
    if balanced:
        holds_object = torch.isin(pixels[..., 0], _TYPE_IDS[:-1]).unsqueeze(2)  # (B, L, 1, 7, 7)
        holds_object = holds_object.expand(-1, -1, use.shape[2], -1, -1)[use]
        cell_loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        positive = labels > 0.5
        groups = (positive, ~positive & holds_object, ~positive & ~holds_object)
        parts = [cell_loss[cells].mean() for cells in groups if cells.any()]
        loss = sum(parts) / len(parts)
    else:
        loss = F.binary_cross_entropy_with_logits(logits, labels)
    with torch.no_grad():
        exact = ((logits > 0) == (labels > 0.5)).flatten(1).all(1).float().mean().item()
    return loss, exact
