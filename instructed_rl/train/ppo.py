"""PPO and kickstarting for language-instructed agents: recurrent, multitask, exactly resumable.

    instructed-rl train --config configs/ppo_tiny.yaml --out runs/ppo_tiny
    instructed-rl train --config configs/kickstart_tiny.yaml --out runs/kickstart_tiny
    torchrun --nproc_per_node=2 -m instructed_rl.cli train --config configs/ppo_tiny.yaml   # data-parallel

Rollouts (:mod:`instructed_rl.rollout.steps`): each iteration every env starts a new episode
and takes ``steps`` steps; episodes still running at the end are cut and bootstrapped with the
critic's value. Nothing but counters, weights and the optimizer
crosses an iteration boundary, so a resumed run retraces an uninterrupted one exactly.

Reward is the env's own: minigrid's ``1 - 0.9 * t / T`` on success, 0 otherwise (times
``reward_scale``). The loss is torch-ac's recurrent PPO: the rollout stores the memory before
every step, and training replays episode pieces of at most ``recurrence`` steps from their
stored memory (BPTT within a piece). The termination head learns from the env's completion
signal: the view after a successful step is kept as one extra row of its piece (no action, no
advantage, "done" target 1); every other row has target 0.

Kickstarting (Schmitt et al. 2018) adds a distillation term toward a teacher, its weight
annealed linearly to 0: ``teacher: bot`` is cross-entropy to the BabyAI bot's action at every
visited state (the bot replans in the env's own process), ``teacher: DIR`` is KL from a saved
agent's action distribution to the student's.

With ``hindsight: true`` (no teacher at all) each minibatch also clones a batch of the rollout's
relabelled episodes: whatever instruction the agent's own steps satisfied, learned as if it had
been the mission (:mod:`instructed_rl.train.hindsight`).

Envs step in this process (``workers: 1``) or in ``workers`` spawned processes, each owning a
slice of the envs; both give the same numbers. With ``overlap: true`` one spawned process
collects the next rollout while this one updates (a one-update policy lag; see
:mod:`instructed_rl.train.overlap`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from instructed_rl.model.agent import Agent
from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.games.spec import find_game
from instructed_rl.train import distributed
from instructed_rl.train.checkpoint import load_checkpoint
from instructed_rl.train.gae import compute_gae
from instructed_rl.train.hindsight import pick_balanced, relabelled_episodes, relabelled_loss
from instructed_rl.train.optim import gradient_step, make_adam
from instructed_rl.train.ppo_loss import make_minibatch, ppo_loss, segments
from instructed_rl.train.overlap import (RolloutProcess, learner_threads, weights_from_arrays, weights_of,
                                         weights_to_arrays)
from instructed_rl.rollout.envs import EnvVector
from instructed_rl.rollout.steps import collect_rollout
from instructed_rl.train.runs import (AgentSource, StopFlag, end_iteration, finish_run, iteration_randomness,
                                     make_agent, open_run)
from instructed_rl.train.tracking import MetricsLog, Progress


@dataclass
class PPOConfig(AgentSource):
    algorithm: Literal["ppo"] = option("ppo", "which trainer this config is for")
    frames: int = option(1_000_000, "environment steps to take in total (all ranks together)")
    envs: int = option(16, "envs stepped together, batched through the policy (per rank under torchrun)")
    workers: int = option(1, "processes that step the envs (1 = this process; N > 1 = N spawned workers)")
    overlap: bool = option(False, "collect the next rollout in a spawned process during the update on this one "
                                  "(the behaviour policy lags one update; see instructed_rl/train/overlap.py)")
    steps: int = option(128, "steps per env per iteration (longer than most episodes: ones still running are cut)")
    recurrence: int = option(16, "BPTT length: training replays episode pieces of at most this many steps")
    epochs: int = option(4, "passes over each rollout")
    minibatches: int = option(4, "gradient steps per epoch (the rollout's pieces split evenly)")
    lr: float = option(3e-4, "Adam learning rate")
    adam_eps: float = option(1e-5, "Adam epsilon")
    gamma: float = option(0.99, "discount")
    gae_lambda: float = option(0.95, "GAE lambda")
    clip: float = option(0.2, "PPO clipping of the probability ratio (and of the value change)")
    clip_value: bool = option(True, "clip the value update around the rollout's value as torch-ac does")
    normalize_advantages: bool = option(True, "standardise advantages within each minibatch")
    value_coef: float = option(0.5, "weight of the value loss")
    entropy_coef: float = option(0.01, "weight of the entropy bonus")
    done_coef: float = option(0.5, "weight of the termination-head loss")
    reward_scale: float = option(1.0, "multiplies the env's reward (BabyAI used 20)")
    max_grad_norm: float = option(0.5, "gradient clipping")
    hindsight: bool = option(False, "also learn from what the agent's own episodes achieved: every instruction a "
                                    "step satisfied (minigrid's verifier decides) becomes a cloning example of the "
                                    "actions that led there, with that instruction as the mission; no bot")
    hindsight_coef: float = option(1.0, "weight of the relabelled episodes' cloning + termination loss")
    hindsight_batch: int = option(32, "relabelled episodes per minibatch (skills drawn evenly)")
    hindsight_discount: float = option(0.9, "each relabelled action's weight is this to the power of the steps "
                                            "left to the achievement (the actions that did the job count most)")
    grounding_coef: float = option(0.0, "weight of the target map's auxiliary loss on the relabelled episodes "
                                        "(hindsight): which view cells hold the objects their achieved instruction "
                                        "names; needs an agent with a target map")
    grounding_balanced: bool = option(False, "weigh the target map's named objects (~1 cell of 49), the other objects "
                                             "and the empty cells a third each: the map can neither mark nothing nor "
                                             "every object of the named type")
    device: Literal["cpu", "cuda", "auto"] = option("cpu", "where the network runs (auto: cuda when available)")
    checkpoint_every: int = option(10, "iterations between checkpoints (also on Ctrl-C / SIGTERM)")
    eval_every: int = option(0, "iterations between greedy evaluations (0 = only at the end)")

    def __post_init__(self):
        self.normalize_agent_fields()
        for name in ("frames", "envs", "workers", "steps", "recurrence", "epochs", "minibatches",
                     "checkpoint_every", "threads", "eval_episodes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.overlap and self.workers != 1:
            raise ValueError(f"overlap: true steps the envs in its own rollout process; set workers: 1, not {self.workers}")
        if self.workers > self.envs:
            raise ValueError(f"workers={self.workers} exceeds envs={self.envs}; each worker needs at least one env")
        if self.minibatches > self.envs:
            # Every env yields at least one piece, so each rank always has work for every step.
            raise ValueError(f"minibatches={self.minibatches} exceeds envs={self.envs}; use at most one per env")
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")
        if self.clip <= 0 or self.lr <= 0:
            raise ValueError("clip and lr must be positive")
        if not 0 < self.hindsight_discount <= 1:
            raise ValueError(f"hindsight_discount must lie in (0, 1], got {self.hindsight_discount}")
        if self.grounding_coef < 0:
            raise ValueError(f"grounding_coef must be >= 0, got {self.grounding_coef}")
        if self.hindsight_coef < 0 or self.hindsight_batch <= 0:
            raise ValueError(f"hindsight_coef must be >= 0 and hindsight_batch positive, got {self.hindsight_coef} "
                             f"and {self.hindsight_batch}")

    @property
    def frames_per_iteration(self) -> int:
        """Steps one rank takes per iteration (all ranks: times the world size)."""
        return self.envs * self.steps

    def distill_coef_at(self, frames: int) -> float:
        return 0.0


@dataclass
class KickstartConfig(PPOConfig):
    algorithm: Literal["kickstart"] = option("kickstart", "which trainer this config is for")
    teacher: str = option("bot", "'bot' (BabyAI bot labels, cross-entropy) or a saved agent directory (KL)")
    distill_coef: float = option(1.0, "weight of the distillation loss at the start")
    distill_anneal_frames: int = option(200_000, "frames over which that weight falls linearly to 0")

    def __post_init__(self):
        super().__post_init__()
        if self.distill_coef < 0 or self.distill_anneal_frames <= 0:
            raise ValueError("distill_coef must be >= 0 and distill_anneal_frames positive")

    def distill_coef_at(self, frames: int) -> float:
        return self.distill_coef * max(0.0, 1.0 - frames / self.distill_anneal_frames)


# Keys that may change between a run and its resumption (budget, bookkeeping, speed only).
RESUMABLE_CHANGES = ("frames", "checkpoint_every", "eval_every", "eval_episodes", "threads", "conv_precision", "text_precision", "track", "workers")


# ---- the trainer ---------------------------------------------------------------------------

def train_ppo(config: PPOConfig, out: Path, *, log=print) -> Path:
    """Train (or resume) PPO / kickstarting in ``out``; returns the path of the final saved agent."""
    torch.set_num_threads(learner_threads(config.threads, config.overlap))
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise UserError("device: cuda, but torch sees no GPU. Fix: --device cpu (or auto)")
    if use_cuda and config.hindsight:
        raise UserError("hindsight: true trains on the CPU only for now. Fix: device: cpu")
    ctx = distributed.init_distributed(cuda=use_cuda)
    device = torch.device("cuda", ctx.local_rank) if use_cuda else torch.device("cpu")
    log = log if ctx.is_main else (lambda *args, **kwargs: None)
    kickstart = isinstance(config, KickstartConfig)
    teacher_kind = "none" if not kickstart else ("bot" if config.teacher == "bot" else "agent")
    game_ids = [find_game(game).id for game in config.games]  # an unknown game fails here, not in a worker
    resumed = open_run(config, out, ctx, resumable=RESUMABLE_CHANGES)

    # ---- agent, optimizer, counters
    agent = make_agent(config, out, ctx, resumed=resumed)
    if config.grounding_coef > 0 and not (config.hindsight and agent.config.policy.target_map):
        raise UserError("grounding_coef > 0 trains the target map on relabelled episodes. Fix: hindsight: true and "
                        "'agent: {policy: {target_map: true}}' (a new agent), or grounding_coef: 0")
    agent.to(device)
    distributed.broadcast_parameters(agent, ctx)
    teacher = None
    if teacher_kind == "agent" and not config.overlap:  # overlapped, the rollout process loads it
        teacher = Agent.from_pretrained(config.teacher, device=device).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    parameters = [p for p in agent.parameters() if p.requires_grad]
    optimizer = make_adam(parameters, lr=config.lr, eps=config.adam_eps)
    state = {"iteration": 0, "frames": 0, "episodes": 0, "wall_seconds": 0.0, "bot_failures": 0}
    arrays: dict[str, np.ndarray] = {}
    if resumed:
        state, arrays = load_checkpoint(out, optimizer=optimizer)
        log(f"resuming {out} at iteration {state['iteration']}, {state['frames']:,} frames")
    metrics = MetricsLog(out, track=config.track, config=dataclasses.asdict(config),
                         resume_from_frames=state["frames"], rank_zero=ctx.is_main)
    progress = Progress(config.frames, enabled=ctx.is_main)
    env_kwargs = dict(games=config.games, corpus=config.corpus, seed=config.seed, first=ctx.rank * config.envs,
                      count=config.envs, workers=config.workers, map_memory=agent.config.policy.map_memory,
                      planner=agent.config.policy.planner)
    frames_per_iteration = config.frames_per_iteration * ctx.world_size
    rollouts, envs, behaviour = None, None, None
    if config.overlap:
        rollouts = RolloutProcess(agent, envs=env_kwargs, teacher=config.teacher if teacher_kind == "agent" else None,
                                  seed=config.seed, rank=ctx.rank)
        # The weights the next rollout is collected with: saved with each checkpoint.
        behaviour = weights_from_arrays(arrays) or weights_of(agent)
    else:
        envs = EnvVector(**env_kwargs)

    def submit(iteration: int, frames: int, weights: dict[str, torch.Tensor]) -> None:
        coef = config.distill_coef_at(frames)
        rollouts.submit(iteration=iteration, weights=weights, steps=config.steps,
                        labels=teacher_kind == "bot" and coef > 0, use_teacher=teacher_kind == "agent" and coef > 0,
                        achievements=config.hindsight)

    if rollouts is not None and state["frames"] < config.frames:
        submit(state["iteration"], state["frames"], behaviour)
    started = time.perf_counter() - state["wall_seconds"]
    last_eval: dict[str, float] = {}
    try:
        with StopFlag() as stop:
            while state["frames"] < config.frames:
                iteration = state["iteration"]
                rng, generator = iteration_randomness(config.seed, iteration, ctx)
                distill_coef = config.distill_coef_at(state["frames"])

                # ---- rollout
                if rollouts is not None:
                    rollout, stats = rollouts.result()
                    behaviour = weights_of(agent)  # before this update: what the next rollout acts with
                    if state["frames"] + frames_per_iteration < config.frames:
                        submit(iteration + 1, state["frames"] + frames_per_iteration, behaviour)
                else:
                    agent.eval()
                    rollout, stats = collect_rollout(
                        agent, envs, iteration=iteration, steps=config.steps, generator=generator,
                        labels=teacher_kind == "bot" and distill_coef > 0,
                        teacher=teacher if distill_coef > 0 else None, achievements=config.hindsight)
                advantages, returns = compute_gae(rollout.reward * config.reward_scale, rollout.value, rollout.ended,
                                                  rollout.bootstrap, gamma=config.gamma, lam=config.gae_lambda)

                # ---- update: epochs x minibatches of episode pieces
                agent.train()
                pieces = segments(rollout.start, rollout.terminal, config.recurrence)
                relabelled, skills = relabelled_episodes(rollout) if config.hindsight else ([], [])
                update_metrics = []
                for _ in range(config.epochs):
                    order = rng.permutation(len(pieces))
                    for chosen in np.array_split(order, config.minibatches):
                        mb = make_minibatch(rollout, advantages, returns, [pieces[i] for i in sorted(chosen)], device)
                        loss, values = ppo_loss(agent, mb, config=config, distill_coef=distill_coef,
                                                teacher_kind=teacher_kind if distill_coef > 0 else "none")
                        if relabelled:
                            picked = [relabelled[i] for i in pick_balanced(skills, config.hindsight_batch, rng)]
                            cloning, cloned = relabelled_loss(agent, picked, discount=config.hindsight_discount,
                                                              done_coef=config.done_coef,
                                                              grounding_coef=config.grounding_coef,
                                                              grounding_balanced=config.grounding_balanced)
                            loss = loss + config.hindsight_coef * cloning
                            values.update({f"hindsight_{k}": v for k, v in cloned.items()})
                        values["grad_norm"] = gradient_step(loss, optimizer, parameters,
                                                            max_grad_norm=config.max_grad_norm, ctx=ctx)
                        update_metrics.append(values)

                # ---- bookkeeping (counters summed over ranks)
                per_game = [n for game in game_ids for n in stats.per_game.get(game, [0, 0])]
                episodes, successes, length_sum, bot_failures, return_sum, *per_game = distributed.all_reduce_sum(
                    [stats.episodes, stats.successes, stats.length_sum, stats.bot_failures, stats.return_sum,
                     *per_game], ctx)
                state.update(iteration=iteration + 1, frames=state["frames"] + frames_per_iteration,
                             episodes=state["episodes"] + episodes, bot_failures=state["bot_failures"] + bot_failures,
                             wall_seconds=time.perf_counter() - started)
                row = {
                    "iteration": state["iteration"], "frames": state["frames"], "episodes": state["episodes"],
                    "wall_seconds": round(state["wall_seconds"], 3),
                    "fps": state["frames"] / max(1e-9, state["wall_seconds"]),
                    "collect/success": successes / max(1, episodes),
                    "collect/return": return_sum / max(1, episodes),
                    "collect/episode_length": length_sum / max(1, episodes),
                    "collect/value": float(rollout.value.mean()),
                    **{f"train/{k}": float(np.mean([m[k] for m in update_metrics])) for k in update_metrics[0]},
                }
                if len(game_ids) > 1:
                    row.update({f"collect/success/{game}": per_game[2 * k] / max(1, per_game[2 * k + 1])
                                for k, game in enumerate(game_ids)})
                if config.hindsight:
                    row["collect/relabelled"] = len(relabelled)
                    row.update({f"collect/relabelled/{skill}": skills.count(skill) for skill in sorted(set(skills))})
                if kickstart:
                    row["distill_coef"] = distill_coef
                    row["bot_failures"] = state["bot_failures"]
                shown = {"success%": 100 * row["collect/success"], "ret": row["collect/return"]}
                kept = lambda: weights_to_arrays(behaviour) if behaviour is not None else {}  # noqa: E731
                last_eval = end_iteration(row, agent=agent, optimizer=optimizer, config=config, ctx=ctx, out=out,
                                          state=state, stop=stop, metrics=metrics, progress=progress, shown=shown,
                                          arrays=kept, log=log) or last_eval
    finally:
        for resource in (envs, rollouts):
            if resource is not None:
                resource.close()
    progress.close()
    metrics.close()
    return finish_run(
        agent, out, config=config, ctx=ctx, state=state, last_eval=last_eval, log=log,
        curve_keys=("collect/success", "eval/mean", "collect/return", "train/value_loss", "train/entropy",
                    "train/done_loss") + (("train/distill_loss",) if kickstart else ()),
        record={"algorithm": config.algorithm, "frames": state["frames"], "episodes": state["episodes"],
                "iterations": state["iteration"], "fps": round(state["frames"] / max(1e-9, state["wall_seconds"]), 1),
                "hardware": {"device": str(device)}},
    )
