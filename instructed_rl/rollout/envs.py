"""The envs of a run: stepped in this process or in spawned workers, with the same numbers.

Each env runs episodes one after another; the ``k``-th episode env ``e`` starts in iteration
``i`` is seeded by :func:`episode_seed` ``(seed, i, e, k)`` and plays game
``games[(e + k) % len(games)]``, so any run (and any resumed run) retraces the same worlds.
With labels on, each env's BabyAI bot labels every visited state; with ``action_sets`` the label
comes with every movement action that is just as short (:func:`optimal_moves`).

An iteration either runs until the trainer stops stepping (PPO: a fixed number of steps; an
episode that ends is followed by the next at once) or gives each env a ``quota`` of episodes
after which it idles (imitation: whole episodes). ``drop_unlabelled`` ends an episode the bot
cannot finish (imitation cannot learn from it); otherwise its remaining states go unlabelled.
With ``achievements`` each step also reports the instructions it completed, phrased by the env's
corpus (hindsight relabelling, :mod:`instructed_rl.hindsight`); no bot is involved.
"""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from minigrid.core.actions import Actions

from instructed_rl.acting.bot import Bot
from instructed_rl.games.env import InstructedEnv
from instructed_rl.hindsight.relabel import AchievementTracker
from instructed_rl.language.instructions import instruction_targets
from instructed_rl.model.planner import PlannerSettings
from instructed_rl.model.policy import policy_view, view_channels
from instructed_rl.rollout.workers import reply, serve

MOVES = (Actions.left, Actions.right, Actions.forward)  # the actions whose ties the bot breaks arbitrarily
ROLLOUT_LIMIT = 64
REPEAT_WINDOW = 16  # steps back in which a return to the same pose counts as a loop


def episode_seed(seed: int, iteration: int, env_index: int, episode: int) -> int:
    """Seed of the ``episode``-th episode env ``env_index`` starts in ``iteration`` (rank-global index)."""
    return int(np.random.SeedSequence([seed, iteration, env_index, episode]).generate_state(1, np.uint32)[0])


def _rollout_steps(bot, level, first: int) -> int:
    """Steps to success if ``first`` is taken and the bot drives from there (on copies)."""
    bot, level = copy.deepcopy((bot, level))  # together, so the copied bot plans on the copied world
    try:
        _, reward, terminated, truncated, _ = level.step(first)
        steps, last = 1, first
        while not (terminated or truncated) and steps < ROLLOUT_LIMIT:
            last = int(bot.replan(last))
            _, reward, terminated, truncated, _ = level.step(last)
            steps += 1
    except Exception:  # noqa: BLE001 - the bot cannot finish from there: not an optimal action
        return ROLLOUT_LIMIT + 1
    return steps if terminated and reward > 0 else ROLLOUT_LIMIT + 1


def optimal_moves(bot, level, label: int) -> int:
    """Bitmask of the actions as good as the BabyAI bot's ``label`` (bit a = action a); call after
    ``bot.replan``. The bot breaks ties between equally short paths by search order; a policy
    cloned on one tie-break may half-learn it and dither, one trained on the set need not."""
    if label not in MOVES:
        return 1 << label
    cost = {move: _rollout_steps(bot, level, move) for move in MOVES}
    best = min(cost.values())
    mask = 1 << label
    for move, steps in cost.items():
        if steps == best:
            mask |= 1 << move
    return mask


class EnvPool:
    """One env per (slot, game), created on first use."""

    def __init__(self, corpus: str, split: str = "train"):
        self.corpus = corpus
        self.split = split
        self._envs: dict[tuple[int, str], InstructedEnv] = {}

    def get(self, slot: int, game: str) -> InstructedEnv:
        key = (slot, game)
        if key not in self._envs:
            self._envs[key] = InstructedEnv(game, split=self.split, corpus=self.corpus)
        return self._envs[key]


@dataclass(frozen=True)
class Plan:
    """What an iteration asks of the envs (see the module docstring)."""

    iteration: int
    labels: bool = False
    quota: tuple[int, ...] | None = None  # episodes per env of the vector it is given to; None = no end
    action_sets: bool = False
    drop_unlabelled: bool = False
    seeds: tuple[tuple[int, ...], ...] | None = None  # given world seeds per env (then they are its quota)
    track_poses: bool = False  # report returns to a recent pose (StepBatch.repeat); off, no pose is kept
    achievements: bool = False  # report what each step achieved (StepBatch.achieved); off, nothing is tracked

    def part(self, first: int, count: int) -> Plan:
        """The plan of envs ``first .. first + count - 1`` of the ones it was made for."""
        quota = None if self.quota is None else self.quota[first:first + count]
        seeds = None if self.seeds is None else self.seeds[first:first + count]
        return dataclasses.replace(self, quota=quota, seeds=seeds)

    def episode_seed(self, seed: int, env_index: int, local_index: int, episode: int) -> int:
        if self.seeds is not None:
            return self.seeds[local_index][episode]
        return episode_seed(seed, self.iteration, env_index, episode)

    def episodes_of(self, local_index: int) -> int | None:
        if self.seeds is not None:
            return len(self.seeds[local_index])
        return None if self.quota is None else self.quota[local_index]


