"""The package as a user gets it: a wheel that carries its games, corpora and agents, installed
(not editable) into a fresh venv and run from a folder outside the checkout; and game specs
named by their file, registered cheaply."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import gymnasium
import pytest

from instructed_rl.cli import main
from instructed_rl.games.registry import register_game_file
from instructed_rl.games.spec import find_game
from instructed_rl.resources import CHECKOUT_ROOT, SHIPPED_AGENTS

pytestmark = pytest.mark.integration  # every test here runs the real thing end to end

# What a build reads: the copy holds only these, so a stray build/ or a big runs/ cannot leak in.
BUILD_SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "instructed_rl", "envs", "data")
NOT_BUILT = shutil.ignore_patterns("__pycache__", "*.egg-info")


def my_game(tmp_path: Path) -> Path:
    """A user's own game: GoToRoom's spec under another id, outside envs/."""
    text = (CHECKOUT_ROOT / "envs" / "goto_room.yaml").read_text().replace("id: GoToRoom", "id: MyRoom")
    path = tmp_path / "my_room.yaml"
    path.write_text(text)
    return path


def test_a_game_spec_file_works_wherever_a_game_is_named(tmp_path, capsys):
    path = my_game(tmp_path)
    assert find_game(str(path)).id == "MyRoom"
    env_id = register_game_file(path)
    obs, _ = gymnasium.make(env_id, split="test").reset(seed=3)
    assert env_id == "InstructedRL/MyRoom-v0" and obs["mission"].startswith("go to ")
    assert main(["eval", "--agent", "bot", "--game", str(path), "--episodes", "2", "--json",
                 str(tmp_path / "cell.json")]) in (0, None)
    assert json.loads((tmp_path / "cell.json").read_text())["game"] == "MyRoom"
    suite = tmp_path / "suite.yaml"
    suite.write_text(f"name: mine\ncells:\n  - {{game: {path}, episodes: 2}}\n")
    assert main(["eval", "--agent", "bot", "--suite", str(suite), "--out", str(tmp_path / "report")]) in (0, None)
    assert json.loads((tmp_path / "report" / "report.json").read_text())["cells"][0]["game"] == "MyRoom"
    matrix = tmp_path / "transfer.yaml"
    matrix.write_text(f"name: t\nrows: [{{agent: bot, games: [GoToRoom]}}]\ncolumns: [{{game: {path}}}]\n")
    assert main(["transfer", "--suite", str(matrix), "--episodes", "1", "--out", str(tmp_path / "t")]) in (0, None)
    assert "MyRoom" in (tmp_path / "t" / "report.md").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: Broken\nworld: BabyAI-Nope\n")
    assert main(["eval", "--agent", "bot", "--game", str(broken)]) == 2
    assert re.search(r"broken.yaml:\d+: skills: must be a non-empty list. Fix:", capsys.readouterr().err)


def test_importing_the_package_parses_no_game_spec():
    code = ("import instructed_rl, gymnasium; from instructed_rl.games.spec import _load_game_spec_cached as c; "
            "print(c.cache_info().currsize, sum(k.startswith('InstructedRL/') for k in gymnasium.registry))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "0" and int(out[1]) == len(list((CHECKOUT_ROOT / "envs").glob("*.yaml")))


def _run(args: list[str], *, venv: Path, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result


def test_the_wheel_installs_into_a_fresh_venv_and_runs_outside_the_checkout(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_SOURCES:
        if (CHECKOUT_ROOT / name).is_dir():
            shutil.copytree(CHECKOUT_ROOT / name, source / name, ignore=NOT_BUILT)
        else:
            shutil.copy(CHECKOUT_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("instructed_rl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in SHIPPED_AGENTS:
        for file in ("config.json", "model.safetensors", "tokenizer.model", "README.md"):
            assert f"instructed_rl/_shipped/data/agents/{name}/{file}" in names
    assert "instructed_rl/_shipped/envs/skill_room.yaml" in names
    assert "instructed_rl/_shipped/data/corpora/zorblax.yaml" in names
    for page in ("index.html", "app.js", "style.css"):  # serve's page works offline, from the package
        assert f"instructed_rl/interactive/web/static/{page}" in names
    assert wheel.stat().st_size < 20_000_000

    # A fresh venv; the heavy dependencies (torch, minigrid, ...) come from this one through a .pth
    # line, whose own .pth files (our editable install's finder among them) are not run.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
         venv=venv, cwd=outside)

    made = _run([str(python), "-c", "import gymnasium, instructed_rl; print(instructed_rl.__file__); "
                 "env = gymnasium.make('InstructedRL/SkillRoom-v0'); print(env.reset(seed=1)[0]['mission'])"],
                venv=venv, cwd=outside)
    installed = Path(made.stdout.splitlines()[0])
    assert installed.is_relative_to(site) and not installed.is_relative_to(CHECKOUT_ROOT)
    assert (installed.parent / "_shipped" / "envs").is_dir()

    evaluated = _run([str(venv / "bin" / "instructed-rl"), "eval", "--agent", "default", "--game", "GoToRoom",
                      "--episodes", "4", "--json", "cell.json"], venv=venv, cwd=outside)
    cell = json.loads((outside / "cell.json").read_text())
    assert cell["agent"] == "default" and cell["episodes"] == 4 and "success" in evaluated.stdout
    demo = _run([str(venv / "bin" / "instructed-rl"), "demo", "--fps", "0"], venv=venv, cwd=outside)
    assert "succeeded in" in demo.stdout and (outside / "runs" / "demo" / "demo.gif").is_file()
