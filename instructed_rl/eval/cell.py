"""One evaluation cell: N seeded episodes of one agent on one game, split and corpus.

    instructed-rl eval --agent bot --game BabyAI-GoToLocal-v0 --episodes 200 --json out.json

Episode ``i`` uses world seed ``seed + i``, so the same command gives the same numbers.
A saved agent acting greedily plays its single-part episodes in waves of ``EVAL_BATCH``
worlds stepped in lockstep (one batched forward per step); the waves are fixed blocks of
seeds, so the numbers do not depend on ``--workers``.
Episodes that reach the step limit are failures. The path ratio compares the agent's steps
with the BabyAI bot's on the very same worlds (successful episodes of both).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.acting.actors import (REFERENCE_AGENTS, AgentActor, BotActor, Decision, acts_greedily, escapes_loops,
                                         make_actor)
from instructed_rl.acting.foreign import is_python_agent, load_factory
from instructed_rl.eval.stats import wilson_interval
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import find_game
from instructed_rl.model.loops import ESCAPE_RULE, action_mode
from instructed_rl.model.hub import resolve_agent
from instructed_rl.progress import Progress

DEFAULT_EVAL_SEED = 1_000_000  # far from the small seeds that demos and training start at
# A shuffled description or instruction comes from the world of another seed, this far away.
SHUFFLE_OFFSET = 7_919
MAX_EPISODES = 1_000_000  # a bound that a typo (an extra zero or five) would otherwise turn into days of work
MAX_SEED = 2_000_000_000  # with MAX_EPISODES and SHUFFLE_OFFSET, every world seed stays below 2**31
# Worlds a greedy agent plays in lockstep: one forward for the batch costs about what one
# world's forward costs, so evaluation runs several times faster (benchmarks/bench_eval.py).
EVAL_BATCH = 32


@dataclass
class EvalConfig:
    agent: str = option("", "saved agent: a directory, a shipped name (default, reader) or a Hugging Face "
                            "Hub repo id (owner/name); python:MODULE:FACTORY for anyone's policy; or 'bot' / "
                            "'random' as reference agents")
    game: str = option("", "game id (instructed-rl envs) or any BabyAI level id")
    split: str | None = option(None, "split to evaluate (default: test when the game has it, else its first split)")
    corpus: str | None = option(None, "corpus name or YAML file that phrases every mission (default: the game's)")
    episodes: int = option(100, "number of seeded episodes")
    seed: int = option(DEFAULT_EVAL_SEED, "seed of the first episode; episode i uses seed + i")
    workers: int = option(1, "worker processes (each runs a slice of the seeds)")
    greedy: bool | None = option(None, "greedy actions, or --no-greedy: sampled, seeded per episode (default: the "
                                       "agent's own mode, its config.json 'actions'; greedy unless it says sampled)")
    escape_loops: bool | None = option(None, f"greedy actions that escape loops ({ESCAPE_RULE}), or --no-escape-loops: "
                                             "the plain argmax, as BabyAI evaluates (default: the agent's config.json "
                                             "'escape_loops')")
    description: Literal["true", "none", "shuffled"] = option(
        "true", "ablation: the true description, none (empty), or another episode's")
    instruction: Literal["true", "shuffled"] = option("true", "ablation: the true instruction, or another episode's")
    sequences: Literal["executor", "agent", "whole"] = option(
        "executor", "multi-part instructions: planned from the game's corpus and run part by part; 'agent': "
                    "planned by what the agent knows (its trained connectives, else sentence similarity), never "
                    "the game's grammar; or the whole text to the policy")
    rephrase: bool = option(True, "let an agent that rephrases read unseen wordings as its nearest trained one "
                                  "(--no-rephrase: the policy reads the raw words; the ablation)")
    json: str | None = option(None, "write the result as JSON to this file")
    suite: str | None = option(None, "run a suite of cells from this YAML file instead of one cell")
    out: str | None = option(None, "directory for a suite's report.json / report.md / report.png")

    def __post_init__(self):
        if not self.agent:
            raise ValueError("--agent is required (a saved agent directory, 'bot' or 'random')")
        if not self.game and not self.suite:
            raise ValueError("give --game GAME (or --suite FILE)")
        if self.episodes <= 0:
            raise ValueError(f"--episodes must be positive, got {self.episodes}: a cell with no episodes has no success rate")
        if self.episodes > MAX_EPISODES:
            raise ValueError(f"--episodes must be at most {MAX_EPISODES:,}, got {self.episodes:,}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"--seed must be from 0 to {MAX_SEED:,}, got {self.seed}")
        if self.workers <= 0:
            raise ValueError("--workers must be at least 1")


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    steps: int
    bot_steps: int | None  # None when the bot itself failed


@dataclass
class CellResult:
    game: str
    split: str
    corpus: str
    agent: str
    seed: int
    episodes: int
    successes: int
    success_rate: float
    ci95: tuple[float, float]
    mean_steps: float
    path_ratio: float | None
    failures: int
    description: str
    instruction: str
    sequences: str
    wall_seconds: float
    rephrase: bool = True
    greedy: bool = True
    escape_loops: bool = False  # greedy actions that leave loops (instructed_rl.model.loops)
    # Per episode, in seed order: the world seed and 1 (success) or 0, so that two runs on the same
    # seeds can be compared seed by seed. None in results read back from files older than them.
    seeds: list[int] | None = None
    outcomes: list[int] | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["ci95"] = list(self.ci95)
        return data


def default_split(game: str) -> str:
    splits = find_game(game).splits
    return "test" if "test" in splits else splits[0]


def _ablated_texts(env: InstructedEnv, seed: int, config: EvalConfig, mission: str, description: str) -> tuple[str, str]:
    if config.description == "none":
        description = ""
    if config.description == "shuffled" or config.instruction == "shuffled":
        other_obs, _ = env.reset(seed=seed + SHUFFLE_OFFSET)
        if config.description == "shuffled":
            description = other_obs["description"]
        if config.instruction == "shuffled":
            mission = other_obs["mission"]
    return mission, description


def _start_episode(env: InstructedEnv, seed: int, config: EvalConfig | None) -> tuple[dict, str, str]:
    """Reset ``env`` to ``seed`` and apply the cell's ablation, if any: (observation, instruction, description)."""
    obs, _ = env.reset(seed=seed)
    if config is None:
        return obs, obs["mission"], obs["description"]
    instruction, description = _ablated_texts(env, seed, config, obs["mission"], obs["description"])
    if instruction != obs["mission"] or description != obs["description"]:
        obs, _ = env.reset(seed=seed)  # the ablation peeked at another world; come back to this one
    return dict(obs, mission=instruction, description=description), instruction, description


