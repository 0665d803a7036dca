"""What a new user meets: help pages with examples and defaults, progress for long work (and a
log that fills as the work goes), a thread count that fits the machine, a map whose every
colour reads without colour, and a demo whose summary is not buried under frames."""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from minigrid.core.constants import COLOR_NAMES
from minigrid.core.world_object import Ball, Box, Door, Key

from instructed_rl.eval.cell import EvalConfig, run_cell
from instructed_rl.games.env import InstructedEnv
from instructed_rl.progress import Progress, duration
from instructed_rl.render.terminal import LEGEND, render_grid
from instructed_rl.train.runs import DEFAULT_THREADS, busy_cores, choose_threads, free_cores, machine_cores
from tests.conftest import cli_command, run_cli


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# ---- help pages -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["eval", "transfer", "make-demos", "play", "demo", "train", "envs"])
def test_every_help_page_shows_examples(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "examples:\n  instructed-rl " + command in result.stdout


@pytest.mark.integration
def test_help_shows_defaults_and_train_help_lists_the_overrides():
    assert "(default: 100)" in " ".join(run_cli("eval", "--help").stdout.split())  # --episodes
    text = run_cli("train", "--help").stdout
    assert "--key value" in text and "--frames" in text and "(default: 200000)" in text and "--no-key" in text


def test_demo_colour_is_a_choice_like_plays():
    result = run_cli("demo", "--color", "sometimes")
    assert result.returncode == 2 and "invalid choice" in result.stderr and "'always'" in result.stderr


# ---- progress -------------------------------------------------------------------------------

def test_progress_in_a_log_is_plain_periodic_lines_with_rate_and_eta():
    stream = io.StringIO()
    progress = Progress("eval GoToRoom [test]", 100, stream=stream, log_interval=0.0)
    for done in (10, 20):
        time.sleep(0.01)
        progress.update(done)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[-1].startswith("eval GoToRoom [test]: 20/100 episodes") and "episodes/s" in lines[-1]
    assert "ETA " in lines[-1]


def test_progress_on_a_terminal_redraws_one_line_with_a_bar_and_clears_it():
    stream = Terminal()
    progress = Progress("demo", 4, stream=stream)
    progress.update(1, force=True)
    progress.update(4, force=True)
    progress.close()
    text = stream.getvalue()
    assert "\r[" not in text and "\rdemo: [#####" in text and "4/4 episodes" in text and "done" in text
    assert text.endswith("\r\x1b[K") and "\n" not in text


def test_a_log_hears_from_a_long_evaluation(monkeypatch, capsys):
    import instructed_rl.progress as progress

    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)  # every episode, so a short cell shows it
    result = run_cell(EvalConfig(agent="random", game="GoToRoom", episodes=3))
    err = capsys.readouterr().err
    assert result.episodes == 3
    assert "eval GoToRoom [test]: 3/3 episodes" in err and "episodes/s" in err


def test_durations_read_as_people_write_them():
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]


@pytest.mark.integration
def test_train_output_reaches_a_log_file_while_it_runs(tmp_path):
    """stdout into a file is block-buffered unless the command flushes: the start line must be
    there at once, not when the run ends."""
    log = tmp_path / "train.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(cli_command() + ["train", "--config", "configs/tiny.yaml", "--out", str(tmp_path / "run"),
                                                 "--threads", "1"], stdout=handle, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "train (imitation): 3,000 frames on GoToRoom" not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.2)
            assert "1 torch thread" in log.read_text()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=120)


# ---- threads --------------------------------------------------------------------------------

def test_threads_never_exceed_the_cores_the_load_leaves_free():
    cores, load, free = free_cores()
    assert cores == len(os.sched_getaffinity(0)) and 1 <= free <= cores
    assert 1 <= choose_threads(None) <= min(DEFAULT_THREADS, cores)
    assert choose_threads(1) == 1 and 1 <= choose_threads(512) <= cores
    if load >= cores:  # busy: one thread, however many are asked (the load moves, so only when clear)
        assert choose_threads(None) == 1


