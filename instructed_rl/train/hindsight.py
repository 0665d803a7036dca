"""Hindsight relabelling in PPO: what the agent's own episodes achieved, learned as instructions.

A rollout collected with ``achievements`` lists every instruction each step completed (minigrid's
verifier decides, :mod:`instructed_rl.hindsight`). Each becomes a cloning example: the episode
from its start up to that step, the agent's own actions as labels, the instruction it did satisfy
as its mission, and the view after the step as the termination head's "done" row. No bot takes
part. Skills are drawn evenly, so that the rare ones (put next to) weigh as much as going to things.

The actions far before the achievement are mostly the policy's own noise, the ones just before it
did the job: each action's cross-entropy is weighted by ``discount ** (steps left to the
achievement)``, as reward-weighted regression would weigh a reward of 1 at the achieving step,
and a step that changed nothing the agent sees (a pick-up with nothing in front, a step into a
wall) is not cloned at all: it cannot have helped. Both raised greedy success on PickupLoc.

An agent with a target map can also learn, from each relabelled episode, where the objects its
achieved instruction names lie in every view (``grounding_coef``): the verifier's own description
of them, no bot. That names colour and type together, which the sparse reward teaches slowly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from instructed_rl.model.agent import Agent
from instructed_rl.rollout.episodes import Episode, label_masks
from instructed_rl.rollout.steps import Rollout
from instructed_rl.train.grounding import grounding_loss
from instructed_rl.train.imitation import unroll


def relabelled_episodes(rollout: Rollout) -> tuple[list[Episode], list[str]]:
    """Every achievement of ``rollout`` as an :class:`Episode`, with its skill (one on the
    rollout's last step has no view after it yet and is left out)."""
    steps = rollout.action.shape[0]
    episodes, skills = [], []
    for t, n, skill, text, targets in rollout.achieved:
        if rollout.ended[t, n]:  # the mission's success, the step limit or a strict level's failure
            after = rollout.achieved_last[t, n]
        else:
            after = (rollout.image[t + 1, n], rollout.direction[t + 1, n]) if t + 1 < steps else None
        if after is None:
            continue
        first = t
        while not rollout.start[first, n]:  # every env starts an episode at step 0
            first -= 1
        image = np.concatenate([rollout.image[first:t + 1, n], after[0][None]])
        direction = np.append(rollout.direction[first:t + 1, n], after[1]).astype(np.uint8)
        action = np.append(rollout.action[first:t + 1, n], -1).astype(np.int16)
        action[:-1][changed_nothing(image, direction)] = -1
        done = np.zeros(len(action), np.uint8)
        done[-1] = 1
        game, _, description = rollout.texts[rollout.goal[t, n]]
        episodes.append(Episode(game=game, instruction=text, description=description, image=image,
                                direction=direction, action=action, done=done, success=True,
                                optimal=label_masks(action), target=tuple(targets)))
        skills.append(skill)
    return episodes, skills


def changed_nothing(image: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """(L - 1,) whether each step left the agent's view and heading as they were (a pick-up with
    nothing in front, a drop with empty hands, a step into a wall): it cannot have helped."""
    same_view = (image[1:] == image[:-1]).reshape(len(image) - 1, -1).all(axis=1)
    return same_view & (direction[1:] == direction[:-1])


def pick_balanced(skills: list[str], size: int, rng: np.random.Generator) -> list[int]:
    """``size`` indices (fewer if there are fewer), each skill equally likely, without repeats."""
    if len(skills) <= size:
        return list(range(len(skills)))
    names, counts = np.unique(skills, return_counts=True)
    weight = dict(zip(names.tolist(), (1.0 / counts).tolist()))
    p = np.array([weight[s] for s in skills])
    return sorted(rng.choice(len(skills), size=size, replace=False, p=p / p.sum()).tolist())


def relabelled_loss(agent: Agent, episodes: list[Episode], *, discount: float, done_coef: float,
                    grounding_coef: float = 0.0, grounding_balanced: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    """Discount-weighted cross-entropy to the episodes' own actions + the termination head's BCE,
    + ``grounding_coef`` x the target map's loss on the relabelled episodes (the cells holding the
    objects their achieved instruction names; ``grounding_balanced``: positive and negative cells weigh alike)."""
    out, padded, _ = unroll(agent, episodes)
    action, valid = padded["action"], padded["valid"]
    labelled = action >= 0
    last = np.array([len(e) - 2 for e in episodes])[:, None]  # the achieving step's row
    steps_left = last - np.arange(action.shape[1])[None]
    weight = torch.from_numpy(np.where(labelled, discount ** np.maximum(steps_left, 0), 0.0).astype(np.float32))
    log_probs = torch.log_softmax(out.logits, dim=-1)
    taken = log_probs.gather(-1, torch.from_numpy(np.maximum(action, 0))[..., None]).squeeze(-1)
    action_loss = -(taken * weight).sum() / weight.sum().clamp_min(1e-8)  # all unlabelled: a go-to achieved at once
    valid_t = torch.from_numpy(valid)
    done_loss = F.binary_cross_entropy_with_logits(out.done_logit[valid_t], torch.from_numpy(padded["done"])[valid_t])
    achieving = torch.from_numpy(labelled & (steps_left == 0))
    with torch.no_grad():
        accuracy = (out.logits.argmax(-1) == torch.from_numpy(action))[achieving].float().mean().item()
    loss = action_loss + done_coef * done_loss
    values = {"action_loss": action_loss.item(), "done_loss": done_loss.item(), "last_action_accuracy": accuracy}
    if grounding_coef > 0:
        map_loss, map_exact = grounding_loss(out.target_map, padded["image"], valid, [e.target for e in episodes],
                                             balanced=grounding_balanced)
        loss = loss + grounding_coef * map_loss
        values.update(grounding_loss=map_loss.item(), grounding_exact=map_exact)
    return loss, values
