"""The recurrence over rows of different lengths, in groups: equal to the whole padded batch."""

import pytest
import torch

from instructed_rl.model.ragged import length_groups, recur_ragged


def test_length_groups_cut_where_lengths_drop_and_keep_equal_lengths_together():
    assert length_groups([10] * 32) == [(0, 32)]
    runs = length_groups([64, 55, 30, 29, 26, 21, 17, 16, 16, 15, 14, 11, 10, 10, 10, 8, 7, 7, 7, 7, 5, 5, 4, 4,
                          3, 3, 2, 2, 1, 1, 1, 1])
    assert runs[0] == (0, 2) and len(runs) > 2  # the two long episodes alone; the short ones apart
    assert [start for start, _ in runs[1:]] == [end for _, end in runs[:-1]] and runs[-1][1] == 32
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

    lengths = torch.tensor([3, 40, 1, 0, 40, 2, 7, 3, 38, 1])
    inputs = torch.randn(len(lengths), 40, 6, dtype=torch.float64, requires_grad=True)
    memory = torch.randn(len(lengths), width, dtype=torch.float64)
    valid = torch.arange(40)[None] < lengths[:, None]
    ours, ours_memory = recur_ragged(recur, inputs, memory, lengths)
    whole, _ = recur(inputs, memory)
    assert torch.allclose(ours[valid], whole[valid], atol=1e-12)
    whole_memory = recur(inputs, memory)[1]
    full_rows = lengths == 40  # their memory as the whole batch's
    assert torch.allclose(ours_memory[full_rows], whole_memory[full_rows], atol=1e-12)
    weights = torch.randn(40, 5, dtype=torch.float64)
    ours_grad, = torch.autograd.grad((ours * weights * valid[..., None]).sum(), inputs)
    whole_grad, = torch.autograd.grad((whole * weights * valid[..., None]).sum(), inputs)
    assert torch.allclose(ours_grad, whole_grad, atol=1e-12)
    full = torch.full_like(lengths, 40)  # no padding: one call, the whole batch's own result
    assert torch.equal(recur_ragged(recur, inputs, memory, full)[0], whole)
    with pytest.raises(ValueError, match="at least one step"):
        recur_ragged(recur, inputs, memory, torch.zeros_like(lengths))
