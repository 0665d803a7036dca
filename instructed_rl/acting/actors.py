"""The actors: a saved agent, minigrid's BabyAI bot, or a random policy, behind one protocol.

    actor.start(env, instruction=..., description=..., seed=...)   # UserError: it cannot act on this
    decision = actor.act(obs)

``env`` is the episode's env (an :class:`~instructed_rl.games.env.InstructedEnv`): the bot
reads its live level, the executor plans with its corpus unless ``corpus`` is given.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np

from instructed_rl.acting.bot import DONE_ACTION, Bot, BotSkill
from instructed_rl.acting.executor import AgentSkill, SequenceExecutor
from instructed_rl.errors import UserError

REFERENCE_AGENTS = ("bot", "random")
SEQUENCE_MODES = ("executor", "agent", "whole")


class Decision(NamedTuple):
    """What the actor wants now. ``finished``: it believes the instruction is done (``action`` is
    then only a placeholder); ``gave_up``: it cannot go on (the bot, on rare worlds)."""

    action: int
    done_prob: float | None = None
    part: int = 0
    part_text: str = ""
    parts: int = 1
    finished: bool = False
    gave_up: bool = False


class Actor(Protocol):
    name: str

    def start(self, env, *, instruction: str, description: str, seed: int, corpus=None) -> None: ...

    def act(self, obs) -> Decision: ...


class BotActor:
    """minigrid's BabyAI bot on the whole mission; it reads the live world (it knows the map), so
    it is a reference, not a peer. Once it gives up it says "done" (a no-op) until the episode
    runs out of steps."""

    name = "bot"

    def start(self, env, *, instruction: str, description: str, seed: int, corpus=None) -> None:
        self._bot = Bot(env.unwrapped.level)

    def act(self, obs) -> Decision:
        action = self._bot.next_action()  # we always take the suggested action
        return Decision(DONE_ACTION if action is None else action)


class RandomActor:
    name = "random"

    def start(self, env, *, instruction: str, description: str, seed: int, corpus=None) -> None:
        self._rng = np.random.default_rng(seed)
        self._n = env.action_space.n

    def act(self, obs) -> Decision:
        return Decision(int(self._rng.integers(self._n)))


class ExecutorActor:
    """A saved agent (``agent``), or the BabyAI bot part by part (``agent=None``), run by the
    sequence executor. A plain instruction is one part. The agent moves to the next part when
    its termination head says done; the bot (a reference, it reads the live world) when the
    part's verifier does. ``sequences="agent"`` plans with what the agent knows, never the game's
    grammar (:meth:`instructed_rl.model.agent.Agent.split`); ``sequences="whole"`` hands the whole
    text to the agent (the ablation).

    After :meth:`start`: :attr:`parts` (the plan, in the order the parts are done),
    :attr:`rephrased` and :attr:`pointed` (how the agent reads them)."""

    def __init__(self, agent=None, *, name: str, greedy: bool = True, sequences: str = "executor") -> None:
        if sequences not in SEQUENCE_MODES:
            raise ValueError(f"sequences={sequences!r}; use one of {', '.join(SEQUENCE_MODES)}")
        self.agent = agent
        self.name = name
        self.greedy = greedy
        self.sequences = sequences
        self.trained_on = tuple(agent.config.games) if agent is not None else ()
        self.skill = None
        self.parts: list[str] = []
        self._description = ""
        self._readings: tuple[list, list[tuple[str, str]]] | None = None

    @property
    def target_map(self) -> np.ndarray | None:
        """The agent's target map at its last step (None for the bot or a policy without one)."""
        return getattr(self.skill, "target_map", None)

    def _executor_for(self, env, corpus=None) -> SequenceExecutor:
        corpus = corpus or env.unwrapped.corpus
        skill = AgentSkill(self.agent, greedy=self.greedy) if self.agent is not None \
            else BotSkill(env.unwrapped.level, corpus)
        return SequenceExecutor(skill, corpus, split=self.sequences != "whole",
                                read_parts=self.agent.split if self.agent is not None else None,
                                game_grammar=self.sequences == "executor" or self.agent is None)

    def plan(self, env, instruction: str, description: str = "") -> list[str]:
        """The parts :meth:`start` would run, in order (eval's batched waves ask before starting)."""
        return self._executor_for(env).plan(instruction, description)

    def start(self, env, *, instruction: str, description: str, seed: int, corpus=None) -> None:
        self._executor = self._executor_for(env, corpus)
        self.skill = self._executor.policy
        try:
            self.parts = list(self._executor.start(instruction, description, seed=seed))
        except UserError as error:  # only the bot needs every part to parse
            raise UserError(f"the bot acts only on instructions that parse ({error})") from None
        self._description = description
        self._instruction = instruction
        self._readings = None

    def _read(self) -> tuple[list, list[tuple[str, str]]]:
        if self._readings is None:  # on demand: only play and the web page show them
            rephrased, pointed = [], []
            if self.agent is not None and self.parts:
                words = self.agent.read_words(self._instruction, self._description)  # before any split
                rephrased = [r for r in [words] + [self.agent.rephrase(part, self._description) for part in self.parts]
                             if r.changed]
                read = self.agent.read(self.parts, [self._description] * len(self.parts))
                pointed = [(part, reading) for part, reading in zip(self.parts, read) if reading != part]
            self._readings = (rephrased, pointed)
        return self._readings

    @property
    def rephrased(self) -> list:
        """Parts the agent reads as another wording (its rephraser)."""
        return self._read()[0]

    @property
    def pointed(self) -> list[tuple[str, str]]:
        """(part, how the agent read it through the description), where the two differ."""
        return self._read()[1]

    def act(self, obs) -> Decision:
        step = self._executor.act(obs)
        if step.action is None:  # the bot gave up (e.g. a box it opened vanished)
            return Decision(DONE_ACTION, finished=True, gave_up=True)
        done_prob = float(step.done_prob) if self.agent is not None else None
        return Decision(int(step.action), done_prob, step.part_index, step.part_text, len(self.parts),
                        bool(step.finished))


