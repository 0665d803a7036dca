"""Agents by name (shipped, directory, Hugging Face Hub id through its cache, offline), model
cards, and ``instructed-rl push --out`` (staging only: no test touches the network)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard, constants

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.model.card import MARKER, SHIPPED_CARDS, load_report, shipped_card
from instructed_rl.cli import main
from instructed_rl.errors import UserError
from instructed_rl.model.hub import hub_id, resolve_agent
from instructed_rl.resources import CHECKOUT_ROOT, SHIPPED_AGENTS, agents_dir
from instructed_rl.model.text import TextConfig
from tests.conftest import cli_command

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TEXTS = ["go to the red ball", "open the grey door", "pick up a key", "a room with a red ball"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """Every test here: huggingface_hub offline, with an empty cache of its own."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


@pytest.fixture(scope="module")
def tiny_agent(tmp_path_factory) -> Path:
    config = AgentConfig(text=TextConfig(encoder="gru"), corpus="babyai", games=["GoToRoom"])
    return Agent.create(config, texts=TEXTS, seed=3).save_pretrained(tmp_path_factory.mktemp("tiny") / "agent")


def put_in_hub_cache(cache: Path, repo: str, agent: Path) -> Path:
    """The layout huggingface_hub itself writes: refs/main names a commit, snapshots/<commit>/ holds the files."""
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for file in agent.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)
    return snapshot


def _first_actions(agent: Agent) -> list[int]:
    import gymnasium

    env = gymnasium.make("InstructedRL/GoToRoom-v0")
    obs, _ = env.reset(seed=4)
    agent.reset(obs["mission"], obs["description"], greedy=True)
    actions = []
    for _ in range(6):
        action = int(agent.act(obs).action)
        actions.append(action)
        obs, *_ = env.step(action)
    return actions


def test_shipped_names_resolve_to_the_shipped_directories():
    for name in SHIPPED_AGENTS:
        assert resolve_agent(name) == agents_dir() / name
        assert (resolve_agent(name) / "model.safetensors").is_file()
    assert resolve_agent("data/agents/reader") == Path("data/agents/reader")  # a path is taken as it is
    assert hub_id("someone/agent@v1") == ("someone/agent", "v1") and hub_id("/abs/path") is None


def test_an_agent_by_hub_id_loads_from_the_cache_with_the_network_off(tiny_agent, tmp_path):
    snapshot = put_in_hub_cache(tmp_path / "hub-cache", "someone/tiny-agent", tiny_agent)
    assert resolve_agent("someone/tiny-agent") == snapshot
    assert resolve_agent(f"someone/tiny-agent@{COMMIT}") == snapshot
    loaded = Agent.from_pretrained("someone/tiny-agent")
    original = Agent.from_pretrained(tiny_agent)
    for key, value in original.saved_state_dict().items():
        assert torch.equal(value, loaded.saved_state_dict()[key]), key
    assert _first_actions(loaded) == _first_actions(original)


