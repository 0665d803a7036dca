"""PPO and kickstarting for language-instructed agents: recurrent, multitask, exactly resumable.

    instructed-rl train --config configs/ppo_tiny.yaml --out runs/ppo_tiny
    instructed-rl train --config configs/kickstart_tiny.yaml --out runs/kickstart_tiny
    torchrun --nproc_per_node=2 -m instructed_rl.cli train --config configs/ppo_tiny.yaml   # data-parallel

Each iteration every env starts a new episode (its seed derived from the run's seed, the
iteration, the env's index and the episode's number within the iteration) and takes ``steps``
steps, starting the next episode whenever one ends; episodes still running at the end are cut
and bootstrapped with the critic's value. Nothing but counters, weights and the optimizer
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

Envs step in this process (``workers: 1``) or in ``workers`` spawned processes, each owning a
slice of the envs; both give the same numbers. With ``overlap: true`` one spawned process
collects the next rollout while this one updates (a one-update policy lag; see
:mod:`instructed_rl.train.overlap`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from instructed_rl.agent import Agent
from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.games.spec import find_game
from instructed_rl.policy import preprocess_obs
from instructed_rl.train import distributed
from instructed_rl.train.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from instructed_rl.train.gae import compute_gae
from instructed_rl.train.optim import make_adam
from instructed_rl.train.overlap import RolloutProcess, weights_from_arrays, weights_of, weights_to_arrays
from instructed_rl.train.runs import AgentSource, StopFlag, check_same_run, evaluate, finish_run, make_agent
from instructed_rl.train.serve import reply, serve
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
RESUMABLE_CHANGES = ("frames", "checkpoint_every", "eval_every", "eval_episodes", "threads", "track", "workers")


# ---- envs: a slice steps in-process or in a worker --------------------------------------

def episode_seed(seed: int, iteration: int, env_index: int, episode: int) -> int:
    """Seed of the ``episode``-th episode env ``env_index`` starts in ``iteration`` (rank-global index)."""
    return int(np.random.SeedSequence([seed, iteration, env_index, episode]).generate_state(1, np.uint32)[0])


@dataclass
class StepBatch:
    """What a slice of envs reports after starting an iteration or taking a step."""

    image: np.ndarray  # (n, 7, 7, 3) uint8: the observation the next action is chosen from
    direction: np.ndarray  # (n,)
    reward: np.ndarray  # (n,) float32 reward of the step just taken
    ended: np.ndarray  # (n,) bool: that step ended its episode (image is then a new episode's)
    success: np.ndarray  # (n,) bool
    label: np.ndarray  # (n,) int16 bot action for image, -1 when not asked for or the bot failed
    texts: dict[int, tuple[str, str, str]] = field(default_factory=dict)  # env -> (game, mission, description) of a new episode
    terminal: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)  # env -> post-success (image, direction)
    bot_failures: int = 0

    @staticmethod
    def concat(parts: list[StepBatch]) -> StepBatch:
        texts, terminal, offset = {}, {}, 0
        for part in parts:
            texts.update({offset + k: v for k, v in part.texts.items()})
            terminal.update({offset + k: v for k, v in part.terminal.items()})
            offset += len(part.direction)
        return StepBatch(*(np.concatenate([getattr(p, name) for p in parts])
                           for name in ("image", "direction", "reward", "ended", "success", "label")),
                         texts=texts, terminal=terminal, bot_failures=sum(p.bot_failures for p in parts))


class EnvSlice:
    """Envs ``first .. first + count - 1`` of the run (global indices seed the episodes)."""

    def __init__(self, *, games: list[str], corpus: str, seed: int, first: int, count: int):
        from instructed_rl.train.collect import EnvPool

        self.games, self.seed, self.first, self.count = list(games), seed, first, count
        self.pool = EnvPool(corpus)
        self.envs: list = [None] * count
        self.bots: list = [None] * count
        self.episode = [0] * count
        self.iteration = 0
        self.labels = False

    def start(self, iteration: int, labels: bool) -> StepBatch:
        self.iteration, self.labels = iteration, labels
        batch = self._empty()
        for i in range(self.count):
            self.episode[i] = -1
            self._new_episode(i, batch)
        return batch

    def step(self, actions: np.ndarray) -> StepBatch:
        batch = self._empty()
        for i, action in enumerate(actions.tolist()):
            obs, reward, terminated, truncated, info = self.envs[i].step(action)
            batch.reward[i] = reward
            if terminated or truncated:
                batch.ended[i] = True
                batch.success[i] = bool(info["success"])
                if batch.success[i]:
                    batch.terminal[i] = (obs["image"], int(obs["direction"]))
                self._new_episode(i, batch)
            else:
                batch.image[i], batch.direction[i] = obs["image"], obs["direction"]
                batch.label[i] = self._label(i, action, batch)
        return batch

    def _empty(self) -> StepBatch:
        n = self.count
        return StepBatch(image=np.zeros((n, 7, 7, 3), np.uint8), direction=np.zeros(n, np.int64),
                         reward=np.zeros(n, np.float32), ended=np.zeros(n, bool), success=np.zeros(n, bool),
                         label=np.full(n, -1, np.int16))

    def _new_episode(self, i: int, batch: StepBatch) -> None:
        from instructed_rl.acting.bot import Bot

        self.episode[i] += 1
        env_index = self.first + i
        game = self.games[(env_index + self.episode[i]) % len(self.games)]
        env = self.envs[i] = self.pool.get(i, game)
        obs, _ = env.reset(seed=episode_seed(self.seed, self.iteration, env_index, self.episode[i]))
        batch.image[i], batch.direction[i] = obs["image"], obs["direction"]
        batch.texts[i] = (env.spec_game.id, obs["mission"], obs["description"])
        self.bots[i] = Bot(env.level) if self.labels else None
        batch.label[i] = self._label(i, None, batch)

    def _label(self, i: int, last_action: int | None, batch: StepBatch) -> int:
        if self.bots[i] is None:
            return -1
        label = self.bots[i].next_action(last_action)
        if label is None:  # the bot cannot solve this world from here: no labels for the rest of it
            self.bots[i] = None
            batch.bot_failures += 1
            return -1
        return label


def _worker(conn, kwargs: dict) -> None:
    def setup():
        envs = EnvSlice(**kwargs)
        return {"start": lambda argument: envs.start(*argument), "step": envs.step}

    serve(conn, setup)


class EnvVector:
    """``count`` envs starting at global index ``first``, stepped here or by ``workers`` processes."""

    def __init__(self, *, games: list[str], corpus: str, seed: int, first: int, count: int, workers: int = 1):
        self.count = count
        slices = [s for s in np.array_split(np.arange(count), workers) if len(s)]
        self._local = None
        self._pipes, self._processes = [], []
        if len(slices) == 1:
            self._local = EnvSlice(games=games, corpus=corpus, seed=seed, first=first, count=count)
            return
        context = multiprocessing.get_context("spawn")
        for part in slices:
            parent, child = context.Pipe()
            kwargs = dict(games=games, corpus=corpus, seed=seed, first=first + int(part[0]), count=len(part))
            process = context.Process(target=_worker, args=(child, kwargs), daemon=True)
            process.start()
            child.close()
            self._pipes.append((parent, int(part[0]), int(part[-1]) + 1))
            self._processes.append(process)

    def start(self, iteration: int, labels: bool) -> StepBatch:
        if self._local is not None:
            return self._local.start(iteration, labels)
        return self._ask([("start", (iteration, labels))] * len(self._pipes))

    def step(self, actions: np.ndarray) -> StepBatch:
        if self._local is not None:
            return self._local.step(actions)
        return self._ask([("step", actions[a:b]) for _, a, b in self._pipes])

    def _ask(self, messages: list) -> StepBatch:
        for (pipe, _, _), message in zip(self._pipes, messages):
            pipe.send(message)
        return StepBatch.concat([reply(pipe, "an env worker") for pipe, _, _ in self._pipes])

    def close(self) -> None:
        for pipe, _, _ in self._pipes:
            try:
                pipe.send(("close", None))
            except (BrokenPipeError, OSError):
                pass
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        self._pipes, self._processes = [], []


# ---- rollout -------------------------------------------------------------------------------

@dataclass
class Rollout:
    """``steps`` x ``envs`` of experience; ``memory[t]`` is the memory the policy had before step t."""

    image: np.ndarray  # (T, N, 7, 7, 3) uint8
    direction: np.ndarray  # (T, N)
    action: np.ndarray  # (T, N) int64
    logp: np.ndarray  # (T, N) float32, log-probability of action when it was taken
    value: np.ndarray  # (T, N) float32
    reward: np.ndarray  # (T, N) float32, as the env gave it
    ended: np.ndarray  # (T, N) bool
    start: np.ndarray  # (T, N) bool: step t is the first of an episode
    goal: np.ndarray  # (T, N) int64 index into texts
    memory: np.ndarray  # (T, N, M) float32
    label: np.ndarray  # (T, N) int64 bot action, -1 where none
    teacher_logp: np.ndarray | None  # (T, N, A) a saved teacher's log-probabilities
    bootstrap: np.ndarray  # (N,) value after the last step
    texts: list[tuple[str, str, str]]  # (game, instruction, description)
    terminal: list[tuple[int, int, np.ndarray, int]]  # (t, n, image, direction) after a successful step t


@dataclass
class RolloutStats:
    episodes: int = 0
    successes: int = 0
    return_sum: float = 0.0
    length_sum: int = 0
    bot_failures: int = 0
    per_game: dict[str, list[int]] = field(default_factory=dict)  # game -> [successes, episodes]


def rollout_generator(seed: int, iteration: int, rank: int) -> torch.Generator:
    """The action-sampling generator of one iteration's rollout (the same in either process)."""
    return torch.Generator().manual_seed(seed * 7919 + iteration + 10**12 * rank)