class AgentActor(ExecutorActor):
    """An agent (loaded or in training), acting on the instruction and description it is given."""

    def __init__(self, agent, *, name: str = "agent", greedy: bool = True, sequences: str = "executor") -> None:
        super().__init__(agent, name=name, greedy=greedy, sequences=sequences)


def _saved_setting(spec: str, key: str, default):
    """A saved agent's config.json ``key`` (``default`` for agents saved before it, for the
    reference agents, for python agents and for what is not an agent: its loader says why)."""
    from instructed_rl.acting.foreign import is_python_agent

    if spec in REFERENCE_AGENTS or is_python_agent(spec):
        return default
    from instructed_rl.model.hub import resolve_agent
    from instructed_rl.model.io import read_config_document

    config = resolve_agent(spec) / "config.json"
    if not config.is_file():
        return default
    return read_config_document(config).get(key, default)


def acts_greedily(spec: str, greedy: bool | None = None) -> bool:
    """``greedy`` when a command was told (``--greedy`` / ``--no-greedy``); otherwise the saved
    agent's own mode (its config.json ``actions``; greedy for agents saved before that key, for
    the reference agents and for python agents)."""
    if greedy is not None:
        return greedy
    return _saved_setting(spec, "actions", "greedy") == "greedy"


def escapes_loops(spec: str, escape: bool | None = None, *, greedy: bool = True) -> bool:
    """Whether a greedy saved agent escapes its loops (:mod:`instructed_rl.model.loops`): ``escape``
    when a command was told (``--escape-loops`` / ``--no-escape-loops``), else its config.json
    ``escape_loops``. Never for sampled actions, nor for agents that are not saved agents."""
    from instructed_rl.acting.foreign import is_python_agent

    if not greedy or spec in REFERENCE_AGENTS or is_python_agent(spec):
        return False
    return bool(_saved_setting(spec, "escape_loops", False) if escape is None else escape)


def make_actor(spec: str, *, greedy: bool | None = None, sequences: str = "executor", rephrase: bool = True,
               bot: str = "whole", escape_loops: bool | None = None) -> Actor:
    """``bot``, ``random``, a saved agent (its directory, a shipped name such as ``default``, or a
    Hugging Face Hub repo id), or ``python:MODULE:FACTORY``, anyone's policy
    (:mod:`instructed_rl.acting.foreign`). ``rephrase=False`` turns off the agent's rephraser, if
    its config enables one. ``bot="parts"`` runs the bot part by part through the executor (as
    ``play`` does) instead of on the whole mission (eval's reference). ``greedy=None``: the
    agent's own action mode (:func:`acts_greedily`); ``escape_loops=None``: its own
    (:func:`escapes_loops`)."""
    if spec == "bot":
        return BotActor() if bot == "whole" else ExecutorActor(name="bot")
    if spec == "random":
        return RandomActor()
    from instructed_rl.acting.foreign import is_python_agent, make_python_actor

    if is_python_agent(spec):
        return make_python_actor(spec)
    from instructed_rl.model.hub import resolve_agent

    path = resolve_agent(spec)
    if not path.is_dir():
        raise UserError(f"--agent {spec!r}: not a saved agent directory. Fix: pass a directory written by "
                        f"'instructed-rl train' (e.g. data/agents/default), a shipped agent (default, reader), "
                        f"a Hub repo id (owner/name), python:MODULE:FACTORY, or one of {', '.join(REFERENCE_AGENTS)}")
    from instructed_rl.model.agent import Agent

    agent = Agent.from_pretrained(path)
    agent.config.rephrase = agent.config.rephrase and rephrase
    if escape_loops is not None:
        agent.config.escape_loops = escape_loops
    greedy = agent.config.actions == "greedy" if greedy is None else greedy
    return AgentActor(agent, name=spec, greedy=greedy, sequences=sequences)
