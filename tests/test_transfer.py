"""The transfer matrix: CLI smoke runs with the reference agents, rows from saved agents, the gap statistic."""

from __future__ import annotations

import json

import pytest
import torch

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.errors import UserError
from instructed_rl.eval.cell import CellResult
from instructed_rl.eval.stats import paired_difference_interval, paired_table
from instructed_rl.eval.transfer import (
    ABLATIONS,
    TransferCell,
    TransferConfig,
    difference_interval,
    load_transfer_suite,
    run_transfer,
    write_transfer_report,
)
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.spec import shipped_games
from instructed_rl.model.policy import PolicyConfig
from instructed_rl.model.text import TextConfig

from tests.conftest import run_cli

torch.set_num_threads(1)
PNG = b"\x89PNG\r\n\x1a\n"


def _check_report(out, *, agent: str, columns: int, episodes: int) -> dict:
    report = json.loads((out / "report.json").read_text())
    assert [r["agent"] for r in report["rows"]] == [agent]
    assert len(report["columns"]) == columns and len(report["cells"]) == columns
    assert len(report["matrix"]["success"]) == 1 and len(report["matrix"]["gap_none"][0]) == columns
    for cell in report["cells"]:
        first = cell["true"]["seed"]
        assert cell["seeds"] == list(range(first, first + episodes))  # episode i plays seed + i
        for ablation in ABLATIONS:
            assert cell[ablation]["description"] == ablation and cell[ablation]["episodes"] == episodes
            assert cell[ablation]["seed"] == first  # the very same worlds under each ablation
            outcomes = cell[ablation]["outcomes"]  # per seed, in the order of cell["seeds"]
            assert len(outcomes) == len(cell["seeds"]) and set(outcomes) <= {0, 1}
            assert sum(outcomes) == cell[ablation]["successes"]
        for ablation in ABLATIONS[1:]:
            gap = cell[f"gap_{ablation}"]
            low, high = gap["ci95"]
            assert -1 <= low <= gap["value"] <= high <= 1
            table = paired_table(cell["true"]["outcomes"], cell[ablation]["outcomes"])
            assert tuple(gap["pairs"].values()) == table and gap["interval"] == "newcombe-paired"
            value, (paired_low, paired_high) = paired_difference_interval(*table)
            assert gap["value"] == pytest.approx(value) and [low, high] == pytest.approx([paired_low, paired_high])
        assert cell["gap_none"]["value"] == pytest.approx(cell["true"]["success_rate"] - cell["none"]["success_rate"])
    markdown = (out / "report.md").read_text()
    assert "| agent \\ target |" in markdown and "Description gap" in markdown
    assert "method 10 for paired proportions" in markdown and "independent" not in markdown
    assert "gap true-none | gap true-shuffled |" in markdown
    assert (out / "report.png").read_bytes()[:8] == PNG
    return report


@pytest.mark.integration
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


@pytest.mark.integration
def test_transfer_with_the_random_agent(tmp_path):
    result = run_cli("transfer", "--agent", "random", "--suite", "configs/eval/transfer.yaml", "--episodes", "2",
                     "--seed", "5", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    suite = load_transfer_suite("configs/eval/transfer.yaml", agent="random")
    report = _check_report(tmp_path, agent="random", columns=len(suite.columns), episodes=2)
    assert {cell["true"]["seed"] for cell in report["cells"]} == {5}
    assert all(cell["gap_none"]["value"] == 0 for cell in report["cells"])  # seeded actions, text ignored

    # Every run was kept as it finished; the same command again measures nothing new.
    measured = (tmp_path / "cells.jsonl").read_text().splitlines()
    assert len(measured) == 3 * len(suite.columns)
    stale = json.dumps({"key": "another agent's run", "result": json.loads(measured[0])["result"]})
    with (tmp_path / "cells.jsonl").open("a") as f:  # measured there before: the finished matrix drops it
        f.write(stale + "\n")
    again = run_cli("transfer", "--agent", "random", "--suite", "configs/eval/transfer.yaml", "--episodes", "2",
                    "--seed", "5", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "cells.jsonl").read_text().splitlines() == measured
    assert json.loads((tmp_path / "report.json").read_text())["cells"] == report["cells"]


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


def _result(description: str, outcomes: list[int], *, seed: int = 100, seeds: list[int] | None = None,
            keep: bool = True) -> CellResult:
    n = len(outcomes)
    return CellResult(game="RoleRoom", split="test", corpus="babyai", agent="mine", seed=seed, episodes=n,
                      successes=sum(outcomes), success_rate=sum(outcomes) / n, ci95=(0.0, 1.0), mean_steps=1.0,
                      path_ratio=None, failures=n - sum(outcomes), description=description, instruction="true",
                      sequences="executor", wall_seconds=0.0,
                      seeds=(seeds or list(range(seed, seed + n))) if keep else None, outcomes=outcomes if keep else None)


def test_a_cells_gaps_are_paired_intervals_from_its_per_seed_outcomes():
    true = [1] * 30 + [0] * 10 + [1] * 5 + [0] * 5  # against none: 30 both, 10 only true, 5 only none, 5 neither
    none = [1] * 30 + [1] * 10 + [0] * 5 + [0] * 5
    cell = TransferCell(row="mine", column="roles", in_training=False,
                        results={"true": _result("true", true), "none": _result("none", none[:40] + [1] * 5 + [0] * 5),
                                 "shuffled": _result("shuffled", true)})
    none = cell.results["none"].outcomes
    assert cell.pairs("none") == paired_table(true, none)
    value, (low, high) = cell.gap("none")
    assert (value, (low, high)) == paired_difference_interval(*paired_table(true, none))
    # The runs agree on most seeds, so the paired interval is narrower than the independent one.
    _, (independent_low, independent_high) = difference_interval(sum(true), 50, sum(none), 50)
    assert independent_low < low and high < independent_high
    assert cell.gap("shuffled")[0] == 0 and cell.gap("shuffled")[1][0] < 0 < cell.gap("shuffled")[1][1]
    data = cell.to_json()
    assert data["seeds"] == list(range(100, 150)) and "seeds" not in data["true"]
    assert data["none"]["outcomes"] == none and data["gap_none"]["ci95"] == [low, high]


def test_a_cell_refuses_runs_on_other_seeds_or_without_per_seed_outcomes():
    outcomes = [1, 0, 1, 1]
    with pytest.raises(ValueError, match="'true' and 'none' runs played different seeds"):
        TransferCell(row="mine", column="roles", in_training=False,
                     results={"true": _result("true", outcomes), "none": _result("none", outcomes, seed=200),
                              "shuffled": _result("shuffled", outcomes)})
    with pytest.raises(ValueError, match="different seeds"):  # same first seed, one seed out of order
        TransferCell(row="mine", column="roles", in_training=False,
                     results={"true": _result("true", outcomes), "none": _result("none", outcomes),
                              "shuffled": _result("shuffled", outcomes, seeds=[100, 102, 101, 103])})
    with pytest.raises(UserError, match="no per-seed outcomes .* Fix: run the cell again"):
        TransferCell(row="mine", column="roles", in_training=False,
                     results={"true": _result("true", outcomes), "none": _result("none", outcomes, keep=False),
                              "shuffled": _result("shuffled", outcomes)})


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
