"""The acting protocol: every actor starts on a real env and returns Decisions; an agent's own
acting state (AgentSkill) gives exactly the actions of the agent's reset/act API."""

from __future__ import annotations

import pytest

from instructed_rl.acting.actors import AgentActor, Decision, make_actor
from instructed_rl.acting.bot import Bot, failure_reason
from instructed_rl.acting.executor import AgentSkill
from instructed_rl.model.agent import Agent
from instructed_rl.games.env import InstructedEnv


@pytest.fixture(scope="module")
def agent():
    return Agent.from_pretrained("data/agents/default")


@pytest.mark.parametrize("greedy,escape_loops", [(True, True), (True, False), (False, True)])
def test_an_agent_skill_acts_exactly_as_the_agent_api(agent, greedy, escape_loops, monkeypatch):
    monkeypatch.setattr(agent.config, "escape_loops", escape_loops)
    env = InstructedEnv("SkillRoom", split="test", corpus="paraphrase")
    for seed in range(4):
        obs, _ = env.reset(seed=seed)
        skill = AgentSkill(agent, greedy=greedy)
        skill.begin(obs["mission"], obs["description"], seed=seed, first=True)
        agent.reset(obs["mission"], obs["description"], greedy=greedy, seed=seed)
        _assert_same_actions(skill, agent, env, obs, steps=40)


def _assert_same_actions(skill: AgentSkill, agent: Agent, env: InstructedEnv, obs: dict, *, steps: int) -> None:
    for _ in range(steps):
        action, done = skill.step(obs)
        reference = agent.act(obs)
        assert (action, round(done, 5)) == (reference.action, round(reference.done_prob, 5))
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break


def test_reading_places_an_agent_skill_still_acts_exactly_as_the_agent_api(agent, monkeypatch):
    """With read_places both paths hand the policy the text without its place and narrow the table
    from the pose where the instruction was given (PickupLoc places most of its objects)."""
    monkeypatch.setattr(agent.config, "read_places", True)
    env = InstructedEnv("BabyAI-PickupLoc-v0", split="test")
    placed = 0
    for seed in range(40):
        obs, _ = env.reset(seed=seed)
        if placed == 3:
            break
        skill = AgentSkill(agent)
        skill.begin(obs["mission"], obs["description"], seed=seed, first=True)
        agent.reset(obs["mission"], obs["description"], seed=seed)
        if not skill.placed:
            continue
        placed += 1
        _assert_same_actions(skill, agent, env, obs, steps=30)
    assert placed == 3


def test_two_actors_share_one_agent_without_mixing(agent):
    """Interleaved episodes on one loaded agent act as each would alone (acting state is the actor's)."""
    envs = [InstructedEnv("GoToRoom", split="test") for _ in range(2)]
    actors = [AgentActor(agent), AgentActor(agent)]
    observations = []
    for seed, env, actor in zip((5, 6), envs, actors):
        obs, _ = env.reset(seed=seed)
        actor.start(env, instruction=obs["mission"], description=obs["description"], seed=seed)
        observations.append(obs)
    trails: list[list[int]] = [[], []]
    for _ in range(10):
        for i in range(2):
            trails[i].append(actors[i].act(observations[i]).action)
            observations[i] = envs[i].step(trails[i][-1])[0]
    for seed, env, trail in zip((5, 6), envs, trails):
        actor, (obs, _) = AgentActor(agent), env.reset(seed=seed)
        actor.start(env, instruction=obs["mission"], description=obs["description"], seed=seed)
        solo = []
        for _ in range(10):
            solo.append(actor.act(obs).action)
            obs = env.step(solo[-1])[0]
        assert solo == trail


@pytest.mark.parametrize("spec", ["bot", "random", "data/agents/default"])
def test_every_actor_follows_the_protocol(spec):
    env = InstructedEnv("SkillRoom", split="test", corpus="paraphrase")
    actor = make_actor(spec)
    obs, _ = env.reset(seed=2)
    actor.start(env, instruction=obs["mission"], description=obs["description"], seed=2)
    for _ in range(5):
        decision = actor.act(obs)
        assert isinstance(decision, Decision) and 0 <= decision.action < env.action_space.n
        obs, *_ = env.step(decision.action)


def test_the_bot_parts_actor_finishes_a_sequence_and_says_so():
    env = InstructedEnv("SkillRoomSeq", split="unseen_sequences", corpus="paraphrase")
    obs, info = env.reset(seed=1)
    actor = make_actor("bot", bot="parts")
    actor.start(env, instruction=obs["mission"], description=obs["description"], seed=1)
    assert actor.parts == info["subtasks"] and len(actor.parts) > 1
    for _ in range(env.unwrapped.level.max_steps):
        decision = actor.act(obs)
        if decision.finished:
            break
        obs, _, terminated, _, info = env.step(decision.action)
    assert info["success"] and decision.part == len(actor.parts) - 1


def test_a_bot_that_gives_up_says_why_and_stops():
    env = InstructedEnv("GoToRoom", split="test")
    env.reset(seed=0)
    assert Bot(env.unwrapped.level).next_action() is not None
    env.unwrapped.level.instrs = None  # an instruction the bot cannot plan for: its planner raises
    bot = Bot(env.unwrapped.level)
    assert bot.next_action() is None and bot.gave_up
    assert bot.next_action() is None  # and stays given up
    assert failure_reason(ValueError("no path\nmore")) == "ValueError: no path"