@pytest.mark.integration
def test_eval_takes_a_hub_id_through_the_installed_command(tiny_agent, tmp_path):
    put_in_hub_cache(tmp_path / "cache", "someone/tiny-agent", tiny_agent)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    args = ["eval", "--game", "GoToRoom", "--episodes", "3", "--json"]
    by_id = subprocess.run(cli_command() + args + [str(tmp_path / "a.json"), "--agent", "someone/tiny-agent"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert by_id.returncode == 0, by_id.stderr
    by_dir = subprocess.run(cli_command() + args + [str(tmp_path / "b.json"), "--agent", str(tiny_agent)],
                            capture_output=True, text=True, env=env, timeout=300)
    assert by_dir.returncode == 0, by_dir.stderr
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "ab")
    assert a["agent"] == "someone/tiny-agent" and a["outcomes"] == b["outcomes"] and a["seeds"] == b["seeds"]


def test_a_hub_id_missing_from_the_cache_is_one_line_with_a_fix():
    with pytest.raises(UserError, match="not in the Hugging Face Hub cache.*Fix:"):
        resolve_agent("nobody/no-such-agent")


def test_every_shipped_agent_has_a_model_card_that_names_its_numbers():
    for name in SHIPPED_AGENTS:
        path = CHECKOUT_ROOT / "data" / "agents" / name / "README.md"
        text = path.read_text()
        card = ModelCard(text)  # the Hub's own parser: metadata and model-index must be valid
        assert card.data.library_name == "instructed-rl" and "reinforcement-learning" in card.data.tags
        assert text == shipped_card(name, CHECKOUT_ROOT), f"{path} is stale: python -m instructed_rl.model.card shipped"
        cells = [cell for report in SHIPPED_CARDS[name][0] for cell in load_report(CHECKOUT_ROOT / report)["cells"]]
        assert len(card.data.eval_results) == len(cells) > 0
        for cell, result in zip(cells, card.data.eval_results):
            assert result.metric_value == round(100 * cell["success_rate"], 1)
            assert f"| {100 * cell['success_rate']:.1f} |" in text
        assert json.loads((path.parent / "training_record.json").read_text())["algorithm"] in text


def test_save_pretrained_writes_a_card_but_keeps_a_persons(tiny_agent, tmp_path):
    card = (tiny_agent / "README.md").read_text()
    assert MARKER in card and "No evaluation report" in card and "gru" in card
    agent = Agent.from_pretrained(tiny_agent)
    kept = tmp_path / "with-report"
    kept.mkdir()
    report = CHECKOUT_ROOT / "docs" / "reports" / "sequences" / "report.json"
    (kept / "sequences_report.json").write_bytes(report.read_bytes())
    agent.save_pretrained(kept)
    first = load_report(report)["cells"][0]
    assert f"| {first['label']} | {first['game']} | {first['split']} | {100 * first['success_rate']:.1f} |" in \
        (kept / "README.md").read_text()  # a report kept beside the weights reaches the card
    target = tmp_path / "agent"
    target.mkdir()
    (target / "README.md").write_text("# my own card\n")
    agent.save_pretrained(target)
    assert (target / "README.md").read_text() == "# my own card\n"


def test_push_out_stages_the_agent_and_a_card_with_the_reports_numbers(tiny_agent, tmp_path, capsys):
    report = CHECKOUT_ROOT / "docs" / "reports" / "one_room" / "report.json"
    code = main(["push", str(tiny_agent), "--repo", "someone/tiny-agent", "--report", str(report),
                 "--out", str(tmp_path / "staged")])
    assert code == 0, capsys.readouterr().err
    staged = tmp_path / "staged"
    assert sorted(p.name for p in staged.iterdir()) == ["README.md", "config.json", "model.safetensors",
                                                        "tokenizer.model"]
    card = ModelCard((staged / "README.md").read_text())
    assert card.data.model_name == "someone/tiny-agent"
    assert len(card.data.eval_results) == len(json.loads(report.read_text())["cells"])
    assert Agent.from_pretrained(staged).config.text.encoder == "gru"


def test_play_takes_a_shipped_name(capsys):
    code = main(["play", "--agent", "reader", "--game", "GoToRoom", "--seed", "1", "--fps", "0",
                 "--instruction", "go to the grey box"])
    out, err = capsys.readouterr()
    assert code in (0, 1) and "verdict:" in out and not err.strip(), err


def test_a_card_lists_a_staged_agents_stages_by_number(tiny_agent, tmp_path):
    from instructed_rl.model.card import model_card
    import shutil

    staged = tmp_path / "staged"
    shutil.copytree(tiny_agent, staged)
    for stage, frames in ((1, 100), (2, 200), (10, 1000)):  # as text, stage10 would sort before stage2
        (staged / f"training_record_stage{stage}.json").write_text(json.dumps(
            {"algorithm": "imitation", "frames": frames, "wall_seconds": 60, "hardware": {"threads": 2}}))
    (staged / "training_record.json").write_text(json.dumps(
        {"algorithm": "imitation", "frames": 5, "wall_seconds": 60, "hardware": {"threads": 2}, "config": {}}))
    card = model_card(staged)
    assert card.index("- stage1:") < card.index("- stage2:") < card.index("- stage10:") < card.index("- last stage:")
    assert "in all, 4 stages: 1,305 frames" in card and "0.1 hours of wall time (0.1 CPU-hours" in card
