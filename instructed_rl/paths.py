"""Output paths, checked before any work starts: a run that ends by failing to write its result loses it.

    check_output_dir("runs/tiny", "--out")        # a directory we may create and write in
    check_output_file("cell.json", "--json")      # a file we may create (not a directory)

Both try a real write (a temporary file in the nearest existing folder) rather than asking
``os.access``, which says yes to root on a read-only folder and knows nothing of full disks.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from instructed_rl.errors import UserError


def _nearest_existing(path: Path) -> Path:
    """``path`` or the closest folder above it that exists (where a mkdir would start)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(folder: Path, path: Path, flag: str) -> None:
    if not folder.is_dir():
        raise UserError(f"{flag} {path}: {folder} is a file, so nothing can be created inside it. "
                        f"Fix: pick a path whose folders are folders")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UserError(f"{flag} {path}: cannot write in {folder} ({reason}). "
                        f"Fix: pick a folder you can write to") from None


def check_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """A directory that exists and takes new files, or can be created: else a one-line UserError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a directory. Fix: pass a directory (new or existing), "
                        f"e.g. {flag} {path.with_suffix('')}-run")
    _probe(_nearest_existing(path), path, flag)
    return path


def check_output_file(path: str | os.PathLike, flag: str, *, example: str = "result.json") -> Path:
    """A file that can be (over)written: not a directory, in a folder we can create and write in."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a directory, not a file. Fix: name a file in it, e.g. "
                        f"{flag} {path / example}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{flag} {path}: the file is read-only. Fix: make it writable, or pick another name")
    _probe(_nearest_existing(path.parent), path, flag)
    return path
