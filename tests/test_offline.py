"""Offline cloning (``train --demos DIR``): real bot demos, a tiny network, real learning; exact resume; bad datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from instructed_rl.model.agent import Agent
from instructed_rl.commands.train import load_yaml, run as train_run
from instructed_rl.config import from_mapping
from instructed_rl.demos import DemosConfig, generate_demos, load_demos
from instructed_rl.demos.manifest import MANIFEST
from instructed_rl.errors import UserError
from instructed_rl.rollout.dagger import collect_episodes
from instructed_rl.rollout.envs import EnvVector
from instructed_rl.train.imitation import ImitationConfig
from instructed_rl.train.offline import demo_episodes, next_batch
from instructed_rl.train.runs import vocabulary_texts
from instructed_rl.train.tracking import MetricsLog

from tests.conftest import assert_resume_is_exact, success_rate

TINY = "configs/tiny.yaml"
GAME = "BabyAI-GoToLocalS5N2-v0"  # 3 bot steps a demo on average; an untrained tiny agent: ~0-3% greedy


def make_demos(out: Path, **overrides) -> Path:
    values = dict(game=GAME, corpus="babyai", out=str(out), episodes=500, shard_size=128, progress=False)
    generate_demos(DemosConfig(**{**values, **overrides}))
    return out


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> Path:
    """500 bot demos of the test's game (about a second)."""
    return make_demos(tmp_path_factory.mktemp("offline") / "demos")


def tiny_agent() -> Agent:
    """A new agent as configs/tiny.yaml makes it for the test's game (what training starts from)."""
    values = {k: v for k, v in load_yaml(TINY).items() if k != "algorithm"}
    config = from_mapping(ImitationConfig, {**values, "games": [GAME]})
    return Agent.create(config.agent_config(), texts=vocabulary_texts(config), seed=config.seed)


@pytest.mark.integration
def test_cloning_from_demos_learns(tmp_path, demos):
    # Measured (2 cores): greedy 0.52 after 6,000 dataset frames (~4 epochs of 500 demos); the same
    # network untrained: 0.00-0.03 greedy over seeds 0-2. About 25 s in all.
    final = train_run(TINY, str(tmp_path / "run"), ["--games", GAME, "--demos", str(demos), "--frames", "6000",
                                                    "--threads", "1", "--eval-episodes", "5"])
    tiny_agent().save_pretrained(tmp_path / "untrained")
    untrained = success_rate(tmp_path / "untrained", GAME, 100)
    trained = success_rate(final, GAME, 100)
    assert untrained <= 0.1, f"an untrained agent's greedy success is {untrained:.2f}: the bar below means nothing"
    assert trained >= 0.3, f"greedy success {trained:.2f} after cloning 6k dataset frames (untrained: {untrained:.2f})"
    record = json.loads((tmp_path / "run" / "training_record.json").read_text())
    assert record["demos"] == str(demos) and record["demonstration_episodes"] == 500
    assert record["frames"] >= 6000 and record["epochs"] > 2
    rows = MetricsLog.read(tmp_path / "run" / "metrics.jsonl")
    assert rows[-1]["train/accuracy"] > rows[0]["train/accuracy"]


def test_demos_become_the_episodes_live_cloning_collects(demos):
    """Offline data is what the live trainer sees at beta = 1: the same views, labels, done targets, texts."""
    dataset = load_demos(demos)
    offline = demo_episodes(dataset, GAME)[:8]
    seeds = [int(s) for s in dataset.seeds[:8]]  # demo i is seed i (bot failures skipped)
    with EnvVector(games=[GAME], corpus="babyai", seed=0, first=0, count=4) as envs:
        live, _ = collect_episodes(tiny_agent(), envs, iteration=0, episodes=0, seeds=seeds, beta=1.0,
                                   rng=np.random.default_rng(0), generator=torch.Generator().manual_seed(0))
    assert len(live) == len(offline) == 8
    for mine, theirs in zip(offline, live):
        assert (mine.game, mine.instruction, mine.description, mine.target, mine.plain, mine.success) == \
            (theirs.game, theirs.instruction, theirs.description, theirs.target, theirs.plain, theirs.success)
        for name in ("image", "direction", "action", "done", "optimal"):
            assert np.array_equal(getattr(mine, name), getattr(theirs, name)), name
            assert getattr(mine, name).dtype == getattr(theirs, name).dtype, name


def test_epochs_visit_every_demo_once_in_whole_minibatches():
    state = {"epoch": 0, "position": 0}
    seen = [next_batch(state, size=3, count=10, seed=0) for _ in range(3)]
    assert state == {"epoch": 0, "position": 9} and len(set(np.concatenate(seen).tolist())) == 9
    fourth = next_batch(state, size=3, count=10, seed=0)  # one left over: a new epoch, a new order
    assert state == {"epoch": 1, "position": 3} and len(fourth) == 3
    again = {"epoch": 0, "position": 3}
    assert np.array_equal(next_batch(again, size=3, count=10, seed=0), seen[1])  # a function of the counters


@pytest.mark.integration
def test_interrupted_offline_run_resumes_to_the_same_curve(tmp_path, demos):
    args = ["train", "--config", TINY, "--games", GAME, "--demos", str(demos), "--frames", "2500", "--threads", "1",
            "--checkpoint-every", "2", "--lr-end", "0.0002", "--batch-episodes", "16"]
    assert_resume_is_exact(args, tmp_path, frames=2500,
                           keys=("iteration", "frames", "episodes", "epoch", "lr", "train/loss", "train/accuracy"))


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Fix:" in message
    return message


def test_bad_datasets_are_one_line_errors_before_any_work(tmp_path, demos):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    make_demos(tmp_path / "test_split", episodes=4, split="test")
    make_demos(tmp_path / "paraphrase", episodes=4, corpus="paraphrase")
    make_demos(tmp_path / "keyinbox", episodes=2, game="BabyAI-KeyInBox-v0")  # the bot fails every one
    make_demos(tmp_path / "incomplete", episodes=8, shard_size=4)
    manifest = json.loads((tmp_path / "incomplete" / MANIFEST).read_text())
    manifest.update(shards=manifest["shards"][:1], complete=False)
    (tmp_path / "incomplete" / MANIFEST).write_text(json.dumps(manifest))
    cases = [
        (tmp_path / "nope", [], "no such demos directory", "make-demos"),
        (tmp_path / "notes", [], "not a demos directory", "make-demos"),
        (tmp_path / "incomplete", [], "incomplete", "run the same 'instructed-rl make-demos' command again"),
        (demos, ["--games", "GoToRoom"], "but the config trains on GoToRoom", f"--games {GAME}"),
        (demos, ["--corpus", "paraphrase"], "but the config's corpus is paraphrase", "--corpus babyai"),
        (tmp_path / "paraphrase", [], "corpus is babyai", "--corpus paraphrase"),
        (tmp_path / "test_split", [], "may only see the train split", "make-demos --game"),
        (tmp_path / "keyinbox", ["--games", "BabyAI-KeyInBox-v0"], "no demos", "make-demos"),
    ]
    for path, extra, problem, fix in cases:
        run_dir = tmp_path / "run"
        with pytest.raises(UserError) as error:
            train_run(TINY, str(run_dir), ["--games", GAME, *extra, "--demos", str(path)])
        message = one_line(error)
        assert problem in message and fix in message.split("Fix:")[1], message
        assert not (run_dir / "config.json").exists()  # refused before the run directory is bound
    with pytest.raises(UserError, match="action_sets needs the bot on live worlds") as error:
        train_run(TINY, str(tmp_path / "run"), ["--games", GAME, "--demos", str(demos), "--action-sets"])
    one_line(error)
