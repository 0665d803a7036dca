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
from instructed_rl.resources import SHIPPED_AGENTS


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


@pytest.fixture(scope="module")
def sampling_agent(tmp_path_factory) -> str:
    """The default agent, saved to say that it samples its actions."""
    path = tmp_path_factory.mktemp("agents") / "sampling"
    shutil.copytree(resolve_agent("default"), path)
    config = json.loads((path / "config.json").read_text())
    config["actions"] = "sampled"
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def test_shipped_agents_act_greedily():
    for name in SHIPPED_AGENTS:
        assert acts_greedily(name) is True, name
    assert acts_greedily("bot") is True
    assert acts_greedily("default", False) is False
    assert make_actor("default", greedy=False).greedy is False


def test_an_agent_that_samples_says_so_and_a_flag_overrides_it(sampling_agent):
    assert acts_greedily(sampling_agent) is False
    assert acts_greedily(sampling_agent, True) is True
    assert make_actor(sampling_agent).greedy is False
    assert make_actor(sampling_agent, greedy=True).greedy is True


def test_an_agent_saved_before_the_key_acts_greedily(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(resolve_agent("default"), old)
    config = json.loads((old / "config.json").read_text())
    del config["actions"]
    (old / "config.json").write_text(json.dumps(config))
    assert acts_greedily(str(old)) is True
    assert Agent.from_pretrained(old).config.actions == "greedy"


def test_eval_and_play_follow_the_agent_and_name_the_mode(sampling_agent):
    sampled = run_cell(EvalConfig(agent=sampling_agent, game="GoToRoom", episodes=2), progress=False)
    told = run_cell(EvalConfig(agent=sampling_agent, game="GoToRoom", episodes=2, greedy=True), progress=False)
    assert (sampled.greedy, told.greedy) == (False, True)
    assert Stage(PlayConfig(agent=sampling_agent, game="GoToRoom")).greedy is False
    assert Stage(PlayConfig(agent=sampling_agent, game="GoToRoom", greedy=True)).greedy is True
    assert Stage(PlayConfig(agent="default", game="GoToRoom", greedy=False)).greedy is False
    agent = Agent.from_pretrained(sampling_agent)
    assert agent.reset_batch(["go to the red ball"]).greedy is False
    assert agent.reset_batch(["go to the red ball"], greedy=True).greedy is True