def _sample(logits: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    logp_all = torch.log_softmax(logits.float().cpu(), -1)
    action = torch.multinomial(logp_all.exp(), 1, generator=generator)[:, 0]
    return action, logp_all.gather(1, action[:, None])[:, 0]


def collect_rollout(agent: Agent, envs: EnvVector, *, iteration: int, steps: int, generator: torch.Generator,
                    labels: bool = False, teacher: Agent | None = None) -> tuple[Rollout, RolloutStats]:
    """Step every env ``steps`` times with actions sampled from ``agent`` (new episodes each iteration)."""
    count, device = envs.count, agent.device
    stats = RolloutStats()
    batch = envs.start(iteration, labels)
    texts: list[tuple[str, str, str]] = []
    current = np.zeros(count, np.int64)
    lengths = np.zeros(count, np.int64)

    def adopt(new_texts: dict[int, tuple[str, str, str]]) -> None:
        for i, text in new_texts.items():
            current[i] = len(texts)
            texts.append(text)

    adopt(batch.texts)
    stats.bot_failures += batch.bot_failures
    memory_size = agent.memory_size
    rollout = Rollout(
        image=np.zeros((steps, count, 7, 7, 3), np.uint8), direction=np.zeros((steps, count), np.int64),
        action=np.zeros((steps, count), np.int64), logp=np.zeros((steps, count), np.float32),
        value=np.zeros((steps, count), np.float32), reward=np.zeros((steps, count), np.float32),
        ended=np.zeros((steps, count), bool), start=np.zeros((steps, count), bool),
        goal=np.zeros((steps, count), np.int64), memory=np.zeros((steps, count, memory_size), np.float32),
        label=np.full((steps, count), -1, np.int64), teacher_logp=None, bootstrap=np.zeros(count, np.float32),
        texts=texts, terminal=[],
    )
    if teacher is not None:
        rollout.teacher_logp = np.zeros((steps, count, agent.policy.config.num_actions), np.float32)
    memory = agent.initial_memory(count)
    teacher_memory = teacher.initial_memory(count) if teacher is not None else None
    starting = np.ones(count, bool)
    goal = teacher_goal = None
    with torch.inference_mode():
        for t in range(steps):
            if goal is None:  # some env started an episode: encode the current instructions again
                missions, descriptions = [texts[g][1] for g in current], [texts[g][2] for g in current]
                goal = agent.encode_goal(missions, descriptions)
                if teacher is not None:
                    teacher_goal = teacher.encode_goal(missions, descriptions)
            image, direction = preprocess_obs({"image": batch.image, "direction": batch.direction}, device=device)
            rollout.image[t], rollout.direction[t] = batch.image, batch.direction
            rollout.memory[t] = memory.float().cpu().numpy()
            rollout.start[t], rollout.goal[t], rollout.label[t] = starting, current, batch.label
            out = agent(image, direction, goal, memory)
            action, logp = _sample(out.logits, generator)
            rollout.action[t], rollout.logp[t] = action.numpy(), logp.numpy()
            rollout.value[t] = out.value.float().cpu().numpy()
            if teacher is not None:
                teacher_out = teacher(image.to(teacher.device), direction.to(teacher.device), teacher_goal, teacher_memory)
                rollout.teacher_logp[t] = torch.log_softmax(teacher_out.logits.float(), -1).cpu().numpy()
                teacher_memory = teacher_out.memory
            batch = envs.step(rollout.action[t])
            rollout.reward[t], rollout.ended[t] = batch.reward, batch.ended
            lengths += 1
            stats.bot_failures += batch.bot_failures
            for i, (image_i, direction_i) in batch.terminal.items():
                rollout.terminal.append((t, i, image_i, direction_i))
            for i in np.flatnonzero(batch.ended):
                game = texts[current[i]][0]
                record = stats.per_game.setdefault(game, [0, 0])
                record[0] += int(batch.success[i])
                record[1] += 1
                stats.episodes += 1
                stats.successes += int(batch.success[i])
                stats.return_sum += float(batch.reward[i])
                stats.length_sum += int(lengths[i])
                lengths[i] = 0
            memory = out.memory
            if batch.ended.any():
                ended = torch.from_numpy(batch.ended).to(memory.device)
                memory = memory.masked_fill(ended[:, None], 0.0)
                if teacher is not None:
                    teacher_memory = teacher_memory.masked_fill(ended.to(teacher_memory.device)[:, None], 0.0)
                adopt(batch.texts)
                goal = None
            starting = batch.ended.copy()
        if goal is None:
            goal = agent.encode_goal([texts[g][1] for g in current], [texts[g][2] for g in current])
        image, direction = preprocess_obs({"image": batch.image, "direction": batch.direction}, device=device)
        rollout.bootstrap[:] = agent(image, direction, goal, memory).value.float().cpu().numpy()
    return rollout, stats


# ---- training pieces (reached directly by the tests) ----------------------------------------

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


def ppo_loss(agent: Agent, mb: Minibatch, *, config: PPOConfig, distill_coef: float,
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


# ---- the trainer ---------------------------------------------------------------------------

def train_ppo(config: PPOConfig, out: Path, *, log=print) -> Path:
    """Train (or resume) PPO / kickstarting in ``out``; returns the path of the final saved agent."""
    # Overlapped, the rollout process takes one core and the update the rest.
    torch.set_num_threads(max(1, config.threads - 1) if config.overlap else config.threads)
    use_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise UserError("device: cuda, but torch sees no GPU. Fix: --device cpu (or auto)")
    ctx = distributed.init_distributed(cuda=use_cuda)
    device = torch.device("cuda", ctx.local_rank) if use_cuda else torch.device("cpu")
    log = log if ctx.is_main else (lambda *args, **kwargs: None)
    kickstart = isinstance(config, KickstartConfig)
    teacher_kind = "none" if not kickstart else ("bot" if config.teacher == "bot" else "agent")
    game_ids = [find_game(game).id for game in config.games]  # an unknown game fails here, not in a worker
    out.mkdir(parents=True, exist_ok=True)
    if ctx.is_main:
        check_same_run(config, out, resumable=RESUMABLE_CHANGES)
        has_checkpoint(out)  # repairs an interrupted checkpoint swap before the other ranks look
    distributed.barrier(ctx)
    resumed = has_checkpoint(out)

    # ---- agent, optimizer, counters
    agent = make_agent(config, out, ctx, resumed=resumed)
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
                      count=config.envs, workers=config.workers)
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
                        labels=teacher_kind == "bot" and coef > 0, use_teacher=teacher_kind == "agent" and coef > 0)

    if rollouts is not None and state["frames"] < config.frames:
        submit(state["iteration"], state["frames"], behaviour)
    started = time.perf_counter() - state["wall_seconds"]
    last_eval: dict[str, float] = {}
    try:
        with StopFlag() as stop:
            while state["frames"] < config.frames:
                iteration = state["iteration"]
                # All randomness of this iteration comes from (seed, iteration[, rank]): resuming is exact.
                rng = np.random.default_rng([config.seed, iteration, *ctx.seed_key])
                generator = rollout_generator(config.seed, iteration, ctx.rank)
                torch.manual_seed(config.seed * 104729 + iteration)  # any dropout a network may have
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
                        teacher=teacher if distill_coef > 0 else None)
                advantages, returns = compute_gae(rollout.reward * config.reward_scale, rollout.value, rollout.ended,
                                                  rollout.bootstrap, gamma=config.gamma, lam=config.gae_lambda)

                # ---- update: epochs x minibatches of episode pieces
                agent.train()
                pieces = segments(rollout.start, rollout.terminal, config.recurrence)
                update_metrics = []
                for _ in range(config.epochs):
                    order = rng.permutation(len(pieces))
                    for chosen in np.array_split(order, config.minibatches):
                        mb = make_minibatch(rollout, advantages, returns, [pieces[i] for i in sorted(chosen)], device)
                        loss, values = ppo_loss(agent, mb, config=config, distill_coef=distill_coef,
                                                teacher_kind=teacher_kind if distill_coef > 0 else "none")
                        optimizer.zero_grad()
                        loss.backward()
                        distributed.average_gradients(parameters, ctx)
                        values["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm))
                        optimizer.step()
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
                if kickstart:
                    row["distill_coef"] = distill_coef
                    row["bot_failures"] = state["bot_failures"]
                finished = state["frames"] >= config.frames
                if ctx.is_main and ((config.eval_every and state["iteration"] % config.eval_every == 0) or finished):
                    agent.eval()
                    last_eval = evaluate(agent, config.games, corpus=config.corpus, episodes=config.eval_episodes,
                                         seed=2_000_000 + 1000 * state["iteration"])
                    row.update(last_eval)
                metrics.write(row)
                progress.update(state["frames"], row["fps"], **{"success%": 100 * row["collect/success"],
                                                                "ret": row["collect/return"]})
                stopping = distributed.any_rank(stop.requested, ctx)
                if stopping or finished or state["iteration"] % config.checkpoint_every == 0:
                    distributed.barrier(ctx)
                    if ctx.is_main:
                        save_checkpoint(out, agent=agent, optimizer=optimizer, state=state,
                                        arrays=weights_to_arrays(behaviour) if behaviour is not None else None)
                    distributed.barrier(ctx)
                if stopping:
                    progress.close()
                    metrics.close()
                    log(f"interrupted at {state['frames']:,} frames; checkpoint saved. Run the same command to resume.")
                    raise KeyboardInterrupt
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
