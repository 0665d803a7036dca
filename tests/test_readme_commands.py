"""Every ``instructed-rl`` command of the README's code blocks runs, as written but smaller.

A command keeps its words; what a test cannot afford is scaled down by flags the command
itself takes (``--frames``, ``--episodes``), and what it writes goes to a temporary folder.
A suite (dozens of cells, each loading its agent) runs with the BabyAI bot as its agent, one
episode per cell, in this process: the suite file, its output and the README summary are
what such a command adds to a single cell, which runs here with a real agent.
``play`` and ``serve`` have their own tests (``test_readme_play.py``, ``test_serve.py``), and
the first of the two commands (install + ``demo``) is ``test_demo.py``'s.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

from instructed_rl.resources import PROJECT_ROOT
from tests.conftest import cli_command

pytestmark = pytest.mark.integration  # every test here runs the real thing end to end

README = PROJECT_ROOT / "README.md"
TESTED_ELSEWHERE = ("play", "serve", "demo")
# The README's "your own agent" paths are runs a user has made; a clean checkout has shipped ones.
OWN_AGENTS = {"runs/reader/agent": "data/agents/reader"}
SMALLER = {  # flags appended per command (a later flag wins in the CLI)
    "train": ["--frames", "256", "--envs", "8", "--episodes_per_iteration", "8", "--batch_episodes", "8",
              "--updates_per_iteration", "2", "--eval_every", "0", "--eval_episodes", "2", "--checkpoint_every", "1"],
    "eval": ["--episodes", "3"],
    "transfer": ["--episodes", "2"],
}


def readme_commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("instructed-rl ") and command.split()[1] not in TESTED_ELSEWHERE:
                found.append(command)
    return list(dict.fromkeys(found))


COMMANDS = readme_commands()


def scaled(command: str, tmp_path) -> list[str]:
    args = shlex.split(command)[1:]
    for flag in ("--out", "--json"):
        if flag in args:
            args[args.index(flag) + 1] = str(tmp_path / args[args.index(flag) + 1].replace("/", "_"))
    if "--readme" in args:
        copy = tmp_path / "README.md"
        shutil.copy(README, copy)
        args[args.index("--readme") + 1] = str(copy)
    if "--agent" in args:
        at = args.index("--agent") + 1
        args[at] = OWN_AGENTS.get(args[at], args[at])
    if "--suite" in args:
        return args + ["--agent", "bot", "--episodes", "1", "--workers", "1"]
    return args + SMALLER.get(args[0], [])


def test_the_readme_has_commands_of_every_kind():
    kinds = {command.split()[1] for command in COMMANDS}
    assert {"train", "eval", "transfer", "envs"} <= kinds, kinds


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_command_runs(command, tmp_path):
    args = scaled(command, tmp_path)
    result = subprocess.run(cli_command() + args, capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stderr[-2000:]}"
    if args[0] == "train":
        assert (tmp_path / args[args.index("--out") + 1].rsplit("/", 1)[-1] / "agent" / "config.json").exists()
    if args[0] in ("eval", "transfer"):
        assert "%" in result.stdout + result.stderr, result.stdout[-1000:]