@dataclass(frozen=True)
class EpisodeStart:
    """What the trainer learns of an episode when it starts."""

    game: str
    mission: str
    description: str
    plain: str  # the mission with objects named by colour and type (the reader's auxiliary loss)
    target: tuple[int, ...]  # what the mission names (:func:`instructed_rl.language.instructions.instruction_targets`)


@dataclass
class StepBatch:
    """What a slice of envs reports after starting an iteration or taking a step."""

    image: np.ndarray  # (n, 7, 7, C) uint8: the view the next action is chosen from (:func:`policy_view`)
    direction: np.ndarray  # (n,)
    reward: np.ndarray  # (n,) float32 reward of the step just taken
    ended: np.ndarray  # (n,) bool: that step ended its episode (image is then the next episode's)
    success: np.ndarray  # (n,) bool
    label: np.ndarray  # (n,) int16 bot action for image, -1 when not asked for or the bot failed
    optimal: np.ndarray  # (n,) uint8 bitmask of the actions as good as label (just the label without action sets)
    idle: np.ndarray  # (n,) bool: the env has run its quota; image is meaningless
    dropped: np.ndarray  # (n,) bool: the episode ended because the bot could not label it (drop_unlabelled)
    repeat: np.ndarray  # (n,) bool: the step returned to a pose (cell, heading, load) of the last REPEAT_WINDOW steps
    starts: dict[int, EpisodeStart] = field(default_factory=dict)  # env -> the episode it has just started
    terminal: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)  # env -> post-success (image, direction)
    achieved: dict[int, list[tuple[str, str, tuple[int, ...]]]] = field(default_factory=dict)  # env -> (skill, phrase,
    # the objects it names as :func:`instruction_targets`) of each instruction the step completed
    achieved_last: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)  # env -> the view after an
    # achieving step that ended its episode (the only view of it: image is already the next episode's)
    bot_failures: int = 0

    ARRAYS = ("image", "direction", "reward", "ended", "success", "label", "optimal", "idle", "dropped", "repeat")

    @staticmethod
    def empty(n: int, channels: int = 3) -> StepBatch:
        return StepBatch(image=np.zeros((n, 7, 7, channels), np.uint8), direction=np.zeros(n, np.int64),
                         reward=np.zeros(n, np.float32), ended=np.zeros(n, bool), success=np.zeros(n, bool),
                         label=np.full(n, -1, np.int16), optimal=np.zeros(n, np.uint8), idle=np.zeros(n, bool),
                         dropped=np.zeros(n, bool), repeat=np.zeros(n, bool))

    @staticmethod
    def concat(parts: list[StepBatch]) -> StepBatch:
        keyed = {name: {} for name in ("starts", "terminal", "achieved", "achieved_last")}
        offset = 0
        for part in parts:
            for name, merged in keyed.items():
                merged.update({offset + k: v for k, v in getattr(part, name).items()})
            offset += len(part.direction)
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in StepBatch.ARRAYS}
        return StepBatch(**arrays, **keyed, bot_failures=sum(p.bot_failures for p in parts))


