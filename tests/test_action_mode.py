"""An agent says how it acts (greedy or sampled); eval, play and the API follow it unless told."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from instructed_rl.acting.actors import acts_greedily, make_actor
from instructed_rl.config import add_arguments, from_args
from instructed_rl.eval.cell import EvalConfig, run_cell
from instructed_rl.interactive.config import PlayConfig
from instructed_rl.interactive.stage import Stage
from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.model.hub import resolve_agent


def _parse(*argv: str) -> EvalConfig:
    parser = argparse.ArgumentParser()
    add_arguments(parser, EvalConfig)
    return from_args(EvalConfig, parser.parse_args(["--agent", "bot", "--game", "GoToRoom", *argv]))


def test_the_flags_say_greedy_sampled_or_nothing():
    assert _parse("--greedy").greedy is True
    assert _parse("--no-greedy").greedy is False
    assert _parse().greedy is None  # decided by the agent


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="actions='argmax' must be one of greedy, sampled"):
        AgentConfig(actions="argmax")


def test_shipped_agents_declare_their_mode_and_a_flag_overrides_it():
    # The maze agent's published numbers sample; the default's and the reader's are greedy.
    assert acts_greedily("maze") is False
    assert acts_greedily("default") is True
    assert acts_greedily("reader") is True
    assert acts_greedily("bot") is True
    assert acts_greedily("maze", True) is True
    assert acts_greedily("default", False) is False
    assert make_actor("maze").greedy is False
    assert make_actor("maze", greedy=True).greedy is True


def test_an_agent_saved_before_the_key_acts_greedily(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(resolve_agent("default"), old)
    config = json.loads((old / "config.json").read_text())
    del config["actions"]
    (old / "config.json").write_text(json.dumps(config))
    assert acts_greedily(str(old)) is True
    assert Agent.from_pretrained(old).config.actions == "greedy"


def test_eval_and_play_follow_the_agent_and_name_the_mode():
    sampled = run_cell(EvalConfig(agent="maze", game="GoToRoom", episodes=2), progress=False)
    told = run_cell(EvalConfig(agent="maze", game="GoToRoom", episodes=2, greedy=True), progress=False)
    assert (sampled.greedy, told.greedy) == (False, True)
    assert Stage(PlayConfig(agent="maze", game="GoToRoom")).greedy is False
    assert Stage(PlayConfig(agent="maze", game="GoToRoom", greedy=True)).greedy is True
    assert Stage(PlayConfig(agent="default", game="GoToRoom", greedy=False)).greedy is False
    agent = Agent.from_pretrained("maze")
    assert agent.reset_batch(["go to the red ball"]).greedy is False
    assert agent.reset_batch(["go to the red ball"], greedy=True).greedy is True
