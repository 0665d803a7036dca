"""One run at a time in a run directory: a second ``train`` refuses and names the holder; the
lock of a dead run is taken over; a run that failed at its start does not bind its directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from instructed_rl.errors import UserError
from instructed_rl.train.imitation import ImitationConfig
from instructed_rl.train.runs import LOCK, RunLock, check_same_run
from tests.conftest import run_cli

GAME = "GoToRoom"
HOLD = """
import sys, time
from pathlib import Path
from instructed_rl.train.runs import RunLock
with RunLock(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_second_train_on_the_same_out_refuses_naming_the_holder(tmp_path):
    with RunLock(tmp_path):
        result = run_cli("train", "--config", "configs/tiny.yaml", "--out", str(tmp_path), "--frames", "100")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"in use by another training run (pid {os.getpid()})" in lines[0] and "Fix:" in lines[0]
    assert not (tmp_path / "config.json").exists() and not (tmp_path / "metrics.jsonl").exists()


def test_one_process_cannot_hold_a_directory_twice(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(UserError, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).__enter__()
    with RunLock(tmp_path):  # released on leaving: the next run takes it
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(UserError, match=f"pid {holder.pid}"):
            RunLock(tmp_path).__enter__()
        holder.send_signal(signal.SIGKILL)  # no clean exit: the file still names it
        holder.wait(timeout=30)
        assert (tmp_path / LOCK).read_text().strip() == str(holder.pid)
        with RunLock(tmp_path):
            assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_stale_lock_file_without_a_holder_does_not_block(tmp_path):
    (tmp_path / LOCK).write_text("999999999\n")  # a pid from a run long gone
    started = time.monotonic()
    with RunLock(tmp_path):
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    assert time.monotonic() - started < 5


def test_a_run_that_failed_at_its_start_does_not_bind_its_directory(tmp_path):
    """config.json without a checkpoint: nothing was trained, so another config may start there."""
    check_same_run(ImitationConfig(games=[GAME], lr=0.5), tmp_path, resumable=())
    check_same_run(ImitationConfig(games=[GAME], lr=0.1), tmp_path, resumable=())  # no error
    assert json.loads((tmp_path / "config.json").read_text())["lr"] == 0.1
    result = run_cli("train", "--config", "configs/tiny.yaml", "--out", str(tmp_path / "run"),
                     "--init-agent", str(tmp_path / "missing"))
    assert result.returncode == 2 and "--init-agent" in result.stderr
    assert not (tmp_path / "run" / "config.json").exists()  # checked before anything is written
