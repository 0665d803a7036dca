"""Bookkeeping every trainer shares: one run directory, its config, stop requests, the end.

A run directory holds ``config.json`` (the config it was started with), ``checkpoint/``,
``metrics.jsonl`` and, at the end, ``agent/``, ``curve.png`` and ``training_record.json``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import math
import os
import platform
import signal
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from instructed_rl.model.agent import ACTION_MODES, Agent, AgentConfig
from instructed_rl.model.loops import action_mode
from instructed_rl.config import option
from instructed_rl.language.corpus import load_corpus, sample_instructions
from instructed_rl.errors import UserError
from instructed_rl.train import distributed
from instructed_rl.rollout.steps import rollout_generator
from instructed_rl.train.checkpoint import has_checkpoint, save_checkpoint
from instructed_rl.train.memory import release_freed_memory
from instructed_rl.train.tracking import plot_curve


@dataclasses.dataclass
class AgentSource:
    """The fields every trainer config shares: what it trains on, how its agent is made (new from
    the corpus, or a saved one), seeding, evaluation size, threads and tracking."""

    games: list[str] = option(None, "games to mix in training (train split of each; episodes go round-robin "
                                    "over the list, so a game listed twice gets twice the episodes)")
    corpus: str = option("paraphrase", "corpus that phrases the training missions (name or YAML path)")
    agent: dict = option(None, "AgentConfig overrides of a new agent, e.g. {text: {encoder: gru}, policy: {channels: 64}}; "
                               "with init_agent only policy parts may be added, e.g. {policy: {read_description: true}}")
    encoder: Literal["transformer", "gru", "pretrained"] = option("transformer", "text encoder of a new agent")
    init_agent: str | None = option(None, "start from this saved agent directory (keeps its vocabulary) instead of a new one")
    seed: int = option(0, "seed of everything random in the run")
    eval_episodes: int = option(30, "greedy test episodes per game at each evaluation")
    threads: int | None = option(None, "most torch threads; the run takes fewer when the machine has fewer free cores "
                                       "(the tasks it runs say so); default: up to 2")
    track: bool = option(False, "log to wandb (offline when there is no network)")
    conv_precision: Literal["auto", "bf16", "fp32"] = option(
        "auto", "precision of the view trunk's convolutions in learning steps: bf16 (float32 weights and "
                "accumulation; about 1.3x faster learning on CPUs with native bf16), fp32, or auto (bf16 where the "
                "CPU has AMX or AVX512-BF16, fp32 elsewhere, where bf16 is emulated and slower)")
    text_precision: Literal["auto", "bf16", "fp32"] = option(
        "auto", "precision of the frozen pretrained text model (MiniLM) while training: bf16 (about 3x faster on "
                "CPUs with native bf16; its outputs differ from fp32's by under 2% per token), fp32, or auto (bf16 "
                "where the CPU has AMX or AVX512-BF16). The run's own evaluations read at this precision too; "
                "eval, play and demo of the saved agent always read in fp32")

    def normalize_agent_fields(self) -> None:
        if not self.games:
            raise ValueError("games: list at least one game to train on, e.g. [SkillRoom]")
        if isinstance(self.games, str):
            self.games = [g.strip() for g in self.games.split(",") if g.strip()]
        self.agent = dict(self.agent or {})
        if self.threads is not None and self.threads <= 0:
            raise ValueError(f"threads must be positive, got {self.threads}")
        if not 0 <= self.seed < 2**32:  # torch generators take seed * 104729 + iteration
            raise ValueError(f"seed must be from 0 to {2**32 - 1:,}, got {self.seed}")
        if self.eval_episodes <= 0:
            raise ValueError(f"eval_episodes must be positive, got {self.eval_episodes}")
        self.threads = choose_threads(self.threads)
        for name in ("conv_precision", "text_precision"):
            if getattr(self, name) not in ("auto", "bf16", "fp32"):
                raise ValueError(f"{name} must be auto, bf16 or fp32, got {getattr(self, name)!r}")
        if self.init_agent in ("", "none", "null"):
            self.init_agent = None

    @property
    def bf16_convolutions(self) -> bool:
        """Whether learning steps run the trunk's convolutions in bf16 (``conv_precision`` resolved here)."""
        return runs_in_bf16(self.conv_precision)

    @property
    def bf16_text(self) -> bool:
        """Whether a frozen pretrained text model runs in bf16 in this run (``text_precision`` resolved here)."""
        return runs_in_bf16(self.text_precision)

    def agent_config(self) -> AgentConfig:
        values = json.loads(json.dumps(self.agent))
        values.setdefault("text", {}).setdefault("encoder", self.encoder)
        values.update(corpus=load_corpus(self.corpus).name, games=list(dict.fromkeys(self.games)))
        return AgentConfig.from_dict(values)


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX512-BF16; Linux reports it in /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def runs_in_bf16(precision: str) -> bool:
    """A precision option (auto, bf16 or fp32) resolved on this CPU: auto means bf16 where it is native."""
    return precision == "bf16" or (precision == "auto" and native_bf16())


DEFAULT_THREADS = 2  # the most that helped on the 2-core machines this was tuned on (the shipped configs say 2)


def own_load() -> float:
    """This process's own share of the 1-minute load average (its reaped children's included), estimated
    from its CPU time: used at a steady rate r for T seconds, it adds r * (1 - exp(-T / 60)). A run
    after a run in one process (a curriculum's stages) must not take its own last stage for a neighbour's."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0  # not Linux: count the whole load as others'
    lifetime = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    if lifetime <= 1.0:
        return 0.0
    used = sum(os.times()[:4])  # user and system seconds, this process's and its reaped children's
    return used / lifetime * (1.0 - math.exp(-lifetime / 60.0))


def machine_cores() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


RUNNABLE_SAMPLES = 5  # reads of the runnable count, RUNNABLE_GAP seconds apart: a tenth of a second in all
RUNNABLE_GAP = 0.02


def runnable_now() -> float | None:
    """Other tasks runnable right now: /proc/stat's procs_running (which counts the reading thread),
    less one, averaged over a few reads. None where there is no /proc/stat."""
    counts = []
    for index in range(RUNNABLE_SAMPLES):
        if index:
            time.sleep(RUNNABLE_GAP)
        try:
            line = next(x for x in Path("/proc/stat").read_text().splitlines() if x.startswith("procs_running "))
            counts.append(int(line.split()[1]) - 1)
        except (OSError, StopIteration, ValueError, IndexError):
            return None
    return sum(counts) / len(counts)


def free_cores() -> tuple[int, float, int]:
    """(cores this process may use, the load of everything else, cores left free by that load: at least 1).

    The load is the 1-minute load average less this process's own share; where that leaves a core
    busy, the tasks runnable right now decide instead, since the average still counts for a
    minute a neighbour that has stopped."""
    cores = machine_cores()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    load = max(0.0, load - own_load())
    if cores_left(cores, load) < cores:
        now = runnable_now()
        load = load if now is None else now
    return cores, load, cores_left(cores, load)


def cores_left(cores: int, load: float) -> int:
    return max(1, min(cores, int(cores - load + 0.5)))


def choose_threads(asked: int | None) -> int:
    """Torch threads for a run: ``asked`` (default 2) but no more than the cores the load leaves free.
    More threads than free cores make torch's threads wait on each other: configs/tiny.yaml for
    2,000 frames on 2 cores under a load of 2.6-4.9 (niced) ran at 6-12 frames/s with 2 threads
    and 242-285 frames/s with 1."""
    return max(1, min(asked or DEFAULT_THREADS, free_cores()[2]))


def vocabulary_texts(config: AgentSource) -> list[str]:
    """Training instructions of the corpus plus descriptions of the training worlds."""
    from instructed_rl.games.env import InstructedEnv

    corpus = load_corpus(config.corpus)
    texts = sample_instructions(corpus, count=4000, seed=config.seed)
    for game in config.games:
        env = InstructedEnv(game, split="train", corpus=corpus)
        texts.extend(env.reset(seed=10_000 + s)[0]["description"] for s in range(50))
    return texts


# Agent config keys about acting, which a run may change.
ACTING_KEYS = ("rephrase", "actions", "escape_loops", "read_places", "implicit_steps", "check_done")


def _set_acting(agent: Agent, config: AgentSource) -> None:
    for key in (key for key in ACTING_KEYS if key != "actions"):  # the switches; actions is checked below
        if key in config.agent:
            if not isinstance(config.agent[key], bool):
                raise UserError(f"agent.{key}={config.agent[key]!r} must be true or false. Fix: write 'agent: {{{key}: true}}'")
            setattr(agent.config, key, config.agent[key])
    if agent.config.read_places and not (config.agent.get("policy") or {}).get("map_planner", agent.config.policy.map_planner):
        raise UserError("agent.read_places needs a planner to narrow. Fix: add 'agent: {policy: {map_planner: true}}', "
                        "or drop read_places")
    for key in ("implicit_steps", "check_done"):
        if getattr(agent.config, key) and not (config.agent.get("policy") or {}).get("map_memory",
                                                                                      agent.config.policy.map_memory):
            raise UserError(f"agent.{key} reads the map of what the agent has seen. Fix: add "
                            f"'agent: {{policy: {{map_memory: true}}}}', or drop {key}")
    if "actions" in config.agent:
        if config.agent["actions"] not in ACTION_MODES:
            raise UserError(f"agent.actions={config.agent['actions']!r} is not one of {', '.join(ACTION_MODES)}. "
                            "Fix: write 'agent: {actions: greedy}' or sampled")
        agent.config.actions = config.agent["actions"]


def make_agent(config: AgentSource, out: Path, ctx, *, resumed: bool) -> Agent:
    """The run's agent: from its checkpoint, from ``init_agent`` (keeping its vocabulary), or new;
    set to learn at the config's ``conv_precision`` and read at its ``text_precision``."""
    agent = _load_or_create_agent(config, out, ctx, resumed=resumed)
    agent.policy.bf16_training = config.bf16_convolutions
    agent.encoder.bf16_backbone = config.bf16_text
    return agent


