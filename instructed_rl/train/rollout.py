"""PPO's rollouts: envs that step in this process or in worker processes, and one rollout.

Each iteration every env starts a new episode (its seed from :func:`episode_seed`: the run's
seed, the iteration, the env's index and the episode's number within the iteration) and takes
``steps`` steps, starting the next episode whenever one ends; episodes still running at the end
are cut and bootstrapped with the critic's value. A slice of envs (:class:`EnvSlice`) steps in
this process or in a spawned worker; :class:`EnvVector` joins the slices, and both give the
same numbers. With ``teacher: bot`` each env's BabyAI bot labels every visited state.

Used by :mod:`instructed_rl.train.ppo` and, for ``overlap: true``, by the rollout process of
:mod:`instructed_rl.train.overlap`.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field

import numpy as np
import torch

from instructed_rl.agent import Agent
from instructed_rl.policy import preprocess_obs
from instructed_rl.train.serve import reply, serve

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
