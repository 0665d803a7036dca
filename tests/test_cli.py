"""The installed ``instructed-rl`` command, run as a user would (a real subprocess)."""

from __future__ import annotations

import pytest

from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import shipped_games

from tests.conftest import run_cli


def test_envs_lists_every_game_with_skills_and_splits():
    result = run_cli("envs")
    assert result.returncode == 0, result.stderr
    for spec in shipped_games().values():
        assert spec.env_id in result.stdout
        assert f"splits:      {', '.join(spec.splits)}" in result.stdout
    assert "held out:    pickup red ball" in result.stdout


def test_envs_show_prints_grid_mission_description_and_instruction():
    result = run_cli("envs", "show", "SkillRoom", "--seed", "5", "--split", "unseen_compositions", "--corpus", "paraphrase")
    assert result.returncode == 0, result.stderr
    env = InstructedEnv("SkillRoom", split="unseen_compositions", corpus="paraphrase")
    obs, info = env.reset(seed=5)
    out = result.stdout
    assert f"mission:     {obs['mission']}" in out
    assert f"description: {obs['description']}" in out
    assert '"kind": "' + info["instruction"]["kind"] + '"' in out
    grid_lines = [line for line in out.splitlines() if line.startswith("##") and line.endswith("##")]
    assert len(grid_lines) == env.level.height
    assert any(mark in out for mark in (">>", "vv", "<<", "^^"))
    assert "\x1b[" not in out  # not a terminal: no colour codes


def test_envs_show_colour_on_request_and_babyai_level_ids():
    result = run_cli("envs", "show", "BabyAI-GoToLocal-v0", "--seed", "1", "--color", "always")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" in result.stdout and "mission:     go to " in result.stdout


@pytest.mark.parametrize("args,message", [
    (("envs", "show", "GoToRom"), "did you mean GoToRoom"),
    (("envs", "show", "GoToRoom", "--split", "bogus"), "unknown split 'bogus'"),
    (("envs", "show", "GoToSeq", "--split", "train"), "has no split 'train'"),
    (("envs", "show", "GoToRoom", "--corpus", "nope.yaml"), "no such corpus file"),
])
def test_bad_input_gives_one_line_error_and_exit_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr
