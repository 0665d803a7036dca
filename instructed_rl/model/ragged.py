"""A recurrence over a batch of sequences of different lengths, run in groups of similar length.

A learning batch of one-room episodes pads every episode to its longest: 32 episodes of about
10 steps each, one of 64, make a (32, 64) batch that is mostly padding, and the fused recurrence
pays for every padded step (with its backward, a tenth of a learning step). Packed sequences
skip the padding but leave the fused kernel for a slower one. Here the rows are sorted by length
and cut into groups (:func:`length_groups`), and each group runs the fused recurrence only as
far as its own longest row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

GROUP_COST_IN_STEPS = 300.0
"""What one more group costs, in steps of one row: its call of the recurrence and the gathers and
copies around it, forward and backward (learning steps on one-room and maze batches, 2 CPU cores:
with less, one-room batches of 10-step episodes lost more to the groups than padding cost them)."""
STEP_COST_IN_ROWS = 1.5
"""What one more time step of a call costs beyond its rows' work, in rows (fitted on one core)."""


def length_groups(lengths: Sequence[int]) -> list[tuple[int, int]]:
    """Cut ``lengths`` (sorted, longest first) into runs ``[start, end)`` that make the recurrence
    cheapest: each run costs :data:`GROUP_COST_IN_STEPS` plus its longest row's length times
    (its rows + :data:`STEP_COST_IN_ROWS`). Exact, by dynamic programming over the cut points. Only
    places where the length changes can be cuts (a row moved to the group of its equal neighbour
    never costs more), so the work grows with the distinct lengths, not the rows."""
    count = len(lengths)
    if any(a < b for a, b in zip(lengths, lengths[1:])):
        raise ValueError("length_groups needs lengths sorted longest first")
    bounds = [i for i in range(count) if i == 0 or lengths[i] != lengths[i - 1]] + [count]
    best = {0: 0.0}  # best[end]: the cheapest cut of the first `end` rows
    cut = {}
    for k, end in enumerate(bounds[1:], start=1):
        best[end] = float("inf")
        for start in bounds[:k]:
            cost = best[start] + GROUP_COST_IN_STEPS + lengths[start] * (end - start + STEP_COST_IN_ROWS)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    runs, end = [], count
    while end > 0:
        runs.append((cut[end], end))
        end = cut[end]
    return runs[::-1]


def recur_ragged(recur: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                 inputs: torch.Tensor, memory: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``recur`` ((n, L, D) inputs, (n, M) memory -> (n, L, H) outputs, (n, M) memory after step L)
    over rows of ``inputs`` (B, L, D) whose real steps end at ``lengths`` (B,). Returns the outputs
    (B, L, H), equal to ``recur`` over the whole batch at every step before a row's end and
    meaningless after it, and the memory: a full-length row's after step L, as the whole batch
    gives, a shorter row's after some of its padding (use it only for batches without padding)."""
    batch, steps = inputs.shape[:2]
    if int(lengths.max()) <= 0:
        raise ValueError("recur_ragged needs a row of at least one step")
    if int(lengths.min()) == steps:  # no padding: one call, as the whole batch
        return recur(inputs, memory)
    order = torch.argsort(lengths, descending=True, stable=True)
    sorted_lengths = lengths[order].tolist()
    groups = length_groups(sorted_lengths)
    if len(groups) == 1:  # cheapest as one call over the whole batch
        return recur(inputs, memory)
    outputs, memories, rows_run = [], [], []
    for start, end in groups:
        run = sorted_lengths[start]
        if run == 0:
            break  # these rows and every row after them have no steps
        rows = order[start:end]
        hidden, last = recur(inputs[rows, :run], memory[rows])
        outputs.append(torch.nn.functional.pad(hidden, (0, 0, 0, steps - run)))
        memories.append(last)
        rows_run.append(rows)
    ran = torch.cat(rows_run)
    hidden = torch.cat(outputs)
    result = hidden.new_zeros(batch, steps, hidden.shape[-1]).index_copy(0, ran, hidden)
    new_memory = memory.index_copy(0, ran, torch.cat(memories))
    return result, new_memory