def _load_or_create_agent(config: AgentSource, out: Path, ctx, *, resumed: bool) -> Agent:
    if resumed:
        agent = Agent.from_pretrained(out / "checkpoint" / "agent")
        _set_acting(agent, config)  # acting only: the config's say
        return agent
    if config.init_agent:
        agent = Agent.from_pretrained(config.init_agent)
        # A config written for a new agent may restate what the saved one already is: fine. It
        # may add policy parts (a reader): grown below. Anything else would be silently lost.
        changes = {part: {k: v for k, v in (config.agent.get(part) or {}).items()
                          if getattr(getattr(agent.config, part), k, object()) != v}
                   for part in ("text", "policy")}
        if "max_length" in changes["text"]:  # longer texts (a maze's description) for a frozen encoder
            try:
                agent = agent.with_text_length(int(changes["text"].pop("max_length")))
            except ValueError as error:
                raise UserError(f"agent.text.max_length: {error}") from None
        other = sorted(set(config.agent) - {"text", "policy", *ACTING_KEYS})
        if other or changes["text"]:
            name = f"agent.{other[0]}" if other else f"agent.text.{sorted(changes['text'])[0]}"
            raise UserError(f"{name} cannot change a saved agent (init_agent={config.init_agent}). "
                            "Fix: remove it, or drop init_agent to train a new agent")
        if changes["policy"]:
            try:
                agent = agent.with_policy(**changes["policy"])
            except (TypeError, ValueError) as error:
                raise UserError(f"agent.policy: {error}") from None
        # How it reads and acts, not what it is: may change. Set on the grown agent, whose parts
        # (a planner) some ways of acting need.
        _set_acting(agent, config)
        agent.config.corpus = load_corpus(config.corpus).name
        agent.config.games = list(dict.fromkeys(agent.config.games + list(config.games)))
        return agent
    return distributed.share_agent(
        lambda: Agent.create(config.agent_config(), texts=vocabulary_texts(config), seed=config.seed), ctx)


