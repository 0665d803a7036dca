"""The recurrence over rows of different lengths, in groups: equal to the whole padded batch."""

import pytest
import torch

from instructed_rl.model.ragged import length_groups, recur_ragged


def test_length_groups_cut_only_where_padding_costs_more_than_another_call():
    assert length_groups([10] * 32) == [(0, 32)]
    assert length_groups([500, 480] + [5] * 30) == [(0, 2), (2, 32)]  # two long maze episodes apart
    assert length_groups([12, 11, 9, 8, 8, 6, 5, 5]) == [(0, 8)]  # a little padding costs less than a call
    with pytest.raises(ValueError, match="sorted"):
        length_groups([3, 5])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_groups_give_the_padded_batchs_outputs_and_gradients_at_every_real_step(kind):
    torch.manual_seed(0)
    cell = torch.nn.LSTM(6, 5, batch_first=True) if kind == "lstm" else torch.nn.GRU(6, 5, batch_first=True)
    cell = cell.double()
    width = 10 if kind == "lstm" else 5

    def recur(inputs, memory):
        state = tuple(part.unsqueeze(0).contiguous() for part in memory.chunk(2, -1)) if kind == "lstm" \
            else memory.unsqueeze(0).contiguous()
        hidden, last = cell(inputs, state)
        return hidden, torch.cat([last[0][0], last[1][0]], -1) if kind == "lstm" else last[0]

    lengths = torch.tensor([3, 400, 1, 0, 400, 2, 7, 3, 380, 1])  # runs in more than one group:
    assert len(length_groups(sorted(lengths.tolist(), reverse=True))) > 1
    inputs = torch.randn(len(lengths), 400, 6, dtype=torch.float64, requires_grad=True)
    memory = torch.randn(len(lengths), width, dtype=torch.float64)
    valid = torch.arange(400)[None] < lengths[:, None]
    ours, ours_memory = recur_ragged(recur, inputs, memory, lengths)
    whole, _ = recur(inputs, memory)
    assert torch.allclose(ours[valid], whole[valid], atol=1e-12)
    whole_memory = recur(inputs, memory)[1]
    full_rows = lengths == 400  # their memory as the whole batch's
    assert torch.allclose(ours_memory[full_rows], whole_memory[full_rows], atol=1e-12)
    weights = torch.randn(400, 5, dtype=torch.float64)
    ours_grad, = torch.autograd.grad((ours * weights * valid[..., None]).sum(), inputs)
    whole_grad, = torch.autograd.grad((whole * weights * valid[..., None]).sum(), inputs)
    assert torch.allclose(ours_grad, whole_grad, atol=1e-12)
    full = torch.full_like(lengths, 400)  # no padding: one call, the whole batch's own result
    assert torch.equal(recur_ragged(recur, inputs, memory, full)[0], whole)
    with pytest.raises(ValueError, match="at least one step"):
        recur_ragged(recur, inputs, memory, torch.zeros_like(lengths))