def run_episode(env: InstructedEnv, actor, seed: int, config: EvalConfig | None = None) -> tuple[bool, int]:
    """One episode of ``actor`` on ``env``'s world ``seed``, on the env's own mission and description
    (or the ablated ones of a cell's ``config``): (success, steps). The one episode loop of eval
    and of training's evaluation."""
    obs, instruction, description = _start_episode(env, seed, config)
    actor.start(env, instruction=instruction, description=description, seed=seed)
    steps = 0
    while True:
        step = take_step(env, actor, obs, instruction=instruction, description=description)
        obs = step.obs
        steps += 1
        if step.terminated or step.truncated:
            return bool(step.info["success"]), steps


class Step(NamedTuple):
    """One turn of an episode: the actor's decision and what the env returned (``obs`` None when
    the decision was not taken)."""

    decision: Decision
    obs: dict | None = None
    terminated: bool = False
    truncated: bool = False
    info: dict | None = None


def take_step(env: InstructedEnv, actor, obs: dict, *, instruction: str, description: str,
              stop_when_finished: bool = False, before_step=None) -> Step:
    """The turn of every episode loop (eval's, play's and the web page's): ``actor`` decides on
    ``obs`` and ``env`` takes the action; the next observation carries the episode's own texts
    (ablated, or typed), not the env's. With ``stop_when_finished`` a decision that believes the
    instruction done is not taken (play stops there; eval lets the env decide); ``before_step()``
    runs between deciding and stepping (play's pacing)."""
    decision = actor.act(obs)
    if stop_when_finished and decision.finished:
        return Step(decision)
    if before_step is not None:
        before_step()
    obs, _, terminated, truncated, info = env.step(decision.action)
    return Step(decision, dict(obs, mission=instruction, description=description), terminated, truncated, info)


def _single_part(env: InstructedEnv, actor: AgentActor, instruction: str, description: str) -> str | None:
    """The one instruction the policy acts on, or None when the executor would split it into parts."""
    parts = actor.plan(env, instruction, description)
    return parts[0] if len(parts) == 1 else None