def open_run(config, out: Path, ctx, *, resumable: tuple[str, ...]) -> bool:
    """Make ``out`` this config's run directory (or check that it already is: :func:`check_same_run`),
    repair an interrupted checkpoint swap, and say whether the run resumes from a checkpoint."""
    out.mkdir(parents=True, exist_ok=True)
    if ctx.is_main:
        check_same_run(config, out, resumable=resumable)
        has_checkpoint(out)  # repairs an interrupted checkpoint swap before the other ranks look
    distributed.barrier(ctx)
    return has_checkpoint(out)


def check_same_run(config, out: Path, *, resumable: tuple[str, ...]) -> None:
    """Refuse to resume a run directory with a different config (budget keys excepted); record it otherwise."""
    path = out / "config.json"
    current = dataclasses.asdict(config)
    # Only a run that saved a checkpoint binds its directory: one that failed at start left nothing to resume.
    if path.exists() and has_checkpoint(out):
        saved = json.loads(path.read_text())
        # A key newer than the saved run ran with its default: a run started before the key existed resumes.
        defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                    for f in dataclasses.fields(config)
                    if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
        for key, value in current.items():
            was = saved[key] if key in saved else defaults.get(key)
            if key not in resumable and was != value:
                raise UserError(f"{out} holds a run with {key}={was!r}, not {value!r}. "
                                f"Fix: use the same config to resume, or another --out for a new run")
    path.write_text(json.dumps(current, indent=2) + "\n")


LOCK = ".lock"


