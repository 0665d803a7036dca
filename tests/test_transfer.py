"""The transfer matrix: CLI smoke runs with the reference agents, rows from saved agents, the gap statistic."""

from __future__ import annotations

import json

import pytest
import torch

from instructed_rl.agent import Agent, AgentConfig
from instructed_rl.errors import UserError
from instructed_rl.eval.transfer import (
    ABLATIONS,
    TransferConfig,
    difference_interval,
    load_transfer_suite,
    run_transfer,
    write_transfer_report,
)
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import shipped_games
from instructed_rl.policy import PolicyConfig
from instructed_rl.text import TextConfig

from tests.test_cli import run_cli

torch.set_num_threads(1)
PNG = b"\x89PNG\r\n\x1a\n"


def _check_report(out, *, agent: str, columns: int, episodes: int) -> dict:
    report = json.loads((out / "report.json").read_text())
    assert [r["agent"] for r in report["rows"]] == [agent]
    assert len(report["columns"]) == columns and len(report["cells"]) == columns
    assert len(report["matrix"]["success"]) == 1 and len(report["matrix"]["gap_none"][0]) == columns
    for cell in report["cells"]:
        for ablation in ABLATIONS:
            assert cell[ablation]["description"] == ablation and cell[ablation]["episodes"] == episodes
            assert cell[ablation]["seed"] == cell["true"]["seed"]  # the very same worlds under each ablation
        for gap in ("gap_none", "gap_shuffled"):
            low, high = cell[gap]["ci95"]
            assert -1 <= low <= cell[gap]["value"] <= high <= 1
        assert cell["gap_none"]["value"] == pytest.approx(cell["true"]["success_rate"] - cell["none"]["success_rate"])
    markdown = (out / "report.md").read_text()
    assert "| agent \\ target |" in markdown and "Description gap" in markdown
    assert "gap true-none | gap true-shuffled |" in markdown
    assert (out / "report.png").read_bytes()[:8] == PNG
    return report


def test_transfer_with_the_bot_writes_the_matrix_and_its_gaps_are_zero(tmp_path):
    result = run_cli("transfer", "--agent", "bot", "--suite", "configs/eval/transfer.yaml", "--episodes", "3",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    suite = load_transfer_suite("configs/eval/transfer.yaml", agent="bot")
    report = _check_report(tmp_path, agent="bot", columns=len(suite.columns), episodes=3)
    for cell in report["cells"]:  # the bot reads the world, never the text
        assert cell["true"]["success_rate"] == cell["none"]["success_rate"] == cell["shuffled"]["success_rate"] == 1.0
        assert cell["gap_none"]["value"] == 0 and cell["in_training"] is False
    assert "wrote" in result.stdout and "| bot |" in result.stdout


def test_transfer_with_the_random_agent(tmp_path):
    result = run_cli("transfer", "--agent", "random", "--suite", "configs/eval/transfer.yaml", "--episodes", "2",
                     "--seed", "5", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    suite = load_transfer_suite("configs/eval/transfer.yaml", agent="random")
    report = _check_report(tmp_path, agent="random", columns=len(suite.columns), episodes=2)
    assert {cell["true"]["seed"] for cell in report["cells"]} == {5}
    assert all(cell["gap_none"]["value"] == 0 for cell in report["cells"])  # seeded actions, text ignored


def _tiny_agent(directory, games):
    env = InstructedEnv("RoleRoom", split="train")
    texts = [text for seed in range(30) for text in (lambda o: (o["mission"], o["description"]))(env.reset(seed=seed)[0])]
    config = AgentConfig(text=TextConfig(encoder="gru", dim=16), corpus="babyai", games=games,
                         policy=PolicyConfig(embed_dim=16, channels=16, film_layers=1, goal_attention=False, memory_dim=16))
    return Agent.create(config, texts=texts, seed=0).save_pretrained(directory)


def test_rows_from_a_suite_read_the_training_games_of_saved_agents(tmp_path, write_yaml):
    agent_dir = _tiny_agent(tmp_path / "agent", ["RoleRoom", "SkillRoom"])  # untrained: only the plumbing counts
    suite = write_yaml(
        "name: tiny\nepisodes: 2\nrows:\n"
        f"  - {{label: tiny, agent: {agent_dir}}}\n"
        "  - {agent: bot, games: [HazardRoom]}\n"
        "columns:\n  - {game: RoleRoom, split: unseen_rules}\n  - {label: hazards, game: HazardRoom}\n",
        "suite.yaml")
    loaded, cells = run_transfer(TransferConfig(suite=str(suite)), log=lambda _: None)
    assert [r.label for r in loaded.rows] == ["tiny", "bot"]
    assert loaded.rows[0].games == ("RoleRoom", "SkillRoom")
    flags = {(c.row, c.column): c.in_training for c in cells}
    assert flags == {("tiny", "RoleRoom unseen_rules"): True, ("tiny", "hazards"): False,
                     ("bot", "RoleRoom unseen_rules"): False, ("bot", "hazards"): True}
    for cell in cells:
        assert [cell.results[a].description for a in ABLATIONS] == list(ABLATIONS)
        assert cell.results["none"].agent == cell.results["true"].agent
    markdown = write_transfer_report(loaded, cells, out=tmp_path / "out")
    assert "| tiny | **" in markdown  # a trained-on game is marked
    assert (tmp_path / "out" / "report.png").read_bytes()[:8] == PNG


def test_difference_interval_matches_newcombe_and_stays_in_bounds():
    value, (low, high) = difference_interval(56, 70, 48, 80)  # Newcombe (1998), Table II: 0.0524 to 0.3339
    assert value == pytest.approx(0.2) and low == pytest.approx(0.0524, abs=1e-4) and high == pytest.approx(0.3339, abs=1e-4)
    value, (low, high) = difference_interval(40, 40, 40, 40)
    assert value == 0 and low == pytest.approx(-high) and 0 < high < 0.1
    for a, b in ((0, 10), (10, 0), (10, 10), (0, 0)):
        value, (low, high) = difference_interval(a, 10, b, 10)
        assert -1 <= low <= value <= high <= 1


def test_shipped_suite_covers_every_rule_game_and_split():
    suite = load_transfer_suite("configs/eval/transfer.yaml", agent="bot")
    covered = {(c.game, c.split) for c in suite.columns}
    for spec in shipped_games().values():
        if spec.rules is not None:
            for split in spec.splits:
                if split != "train":
                    assert (spec.id, split) in covered, (spec.id, split)


@pytest.mark.parametrize("text,message", [
    ("name: s\nrows: [{agent: no/such/dir}]\ncolumns: [{game: RoleRoom}]\n", "not a saved agent directory"),
    ("name: s\nrows: [{agent: bot}]\ncolumns: [{game: RoleRoom, splitt: test}]\n", "columns[0].splitt: unknown key"),
    ("name: s\nrows: [{agent: bot}]\ncolumns: [{game: RoleRoomNew, split: train}]\n", "has no split 'train'"),
    ("name: s\nrows: [{agent: bot}]\ncolumns: []\n", "columns: missing or empty"),
    ("name: s\ncolumns: [{game: RoleRoom}]\n", "pass --agent"),
])
def test_bad_transfer_suites_are_one_line_errors(write_yaml, text, message):
    path = write_yaml(text, "suite.yaml")
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_transfer_suite(path)
    result = run_cli("transfer", "--suite", str(path), "--episodes", "1")
    assert result.returncode == 2 and message in result.stderr and "\n" not in result.stderr.strip()
