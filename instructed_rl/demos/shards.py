"""The shard format: plain arrays in an ``.npz`` beside a JSON of texts, packed and read back.

Format ``instructed-rl-demos``, ``format_version`` 2. A shard is ``shard_NNNNN.npz`` plus
``shard_NNNNN.json``; the directory's ``manifest.json`` (:mod:`.manifest`) lists the finished
ones with the sha256 of both files.

``shard_00000.npz``
    ``np.savez`` of plain numeric arrays only (read with ``allow_pickle=False``); the steps of
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
                                           action
    ``episode_offsets``         int64      ``(E + 1,)`` demo ``e`` is steps
                                           ``offsets[e]:offsets[e + 1]``
    ``episode_seed``            int64      ``(E,)``
    ``episode_length``          int32      ``(E,)``
    ``episode_success``         bool       ``(E,)`` always true: failures are not written
    ``final_image``             uint8      ``(E, 7, 7, 3)`` the view after the last action (what
                                           "done" looks like: the termination head's positive)
    ``final_direction``         uint8      ``(E,)``
    ==========================  =========  =====================================================
``shard_00000.json``
    ``{"format", "format_version", "shard", "first_episode", "stop_episode", "episodes": [...],
    "bot_failures": [...]}``; one entry per demo, in npz order: ``seed``, ``mission``,
    ``description``, ``instruction`` (structured, JSON), ``subtasks`` (texts in plan order),
    ``subtask_instructions``, ``phrasing``, ``plain`` (the mission naming objects by colour and
    type), ``target`` (class ids of what the instruction names), ``length``, ``success``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

FORMAT = "instructed-rl-demos"
FORMAT_VERSION = 2
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
    "final_image": np.dtype(np.uint8),
    "final_direction": np.dtype(np.uint8),
}


def shard_name(index: int) -> str:
    return f"shard_{index:05d}"


def atomic_write(path: Path, data: bytes) -> None:
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


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def pack_shard(episodes: list[dict], *, view: tuple[int, ...], header: dict) -> tuple[bytes, bytes]:
    """The npz and JSON bytes of a shard: ``episodes`` as :func:`~.record.bot_episode` gives them."""
    arrays: dict[str, np.ndarray] = {}
    for name, dtype in STEP_ARRAYS.items():
        empty = np.zeros((0, *view) if name == "image" else (0,), dtype=dtype)
        arrays[name] = np.concatenate([e[name] for e in episodes]).astype(dtype, copy=False) if episodes else empty
    lengths = np.asarray([len(e["action"]) for e in episodes], dtype=np.int64)
    arrays["episode_offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    arrays["episode_seed"] = np.asarray([e["meta"]["seed"] for e in episodes], dtype=np.int64)
    arrays["episode_length"] = lengths.astype(np.int32)
    arrays["episode_success"] = np.asarray([e["meta"]["success"] for e in episodes], dtype=np.bool_)
    arrays["final_image"] = (np.stack([e["final_image"] for e in episodes]).astype(np.uint8) if episodes
                             else np.zeros((0, *view), np.uint8))
    arrays["final_direction"] = np.asarray([e["final_direction"] for e in episodes], dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **header, "episodes": [e["meta"] for e in episodes]}
    return buffer.getvalue(), json_bytes(meta)


def unpack_shard(npz: bytes, text: bytes, *, names: tuple[str, str],
                 corrupt: Callable[[str, str], Exception]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """A shard's arrays and episode entries, checked against each other; ``corrupt(file, problem)``
    is the error to raise (``names``: the npz's and the JSON's file names)."""
    npz_name, json_name = names
    try:
        with np.load(io.BytesIO(npz), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as error:
        raise corrupt(npz_name, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from None
    try:
        episodes = json.loads(text.decode("utf-8"))["episodes"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise corrupt(json_name, "not the shard's JSON") from None
    problem = _disagreement(arrays, episodes)
    if problem:
        raise corrupt(npz_name, problem)
    return arrays, episodes


def _disagreement(arrays: dict[str, np.ndarray], episodes: list) -> str | None:
    """What is wrong with a shard's arrays and entries, or None."""
    for key, dtype in {**STEP_ARRAYS, **EPISODE_ARRAYS}.items():
        if key not in arrays:
            return f"no array {key!r}"
        if arrays[key].dtype != dtype:
            return f"{key} is {arrays[key].dtype}, expected {dtype}"
    steps = len(arrays["action"])
    image = arrays["image"]
    if image.ndim != 4 or image.shape[0] != steps or image.shape[1] != image.shape[2] or image.shape[3] != 3:
        return f"image has shape {image.shape}, expected ({steps}, V, V, 3)"
    for key in STEP_ARRAYS:
        if key != "image" and arrays[key].shape != (steps,):
            return f"{key} has shape {arrays[key].shape}, expected ({steps},)"
    offsets, lengths = arrays["episode_offsets"], arrays["episode_length"]
    count = len(episodes)
    if (offsets.shape != (count + 1,) or lengths.shape != (count,) or arrays["episode_seed"].shape != (count,)
            or offsets[0] != 0 or offsets[-1] != steps or not np.array_equal(np.diff(offsets), lengths)):
        return "episode offsets, lengths and metadata disagree"
    if arrays["final_image"].shape != (count, *image.shape[1:]) or arrays["final_direction"].shape != (count,):
        return "final views and metadata disagree"
    try:
        meta_seeds = [int(e["seed"]) for e in episodes]
        meta_lengths = [int(e["length"]) for e in episodes]
    except (KeyError, TypeError, ValueError):
        return "episode metadata lacks seed/length"
    if meta_seeds != arrays["episode_seed"].tolist() or meta_lengths != lengths.tolist():
        return "the JSON's seeds/lengths differ from the npz's"
    return None