class RunLock:
    """Only one run at a time in a run directory: a second one refuses, naming the holder.

    ``flock`` on ``RUN/.lock``, which holds the holder's pid. The kernel drops the lock when its
    process ends in any way (even kill -9), so the lock of a dead run is simply taken over.
    """

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self._handle = None

    def __enter__(self) -> "RunLock":
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise UserError(f"{self.path.parent} is in use by another training run (pid {holder}). Fix: wait for it "
                            f"to finish (or stop it: kill {holder}), or pass another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> bool:
        if self._handle is not None:
            self._handle.close()  # closing releases the lock; the file stays (unlinking it would race)
            self._handle = None
        return False


class StopFlag:
    """Ctrl-C / SIGTERM ask the loop to checkpoint and stop at the end of the iteration."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def seed_dropout(seed: int, iteration: int) -> None:
    """Torch's global seed for one iteration (any dropout a network may have)."""
    torch.manual_seed(seed * 104729 + iteration)


def iteration_randomness(seed: int, iteration: int, ctx) -> tuple[np.random.Generator, torch.Generator]:
    """Everything random in one iteration of a collecting trainer, from (seed, iteration, rank)
    alone, so a resumed run retraces an uninterrupted one: numpy's generator (minibatches,
    DAgger's coin), torch's generator for the actions (:func:`rollout_generator`), and the global
    seed (:func:`seed_dropout`)."""
    seed_dropout(seed, iteration)
    return np.random.default_rng([seed, iteration, *ctx.seed_key]), rollout_generator(seed, iteration, ctx.rank)


EVAL_SEED = 2_000_000  # training's evaluations: iteration k uses seeds from EVAL_SEED + 1000 k


def evaluate(agent, games: list[str], *, corpus: str, episodes: int, seed: int) -> dict[str, float]:
    """Greedy success on each game's test split (fresh seeds, the run's corpus)."""
    from instructed_rl.acting.actors import AgentActor
    from instructed_rl.eval.cell import EvalConfig, run_seeds

    actor = AgentActor(agent, greedy=True)
    results = {}
    for game in dict.fromkeys(games):  # a game listed twice (a training weight) is evaluated once
        cell = EvalConfig(agent="(training)", game=game, split="test", corpus=corpus)
        played = run_seeds(cell, "test", [seed + i for i in range(episodes)], actor=actor, bot_paths=False)
        results[f"eval/{game}"] = sum(result.success for result in played) / episodes
    results["eval/mean"] = float(np.mean(list(results.values())))
    return results


def end_iteration(row: dict[str, Any], *, agent, optimizer, config, ctx, out: Path, state: dict[str, Any],
                  stop: StopFlag, metrics, progress, shown: dict[str, float], arrays=dict, log=print) -> dict[str, float]:
    """What a trainer does after each iteration's update: a greedy evaluation when ``eval_every``
    says so or at the end (its numbers join ``row`` and are returned; else {}), the metrics row,
    the progress line (with ``shown``), a checkpoint every ``checkpoint_every`` iterations, at the
    end and on a stop request (after which, KeyboardInterrupt); freed memory goes back to the system.
    ``arrays()`` gives what the checkpoint keeps beside the agent (called on every rank: it may gather)."""
    scores: dict[str, float] = {}
    finished = state["frames"] >= config.frames
    if ctx.is_main and ((config.eval_every and state["iteration"] % config.eval_every == 0) or finished):
        agent.eval()
        scores = evaluate(agent, config.games, corpus=config.corpus, episodes=config.eval_episodes,
                          seed=EVAL_SEED + 1000 * state["iteration"])
        row.update(scores)
    metrics.write(row)
    progress.update(state["frames"], row["fps"], **shown)
    stopping = distributed.any_rank(stop.requested, ctx)  # a signal may reach only some ranks
    if stopping or finished or state["iteration"] % config.checkpoint_every == 0:
        distributed.barrier(ctx)
        kept = arrays()
        if ctx.is_main:
            save_checkpoint(out, agent=agent, optimizer=optimizer, state=state, arrays=kept)
        distributed.barrier(ctx)
        del kept
    release_freed_memory()
    if stopping:
        progress.close()
        metrics.close()
        log(f"interrupted at {state['frames']:,} frames; checkpoint saved. Run the same command to resume.")
        raise KeyboardInterrupt
    return scores


def busy_cores(config) -> int:
    """Cores a run keeps busy, for its CPU-hours: its torch threads, or its env processes while they
    step, or (overlapped) the learner's threads beside the collection process; no more than the machine has."""
    from instructed_rl.train.overlap import learner_threads

    if getattr(config, "overlap", False):
        busy = learner_threads(config.threads, True) + 1
    else:
        busy = max(config.threads, getattr(config, "env_workers", 1), getattr(config, "workers", 1))
    return min(busy, machine_cores())


def finish_run(agent, out: Path, *, config, ctx, state: dict[str, Any], record: dict[str, Any],
               curve_keys: tuple[str, ...], last_eval: dict[str, float], log=print) -> Path:
    """Save the agent, the curve and the training record (rank 0), then leave the process group."""
    digests = distributed.check_in_sync(agent, ctx)
    final = out / "agent"
    if ctx.is_main:
        agent.save_pretrained(final)
        plot_curve(out / "metrics.jsonl", out / "curve.png", keys=curve_keys)
        record = {
            **record, "wall_seconds": round(state["wall_seconds"], 1),
            "hardware": {"cpu": platform.processor() or platform.machine(), "threads": config.threads,
                         "cores": busy_cores(config) * max(1, ctx.world_size),
                         "bf16_convolutions": config.bf16_convolutions, "bf16_text": config.bf16_text,
                         "torch": torch.__version__, **record.get("hardware", {})},
            "final_eval": last_eval, "final_eval_actions": action_mode(True, agent.config.escape_loops),
            "config": dataclasses.asdict(config),
        }
        if ctx.enabled:
            record["distributed"] = {"world_size": ctx.world_size, "backend": ctx.backend,
                                     "parameter_digests": digests}
        (out / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
        from instructed_rl.model.card import write_card

        write_card(final)  # again, now that the record it reads (beside agent/) exists
    distributed.barrier(ctx)
    distributed.shutdown(ctx)
    log(f"done: {state['frames']:,} frames in {state['wall_seconds']:.0f}s; agent saved to {final}")
    if last_eval:
        log("greedy test success: " + ", ".join(f"{k[5:]} {100 * v:.1f}%" for k, v in last_eval.items()))
    return final

