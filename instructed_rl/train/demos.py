"""BabyAI-bot demonstrations: generate them (in parallel, resumably) and load them for trainers.

    instructed-rl demos --game GoToRoom --split train --episodes 10000 --out data/demos/goto_room --workers 2

Episode ``i`` of a run is the world of seed ``seed + i``; minigrid's BabyAI bot plays it in the
env's own process (it reads the live world). Episodes the bot cannot finish (an exception such
as ``DisappearedBoxError`` / ``AssertionError``, or no success within the env's step limit) are
counted and listed by seed in the manifest, never written as demos. Work is split into shards
of ``shard_size`` consecutive episodes; a shard is written atomically, then the manifest is
updated, so an interrupted run loses at most the shards in progress, and running the same
command again resumes. Because every shard is a fixed seed range, a resumed run, a run with
more workers and an uninterrupted run write identical shards.

Format (``format: instructed-rl-demos``, ``format_version`` 1), one directory:

``manifest.json``
    ``game`` (re-resolvable id), ``split``, ``corpus`` (resolved name), ``seed``, ``shard_size``
    (these five identify the run; another run into the same directory must match them),
    ``episodes_requested`` / ``episodes_done`` / ``episodes_failed`` (requested = done + failed
    once ``complete``), ``steps``, ``bot_failures`` (``[{"seed", "reason"}]``, sorted by seed),
    ``shards`` (one entry per finished shard: ``index``, ``npz``, ``json``, ``first_episode``,
    ``stop_episode``, ``episodes``, ``failed``, ``steps``, ``bot_failures``, ``sha256`` of both
    files), ``step_arrays`` (dtype of each per-step array), ``format_version``, ``package_version``.
``shard_00000.npz``
    ``np.savez`` of plain numeric arrays only (load with ``allow_pickle=False``); the steps of
    every demo in the shard, concatenated (``T`` steps, ``E`` demos):

    ==========================  =========  =====================================================
    ``image``                   uint8      ``(T, 7, 7, 3)`` egocentric view the bot acted on
    ``direction``               uint8      ``(T,)`` agent direction, 0..3
    ``action``                  uint8      ``(T,)`` the bot's action
    ``active_subtask``          int16      ``(T,)`` plan index of the subtask due when the view
                                           was seen (-1: none)
    ``subtasks_done``           uint8      ``(T,)`` subtasks done when the view was seen
    ``subtasks_done_after``     uint8      ``(T,)`` subtasks done after the action
    ``done_after``              bool       ``(T,)`` the whole instruction is complete after the
                                           action (the termination head's target)
    ``episode_offsets``         int64      ``(E + 1,)`` demo ``e`` is steps
                                           ``offsets[e]:offsets[e + 1]``
    ``episode_seed``            int64      ``(E,)``
    ``episode_length``          int32      ``(E,)``
    ``episode_success``         bool       ``(E,)`` always true: failures are not written
    ==========================  =========  =====================================================
``shard_00000.json``
    ``{"format", "format_version", "shard", "first_episode", "stop_episode", "episodes": [...],
    "bot_failures": [...]}``; one entry per demo, in npz order: ``seed``, ``mission``,
    ``description``, ``instruction`` (structured, JSON), ``subtasks`` (texts in plan order),
    ``subtask_instructions``, ``phrasing``, ``length``, ``success``.

Trainers read a directory with :class:`DemoDataset` (or :func:`load_demos`)::

    demos = load_demos("data/demos/goto_room")
    demos.arrays["image"], demos.arrays["action"]       # flat step arrays over every shard
    for episode in demos: episode.mission, episode.action, episode.done_after
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import SPLITS, GameSpec, find_game

FORMAT = "instructed-rl-demos"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
IDENTITY_KEYS = ("game", "split", "corpus", "seed", "shard_size")
STEP_ARRAYS: dict[str, np.dtype] = {
    "image": np.dtype(np.uint8),
    "direction": np.dtype(np.uint8),
    "action": np.dtype(np.uint8),
    "active_subtask": np.dtype(np.int16),
    "subtasks_done": np.dtype(np.uint8),
    "subtasks_done_after": np.dtype(np.uint8),
    "done_after": np.dtype(np.bool_),
}
EPISODE_ARRAYS: dict[str, np.dtype] = {
    "episode_offsets": np.dtype(np.int64),
    "episode_seed": np.dtype(np.int64),
    "episode_length": np.dtype(np.int32),
    "episode_success": np.dtype(np.bool_),
}
PROGRESS_INTERVAL_S = 0.2  # how often a worker reports progress to the main process


@dataclass
class DemosConfig:
    game: str = option("", "game id (see 'instructed-rl envs') or any BabyAI level id")
    out: str = option("", "output directory; running the same command again resumes an interrupted run")
    split: str = option("train", f"one of the game's splits ({', '.join(SPLITS)})")
    corpus: str | None = option(None, "corpus name or YAML path (default: babyai; paraphrase for unseen_phrasings)")
    episodes: int = option(1000, "episodes to attempt, seeds seed .. seed+episodes-1 (bot failures are counted, not written)")
    seed: int = option(0, "seed of the first episode; episode i uses seed + i")
    shard_size: int = option(256, "episodes per shard: the unit a worker writes, and the most an interruption loses")
    workers: int = option(1, "worker processes, each writing whole shards (1: in this process)")
    progress: bool = option(True, "one-line progress (episodes, episodes/s, failures) on stderr")

    def __post_init__(self):
        if not self.game:
            raise ValueError("give --game GAME, e.g. 'instructed-rl demos --game GoToRoom --out data/demos/goto_room'")
        if not self.out:
            raise ValueError("give --out DIR, the directory the demos go to")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; use one of {', '.join(SPLITS)}")
        if self.episodes <= 0:
            raise ValueError(f"--episodes must be positive, got {self.episodes}")
        if self.seed < 0:
            raise ValueError(f"--seed must be non-negative (minigrid seeds), got {self.seed}")
        if self.shard_size <= 0:
            raise ValueError(f"--shard-size must be positive, got {self.shard_size}")
        if self.workers <= 0:
            raise ValueError(f"--workers must be at least 1, got {self.workers}")


@dataclass
class DemosSummary:
    """What a run did: the directory's totals plus this run's share."""

    out: str
    game: str
    split: str
    corpus: str
    requested: int
    done: int
    failed: int
    steps: int
    shards: int
    shards_written: int  # by this run; the rest were already there
    new_episodes: int  # attempted by this run
    seconds: float

    @property
    def episodes_per_second(self) -> float:
        return self.new_episodes / self.seconds if self.seconds > 0 else 0.0


# ---- one episode ---------------------------------------------------------------------------
def bot_episode(env: InstructedEnv, seed: int) -> tuple[dict | None, str | None]:
    """Let the BabyAI bot play the world of ``seed``: ``(episode, None)`` or ``(None, failure reason)``.

    ``episode`` holds the per-step arrays of :data:`STEP_ARRAYS` and the episode's texts.
    """
    from instructed_rl.acting.bot import Bot

    obs, info = env.reset(seed=seed)
    bot = Bot(env.level)  # a fresh bot per world: it caches the map it has seen
    columns: dict[str, list] = {name: [] for name in STEP_ARRAYS}
    done_count = sum(info["subtasks_done"])
    active = info["active_subtask"]
    action = None
    success = False
    while True:
        action = bot.next_action(action)
        if action is None:  # the bot's own give-ups (DisappearedBoxError, AssertionError, ...)
            return None, bot.gave_up
        next_obs, _, terminated, truncated, step_info = env.step(action)
        done_after = sum(step_info["subtasks_done"])
        success = bool(step_info["success"])
        columns["image"].append(obs["image"])
        columns["direction"].append(obs["direction"])
        columns["action"].append(int(action))
        columns["active_subtask"].append(-1 if active is None else active)
        columns["subtasks_done"].append(done_count)
        columns["subtasks_done_after"].append(done_after)
        columns["done_after"].append(success)
        obs, done_count, active = next_obs, done_after, step_info["active_subtask"]
        if terminated or truncated:
            break
    length = len(columns["action"])
    if not success:
        return None, f"no success in {length} steps (step limit {env.level.max_steps})"
    episode = {name: np.asarray(values, dtype=STEP_ARRAYS[name]) for name, values in columns.items()}
    episode["meta"] = {
        "seed": int(seed),
        "mission": info["mission"],
        "description": info["description"],
        "instruction": info["instruction"],
        "subtasks": list(info["subtasks"]),
        "subtask_instructions": info["subtask_instructions"],
        "phrasing": list(info["phrasing"]),
        "length": length,
        "success": success,
    }
    return episode, None


# ---- one shard -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardJob:
    index: int
    first_episode: int  # episodes [first_episode, stop_episode); episode i is the world of seed + i
    stop_episode: int


def shard_name(index: int) -> str:
    return f"shard_{index:05d}"


def plan_shards(episodes: int, shard_size: int) -> list[ShardJob]:
    return [ShardJob(index=i, first_episode=start, stop_episode=min(start + shard_size, episodes))
            for i, start in enumerate(range(0, episodes, shard_size))]


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def write_shard(env: InstructedEnv, out: Path, job: ShardJob, *, seed: int,
                on_episode: Callable[[bool], None] | None = None) -> dict:
    """Play the shard's seed range with the bot, write ``shard_NNNNN.npz/.json``; return its manifest entry."""
    episodes, failures = [], []
    for i in range(job.first_episode, job.stop_episode):
        episode, reason = bot_episode(env, seed + i)
        if episode is None:
            failures.append({"seed": seed + i, "reason": reason})
        else:
            episodes.append(episode)
        if on_episode is not None:
            on_episode(episode is None)
    view = env.observation_space["image"].shape
    arrays: dict[str, np.ndarray] = {}
    for name, dtype in STEP_ARRAYS.items():
        empty = np.zeros((0, *view) if name == "image" else (0,), dtype=dtype)
        arrays[name] = np.concatenate([e[name] for e in episodes]).astype(dtype, copy=False) if episodes else empty
    lengths = np.asarray([len(e["action"]) for e in episodes], dtype=np.int64)
    arrays["episode_offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    arrays["episode_seed"] = np.asarray([e["meta"]["seed"] for e in episodes], dtype=np.int64)
    arrays["episode_length"] = lengths.astype(np.int32)
    arrays["episode_success"] = np.asarray([e["meta"]["success"] for e in episodes], dtype=np.bool_)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    npz_bytes = buffer.getvalue()
    json_bytes = _json_bytes({
        "format": FORMAT, "format_version": FORMAT_VERSION, "shard": job.index,
        "first_episode": job.first_episode, "stop_episode": job.stop_episode,
        "episodes": [e["meta"] for e in episodes], "bot_failures": failures,
    })
    name = shard_name(job.index)
    _atomic_write(out / f"{name}.npz", npz_bytes)
    _atomic_write(out / f"{name}.json", json_bytes)
    return {
        "index": job.index, "npz": f"{name}.npz", "json": f"{name}.json",
        "first_episode": job.first_episode, "stop_episode": job.stop_episode,
        "episodes": len(episodes), "failed": len(failures), "steps": int(lengths.sum()),
        "bot_failures": failures,
        "sha256": {"npz": hashlib.sha256(npz_bytes).hexdigest(), "json": hashlib.sha256(json_bytes).hexdigest()},
    }


# ---- the directory: manifest, identity, lock ------------------------------------------------
def game_name(spec: GameSpec) -> str:
    """The name that finds this game again: a shipped id, or the BabyAI level id itself."""
    return spec.source if spec.source.startswith("BabyAI-") else spec.id


def _read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: unreadable ({type(error).__name__}). Fix: remove {out} or use another directory") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{out}: not an instructed-rl demos directory ({MANIFEST} is someone else's). "
                        f"Fix: use another directory")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(f"{out}: demos format version {version!r}, this package reads {FORMAT_VERSION}. "
                        f"Fix: regenerate the demos with this version, or use another directory")
    shards = manifest.get("shards")
    entry_keys = ("index", "npz", "json", "first_episode", "stop_episode", "episodes", "failed", "steps",
                  "bot_failures", "sha256")
    if (not isinstance(shards, list) or any(k not in manifest for k in IDENTITY_KEYS)
            or not all(isinstance(s, dict) and all(k in s for k in entry_keys) and isinstance(s["sha256"], dict)
                       for s in shards)):
        raise UserError(f"{path}: malformed (missing fields). Fix: remove {out} and generate the demos again")
    return manifest