def _run_wave(envs: list[InstructedEnv], actor: AgentActor, seeds: list[int],
              config: EvalConfig) -> dict[int, tuple[bool, int]]:
    """Greedy episodes on ``seeds`` in lockstep, one env each, with one batched forward per step.
    Episodes whose instruction has several parts are left out (the caller runs them one by one)."""
    slots = []  # (seed, env, obs)
    texts = []
    for seed, env in zip(seeds, envs):
        obs, instruction, description = _start_episode(env, seed, config)
        part = _single_part(env, actor, instruction, description)
        if part is not None:
            slots.append((seed, env, obs))
            texts.append((part, description))
    if not slots:
        return {}
    agent = actor.agent
    state = agent.reset_batch([t for t, _ in texts], [d for _, d in texts], greedy=True)
    observations = [obs for _, _, obs in slots]
    results: dict[int, tuple[bool, int]] = {}
    steps = 0
    while len(results) < len(slots):
        actions = agent.act_batch(observations, state=state).actions
        steps += 1
        for i, (seed, env, _) in enumerate(slots):
            if seed in results:
                continue  # finished: its last observation stands in until the wave ends
            obs, _, terminated, truncated, info = env.step(int(actions[i]))
            observations[i] = obs
            if terminated or truncated:
                results[seed] = (bool(info["success"]), steps)
    return results


def run_seeds(config: EvalConfig, split: str, seeds: list[int], *, actor=None,
              on_episode=None, bot_paths: bool = True) -> list[EpisodeResult]:
    """Run the agent (and the bot, for the path ratio, unless ``bot_paths`` is false: then
    ``bot_steps`` stays None) on the given seeds, in this process; ``on_episode(n)`` is called
    with the number done after each."""
    env = InstructedEnv(config.game, split=split, corpus=config.corpus)
    actor = actor or make_actor(config.agent, greedy=config.greedy, sequences=config.sequences,
                                rephrase=config.rephrase, escape_loops=config.escape_loops)
    bot_env = InstructedEnv(config.game, split=split, corpus=config.corpus)
    plain = EvalConfig(agent="bot", game=config.game, split=split, corpus=config.corpus)
    batched = isinstance(actor, AgentActor) and actor.greedy
    wave_envs = [InstructedEnv(config.game, split=split, corpus=config.corpus)
                 for _ in range(min(EVAL_BATCH, len(seeds)) if batched else 0)]
    # Waves are blocks of EVAL_BATCH consecutive seeds counted from a multiple of EVAL_BATCH
    # past the cell's first seed, so any split of the seeds into worker chunks gives the same waves.
    results = []
    for start in range(0, len(seeds), EVAL_BATCH if batched else 1):
        block = seeds[start:start + EVAL_BATCH] if batched else seeds[start:start + 1]
        done = _run_wave(wave_envs, actor, block, config) if batched else {}
        for seed in block:
            success, steps = done[seed] if seed in done else run_episode(env, actor, seed, config)
            if not bot_paths:
                bot_success, bot_steps = False, None
            elif config.agent == "bot" and config.description == "true" and config.instruction == "true":
                bot_success, bot_steps = success, steps
            else:
                bot_success, bot_steps = run_episode(bot_env, BotActor(), seed, plain)
            results.append(EpisodeResult(seed=seed, success=success, steps=steps,
                                         bot_steps=bot_steps if bot_success else None))
            if on_episode is not None:
                on_episode(len(results))
    for e in [env, bot_env, *wave_envs]:
        e.close()
    return results


_ACTORS: dict = {}  # per worker process: the actor of each agent, loaded once for all its chunks


def _worker(payload: tuple[dict, str, list[int]]) -> list[dict]:
    import torch

    torch.set_num_threads(1)  # one core per worker process
    config_dict, split, seeds = payload
    config = EvalConfig(**config_dict)
    key = (config.agent, config.greedy, config.sequences, config.rephrase, config.escape_loops)
    if key not in _ACTORS:
        _ACTORS[key] = make_actor(config.agent, greedy=config.greedy, sequences=config.sequences,
                                  rephrase=config.rephrase, escape_loops=config.escape_loops)
    return [asdict(r) for r in run_seeds(config, split, seeds, actor=_ACTORS[key])]


def check_agent(agent: str) -> None:
    """A saved agent (directory, shipped name or Hub repo id), a ``python:`` policy or a reference
    agent, checked before any episode runs."""
    if agent in REFERENCE_AGENTS:
        return
    if is_python_agent(agent):
        load_factory(agent)
        return
    if not resolve_agent(agent).is_dir():
        raise UserError(f"--agent {agent!r}: not a saved agent directory. Fix: pass a directory written by "
                        f"'instructed-rl train' (e.g. data/agents/default), a shipped agent (default, reader), "
                        f"a Hub repo id (owner/name), python:MODULE:FACTORY, or one of {', '.join(REFERENCE_AGENTS)}")


