"""PPO's losses on minibatches of episode pieces (torch-ac's recurrent PPO), plus distillation.

A rollout's rows are cut into pieces of at most ``recurrence`` steps of one episode; each piece
is replayed from the memory stored before its first step. The view after a successful step is
one extra row of its piece: no action, no advantage, "done" target 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from instructed_rl.model.agent import Agent
from instructed_rl.rollout.steps import Rollout


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                        clip: float) -> torch.Tensor:
    """PPO's surrogate: mean of ``-min(r A, clip(r, 1-e, 1+e) A)`` with ``r = exp(logp - old_logp)``."""
    ratio = torch.exp(logp - old_logp)
    return -torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()


def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
                       clip: float | None) -> torch.Tensor:
    """Squared error to the returns; with ``clip``, torch-ac's pessimistic max over the clipped update."""
    loss = (values - returns) ** 2
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        loss = torch.max(loss, (clipped - returns) ** 2)
    return loss.mean()


def segments(start: np.ndarray, terminal: list[tuple[int, int, np.ndarray, int]],
             recurrence: int) -> list[tuple[int, int, int, int]]:
    """Cut each env's row of the rollout into training pieces ``(env, t0, t1, extra)``.

    A piece is at most ``recurrence`` steps of one episode (``t0 <= t < t1``); ``extra`` is the
    index into ``terminal`` of the post-success view that follows its last step, or -1.
    """
    steps, count = start.shape
    extra_at = {(t, n): k for k, (t, n, _, _) in enumerate(terminal)}
    pieces = []
    for n in range(count):
        first = 0
        for t in range(1, steps + 1):
            if t == steps or start[t, n] or t - first == recurrence:
                pieces.append((n, first, t, extra_at.get((t - 1, n), -1)))
                first = t
    return pieces


@dataclass
class Minibatch:
    image: torch.Tensor  # (B, L, 7, 7, 3)
    direction: torch.Tensor  # (B, L)
    valid: torch.Tensor  # (B, L) real rows (steps and post-success views)
    acted: torch.Tensor  # (B, L) rows with an action (policy, value, entropy, distillation)
    action: torch.Tensor
    old_logp: torch.Tensor
    old_value: torch.Tensor
    advantage: torch.Tensor
    returns: torch.Tensor
    done: torch.Tensor  # (B, L) termination target
    label: torch.Tensor  # (B, L) bot action or -1
    teacher_logp: torch.Tensor | None  # (B, L, A)
    memory: torch.Tensor  # (B, M) memory before each piece
    instructions: list[str]
    descriptions: list[str]


def make_minibatch(rollout: Rollout, advantages: np.ndarray, returns: np.ndarray,
                   pieces: list[tuple[int, int, int, int]], device: torch.device) -> Minibatch:
    """Pad ``pieces`` into (B, L) tensors, each post-success view one row after its piece's last step."""
    batch = len(pieces)
    length = max(t1 - t0 + (extra >= 0) for _, t0, t1, extra in pieces)
    t_index = np.zeros((batch, length), np.int64)
    n_index = np.zeros((batch, length), np.int64)
    acted = np.zeros((batch, length), bool)
    for row, (n, t0, t1, _) in enumerate(pieces):
        t_index[row, :t1 - t0] = np.arange(t0, t1)
        n_index[row] = n
        acted[row, :t1 - t0] = True
    image = rollout.image[t_index, n_index]
    direction = rollout.direction[t_index, n_index]
    valid = acted.copy()
    done = np.zeros((batch, length), np.float32)
    for row, (_, t0, t1, extra) in enumerate(pieces):
        if extra >= 0:
            _, _, image[row, t1 - t0], direction[row, t1 - t0] = rollout.terminal[extra]
            valid[row, t1 - t0] = True
            done[row, t1 - t0] = 1.0

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(device)

    def gather(array: np.ndarray) -> torch.Tensor:
        return tensor(np.where(acted.reshape(acted.shape + (1,) * (array.ndim - 2)), array[t_index, n_index], 0))

    first_t = np.array([t0 for _, t0, _, _ in pieces])
    env = np.array([n for n, _, _, _ in pieces])
    goals = rollout.goal[first_t, env]
    return Minibatch(
        image=tensor(image), direction=tensor(direction), valid=tensor(valid), acted=tensor(acted),
        action=gather(rollout.action), old_logp=gather(rollout.logp), old_value=gather(rollout.value),
        advantage=gather(advantages), returns=gather(returns), done=tensor(done),
        label=tensor(np.where(acted, rollout.label[t_index, n_index], -1)),
        teacher_logp=None if rollout.teacher_logp is None else gather(rollout.teacher_logp),
        memory=tensor(rollout.memory[first_t, env]),
        instructions=[rollout.texts[g][1] for g in goals], descriptions=[rollout.texts[g][2] for g in goals],
    )


def ppo_loss(agent: Agent, mb: Minibatch, *, config, distill_coef: float,
             teacher_kind: Literal["none", "bot", "agent"] = "none") -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped PPO + value + entropy + termination BCE (+ distillation) on one minibatch of pieces."""
    goal = agent.encode_goal(mb.instructions, mb.descriptions)
    out = agent.forward_sequence(mb.image, mb.direction, goal, mb.memory, mb.valid)
    logp_all = torch.log_softmax(out.logits.float(), -1)[mb.acted]
    logp = logp_all.gather(1, mb.action[mb.acted][:, None])[:, 0]
    old_logp = mb.old_logp[mb.acted]
    advantages = mb.advantage[mb.acted]
    if config.normalize_advantages and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = clipped_policy_loss(logp, old_logp, advantages, config.clip)
    value_loss = clipped_value_loss(out.value.float()[mb.acted], mb.old_value[mb.acted], mb.returns[mb.acted],
                                    config.clip if config.clip_value else None)
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    done_loss = F.binary_cross_entropy_with_logits(out.done_logit.float()[mb.valid], mb.done[mb.valid])
    loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy + config.done_coef * done_loss
    distill = torch.zeros(())
    if teacher_kind == "bot":
        labels = mb.label[mb.acted]
        known = labels >= 0
        if known.any():
            distill = F.nll_loss(logp_all[known], labels[known])
    elif teacher_kind == "agent":
        teacher = mb.teacher_logp[mb.acted]
        distill = (teacher.exp() * (teacher - logp_all)).sum(-1).mean()
    if teacher_kind != "none" and distill_coef > 0:
        loss = loss + distill_coef * distill
    with torch.no_grad():
        log_ratio = logp - old_logp
        approx_kl = ((log_ratio.exp() - 1) - log_ratio).mean().item()
        clipfrac = ((log_ratio.exp() - 1).abs() > config.clip).float().mean().item()
    values = {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
              "entropy": entropy.item(), "done_loss": done_loss.item(), "approx_kl": approx_kl, "clipfrac": clipfrac}
    if teacher_kind != "none":
        values["distill_loss"] = distill.item()
    return loss, values
