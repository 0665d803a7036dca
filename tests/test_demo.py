"""The README's main job: ``instructed-rl demo`` on an agent, and the shipped agents themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.acting.actors import make_actor
from instructed_rl.eval.cell import EvalConfig, run_seeds
from tests.conftest import run_cli

pytestmark = pytest.mark.integration  # every test here runs the real thing end to end

SHIPPED = Path("data/agents/default")
SHIPPED_AGENTS = sorted(p for p in Path("data/agents").glob("*") if (p / "config.json").exists())


def test_demo_runs_every_case_prints_a_table_and_writes_a_gif(tmp_path):
    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1, "goal_attention": False}})
    Agent.create(config, texts=["go to the red ball", "open the door", "a room"]).save_pretrained(tmp_path / "agent")
    gif = tmp_path / "demo.gif"
    result = run_cli("demo", "--agent", str(tmp_path / "agent"), "--fps", "0", "--record", str(gif))
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + 6  # header + one row per case
    for case in ("trained instruction", "unseen composition", "unseen phrasing", "BabyAI level", "BabyAI maze",
                 "instruction sequence"):
        assert any(case in row for row in rows)
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


@pytest.mark.parametrize("shipped", SHIPPED_AGENTS, ids=lambda p: p.name)
def test_each_shipped_agent_loads_and_carries_its_record(shipped):
    agent = Agent.from_pretrained(shipped)
    assert agent.config.games and agent.config.corpus
    record = json.loads((shipped / "training_record.json").read_text())
    assert "final_eval" in record
    # A staged agent keeps every stage's record, curve and metrics (a last stage may be reading only: no frames).
    stages = [json.loads(p.read_text()) for p in shipped.glob("training_record*.json")]
    assert sum(stage["frames"] for stage in stages) > 0
    assert list(shipped.glob("curve*.png")) and list(shipped.glob("metrics*.jsonl"))
    size = sum(p.stat().st_size for p in shipped.rglob("*") if p.is_file())
    assert size < 25 * 1024 * 1024


def test_the_default_agent_is_shipped():
    assert SHIPPED in SHIPPED_AGENTS


def test_the_shipped_default_agent_executes_unseen_sequences_across_rooms_greedily():
    """The default agent never saw a sequence episode: the executor and its termination head
    carry it through GoToSeqS5R2's multi-part missions, greedy (96% on 100 episodes from these seeds)."""
    config = EvalConfig(agent="default", game="GoToSeqSmall", split="unseen_sequences")
    results = run_seeds(config, "unseen_sequences", [1_000_000 + i for i in range(20)], actor=make_actor("default"))
    success = sum(r.success for r in results) / len(results)
    assert make_actor("default").greedy
    assert success >= 0.8, f"default agent solved {success:.0%} of 20 unseen 2x2-room sequences (96% measured on 100)"


def test_the_shipped_default_agent_solves_a_babyai_level_id_greedily():
    """What a user runs: the default agent, its own (greedy) mode, on the BabyAI level id itself
    (100.0% over 500 episodes in docs/reports/one_room; these are the first 64 of those seeds)."""
    from instructed_rl.eval.cell import run_cell

    result = run_cell(EvalConfig(agent="default", game="BabyAI-GoToLocal-v0", episodes=64, seed=3_000_000),
                      progress=False)
    assert result.greedy
    assert result.success_rate >= 0.95, f"{result.success_rate:.1%} of 64 greedy BabyAI-GoToLocal-v0 episodes"
