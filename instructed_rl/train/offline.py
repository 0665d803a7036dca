"""Behaviour cloning from a demos directory, as BabyAI's ``train_il``: no env and no bot while training.

    instructed-rl make-demos --game GoToRoom --corpus babyai --episodes 5000 --out demos/goto_room
    instructed-rl train --config configs/tiny.yaml --games GoToRoom --corpus babyai --demos demos/goto_room

The imitation trainer hands its run here, set up (agent, optimizer, counters, resumed or new),
when its config sets ``demos``. Each demo becomes an
:class:`~instructed_rl.rollout.episodes.Episode` ending in its post-success view, as the bot's
own collected episodes do, so the termination head learns what "done" looks like. Each epoch
visits the demos in a fresh order drawn from (seed, epoch), in minibatches of
``batch_episodes`` whole episodes, ``updates_per_iteration`` minibatches an iteration, with
imitation's loss. ``frames`` counts dataset frames consumed: the bot's steps of every episode
in every minibatch, so an epoch is about the dataset's step count. Between iterations the
state is counters only (epoch, position in it), so a resumed run retraces an uninterrupted
one; checkpoints, evaluation and the end of the run are the imitation trainer's.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from instructed_rl.model.agent import Agent
from instructed_rl.demos import DemoDataset, check_for_training, load_demos
from instructed_rl.errors import UserError
from instructed_rl.games.spec import find_game
from instructed_rl.train import distributed
from instructed_rl.rollout.episodes import Episode, label_masks
from instructed_rl.train.imitation import ImitationConfig, imitation_loss
from instructed_rl.train.optim import gradient_step
from instructed_rl.train.runs import StopFlag, end_iteration, finish_run, seed_dropout
from instructed_rl.train.tracking import MetricsLog, Progress


def demo_episodes(dataset: DemoDataset, game: str) -> list[Episode]:
    """The demos as training episodes: the bot's steps, then the post-success view (no label, done)."""
    episodes = []
    for demo in dataset:
        action = np.append(demo.action.astype(np.int16), np.int16(-1))
        episodes.append(Episode(
            game=game, instruction=demo.mission, description=demo.description,
            image=np.concatenate([demo.image, demo.final_image[None]]),
            direction=np.append(demo.direction, np.uint8(demo.final_direction)),
            action=action, done=np.append(np.zeros(len(demo), np.uint8), np.uint8(1)), success=True,
            optimal=label_masks(action), target=tuple(demo.meta["target"]), plain=demo.meta["plain"],
        ))
    return episodes


def next_batch(state: dict, *, size: int, count: int, seed: int) -> np.ndarray:
    """The next ``size`` demo indices of the epoch's order (of ``count`` demos); advances ``state``.
    An epoch's remainder smaller than a batch is skipped: every minibatch is whole."""
    if state["position"] + size > count:
        state["epoch"], state["position"] = state["epoch"] + 1, 0
    order = np.random.default_rng([seed, state["epoch"]]).permutation(count)
    picks = order[state["position"]:state["position"] + size]
    state["position"] += size
    return picks


def clone_from_demos(config: ImitationConfig, out: Path, *, agent: Agent, optimizer: torch.optim.Optimizer,
                     state: dict, ctx: distributed.Distributed, metrics: MetricsLog, progress: Progress,
                     started: float, log=print) -> Path:
    """Clone ``config.demos`` into the run's ``agent`` (new or resumed, as the imitation trainer set
    it up in ``out``, with its metrics log, progress line and clock); returns the final agent's path."""
    manifest = check_for_training(config.demos, games=config.games, corpus=config.corpus)
    episodes = demo_episodes(load_demos(config.demos), find_game(manifest["game"]).id)
    # Every rank draws the same order and trains on its own share of each minibatch.
    size = min(config.batch_episodes, len(episodes) // ctx.world_size) * ctx.world_size
    if size == 0:
        raise UserError(f"{config.demos} holds {len(episodes)} demos, fewer than the {ctx.world_size} processes. "
                        "Fix: make more demos, or run in fewer processes")
    parameters = [p for p in agent.parameters() if p.requires_grad]
    state.setdefault("epoch", 0)
    state.setdefault("position", 0)
    last_eval: dict[str, float] = {}
    with StopFlag() as stop:
        while state["frames"] < config.frames:
            iteration = state["iteration"]
            seed_dropout(config.seed, iteration)  # minibatches have their own order, from (seed, epoch)
            for group in optimizer.param_groups:  # a function of the frame count, so resuming is exact
                group["lr"] = config.learning_rate(state["frames"])
            agent.train()
            update_metrics = []
            for _ in range(config.updates_per_iteration):
                picks = next_batch(state, size=size, count=len(episodes), seed=config.seed)
                loss, values = imitation_loss(agent, [episodes[i] for i in sorted(picks[ctx.rank::ctx.world_size])],
                                              done_coef=config.done_coef, reading_coef=config.reading_coef,
                                              grounding_coef=config.grounding_coef)
                gradient_step(loss, optimizer, parameters, max_grad_norm=config.max_grad_norm, ctx=ctx)
                update_metrics.append(values)
                state["frames"] += sum(len(episodes[i]) - 1 for i in picks)  # the bot's steps, not the done views
                state["episodes"] += len(picks)
            state.update(iteration=iteration + 1, wall_seconds=time.perf_counter() - started)
            row = {
                "iteration": state["iteration"], "frames": state["frames"], "episodes": state["episodes"],
                "epoch": state["epoch"] + state["position"] / len(episodes),
                "wall_seconds": round(state["wall_seconds"], 3),
                "fps": state["frames"] / max(1e-9, state["wall_seconds"]),
                "lr": optimizer.param_groups[0]["lr"],
                **{f"train/{k}": float(np.mean([m[k] for m in update_metrics])) for k in update_metrics[0]},
            }
            last_eval = end_iteration(row, agent=agent, optimizer=optimizer, config=config, ctx=ctx, out=out,
                                      state=state, stop=stop, metrics=metrics, progress=progress,
                                      shown={"acc": row["train/accuracy"]}, log=log) or last_eval
    progress.close()
    metrics.close()
    return finish_run(
        agent, out, config=config, ctx=ctx, state=state, last_eval=last_eval, log=log,
        curve_keys=("eval/mean", "train/accuracy", "train/done_loss"),
        record={"algorithm": "imitation", "demos": str(config.demos), "frames": state["frames"],
                "demonstration_episodes": len(episodes),
                "epochs": round(state["epoch"] + state["position"] / len(episodes), 3),
                "reading_warmup": state.get("reading_warmup")},
    )
