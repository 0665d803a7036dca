"""Things that act in an episode: a saved agent, minigrid's BabyAI bot, or a random policy.

All share one small interface so the evaluation harness treats them alike::

    actor.start(env, obs, instruction=..., description=..., seed=...)
    action = actor.act(obs)
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.errors import UserError

REFERENCE_AGENTS = ("bot", "random")


class Actor(Protocol):
    name: str

    def start(self, env, obs, *, instruction: str, description: str, seed: int) -> None: ...

    def act(self, obs) -> int: ...


class BotActor:
    """minigrid's BabyAI bot; it reads the live world (it knows the map), so it is a reference, not a peer."""

    name = "bot"

    def start(self, env, obs, *, instruction: str, description: str, seed: int) -> None:
        self._bot = BabyAIBot(env.unwrapped.level)
        self._last = None

    def act(self, obs) -> int:
        try:
            action = self._bot.replan(self._last)
        except Exception:  # the bot gives up on rare worlds (e.g. a box it opened vanished)
            action = 6  # "done": a no-op in BabyAI levels; the episode then runs out of steps
        self._last = None  # we always take the suggested action
        return int(action)


class RandomActor:
    name = "random"

    def start(self, env, obs, *, instruction: str, description: str, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._n = env.action_space.n

    def act(self, obs) -> int:
        return int(self._rng.integers(self._n))


class AgentActor:
    """An agent (loaded or in training), acting on the instruction and description it is given.

    Multi-part instructions go through the sequence executor (parts planned with the env's
    corpus, switched on the agent's own termination head) unless ``sequences="whole"``, which
    hands the whole text to the policy (the ablation).
    """

    def __init__(self, agent, *, name: str = "agent", greedy: bool = True, sequences: str = "executor"):
        self.agent = agent
        self.name = name
        self.greedy = greedy
        self.sequences = sequences

    def start(self, env, obs, *, instruction: str, description: str, seed: int) -> None:
        from instructed_rl.sequences import SequenceExecutor

        if self.sequences == "executor":
            self.executor = SequenceExecutor(self.agent, env.unwrapped.corpus, greedy=self.greedy)
            self.executor.start(instruction, description, seed=seed)
        else:
            self.executor = None
            self.agent.reset(instruction, description, greedy=self.greedy, seed=seed)

    def act(self, obs) -> int:
        if self.executor is not None:
            return self.executor.act(obs).action
        return int(self.agent.act(obs).action)


def make_actor(spec: str, *, greedy: bool = True, sequences: str = "executor", rephrase: bool = True) -> Actor:
    """``bot``, ``random``, or the path of a saved agent directory (``rephrase=False`` turns off
    the agent's rephraser, if its config enables one)."""
    if spec == "bot":
        return BotActor()
    if spec == "random":
        return RandomActor()
    if not Path(spec).is_dir():
        raise UserError(f"--agent {spec!r}: not a saved agent directory. Fix: pass a directory written by "
                        f"'instructed-rl train' (e.g. data/agents/default), or one of {', '.join(REFERENCE_AGENTS)}")
    from instructed_rl.agent import Agent

    agent = Agent.from_pretrained(spec)
    agent.config.rephrase = agent.config.rephrase and rephrase
    return AgentActor(agent, name=spec, greedy=greedy, sequences=sequences)
