"""Shared fixtures. Tests use the real minigrid worlds, corpora and BabyAI bot; nothing is mocked."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")  # tracking is never on in tests

# A shell that starts the suite in the background (`pytest &`, nohup) ignores SIGINT, and an
# ignored signal stays ignored in every child it execs: the Ctrl-C tests would test nothing.
# A Python-level handler here is reset to the default in children, so they get Ctrl-C back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)  # CI has 2 cores; tests that want more ask for them


@pytest.fixture
def write_yaml(tmp_path):
    """Write a YAML document (given as text) to a file and return its path."""

    def write(text: str, name: str = "file.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def cli_command() -> list[str]:
    """How to run the installed ``instructed-rl`` command (its script, or ``python -m``)."""
    script = Path(sys.executable).parent / "instructed-rl"
    if script.exists():
        return [str(script)]
    found = shutil.which("instructed-rl")
    return [found] if found else [sys.executable, "-m", "instructed_rl.cli"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command() + list(args), capture_output=True, text=True, timeout=120)


# ---- play: the command and tiny agents for it ------------------------------------------------

PLAY_TEXTS = ["go to the red ball", "go to the purple box", "pick up a key", "open the blue door",
              "put the grey key next to the green box", "A single room with no doors. It holds a grey ball."]


def run_play(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cli_command() + ["play", *args], capture_output=True, text=True, timeout=120, input=stdin,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def verdicts(out: str) -> list[str]:
    """The verdicts ``play`` printed, in order."""
    return re.findall(r"^verdict: (.*)$", out, flags=re.M)


def tiny_play_agent(directory: Path, done_bias: float, *, corpus: str | None = None) -> str:
    """An untrained agent whose termination head says never done (bias -20) or always done (+20);
    ``corpus``: the corpus it says it trained on."""
    import torch

    from instructed_rl.model.agent import Agent, AgentConfig

    config = {"text": {"encoder": "gru", "dim": 32},
              "policy": {"embed_dim": 16, "channels": 32, "film_layers": 1, "goal_attention": False}}
    agent = Agent.create(AgentConfig.from_dict({**config, **({"corpus": corpus} if corpus else {})}),
                         texts=PLAY_TEXTS * 10)
    with torch.no_grad():
        agent.policy.termination[-1].bias.fill_(done_bias)
    agent.save_pretrained(directory)
    return str(directory)


def interrupt_after_first_checkpoint(args: list[str], run_dir: Path) -> tuple[int, str, str]:
    """Start ``instructed-rl ARGS``, send Ctrl-C once ``run_dir`` has a checkpoint; (exit code, stdout, stderr)."""
    import signal
    import time

    process = subprocess.Popen(cli_command() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (run_dir / "checkpoint" / "state.json").exists() and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=300)
    return process.returncode, stdout, stderr


def assert_resume_is_exact(args: list[str], tmp_path: Path, *, frames: int, keys: tuple[str, ...]) -> None:
    """``instructed-rl ARGS`` run straight through, and run again with Ctrl-C after its first
    checkpoint and the same command once more, must log the same metrics (``keys`` of each row)
    and end with the same weights."""
    import json

    from instructed_rl.train.tracking import MetricsLog

    def rows(run_dir: Path) -> list[dict]:
        return [{k: r[k] for k in keys} for r in MetricsLog.read(run_dir / "metrics.jsonl")]

    straight = tmp_path / "straight"
    result = subprocess.run(cli_command() + args + ["--out", str(straight)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr

    interrupted = tmp_path / "interrupted"
    code, stdout, stderr = interrupt_after_first_checkpoint(args + ["--out", str(interrupted)], interrupted)
    if code == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert code == 130, stderr
    assert "checkpoint saved" in stderr + stdout and "Traceback" not in stderr
    state = json.loads((interrupted / "checkpoint" / "state.json").read_text())
    assert 0 < state["frames"] < frames

    result = subprocess.run(cli_command() + args + ["--out", str(interrupted)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout
    assert rows(interrupted) == rows(straight)
    assert same_weights(straight / "agent", interrupted / "agent")


def success_rate(agent_dir, game: str, episodes: int, *, corpus: str | None = None, greedy: bool = True) -> float:
    """Success of a saved agent on ``game``'s test split, seeds 1,000,000+ (the tests' learning bar)."""
    from instructed_rl.acting.actors import AgentActor
    from instructed_rl.model.agent import Agent
    from instructed_rl.eval.cell import EvalConfig, run_seeds

    config = EvalConfig(agent="agent", game=game, episodes=episodes, corpus=corpus)
    actor = AgentActor(Agent.from_pretrained(agent_dir), greedy=greedy)
    results = run_seeds(config, "test", [1_000_000 + i for i in range(episodes)], actor=actor)
    return sum(r.success for r in results) / episodes


def same_weights(first_dir, second_dir) -> bool:
    """Whether two saved agents hold identical weights."""
    from instructed_rl.model.agent import Agent

    a = Agent.from_pretrained(first_dir).saved_state_dict()
    b = Agent.from_pretrained(second_dir).saved_state_dict()
    return a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
