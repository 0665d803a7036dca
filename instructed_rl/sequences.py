"""Execute multi-part instructions zero-shot with a single-skill policy.

"pick up the red ball, then open the door after you go to the key" is planned into parts in
the order to do them (``parse.plan``, driven by the corpus's own sequence templates), and
the policy runs on one part at a time. The executor moves on when the policy's own
termination head says the current part is done (probability above ``threshold``), never on
the environment's subtask signal: that signal is for training and diagnostics only.

    executor = SequenceExecutor(agent, corpus)
    executor.start(obs["mission"], obs["description"], seed=0)
    step = executor.act(obs)   # ExecStep(action, done_prob, part_index, part_text, finished)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.language.corpus import Corpus
from instructed_rl.language.parse import parse_instruction, plan


class SkillPolicy(Protocol):
    """What the executor drives: an agent, or a stand-in such as :class:`BotSkillPolicy`."""

    def begin(self, instruction: str, description: str, *, seed: int | None, first: bool) -> None: ...

    def step(self, obs) -> tuple[int, float]: ...  # (action, P(instruction already done))


class AgentSkillPolicy:
    """A trained agent as a skill policy: memory is reset at each new part."""

    def __init__(self, agent, *, greedy: bool = True):
        self.agent = agent
        self.greedy = greedy

    def begin(self, instruction: str, description: str, *, seed: int | None, first: bool) -> None:
        if first:
            self.agent.reset(instruction, description, greedy=self.greedy, seed=seed)
        else:
            self.agent.set_instruction(instruction, description=description, reset_memory=True)

    def step(self, obs) -> tuple[int, float]:
        result = self.agent.act(obs)
        return int(result.action), float(result.done_prob)


@dataclass
class ExecStep:
    action: int
    done_prob: float
    part_index: int
    part_text: str
    finished: bool  # the policy believes every part is done


class SequenceExecutor:
    def __init__(self, policy, corpus: Corpus, *, threshold: float = 0.5, greedy: bool = True):
        self.policy = policy if hasattr(policy, "begin") else AgentSkillPolicy(policy, greedy=greedy)
        self.corpus = corpus
        self.threshold = threshold
        self.parts: list[str] = []
        self.index = 0
        self.description = ""

    def start(self, instruction: str, description: str = "", *, seed: int | None = None) -> list[str]:
        self.parts = plan(instruction, self.corpus) or [instruction]
        self.index = 0
        if hasattr(self.policy, "prepare"):
            self.policy.prepare(self.parts)
        self.description = description
        self.policy.begin(self.parts[0], description, seed=seed, first=True)
        return self.parts

    def act(self, obs) -> ExecStep:
        action, done_prob = self.policy.step(obs)
        # A part the policy believes done hands over to the next one on the same view; several
        # parts can be done at once (e.g. "go to the ball, then pick up the ball" next to it).
        while done_prob > self.threshold and self.index + 1 < len(self.parts):
            self.index += 1
            self.policy.begin(self.parts[self.index], self.description, seed=None, first=False)
            action, done_prob = self.policy.step(obs)
        finished = self.index + 1 == len(self.parts) and done_prob > self.threshold
        return ExecStep(action, done_prob, self.index, self.parts[self.index], finished)


class _LevelWithInstruction:
    """The level as the BabyAI bot sees it, but with one part's instruction as its mission."""

    def __init__(self, level, instrs):
        self._level = level
        self.instrs = instrs

    def __getattr__(self, name):
        return getattr(self._level, name)

    @property
    def unwrapped(self):
        return self


class BotSkillPolicy:
    """The BabyAI bot solving one part at a time, with a verifier as its termination head.

    A stand-in for a perfect single-skill policy: run through the executor, its failures
    belong to the executor (planning, hand-over), not to a learned policy.
    """

    def __init__(self, level, corpus: Corpus):
        self.level = level
        self.corpus = corpus

    def prepare(self, parts: list[str]) -> None:
        """Resolve every part's objects now, as BabyAI does once per mission: "the key on your
        left" means the key on the agent's left at the start, wherever it stands later."""
        self.verifiers = {}
        for part in parts:
            instr = parse_instruction(part, self.corpus).to_verifier()
            instr.reset_verifier(self.level)
            self.verifiers[part] = instr

    def begin(self, instruction: str, description: str, *, seed: int | None, first: bool) -> None:
        if instruction not in getattr(self, "verifiers", {}):
            self.prepare([instruction])
        self.instr = self.verifiers[instruction]
        # The whole-mission bot drops what it picked up at once; a fresh one expects free hands.
        self.bot = None
        self.needs_free_hands = type(self.instr).__name__ in ("PickupInstr", "PutNextInstr")
        self.last_action = None
        self.done = False

    def step(self, obs) -> tuple[int, float]:
        if self.bot is not None and self.last_action is not None and not self.done:
            self.done = self.instr.verify(self.last_action) == "success"
        if self.done:
            return 6, 1.0  # "done": a no-op while the next part takes over
        if self.bot is None:
            actions = self.level.actions
            if self.needs_free_hands and self.level.carrying is not None:
                free = self.level.grid.get(*self.level.front_pos) is None
                self.last_action = int(actions.drop if free else actions.left)
                return self.last_action, 0.0
            # Where the mission's objects are now (the set itself was fixed at the start).
            self.instr.update_objs_poss()
            if hasattr(self.instr, "preCarrying"):
                self.instr.preCarrying = self.level.carrying
            self.bot = BabyAIBot(_LevelWithInstruction(self.level, self.instr))
            self.last_action = None
            return self.step(obs)
        self.last_action = int(self.bot.replan())
        return self.last_action, 0.0