def run_cell(config: EvalConfig, *, progress: bool = True, label: str | None = None) -> CellResult:
    """``config.episodes`` episodes; with ``progress``, a progress line on stderr while they run."""
    split = config.split or default_split(config.game)
    spec = find_game(config.game)
    if split not in spec.splits:
        raise UserError(f"game {spec.id} has no split {split!r}. Fix: use one of {', '.join(spec.splits)}")
    check_agent(config.agent)
    config = resolve_mode(config)  # the result names the mode
    env = InstructedEnv(spec, split=split, corpus=config.corpus)  # validates game/split/corpus up front
    corpus_name = env.corpus.name
    env.close()
    seeds = [config.seed + i for i in range(config.episodes)]
    meter = Progress(label or f"eval {spec.id} [{split}]", len(seeds), enabled=progress)
    started = time.perf_counter()
    workers = min(config.workers, len(seeds))
    try:
        if workers == 1:
            results = run_seeds(config, split, seeds, on_episode=meter.update)
        else:
            # Small chunks in seed order, so that progress shows; each worker loads its actor once.
            size = max(1, min(25, -(-len(seeds) // (4 * workers))))
            if config.greedy and config.agent not in REFERENCE_AGENTS:
                size = EVAL_BATCH * -(-size // EVAL_BATCH)  # whole waves, so results do not depend on workers
            chunks = [seeds[i:i + size] for i in range(0, len(seeds), size)]
            context = multiprocessing.get_context("spawn")
            parts = []
            with context.Pool(workers) as pool:
                for part in pool.imap(_worker, [(asdict(config), split, chunk) for chunk in chunks]):
                    parts.append(part)
                    meter.update(sum(map(len, parts)))
                pool.close()  # and join: leaving the block alone terminates the workers, which leaks their semaphores
                pool.join()
            results = [EpisodeResult(**r) for part in parts for r in part]
    finally:
        meter.close()
    wall = time.perf_counter() - started
    return summarize(results, config=config, split=split, corpus=corpus_name, wall_seconds=wall)


def resolve_mode(config: EvalConfig) -> EvalConfig:
    """``config`` with its action mode decided (a flag, else the agent's own), so that results and
    cached cells name it."""
    greedy = acts_greedily(config.agent, config.greedy)
    return replace(config, greedy=greedy, escape_loops=escapes_loops(config.agent, config.escape_loops, greedy=greedy))


def summarize(results: list[EpisodeResult], *, config: EvalConfig, split: str, corpus: str,
              wall_seconds: float) -> CellResult:
    if not results:
        raise UserError("a cell with zero episodes has no success rate. Fix: pass --episodes N with N > 0")
    successes = sum(r.success for r in results)
    ratios = [r.steps / r.bot_steps for r in results if r.success and r.bot_steps]
    return CellResult(
        game=find_game(config.game).id, split=split, corpus=corpus, agent=config.agent, seed=config.seed,
        episodes=len(results), successes=successes, success_rate=successes / len(results),
        ci95=wilson_interval(successes, len(results)),
        mean_steps=float(np.mean([r.steps for r in results])),
        path_ratio=float(np.mean(ratios)) if ratios else None,
        failures=sum(not r.success for r in results),
        description=config.description, instruction=config.instruction, sequences=config.sequences,
        wall_seconds=round(wall_seconds, 2), rephrase=config.rephrase,
        greedy=config.greedy, escape_loops=bool(config.escape_loops),
        seeds=[r.seed for r in results], outcomes=[int(r.success) for r in results],
    )


def format_cell(result: CellResult) -> str:
    low, high = result.ci95
    ratio = "n/a" if result.path_ratio is None else f"{result.path_ratio:.2f}"
    return (f"{result.agent} on {result.game} [{result.split}, corpus {result.corpus}, "
            f"{action_mode(result.greedy, result.escape_loops)}]: "
            f"success {100 * result.success_rate:.1f}% (95% CI {100 * low:.1f}-{100 * high:.1f}) "
            f"over {result.episodes} episodes, mean steps {result.mean_steps:.1f}, path ratio {ratio}")


def write_json(result: CellResult, path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