def test_tasks_running_now_count_as_neighbours_and_a_stopped_one_does_not(monkeypatch):
    from instructed_rl.train import runs

    cores = machine_cores()
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.5)
        assert runs.runnable_now() >= cores - 0.5  # every spinner waits for a core or holds one
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    # The 1-minute average still holds a neighbour that stopped: what runs now decides.
    monkeypatch.setattr(runs.os, "getloadavg", lambda: (cores + 3.0, 0.0, 0.0))
    monkeypatch.setattr(runs, "runnable_now", lambda: 0.0)
    assert free_cores()[2] == cores and choose_threads(cores) == cores
    monkeypatch.setattr(runs, "runnable_now", lambda: float(cores))
    assert free_cores()[2] == 1 and choose_threads(None) == 1
    monkeypatch.setattr(runs, "runnable_now", lambda: None)  # no /proc/stat: the average decides
    assert free_cores()[2] == 1


def test_cpu_hours_count_the_collection_process_beside_the_learner():
    cores = free_cores()[0]
    one_thread = SimpleNamespace(threads=1, overlap=False, env_workers=1)
    assert busy_cores(one_thread) == 1
    assert busy_cores(SimpleNamespace(threads=1, overlap=True)) == min(2, cores)  # a learner thread + the collector
    assert busy_cores(SimpleNamespace(threads=2, overlap=True)) == min(2, cores)  # overlapped, the learner takes one fewer
    assert busy_cores(SimpleNamespace(threads=1, overlap=False, workers=64)) == cores


def test_a_process_does_not_count_its_own_load_as_a_neighbours():
    # A curriculum's second stage runs in the process its first stage just kept busy: the load
    # average then holds that stage, and the run must not see it as someone else's.
    code = ("import time\nwhile time.process_time() < 3.0: pass\n"
            "from instructed_rl.train.runs import own_load\nprint(own_load())")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    wall = time.perf_counter() - started
    share = float(result.stdout.strip())
    at_least = 3.0 * (1 - math.exp(-wall / 60)) / wall  # 3 CPU-seconds spread over the whole wall time, at most
    assert at_least <= share <= os.cpu_count() * (1 - math.exp(-wall / 60)), (share, wall)


# ---- the map --------------------------------------------------------------------------------

def test_every_colour_has_its_own_letter_on_the_map():
    env = InstructedEnv("GoToRoom", split="test")
    env.reset(seed=3)
    level = env.level
    for x in range(1, level.width - 1):
        for y in range(1, level.height - 1):
            level.grid.set(x, y, None)
    for i, color in enumerate(COLOR_NAMES):  # red green blue purple yellow grey
        for j, make in enumerate((Ball, Box, Key)):
            level.grid.set(1 + i, 2 + j, make(color))
        level.grid.set(1 + i, 5, Door(color))
    rows = render_grid(level).splitlines()
    cells = {rows[2 + j][2 * (1 + i):2 * (2 + i)] for i in range(len(COLOR_NAMES)) for j in range(3)}
    doors = {rows[5][2 * (1 + i):2 * (2 + i)] for i in range(len(COLOR_NAMES))}
    assert len(cells) == 3 * len(COLOR_NAMES) and len(doors) == len(COLOR_NAMES)  # green and grey differ
    assert "gX" in cells and "eX" in cells
    for color in COLOR_NAMES:
        assert any(f"{letter} {color}" in LEGEND for letter in "rgbpye")


@pytest.mark.integration
def test_the_demo_in_a_log_shows_each_cases_last_frame_not_every_step(tmp_path):
    from instructed_rl.model.agent import Agent, AgentConfig

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1,
                                               "goal_attention": False}})
    Agent.create(config, texts=["go to the red ball", "open the door", "a room"]).save_pretrained(tmp_path / "agent")
    result = run_cli("demo", "--agent", str(tmp_path / "agent"), "--fps", "0", "--record", str(tmp_path / "d.gif"))
    assert result.returncode == 0, result.stderr
    steps = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert len(steps) == 5  # one status line per case (an untrained agent runs to the step limit)
    assert len(result.stdout.splitlines()) < 300
