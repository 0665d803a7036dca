"""A demos directory's manifest: what the run is (its identity), which shards are finished, the totals.

``manifest.json`` holds ``format``, ``format_version``, ``package_version``, the identity
``game`` (re-resolvable id), ``split``, ``corpus`` (resolved name), ``seed``, ``shard_size``
(another run into the same directory must match them), ``episodes_requested`` /
``episodes_done`` / ``episodes_failed`` (requested = done + failed once ``complete``),
``steps``, ``bot_failures`` (``[{"seed", "reason"}]``, sorted by seed), ``step_arrays`` (dtype
of each per-step array) and ``shards``: one entry per finished shard (``index``, ``npz``,
``json``, ``first_episode``, ``stop_episode``, ``episodes``, ``failed``, ``steps``,
``bot_failures``, ``sha256`` of both files). The shard entries are the truth; the totals are
recomputed from them. A shard is written before the manifest lists it, so an interrupted run
loses at most the shards in progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Iterator

from instructed_rl.demos.record import plan_shards
from instructed_rl.demos.shards import FORMAT, FORMAT_VERSION, STEP_ARRAYS, atomic_write, json_bytes
from instructed_rl.errors import UserError
from instructed_rl.games.spec import GameSpec

MANIFEST = "manifest.json"
LOCK = ".lock"
IDENTITY_KEYS = ("game", "split", "corpus", "seed", "shard_size")
COMMAND = "instructed-rl make-demos"
SHARD_KEYS = ("index", "npz", "json", "first_episode", "stop_episode", "episodes", "failed", "steps",
              "bot_failures", "sha256")


def game_name(spec: GameSpec) -> str:
    """The name that finds this game again: a shipped id, or the BabyAI level id itself."""
    return spec.source if spec.source.startswith("BabyAI-") else spec.id


def read_manifest(out: Path) -> dict | None:
    """The directory's manifest, checked for format and fields; None when it has none."""
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
    if (not isinstance(shards, list) or any(k not in manifest for k in IDENTITY_KEYS)
            or not all(isinstance(s, dict) and all(k in s for k in SHARD_KEYS) and isinstance(s["sha256"], dict)
                       for s in shards)):
        raise UserError(f"{path}: malformed (missing fields). Fix: remove {out} and generate the demos again")
    return manifest


def tally(manifest: dict, *, requested: int) -> dict:
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


def shard_intact(out: Path, entry: dict) -> bool:
    for kind in ("npz", "json"):
        try:
            data = (out / entry[kind]).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != entry["sha256"][kind]:
            return False
    return True


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
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
            raise UserError(f"{out}: another '{COMMAND}' run is writing here. "
                            f"Fix: wait for it, or use another --out") from None
        yield


def remove_temporaries(out: Path) -> None:
    for path in out.glob(".shard_*.tmp"):  # left by a run that was killed mid-write
        path.unlink(missing_ok=True)
    for path in out.glob(f".{MANIFEST}.*.tmp"):
        path.unlink(missing_ok=True)


def refuse_foreign(out: Path) -> None:
    """A file, a directory with a foreign manifest, or a non-empty directory without one: an error."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory. Fix: use another --out")
    if read_manifest(out) is None:
        strangers = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        if strangers:
            raise UserError(f"{out}: not empty and not a demos directory (holds {strangers[0]}"
                            f"{' and more' if len(strangers) > 1 else ''}). Fix: use a new or empty --out")


def open_directory(out: Path, identity: dict, requested: int) -> tuple[dict, set[int]]:
    """The manifest to continue (identity checked) and the indices of intact finished shards."""
    refuse_foreign(out)
    manifest = read_manifest(out)
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
            if (s["index"], s["first_episode"], s["stop_episode"]) in planned and shard_intact(out, s)]
    manifest["shards"] = kept  # a partial last shard of a shorter run, or a damaged one, is played again
    return manifest, {s["index"] for s in kept}


def write_manifest(out: Path, manifest: dict) -> None:
    from instructed_rl import __version__

    manifest = dict(manifest, package_version=__version__,
                    step_arrays={name: dtype.name for name, dtype in STEP_ARRAYS.items()})
    order = ("format", "format_version", "package_version", *IDENTITY_KEYS, "episodes_requested", "episodes_done",
             "episodes_failed", "steps", "complete", "bot_failures", "step_arrays", "shards")
    ordered = {key: manifest[key] for key in order if key in manifest}
    atomic_write(out / MANIFEST, json_bytes({**ordered, **manifest}))
