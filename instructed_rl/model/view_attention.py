"""The view's cells attend over their goal's tokens, with the keys computed once per goal.

Every step of an episode reads the same goal, so its keys and values are the same at every step.
:class:`torch.nn.MultiheadAttention` given the goal's tokens repeated once per step projects them
again for each step and scores each step's 49 cells as a batch of its own: many tiny products.
Here the projections run once per goal, and the steps of a goal are scored in blocks, each
block one product of (steps x 49) queries against the goal's keys. The result equals the
module's own forward up to float rounding (a test holds them together); on 2 CPU cores a
learning step's attention costs about 0.6 of the module's (forward and backward).

The block size is chosen per batch (:func:`block_steps`): a goal's last block is padded to full
size, so one-room episodes (most under 16 steps) waste most of a 16-step block, while maze
episodes of hundreds of steps would pay for many small blocks' key copies.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MAX_BLOCK_STEPS = 16
"""The most steps of one goal scored in one product: larger blocks only add padding."""
BLOCK_COST_IN_STEPS = 1.0
"""What one more block costs (its copy of the goal's keys and values, forward and backward),
in padded steps: fitted to learning-step times of one-room imitation batches on one CPU core."""


def block_steps(per_goal: torch.Tensor) -> int:
    """The block size in steps (1 to :data:`MAX_BLOCK_STEPS`) that makes the batch cheapest: its
    padded steps plus :data:`BLOCK_COST_IN_STEPS` per block, for goals of ``per_goal`` steps."""
    sizes = torch.arange(1, MAX_BLOCK_STEPS + 1)
    blocks = (per_goal[None, :] + sizes[:, None] - 1).div(sizes[:, None], rounding_mode="floor").sum(1)
    padded = blocks * sizes.clamp(max=int(per_goal.max()))
    return int(sizes[torch.argmin(padded + BLOCK_COST_IN_STEPS * blocks)])


def _projections(attention: nn.MultiheadAttention) -> tuple[torch.Tensor, ...]:
    """The module's query, key and value weights and biases (packed or separate, as it was built)."""
    if attention.in_proj_weight is not None:
        weights = attention.in_proj_weight.chunk(3)
    else:
        weights = (attention.q_proj_weight, attention.k_proj_weight, attention.v_proj_weight)
    return (*weights, *attention.in_proj_bias.chunk(3))


def attend_goal_tokens(attention: nn.MultiheadAttention, cells: torch.Tensor, tokens: torch.Tensor,
                       mask: torch.Tensor, goal_rows: torch.Tensor | None = None) -> torch.Tensor:
    """``attention`` (batch first, no dropout) of view cells (N, S, C) over goal tokens (G, T, D)
    with ``mask`` (G, T) true at real tokens; ``goal_rows`` (N,) names each view's goal
    (None: view n reads goal n). Returns the attended values (N, S, C)."""
    views, cells_per_view, channels = cells.shape
    heads, width = attention.num_heads, channels // attention.num_heads
    if goal_rows is not None and bool((goal_rows[1:] < goal_rows[:-1]).any()):
        raise ValueError("attend_goal_tokens needs each goal's views together: sort goal_rows")
    w_q, w_k, w_v, b_q, b_k, b_v = _projections(attention)
    queries = F.linear(cells, w_q, b_q)
    keys = F.linear(tokens, w_k, b_k).unflatten(-1, (heads, width)).transpose(1, 2)  # (G, H, T, W)
    values = F.linear(tokens, w_v, b_v).unflatten(-1, (heads, width)).transpose(1, 2)
    if goal_rows is None:  # acting: one view per goal, nothing to pack
        read = F.scaled_dot_product_attention(queries.unflatten(-1, (heads, width)).transpose(1, 2), keys, values,
                                              attn_mask=mask[:, None, None, :])
        return attention.out_proj(read.transpose(1, 2).reshape(views, cells_per_view, channels))
    # Each view's place: its goal's blocks start at block_start[goal]; views of a goal are consecutive.
    per_goal = torch.bincount(goal_rows, minlength=tokens.shape[0])
    steps = block_steps(per_goal)
    first_view = torch.cumsum(per_goal, 0) - per_goal
    blocks_per_goal = (per_goal + steps - 1) // steps
    block_start = torch.cumsum(blocks_per_goal, 0) - blocks_per_goal
    position = torch.arange(views, device=cells.device) - first_view[goal_rows]
    block = block_start[goal_rows] + torch.div(position, steps, rounding_mode="floor")
    slot = position % steps
    blocks = int(blocks_per_goal.sum())
    place = block * steps + slot  # each view's row in the packed blocks (index_copy: cheaper than index_put)
    packed = queries.new_zeros(blocks * steps, cells_per_view, channels).index_copy(0, place, queries)
    packed = packed.reshape(blocks, steps * cells_per_view, heads, width).transpose(1, 2)  # (K, H, steps*S, W)
    block_goal = torch.repeat_interleave(torch.arange(tokens.shape[0], device=cells.device), blocks_per_goal)
    read = F.scaled_dot_product_attention(packed, keys[block_goal], values[block_goal],
                                          attn_mask=mask[block_goal][:, None, None, :])
    read = read.transpose(1, 2).reshape(blocks * steps, cells_per_view, channels).index_select(0, place)
    return attention.out_proj(read)
