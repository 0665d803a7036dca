"""Reading a demos directory back: validated, loaded into memory, one :class:`DemoEpisode` per demo.

    demos = load_demos("data/demos/goto_room")
    demos.arrays["image"], demos.arrays["action"]       # flat step arrays over every shard
    for episode in demos: episode.mission, episode.action, episode.final_image

:func:`check_for_training` reads only the manifest: whether a directory can teach a given
trainer config (complete, the training split, the config's game and corpus).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from instructed_rl.demos.manifest import COMMAND, MANIFEST, read_manifest
from instructed_rl.demos.shards import STEP_ARRAYS, unpack_shard
from instructed_rl.errors import UserError


@dataclass(frozen=True)
class DemoEpisode:
    """One demo: its texts and structured instruction, and its per-step arrays (views into the dataset)."""

    seed: int
    mission: str
    description: str
    instruction: dict
    subtasks: list[str]
    success: bool
    meta: dict = field(repr=False)  # the shard JSON's entry: also phrasing, subtask_instructions, plain, target
    image: np.ndarray = field(repr=False)
    direction: np.ndarray = field(repr=False)
    action: np.ndarray = field(repr=False)
    active_subtask: np.ndarray = field(repr=False)
    subtasks_done: np.ndarray = field(repr=False)
    subtasks_done_after: np.ndarray = field(repr=False)
    done_after: np.ndarray = field(repr=False)
    final_image: np.ndarray = field(repr=False)  # (7, 7, 3): the view after the last action
    final_direction: int = field(repr=False)

    def __len__(self) -> int:
        return len(self.action)


def _missing(path: Path) -> UserError:
    return UserError(f"{path}: no such demos directory. Fix: make it with '{COMMAND} --game GAME --out {path}'")


def _not_demos(path: Path) -> UserError:
    return UserError(f"{path}: not a demos directory (no {MANIFEST}). Fix: pass the --out of '{COMMAND}'")


def _incomplete(path: Path, manifest: dict) -> UserError:
    played = manifest.get("episodes_done", 0) + manifest.get("episodes_failed", 0)
    return UserError(f"{path}: incomplete ({played} of {manifest.get('episodes_requested')} episodes were played). "
                     f"Fix: run the same '{COMMAND}' command again to finish it")


class DemoDataset:
    """A demos directory, validated and loaded into memory: flat step arrays plus per-episode metadata.

    ``dataset.arrays[name]`` is the concatenation over every shard (see
    :data:`~.shards.STEP_ARRAYS`); demo ``e`` is steps ``offsets[e]:offsets[e + 1]``, its final
    view ``final_image[e]``; ``dataset[e]`` / iteration give :class:`DemoEpisode`. An incomplete
    directory (an interrupted run) is an error unless ``allow_incomplete``.
    """

    def __init__(self, path: str | os.PathLike, *, allow_incomplete: bool = False):
        self.path = Path(path)
        if not self.path.is_dir():
            raise _missing(self.path)
        manifest = read_manifest(self.path)
        if manifest is None:
            raise _not_demos(self.path)
        self.manifest = manifest
        try:
            shards = sorted(manifest["shards"], key=lambda s: s["index"])
            complete = bool(manifest["complete"])
        except (KeyError, TypeError, ValueError):
            raise self._corrupt(MANIFEST, "missing fields") from None
        if not complete and not allow_incomplete:
            raise _incomplete(self.path, manifest)
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
        view = view or (7, 7, 3)
        if parts:
            self.arrays = {name: np.concatenate([p[name] for p in parts]) for name in STEP_ARRAYS}
        else:
            self.arrays = {name: np.zeros((0, *view) if name == "image" else (0,), dtype)
                           for name, dtype in STEP_ARRAYS.items()}
        self.final_image = np.concatenate([p["final_image"] for p in parts]) if parts else np.zeros((0, *view), np.uint8)
        self.final_direction = (np.concatenate([p["final_direction"] for p in parts]) if parts
                                else np.zeros((0,), np.uint8))
        lengths = np.asarray([m["length"] for m in metas], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.seeds = np.asarray([m["seed"] for m in metas], dtype=np.int64)

    def _corrupt(self, name: str, problem: str) -> UserError:
        return UserError(f"{self.path / name}: corrupt demos ({problem}). Fix: re-run the same '{COMMAND}' "
                         f"command (it replays damaged shards), or regenerate the directory")

    def _load_shard(self, entry: dict) -> tuple[dict[str, np.ndarray], list[dict]]:
        try:
            names = entry["npz"], entry["json"]
            digests = entry["sha256"]
        except (KeyError, TypeError):
            raise self._corrupt(MANIFEST, "a shard entry lacks npz/json/sha256") from None
        blobs = []
        for kind, name in zip(("npz", "json"), names):
            try:
                blobs.append((self.path / name).read_bytes())
            except OSError:
                raise UserError(f"{self.path / name}: missing shard file. Fix: re-run the same '{COMMAND}' "
                                f"command (it replays missing shards)") from None
            if hashlib.sha256(blobs[-1]).hexdigest() != digests.get(kind):
                raise self._corrupt(name, "checksum differs from the manifest's")
        return unpack_shard(*blobs, names=names, corrupt=self._corrupt)

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
            meta=meta, final_image=self.final_image[index], final_direction=int(self.final_direction[index]),
            **{name: array[window] for name, array in self.arrays.items()},
        )

    def __iter__(self) -> Iterator[DemoEpisode]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        m = self.manifest
        return (f"DemoDataset({str(self.path)!r}: {len(self)} demos, {self.num_steps} steps of "
                f"{m['game']} [{m['split']}, corpus {m['corpus']}])")


def load_demos(path: str | os.PathLike, *, allow_incomplete: bool = False) -> DemoDataset:
    """Load and validate a demos directory (the format: :mod:`instructed_rl.demos.shards`)."""
    return DemoDataset(path, allow_incomplete=allow_incomplete)


def check_for_training(path: str | os.PathLike, *, games: list[str], corpus: str) -> dict:
    """The manifest of ``path`` if its demos can teach a trainer of ``games`` phrased by ``corpus``;
    otherwise a one-line UserError naming the mismatch and the fix. Reads only the manifest."""
    from instructed_rl.games.spec import find_game
    from instructed_rl.language.corpus import load_corpus

    path = Path(path)
    if not path.is_dir():
        raise _missing(path)
    manifest = read_manifest(path)
    if manifest is None:
        raise _not_demos(path)
    if not manifest.get("complete"):
        raise _incomplete(path, manifest)
    made = f"{path} holds demos of {manifest['game']} [{manifest['split']}, corpus {manifest['corpus']}]"
    remake = f"'{COMMAND} --game {games[0]} --corpus {corpus} --out NEW_DIR' and train with --demos NEW_DIR"
    if manifest["split"] != "train":
        raise UserError(f"{made}: training may only see the train split. Fix: make them with {remake}")
    trained = list(dict.fromkeys(find_game(game).id for game in games))
    if trained != [find_game(manifest["game"]).id]:
        raise UserError(f"{made}, but the config trains on {', '.join(games)}. Fix: train with --games "
                        f"{manifest['game']}, or make demos with {remake}")
    if load_corpus(corpus).name != manifest["corpus"]:
        raise UserError(f"{made}, but the config's corpus is {corpus}. Fix: train with --corpus "
                        f"{manifest['corpus']}, or make demos with {remake}")
    if not manifest.get("episodes_done"):
        raise UserError(f"{made}, but no demos: the bot finished none of its {manifest['episodes_requested']} "
                        f"episodes. Fix: make demos of a game the bot can play, with {remake}")
    return manifest
