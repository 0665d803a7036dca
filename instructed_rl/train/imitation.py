"""Imitation learning from the BabyAI bot: behaviour cloning annealed into DAgger.

    instructed-rl train --config configs/default.yaml --out runs/default
    torchrun --nproc_per_node=2 -m instructed_rl.cli train --config configs/default.yaml   # data-parallel

Each iteration collects whole episodes in which the bot labels every visited state
(:mod:`instructed_rl.rollout.dagger`), adds them to a replay buffer, and takes a few gradient steps on random
episodes from it: cross-entropy to the bot's action, plus binary cross-entropy for the
termination head (1 only on the post-success view). Everything random is derived from the
config's seed and the iteration number, so a resumed run retraces an uninterrupted one.
Under torchrun each rank collects its own episodes (its own envs, hence seeds) into its own
buffer and gradients are averaged (``distributed.py``); one process runs exactly as before.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from instructed_rl.model.agent import Agent
from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.model.planner import plan_reading_loss
from instructed_rl.model.policy import GoalFeatures, PolicyOutput
from instructed_rl.train import distributed
from instructed_rl.train.checkpoint import load_checkpoint, save_checkpoint
from instructed_rl.rollout.dagger import collect_episodes
from instructed_rl.rollout.envs import REPEAT_WINDOW, EnvVector
from instructed_rl.rollout.episodes import Episode, episodes_from_arrays, episodes_to_arrays
from instructed_rl.train.grounding import grounding_loss
from instructed_rl.train.optim import gradient_step, make_adam
from instructed_rl.train.overlap import (BEHAVIOUR_PREFIX, EpisodeProcess, frozen_outputs_from_arrays,
                                         learner_threads, weights_from_arrays, weights_of, weights_to_arrays)
from instructed_rl.train.reading import (WARMUP_LR, WARMUP_WORLDS_PER_GAME, ReadingExample, pointer_reading_loss,
                                        reading_loss, warm_up_reader)
from instructed_rl.train.runs import (AgentSource, StopFlag, end_iteration, finish_run, iteration_randomness,
                                     make_agent, open_run)
from instructed_rl.train.tracking import MetricsLog, Progress


@dataclass
class ImitationConfig(AgentSource):
    algorithm: Literal["imitation"] = option("imitation", "which trainer this config is for")
    frames: int = option(200_000, "environment steps to collect in total (with demos: dataset steps to train on)")
    demos: str | None = option(None, "clone offline from this 'instructed-rl make-demos' directory (train split, the "
                                     "config's game and corpus) instead of collecting with the bot; frames then counts "
                                     "dataset steps consumed, and envs, episodes_per_iteration, buffer_episodes, beta "
                                     "and agent_actions do not apply")
    envs: int = option(32, "episodes in flight at once (batched through the policy)")
    episodes_per_iteration: int = option(64, "episodes collected per iteration")
    updates_per_iteration: int = option(4, "gradient steps per iteration")
    batch_episodes: int = option(64, "episodes per gradient step")
    buffer_episodes: int = option(4000, "replay buffer size (oldest episodes leave first)")
    beta_start: float = option(1.0, "probability of executing the bot's action at the start (1 = pure cloning)")
    beta_end: float = option(0.1, "that probability at beta_frames and after (lower = more DAgger)")
    beta_frames: int = option(100_000, "frames over which beta anneals linearly")
    agent_actions: Literal["sampled", "greedy"] = option(
        "sampled", "the agent's own actions in DAgger steps: sampled from the policy, or its argmax (then the bot "
        "labels the states where a greedy policy loops, which sampling escapes)")
    lr: float = option(1e-3, "Adam learning rate")
    lr_end: float | None = option(None, "if set, the learning rate anneals linearly from lr to this over the run's "
                                        "frames (None = constant)")
    lr_end_frames: int | None = option(None, "frames by which the learning rate reaches lr_end and then stays "
                                             "(None = the run's frames)")
    max_grad_norm: float = option(1.0, "gradient clipping")
    done_coef: float = option(0.5, "weight of the termination-head loss")
    reading_coef: float = option(0.0, "weight of the reader's auxiliary loss: name the instruction's object(s) from "
                                       "instruction + description (needs an agent with policy.read_description)")
    grounding_coef: float = option(0.0, "weight of the target map's auxiliary loss: which view cells hold the "
                                         "instruction's object(s) (needs an agent with policy.target_map)")
    reading_warmup: int = option(0, "text-only steps of the reader's loss before the first episode (resets only, "
                                    "no bot: ~90 s per 1,500 steps); needs policy.read_description")
    reading_warmup_worlds: int = option(WARMUP_WORLDS_PER_GAME, "distinct worlds per game the reader warm-up draws from")
    reading_warmup_lr: float = option(WARMUP_LR, "Adam learning rate of the reader warm-up (its own optimizer)")
    reading_reword: bool = option(False, "restate some rule sentences of the warm-up's descriptions with a grammar of "
                                         "wordings (instructed_rl.games.rule_wordings), so the pointer learns what a "
                                         "sentence binds rather than where a template puts it")
    reading_without_lists: bool = option(False, "drop the object list from some of the warm-up's descriptions, where "
                                                "the answer stands elsewhere, so the pointer reads a rule without a "
                                                "list of the room's objects beside it")
    env_workers: int = option(1, "processes that step the envs and run the bot (1: this process; the bot's "
                                 "replanning runs beside the policy's forward)")
    overlap: bool = option(False, "collect the next iteration's episodes in a spawned process during this one's "
                                  "gradient steps (DAgger's own actions lag one update; see "
                                  "instructed_rl/train/overlap.py). Pays where collecting is heavy (mazes, the "
                                  "seen map and its planner); in one room the gradient steps bound both")
    action_sets: bool = option(False, "label each move with every equally short one (bot rollouts; slower to collect, "
                                      "no tie-break to imitate; no measured gain yet)")
    loop_takeover: int = option(0, f"steps the bot drives whenever the agent returns to a pose it held in the last "
                                   f"{REPEAT_WINDOW} steps (0 = never): DAgger labels where a greedy loop starts, "
                                   "without the hundreds of looping steps after it")
    checkpoint_every: int = option(25, "iterations between checkpoints (also on Ctrl-C / SIGTERM)")
    eval_every: int = option(25, "iterations between greedy evaluations (0 = only at the end)")

    def __post_init__(self):
        self.normalize_agent_fields()
        for name in ("frames", "envs", "episodes_per_iteration", "updates_per_iteration", "batch_episodes",
                     "buffer_episodes", "checkpoint_every", "threads", "reading_warmup_worlds", "env_workers"):
            if getattr(self, name) <= 0 and not (name == "frames" and self.frames == 0 and self.reading_warmup > 0):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}"
                                 + (" (0 only for a reading-only run: reading_warmup > 0)" if name == "frames" else ""))
        if not 0 <= self.beta_end <= 1 or not 0 <= self.beta_start <= 1:
            raise ValueError("beta_start and beta_end must lie in [0, 1]")
        if self.lr <= 0 or self.reading_warmup_lr <= 0 or (self.lr_end is not None and self.lr_end <= 0):
            raise ValueError(f"lr, lr_end and reading_warmup_lr must be positive, got {self.lr}, {self.lr_end} "
                             f"and {self.reading_warmup_lr}")
        if self.lr_end_frames is not None and self.lr_end_frames <= 0:
            raise ValueError(f"lr_end_frames must be positive, got {self.lr_end_frames}")
        if self.demos in ("", "none", "null"):
            self.demos = None
        if self.loop_takeover < 0:
            raise ValueError(f"loop_takeover must be >= 0, got {self.loop_takeover}")
        if self.overlap and self.env_workers != 1:
            raise ValueError(f"overlap: true steps the envs in its own collection process; set env_workers: 1, "
                             f"not {self.env_workers}")
        if self.demos and self.action_sets:
            raise ValueError("action_sets needs the bot on live worlds; demos hold one label a step. "
                             "Fix: set action_sets: false, or drop demos")
        if self.reading_coef < 0 or self.reading_warmup < 0 or self.grounding_coef < 0:
            raise ValueError("reading_coef, reading_warmup and grounding_coef must be >= 0, got "
                             f"{self.reading_coef}, {self.reading_warmup}, {self.grounding_coef}")

    def beta(self, frames: int) -> float:
        progress = min(1.0, frames / max(1, self.beta_frames))
        return self.beta_start + (self.beta_end - self.beta_start) * progress

    def learning_rate(self, frames: int) -> float:
        if self.lr_end is None:
            return self.lr
        progress = min(1.0, frames / max(1, self.lr_end_frames or self.frames))
        return self.lr + (self.lr_end - self.lr) * progress


# Keys that may change between a run and its resumption (budget and bookkeeping only).
RESUMABLE_CHANGES = ("frames", "checkpoint_every", "eval_every", "eval_episodes", "threads", "conv_precision", "text_precision", "track", "env_workers")


def unroll(agent: Agent, episodes: list[Episode]) -> tuple[PolicyOutput, dict[str, np.ndarray], GoalFeatures]:
    """The policy over whole episodes from zero memory, padded to the longest: its outputs (B, L, ...),
    the padded targets ``action`` (-1 = none), ``optimal``, ``done`` and ``valid`` (B, L) with the
    views' symbols ``image`` (B, L, 7, 7, 3), and the goal."""
    batch = len(episodes)
    length = max(len(e) for e in episodes)
    # The policy gets the real steps' views only, stacked as uint8: a batch of 576-step maze
    # episodes padded to (B, L) as int64 was 0.2 GB, allocated afresh every learning step.
    steps = np.zeros((sum(len(e) for e in episodes), 7, 7, agent.config.policy.view_channels), np.uint8)
    direction = np.zeros((batch, length), np.int64)
    padded = {"action": np.full((batch, length), -1, np.int64), "optimal": np.zeros((batch, length), np.int64),
              "done": np.zeros((batch, length), np.float32), "valid": np.zeros((batch, length), bool)}
    start = 0
    for row, episode in enumerate(episodes):
        n = len(episode)
        steps[start:start + n, ..., :episode.image.shape[-1]] = episode.image  # demos hold no map: zeros
        start += n
        direction[row, :n] = episode.direction
        padded["action"][row, :n], padded["optimal"][row, :n] = episode.action, episode.optimal
        padded["done"][row, :n], padded["valid"][row, :n] = episode.done, True
    image = np.zeros((batch, length, 7, 7, 3), np.int64)
    image[padded["valid"]] = steps[..., :3]  # the symbols padded, for the losses that look at cells
    goal: GoalFeatures = agent.encode_goal([e.instruction for e in episodes], [e.description for e in episodes])
    out = agent.forward_sequence(torch.from_numpy(steps), torch.from_numpy(direction), goal,
                                 agent.initial_memory(batch), torch.from_numpy(padded["valid"]))
    padded["image"] = image
    return out, padded, goal