class EnvSlice:
    """Envs ``first .. first + count - 1`` of the run (global indices seed the episodes)."""

    def __init__(self, *, games: list[str], corpus: str, seed: int, first: int, count: int, map_memory: bool = False,
                 planner: PlannerSettings | None = None):
        self.games, self.seed, self.first, self.count = list(games), seed, first, count
        self.map_memory = map_memory  # views carry the seen map (the policy reads it)
        self.planner = planner  # ... and the distance table (model.planner)
        self.pool = EnvPool(corpus)
        self.envs: list = [None] * count
        self.bots: list[Bot | None] = [None] * count
        self.poses: list[deque] = [deque(maxlen=REPEAT_WINDOW) for _ in range(count)]
        self.trackers: list[tuple[AchievementTracker, np.random.Generator] | None] = [None] * count
        self.episode = [0] * count
        self.plan = Plan(0)

    def _view(self, obs: dict) -> np.ndarray:
        return policy_view(obs, map_memory=self.map_memory, planner=self.planner)

    def start(self, plan: Plan) -> StepBatch:
        self.plan = plan
        batch = StepBatch.empty(self.count, view_channels(self.map_memory, self.planner))
        for i in range(self.count):
            self.episode[i] = -1
            self._next_episode(i, batch)
        return batch

    def step(self, actions: np.ndarray) -> StepBatch:
        batch = StepBatch.empty(self.count, view_channels(self.map_memory, self.planner))
        for i, action in enumerate(actions.tolist()):
            if self.envs[i] is None:
                batch.idle[i] = True
                continue
            obs, reward, terminated, truncated, info = self.envs[i].step(action)
            batch.reward[i] = reward
            if self.trackers[i] is not None:
                self._achieved(i, action, batch)
            if terminated or truncated:
                if i in batch.achieved:
                    batch.achieved_last[i] = (self._view(obs), int(obs["direction"]))
                batch.ended[i] = True
                batch.success[i] = bool(info["success"])
                if batch.success[i]:
                    batch.terminal[i] = (self._view(obs), int(obs["direction"]))
                self._next_episode(i, batch)
            else:
                batch.image[i], batch.direction[i] = self._view(obs), obs["direction"]
                batch.repeat[i] = self.plan.track_poses and self._returned(i)
                if not self._label(i, action, batch) and self.plan.drop_unlabelled:
                    batch.dropped[i] = True
                    self._next_episode(i, batch)
        return batch

    def _next_episode(self, i: int, batch: StepBatch) -> None:
        """Start env ``i``'s next episode (or idle it once its quota is run)."""
        while True:
            self.episode[i] += 1
            quota = self.plan.episodes_of(i)
            if quota is not None and self.episode[i] >= quota:
                self.envs[i] = self.bots[i] = None
                batch.idle[i] = True
                return
            env_index = self.first + i
            game = self.games[(env_index + self.episode[i]) % len(self.games)]
            env = self.envs[i] = self.pool.get(i, game)
            obs, _ = env.reset(seed=self.plan.episode_seed(self.seed, env_index, i, self.episode[i]))
            batch.image[i], batch.direction[i] = self._view(obs), obs["direction"]
            batch.starts[i] = EpisodeStart(env.spec_game.id, obs["mission"], obs["description"], env.plain_mission,
                                           instruction_targets(env.level.instrs))
            self.bots[i] = Bot(env.level) if self.plan.labels else None
            self.trackers[i] = None
            if self.plan.achievements:  # phrasings drawn from the episode's own stream: a resumed run retraces them
                seed = self.plan.episode_seed(self.seed, env_index, i, self.episode[i])
                self.trackers[i] = (AchievementTracker(env.level, locations=True), np.random.default_rng([seed, 2]))
            if self.plan.track_poses:
                self.poses[i].clear()
                self._returned(i)
            if self._label(i, None, batch) or not self.plan.drop_unlabelled:
                return
            batch.starts.pop(i)  # dropped before its first step: the trainer never sees it

    def _achieved(self, i: int, action: int, batch: StepBatch) -> None:
        """Note what env ``i``'s last action completed, in the words of its corpus."""
        tracker, rng = self.trackers[i]
        done = tracker.step(action)
        if done:
            batch.achieved[i] = [(a.kind, tracker.phrase(a, self.envs[i].phraser, rng), instruction_targets(a.instr))
                                 for a in done]

    def _returned(self, i: int) -> bool:
        """Note env ``i``'s pose; True when it held the same one within the last REPEAT_WINDOW steps
        (the trainer reads privileged state here; the agent never sees it)."""
        level = self.envs[i].level
        carrying = level.carrying
        pose = (*level.agent_pos, level.agent_dir, None if carrying is None else (carrying.type, carrying.color))
        seen = pose in self.poses[i]
        self.poses[i].append(pose)
        return seen

    def _label(self, i: int, last_action: int | None, batch: StepBatch) -> bool:
        """Label env ``i``'s current state into ``batch``; False when the bot has just given up."""
        bot = self.bots[i]
        if bot is None:
            return True
        label = bot.next_action(last_action)
        if label is None:
            self.bots[i] = None
            batch.bot_failures += 1
            return False
        batch.label[i] = label
        batch.optimal[i] = optimal_moves(bot.bot, self.envs[i].level, label) if self.plan.action_sets else 1 << label
        return True


def _worker(conn, kwargs: dict) -> None:
    def setup():
        envs = EnvSlice(**kwargs)
        return {"start": envs.start, "step": envs.step}

    serve(conn, setup)


class EnvVector:
    """``count`` envs starting at global index ``first``, stepped here or by ``workers`` processes."""

    def __init__(self, *, games: list[str], corpus: str, seed: int, first: int, count: int, workers: int = 1,
                 map_memory: bool = False, planner: PlannerSettings | None = None):
        self.count = count
        slices = [s for s in np.array_split(np.arange(count), workers) if len(s)]
        self._local = None
        self._pipes, self._processes = [], []
        if len(slices) == 1:
            self._local = EnvSlice(games=games, corpus=corpus, seed=seed, first=first, count=count,
                                   map_memory=map_memory, planner=planner)
            return
        context = multiprocessing.get_context("spawn")
        for part in slices:
            parent, child = context.Pipe()
            kwargs = dict(games=games, corpus=corpus, seed=seed, first=first + int(part[0]), count=len(part),
                          map_memory=map_memory, planner=planner)
            process = context.Process(target=_worker, args=(child, kwargs), daemon=True)
            process.start()
            child.close()
            self._pipes.append((parent, int(part[0]), int(part[-1]) + 1))
            self._processes.append(process)

    def start(self, plan: Plan) -> StepBatch:
        if self._local is not None:
            return self._local.start(plan)
        return self._ask([("start", plan.part(a, b - a)) for _, a, b in self._pipes])

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

    def __enter__(self) -> EnvVector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