def _tally(manifest: dict, *, requested: int) -> dict:
    """Recompute the totals from the shard entries (the entries are the truth)."""
    shards = sorted(manifest["shards"], key=lambda s: s["index"])
    planned = {(j.index, j.first_episode, j.stop_episode) for j in plan_shards(requested, manifest["shard_size"])}
    present = {(s["index"], s["first_episode"], s["stop_episode"]) for s in shards}
    failures = sorted((f for s in shards for f in s["bot_failures"]), key=lambda f: f["seed"])
    return dict(
        manifest, shards=shards, episodes_requested=requested,
        episodes_done=sum(s["episodes"] for s in shards), episodes_failed=sum(s["failed"] for s in shards),
        steps=sum(s["steps"] for s in shards), bot_failures=failures, complete=present == planned,
    )


def _shard_intact(out: Path, entry: dict) -> bool:
    for kind in ("npz", "json"):
        try:
            data = (out / entry[kind]).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != entry["sha256"][kind]:
            return False
    return True


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One writer per directory: a second run into it is an error, not a mix (released if we die)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(out / LOCK, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UserError(f"{out}: another 'instructed-rl demos' run is writing here. "
                            f"Fix: wait for it, or use another --out") from None
        yield


def _remove_temporaries(out: Path) -> None:
    for path in out.glob(".shard_*.tmp"):  # left by a run that was killed mid-write
        path.unlink(missing_ok=True)
    for path in out.glob(f".{MANIFEST}.*.tmp"):
        path.unlink(missing_ok=True)


def _refuse_foreign(out: Path) -> None:
    """A file, a directory with a foreign manifest, or a non-empty directory without one: an error."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory. Fix: use another --out")
    if _read_manifest(out) is None:
        strangers = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if strangers:
            raise UserError(f"{out}: not empty and not a demos directory (holds {strangers[0]}"
                            f"{' and more' if len(strangers) > 1 else ''}). Fix: use a new or empty --out")


def _open_directory(out: Path, identity: dict, requested: int) -> tuple[dict, set[int]]:
    """The manifest to continue (identity checked) and the indices of intact finished shards."""
    _refuse_foreign(out)
    manifest = _read_manifest(out)
    if manifest is None:
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **identity, "shards": []}
    differ = [k for k in IDENTITY_KEYS if manifest.get(k) != identity[k]]
    if differ:
        theirs = ", ".join(f"{k}={manifest.get(k)!r}" for k in differ)
        ours = ", ".join(f"{k}={identity[k]!r}" for k in differ)
        raise UserError(f"{out} holds demos made with {theirs}, this run asks for {ours}. "
                        f"Fix: run with the same settings to resume, or use another --out")
    furthest = max((s["stop_episode"] for s in manifest["shards"]), default=0)
    if furthest > requested:
        raise UserError(f"{out} already holds episodes up to {furthest} and this run asks for {requested}. "
                        f"Fix: pass --episodes {furthest} or more to resume or extend it, or use another --out")
    planned = {(j.index, j.first_episode, j.stop_episode) for j in plan_shards(requested, identity["shard_size"])}
    kept = [s for s in manifest["shards"]
            if (s["index"], s["first_episode"], s["stop_episode"]) in planned and _shard_intact(out, s)]
    manifest["shards"] = kept  # a partial last shard of a shorter run, or a damaged one, is played again
    return manifest, {s["index"] for s in kept}


def _write_manifest(out: Path, manifest: dict) -> None:
    from instructed_rl import __version__

    manifest = dict(manifest, package_version=__version__,
                    step_arrays={name: dtype.name for name, dtype in STEP_ARRAYS.items()})
    order = ("format", "format_version", "package_version", *IDENTITY_KEYS, "episodes_requested", "episodes_done",
             "episodes_failed", "steps", "complete", "bot_failures", "step_arrays", "shards")
    ordered = {key: manifest[key] for key in order if key in manifest}
    _atomic_write(out / MANIFEST, _json_bytes({**ordered, **manifest}))


# ---- workers ---------------------------------------------------------------------------------
def _worker_main(game: str, split: str, corpus: str | None, seed: int, out: str, jobs, events) -> None:
    """A worker process: take shard jobs until ``None``, report progress, finished shards and errors."""
    try:
        parent = os.getppid()
        env = InstructedEnv(game, split=split, corpus=corpus)
        pending = [0, 0]  # attempted, failed since the last report
        last = time.monotonic()

        def on_episode(failed: bool) -> None:
            nonlocal last
            if os.getppid() != parent:  # the main process was killed: stop rather than play on as an orphan
                raise SystemExit(1)
            pending[0] += 1
            pending[1] += failed
            if time.monotonic() - last >= PROGRESS_INTERVAL_S:
                events.put(("progress", tuple(pending)))
                pending[:] = [0, 0]
                last = time.monotonic()

        while (job := jobs.get()) is not None:
            entry = write_shard(env, Path(out), job, seed=seed, on_episode=on_episode)
            if pending[0]:
                events.put(("progress", tuple(pending)))
                pending[:] = [0, 0]
            events.put(("shard", entry))
        env.close()
    except Exception as error:
        user = isinstance(error, UserError)
        events.put(("error", (user, str(error) if user else traceback.format_exc())))


def _run_in_workers(config: DemosConfig, game: str, jobs: list[ShardJob], workers: int,
                    on_shard: Callable[[dict], None], on_episodes: Callable[[int, int], None]) -> None:
    context = multiprocessing.get_context("spawn")  # the bot and minigrid run in the worker's own process
    job_queue, events = context.Queue(), context.Queue()
    for job in jobs:
        job_queue.put(job)
    for _ in range(workers):
        job_queue.put(None)
    processes = [context.Process(target=_worker_main, name=f"demos-worker-{i}", daemon=True,
                                 args=(game, config.split, config.corpus, config.seed, config.out, job_queue, events))
                 for i in range(workers)]
    # Workers are born ignoring Ctrl-C (a disposition exec keeps), even while they import: the
    # terminal sends it to the whole group, and cleaning up is the main process's job.
    main_thread = threading.current_thread() is threading.main_thread()  # only it may touch signals
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        for process in processes:
            process.start()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    finished = False
    try:
        remaining = len(jobs)
        while remaining:
            try:
                kind, payload = events.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"demos worker {dead[0].name} died (exit code {dead[0].exitcode})") from None
                if all(p.exitcode is not None for p in processes):
                    raise RuntimeError(f"demos workers exited with {remaining} shards unreported") from None
                continue
            if kind == "progress":
                on_episodes(*payload)
            elif kind == "shard":
                on_shard(payload)
                remaining -= 1
            else:
                user, message = payload
                if user:
                    raise UserError(message)
                raise RuntimeError(f"a demos worker failed:\n{message}")
        finished = True
    finally:
        for process in processes:
            if not finished and process.is_alive():
                process.terminate()
            process.join()
        if not finished:
            _remove_temporaries(Path(config.out))


# ---- the command ------------------------------------------------------------------------------
def generate_demos(config: DemosConfig, *, on_progress: Callable[[int, int], None] | None = None) -> DemosSummary:
    """Fill ``config.out`` with bot demos, resuming what is already there.

    ``on_progress(attempted, failed)`` gets the directory's running totals (episodes attempted,
    bot failures); its first call reports what the directory already held.
    """
    started = time.perf_counter()
    spec = find_game(config.game)
    env = InstructedEnv(spec, split=config.split, corpus=config.corpus)  # game, split and corpus errors now
    game = game_name(spec)
    identity = {"game": game, "split": config.split, "corpus": env.corpus.name, "seed": config.seed,
                "shard_size": config.shard_size}
    out = Path(config.out)
    _refuse_foreign(out)  # before the lock file lands in someone else's directory
    out.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        _remove_temporaries(out)
        manifest, kept = _open_directory(out, identity, config.episodes)
        manifest = _tally(manifest, requested=config.episodes)
        _write_manifest(out, manifest)
        jobs = [job for job in plan_shards(config.episodes, config.shard_size) if job.index not in kept]
        totals = [sum(s["episodes"] + s["failed"] for s in manifest["shards"]), manifest["episodes_failed"]]
        if on_progress is not None:
            on_progress(*totals)

        def on_episodes(attempted: int, failed: int) -> None:
            totals[0] += attempted
            totals[1] += failed
            if on_progress is not None:
                on_progress(*totals)

        def on_shard(entry: dict) -> None:
            nonlocal manifest
            manifest = _tally(dict(manifest, shards=manifest["shards"] + [entry]), requested=config.episodes)
            _write_manifest(out, manifest)

        workers = min(config.workers, len(jobs))
        try:
            if workers <= 1:
                for job in jobs:
                    entry = write_shard(env, out, job, seed=config.seed,
                                        on_episode=lambda failed: on_episodes(1, int(failed)))
                    on_shard(entry)
            else:
                env.close()
                _run_in_workers(config, game, jobs, workers, on_shard, on_episodes)
        finally:
            env.close()
    return DemosSummary(
        out=str(out), game=game, split=config.split, corpus=identity["corpus"],
        requested=config.episodes, done=manifest["episodes_done"], failed=manifest["episodes_failed"],
        steps=manifest["steps"], shards=len(manifest["shards"]), shards_written=len(jobs),
        new_episodes=sum(j.stop_episode - j.first_episode for j in jobs), seconds=time.perf_counter() - started,
    )


# ---- loading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoEpisode:
    """One demo: its texts and structured instruction, and its per-step arrays (views into the dataset)."""

    seed: int
    mission: str
    description: str
    instruction: dict
    subtasks: list[str]
    success: bool
    meta: dict = field(repr=False)  # the shard JSON's entry: also phrasing, subtask_instructions
    image: np.ndarray = field(repr=False)
    direction: np.ndarray = field(repr=False)
    action: np.ndarray = field(repr=False)
    active_subtask: np.ndarray = field(repr=False)
    subtasks_done: np.ndarray = field(repr=False)
    subtasks_done_after: np.ndarray = field(repr=False)
    done_after: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.action)


class DemoDataset:
    """A demos directory, validated and loaded into memory: flat step arrays plus per-episode metadata.

    ``dataset.arrays[name]`` is the concatenation over every shard (see :data:`STEP_ARRAYS`);
    demo ``e`` is steps ``offsets[e]:offsets[e + 1]``; ``dataset[e]`` / iteration give
    :class:`DemoEpisode`. An incomplete directory (an interrupted run) is an error unless
    ``allow_incomplete``.
    """

    def __init__(self, path: str | os.PathLike, *, allow_incomplete: bool = False):
        self.path = Path(path)
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such demos directory. Fix: generate it with "
                            f"'instructed-rl demos --game GAME --out {self.path}'")
        manifest = _read_manifest(self.path)
        if manifest is None:
            raise UserError(f"{self.path}: not a demos directory (no {MANIFEST}). Fix: pass the --out of 'instructed-rl demos'")
        self.manifest = manifest
        try:
            shards = sorted(manifest["shards"], key=lambda s: s["index"])
            complete = bool(manifest["complete"])
            requested = int(manifest["episodes_requested"])
        except (KeyError, TypeError, ValueError):
            raise self._corrupt(MANIFEST, "missing fields") from None
        if not complete and not allow_incomplete:
            raise UserError(f"{self.path}: incomplete ({manifest.get('episodes_done', 0) + manifest.get('episodes_failed', 0)} "
                            f"of {requested} episodes were played). Fix: run the same 'instructed-rl demos' command again "
                            f"to finish it (or load with allow_incomplete=True)")
        parts, metas, view = [], [], None
        for entry in shards:
            arrays, episodes = self._load_shard(entry)
            shape = arrays["image"].shape[1:]
            if view is not None and shape != view:
                raise self._corrupt(entry["npz"], f"view {shape} differs from the other shards' {view}")
            view = shape
            parts.append(arrays)
            metas.extend(episodes)
        self.episodes_meta: list[dict] = metas
        if parts:
            self.arrays = {name: np.concatenate([p[name] for p in parts]) for name in STEP_ARRAYS}
        else:
            self.arrays = {name: np.zeros((0, 7, 7, 3) if name == "image" else (0,), dtype)
                           for name, dtype in STEP_ARRAYS.items()}
        lengths = np.asarray([m["length"] for m in metas], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.seeds = np.asarray([m["seed"] for m in metas], dtype=np.int64)

    # ---- validation ----
    def _corrupt(self, name: str, problem: str) -> UserError:
        return UserError(f"{self.path / name}: corrupt demos ({problem}). Fix: re-run the same 'instructed-rl demos' "
                         f"command (it replays damaged shards), or regenerate the directory")

    def _load_shard(self, entry: dict) -> tuple[dict[str, np.ndarray], list[dict]]:
        try:
            npz_name, json_name = entry["npz"], entry["json"]
            digests = entry["sha256"]
        except (KeyError, TypeError):
            raise self._corrupt(MANIFEST, "a shard entry lacks npz/json/sha256") from None
        blobs = {}
        for kind, name in (("npz", npz_name), ("json", json_name)):
            try:
                blobs[kind] = (self.path / name).read_bytes()
            except OSError:
                raise UserError(f"{self.path / name}: missing shard file. Fix: re-run the same 'instructed-rl demos' "
                                f"command (it replays missing shards)") from None
            if hashlib.sha256(blobs[kind]).hexdigest() != digests.get(kind):
                raise self._corrupt(name, "checksum differs from the manifest's")
        try:
            with np.load(io.BytesIO(blobs["npz"]), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
            raise self._corrupt(npz_name, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
        try:
            info = json.loads(blobs["json"].decode("utf-8"))
            episodes = info["episodes"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise self._corrupt(json_name, "not the shard's JSON") from None
        self._check_arrays(npz_name, arrays, episodes)
        return arrays, episodes

    def _check_arrays(self, name: str, arrays: dict[str, np.ndarray], episodes: list) -> None:
        for key, dtype in {**STEP_ARRAYS, **EPISODE_ARRAYS}.items():
            if key not in arrays:
                raise self._corrupt(name, f"no array {key!r}")
            if arrays[key].dtype != dtype:
                raise self._corrupt(name, f"{key} is {arrays[key].dtype}, expected {dtype}")
        steps = len(arrays["action"])
        image = arrays["image"]
        if image.ndim != 4 or image.shape[0] != steps or image.shape[1] != image.shape[2] or image.shape[3] != 3:
            raise self._corrupt(name, f"image has shape {image.shape}, expected ({steps}, V, V, 3)")
        for key in STEP_ARRAYS:
            if key != "image" and arrays[key].shape != (steps,):
                raise self._corrupt(name, f"{key} has shape {arrays[key].shape}, expected ({steps},)")
        offsets, lengths = arrays["episode_offsets"], arrays["episode_length"]
        count = len(episodes)
        if (offsets.shape != (count + 1,) or lengths.shape != (count,) or arrays["episode_seed"].shape != (count,)
                or offsets[0] != 0 or offsets[-1] != steps or not np.array_equal(np.diff(offsets), lengths)):
            raise self._corrupt(name, "episode offsets, lengths and metadata disagree")
        try:
            meta_seeds = [int(e["seed"]) for e in episodes]
            meta_lengths = [int(e["length"]) for e in episodes]
        except (KeyError, TypeError, ValueError):
            raise self._corrupt(name, "episode metadata lacks seed/length") from None
        if meta_seeds != arrays["episode_seed"].tolist() or meta_lengths != lengths.tolist():
            raise self._corrupt(name, "the JSON's seeds/lengths differ from the npz's")

    # ---- access ----
    @property
    def complete(self) -> bool:
        return bool(self.manifest["complete"])

    @property
    def num_steps(self) -> int:
        return int(self.offsets[-1])

    @property
    def episode_index(self) -> np.ndarray:
        """For each step, the index of its demo (handy for sampling whole episodes or per-step weights)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))

    @property
    def bot_failures(self) -> list[dict]:
        return list(self.manifest.get("bot_failures", []))

    def __len__(self) -> int:
        return len(self.episodes_meta)

    def __getitem__(self, index: int) -> DemoEpisode:
        if not -len(self) <= index < len(self):
            raise IndexError(f"demo {index} of {len(self)}")
        index %= len(self)
        meta = self.episodes_meta[index]
        window = slice(int(self.offsets[index]), int(self.offsets[index + 1]))
        return DemoEpisode(
            seed=int(meta["seed"]), mission=meta["mission"], description=meta["description"],
            instruction=meta["instruction"], subtasks=list(meta["subtasks"]), success=bool(meta["success"]),
            meta=meta, **{name: array[window] for name, array in self.arrays.items()},
        )

    def __iter__(self) -> Iterator[DemoEpisode]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        m = self.manifest
        return (f"DemoDataset({str(self.path)!r}: {len(self)} demos, {self.num_steps} steps of "
                f"{m['game']} [{m['split']}, corpus {m['corpus']}])")


def load_demos(path: str | os.PathLike, *, allow_incomplete: bool = False) -> DemoDataset:
    """Load and validate a demos directory (see the module docstring for the format)."""
    return DemoDataset(path, allow_incomplete=allow_incomplete)