def imitation_loss(agent: Agent, episodes: list[Episode], *, done_coef: float,
                   reading_coef: float = 0.0, grounding_coef: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Cross-entropy to the bot's actions (to the set of equally good actions where the episode
    has one: minus the log of their summed probability) + termination BCE, from zero memory,
    + the reader's target loss when ``reading_coef`` > 0, + the target map's when ``grounding_coef`` > 0."""
    out, padded, goal = unroll(agent, episodes)
    action, optimal, done, valid = padded["action"], padded["optimal"], padded["done"], padded["valid"]
    logits_t, done_t = out.logits, out.done_logit
    labelled = torch.from_numpy(action >= 0)
    valid_t = torch.from_numpy(valid)
    bits = torch.arange(logits_t.shape[-1])
    in_set = (torch.from_numpy(optimal)[labelled].unsqueeze(-1) >> bits) & 1 == 1  # (N, A); always holds the label
    log_probs = torch.log_softmax(logits_t[labelled], dim=-1)
    action_loss = -torch.logsumexp(log_probs.masked_fill(~in_set, float("-inf")), dim=-1).mean()
    done_loss = F.binary_cross_entropy_with_logits(done_t[valid_t], torch.from_numpy(done)[valid_t])
    with torch.no_grad():
        accuracy = in_set.gather(1, logits_t[labelled].argmax(-1, keepdim=True)).float().mean().item()
    loss = action_loss + done_coef * done_loss
    values = {"action_loss": action_loss.item(), "done_loss": done_loss.item(), "accuracy": accuracy}
    if reading_coef > 0:
        target_loss, target_accuracy = reading_loss(agent, goal, [e.target for e in episodes])
        loss = loss + reading_coef * target_loss
        values.update(reading_loss=target_loss.item(), reading_accuracy=target_accuracy)
        if agent.config.policy.reader == "pointer":  # the pointer keeps learning what to copy
            # Fillers drawn from the batch itself, so a resumed run computes the same loss.
            fillers = np.random.default_rng([zlib.crc32(e.instruction.encode()) for e in episodes[:8]])
            copy_loss, read_exact = pointer_reading_loss(agent, [
                ReadingExample(e.instruction, e.description, e.target, e.plain) for e in episodes], fillers)
            loss = loss + reading_coef * copy_loss
            values.update(pointer_loss=copy_loss.item(), read_exact=read_exact)
    if grounding_coef > 0:
        map_loss, map_exact = grounding_loss(out.target_map, padded["image"], valid, [e.target for e in episodes])
        loss = loss + grounding_coef * map_loss
        values.update(grounding_loss=map_loss.item(), grounding_exact=map_exact)
    if grounding_coef > 0 and agent.config.policy.map_planner:  # which rows of the distance table to read
        plan_loss, plan_exact = plan_reading_loss(agent.policy.plan_class_logits(goal), [e.target for e in episodes])
        loss = loss + grounding_coef * plan_loss
        values.update(plan_loss=plan_loss.item(), plan_exact=plan_exact)
    return loss, {"loss": loss.item(), **values}


def _check_auxiliary_parts(config: ImitationConfig, agent: Agent) -> None:
    """An auxiliary loss needs the policy part it trains; say so before any work is done."""
    policy = agent.config.policy
    if (config.reading_coef > 0 or config.reading_warmup > 0) and not policy.read_description:
        raise UserError("reading_coef / reading_warmup need an agent with a reader. Fix: add "
                        "'agent: {policy: {read_description: true}}' to the config, or set both to 0")
    if config.grounding_coef > 0 and not policy.target_map:
        raise UserError("grounding_coef > 0 needs an agent with a target map. Fix: add "
                        "'agent: {policy: {target_map: true}}' to the config (a new agent), or set grounding_coef: 0")


def _checkpoint_arrays(buffer: list[Episode], behaviour: dict[str, torch.Tensor] | None, ctx) -> dict | None:
    """Every rank's buffer (on rank 0; None elsewhere), and the weights of the collection in flight."""
    arrays = distributed.gather_arrays(episodes_to_arrays(buffer), ctx)
    if arrays is None or behaviour is None:
        return arrays
    return {**arrays, **weights_to_arrays(behaviour)}


def train_imitation(config: ImitationConfig, out: Path, *, log=print) -> Path:
    """Train (or resume) in ``out``; returns the path of the final saved agent."""
    torch.set_num_threads(learner_threads(config.threads, config.overlap))
    ctx = distributed.init_distributed()  # a no-op unless launched by torchrun
    log = log if ctx.is_main else (lambda *args, **kwargs: None)
    resumed = open_run(config, out, ctx, resumable=RESUMABLE_CHANGES)
    agent = make_agent(config, out, ctx, resumed=resumed)
    _check_auxiliary_parts(config, agent)
    distributed.broadcast_parameters(agent, ctx)
    parameters = [p for p in agent.parameters() if p.requires_grad]
    optimizer = make_adam(parameters, lr=config.lr)
    state = {"iteration": 0, "frames": 0, "episodes": 0, "wall_seconds": 0.0, "bot_failures": 0}
    buffer: list[Episode] = []
    arrays: dict[str, np.ndarray] = {}
    if resumed:
        state, arrays = load_checkpoint(out, optimizer=optimizer)
        buffer = episodes_from_arrays({key: value for key, value in distributed.rank_arrays(arrays, ctx).items()
                                       if not key.startswith(BEHAVIOUR_PREFIX)})
        log(f"resuming {out} at iteration {state['iteration']}, {state['frames']:,} frames")
    if not resumed and config.reading_warmup:
        warm_up_started = time.perf_counter()
        warmup = warm_up_reader(agent, games=config.games, corpus=config.corpus, steps=config.reading_warmup,
                                seed=config.seed, max_grad_norm=config.max_grad_norm, log=log,
                                lr=config.reading_warmup_lr, worlds_per_game=config.reading_warmup_worlds,
                                reword=config.reading_reword, without_lists=config.reading_without_lists)
        distributed.broadcast_parameters(agent, ctx)  # every rank ran the same steps; this only guards that
        state["reading_warmup"] = warmup
        state["wall_seconds"] = time.perf_counter() - warm_up_started  # the record's time counts the warm-up
        if ctx.is_main:  # so a resumed run does not warm up again
            save_checkpoint(out, agent=agent, optimizer=optimizer, state=state, arrays={})
        distributed.barrier(ctx)
    metrics = MetricsLog(out, track=config.track, config=dataclasses.asdict(config),
                         resume_from_frames=state["frames"], rank_zero=ctx.is_main)
    progress = Progress(config.frames, enabled=ctx.is_main)
    started = time.perf_counter() - state["wall_seconds"]
    last_eval: dict[str, float] = {}
    if config.demos:  # offline cloning: this run, set up as above, with its own loop over a dataset
        from instructed_rl.train.offline import clone_from_demos

        return clone_from_demos(config, out, agent=agent, optimizer=optimizer, state=state, ctx=ctx, log=log,
                                metrics=metrics, progress=progress, started=started)
    env_kwargs = dict(games=config.games, corpus=config.corpus, seed=config.seed, first=ctx.rank * config.envs,
                      count=config.envs, workers=config.env_workers, map_memory=agent.config.policy.map_memory,
                      planner=agent.config.policy.planner)

    def collection(frames: int) -> dict:
        """What collecting an iteration that starts at ``frames`` asks for, besides its randomness."""
        return dict(episodes=config.episodes_per_iteration, beta=config.beta(frames),
                    sample=config.agent_actions == "sampled", action_sets=config.action_sets,
                    takeover=config.loop_takeover)

    collector, behaviour = None, None
    if config.overlap:
        collector = EpisodeProcess(agent, envs=env_kwargs, seed_key=ctx.seed_key, rank=ctx.rank)
        # The weights the collection in flight acts with: saved with each checkpoint.
        behaviour = weights_from_arrays(arrays) or weights_of(agent)
        if state["frames"] < config.frames:
            collector.submit(iteration=state["iteration"], weights=behaviour, options=collection(state["frames"]))
        envs = collector
    else:
        envs = EnvVector(**env_kwargs)
    # A frozen pretrained encoder keeps the texts of every episode in the buffer: each replay
    # would otherwise run MiniLM again on its (unique) description, ~20 ms an episode on 2 cores.
    texts_held = 2 * (config.buffer_episodes + config.episodes_per_iteration + config.envs
                      + config.eval_episodes * len(config.games))
    with StopFlag() as stop, envs, agent.encoder.holding(texts_held):
        while state["frames"] < config.frames:
            iteration = state["iteration"]
            rng, generator = iteration_randomness(config.seed, iteration, ctx)
            beta = config.beta(state["frames"])
            for group in optimizer.param_groups:  # a function of the frame count, so resuming is exact
                group["lr"] = config.learning_rate(state["frames"])
            waited = time.perf_counter()
            if collector is not None:
                episodes, stats, text_outputs = collector.result()
                agent.encoder.keep_frozen_outputs(frozen_outputs_from_arrays(text_outputs))
                behaviour = weights_of(agent)  # before this iteration's steps: what the next collection acts with
            else:
                agent.eval()
                episodes, stats = collect_episodes(agent, envs, iteration=iteration, rng=rng, generator=generator,
                                                   **collection(state["frames"]))
            waited = time.perf_counter() - waited  # overlapped: the time the gradient steps wait for episodes
            # Summed over ranks, so that every rank agrees on the budget and stops together.
            stats.frames, stats.successes, stats.episodes, stats.agree, stats.bot_failures = distributed.all_reduce_sum(
                [stats.frames, stats.successes, stats.episodes, stats.agree, stats.bot_failures], ctx)
            if collector is not None and state["frames"] + stats.frames < config.frames:
                collector.submit(iteration=iteration + 1, weights=behaviour,
                                 options=collection(state["frames"] + stats.frames))
            buffer.extend(episodes)
            del buffer[:-config.buffer_episodes]
            agent.train()
            update_metrics = []
            for _ in range(config.updates_per_iteration):
                picks = rng.choice(len(buffer), size=min(config.batch_episodes, len(buffer)), replace=False)
                loss, values = imitation_loss(agent, [buffer[i] for i in sorted(picks)], done_coef=config.done_coef,
                                              reading_coef=config.reading_coef, grounding_coef=config.grounding_coef)
                gradient_step(loss, optimizer, parameters, max_grad_norm=config.max_grad_norm, ctx=ctx)
                update_metrics.append(values)
            state.update(iteration=iteration + 1, frames=state["frames"] + stats.frames,
                         episodes=state["episodes"] + stats.episodes,
                         bot_failures=state["bot_failures"] + stats.bot_failures,
                         wall_seconds=time.perf_counter() - started)
            row = {
                "iteration": state["iteration"], "frames": state["frames"], "episodes": state["episodes"],
                "wall_seconds": round(state["wall_seconds"], 3),
                "fps": state["frames"] / max(1e-9, state["wall_seconds"]), "beta": beta,
                "lr": optimizer.param_groups[0]["lr"],
                "collect/success": stats.successes / max(1, stats.episodes),
                "collect/agreement": stats.agree / max(1, stats.frames), "bot_failures": state["bot_failures"],
                "collect/loops": stats.takeovers / max(1, stats.episodes),
                "collect/seconds": round(waited, 3),  # overlapped: waiting for the collection process
                **{f"train/{k}": float(np.mean([m[k] for m in update_metrics])) for k in update_metrics[0]},
            }
            shown = {"success%": 100 * row["collect/success"], "acc": row["train/accuracy"]}
            kept = functools.partial(_checkpoint_arrays, buffer, behaviour, ctx)
            last_eval = end_iteration(row, agent=agent, optimizer=optimizer, config=config, ctx=ctx, out=out,
                                      state=state, stop=stop, metrics=metrics, progress=progress, shown=shown,
                                      arrays=kept, log=log) or last_eval
    progress.close()
    metrics.close()
    return finish_run(
        agent, out, config=config, ctx=ctx, state=state, last_eval=last_eval, log=log,
        curve_keys=("collect/success", "eval/mean", "train/accuracy", "train/done_loss"),
        record={"algorithm": "imitation", "frames": state["frames"], "demonstration_episodes": state["episodes"],
                "bot_failures": state["bot_failures"], "reading_warmup": state.get("reading_warmup")},
    )
