"""Execute multi-part instructions zero-shot with a single-skill policy.

"pick up the red ball, then open the door after you go to the key" is planned into parts in
the order to do them (``parse.plan``, driven by the corpus's own sequence templates), and
the policy runs on one part at a time. The executor moves on when the policy's own
termination head says the current part is done (probability above ``threshold``), never on
the environment's subtask signal: that signal is for training and diagnostics only.

    executor = SequenceExecutor(AgentSkill(agent), corpus)
    executor.start(obs["mission"], obs["description"], seed=0)
    step = executor.act(obs)   # ExecStep(action, done_prob, part_index, part_text, finished)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from instructed_rl.language.corpus import Corpus
from instructed_rl.language.order import doing_order
from instructed_rl.language.parse import plan
from instructed_rl.model.done_check import believed


class SkillPolicy(Protocol):
    """What the executor drives: :class:`AgentSkill`, or the bot (:class:`~instructed_rl.acting.bot.BotSkill`)."""

    def prepare(self, parts: list[str]) -> None: ...  # the whole plan, before its first part begins

    def begin(self, instruction: str, description: str, *, seed: int | None, first: bool) -> None: ...

    def step(self, obs) -> tuple[int | None, float]: ...  # (action or None: gave up, P(part already done))


class AgentSkill:
    """A saved agent as a skill policy, with acting state of its own (goal features, memory,
    sampling generator), so any number of them can share one loaded agent. A new part starts
    with fresh memory; the generator runs on across parts. It keeps the target map of its
    last step, where the policy has a target head: per view cell, the probability that the
    instruction's object (slot 0) and, for "put next to", the fixed object (slot 1) are there.

    It computes what :meth:`instructed_rl.model.agent.Agent.reset` and ``act`` compute, action for
    action (tested)."""

    def __init__(self, agent, *, greedy: bool = True) -> None:
        self.agent = agent
        self.greedy = greedy
        self.target_map: np.ndarray | None = None  # (slots, 7, 7), indexed [slot, view x, view y]
        self.placed: tuple = ()  # the part's objects, where it places one (AgentConfig.read_places)
        self.anchor: tuple[int, int, int] | None = None

    def prepare(self, parts: list[str]) -> None:
        """Nothing to resolve ahead: the agent reads each part when it begins."""

    def begin(self, instruction: str, description: str, *, seed: int | None, first: bool) -> None:
        import torch

        from instructed_rl.model.loops import LoopGuard

        text = self.agent.rephrase(instruction, description).text
        unplaced, self.placed = self.agent.read_places(text)
        self.implicit = self.agent.implicit_steps(text)
        self.check = self.agent.done_check(text)  # checks the head's "done" on the map (AgentConfig.check_done)
        if not first:  # its policy would count a place from where this part begins, not the instruction
            text = unplaced
        with torch.inference_mode():
            self.goal = self.agent.encode_goal([text], [description])
        self.memory = self.agent.initial_memory(1)
        self.loops = LoopGuard(1) if self.greedy and self.agent.config.escape_loops else None
        if first:
            self.anchor = None  # every part's places count from where the whole instruction was given
            self.generator = torch.Generator()
            if seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(seed)
        self.target_map = None

    def step(self, obs) -> tuple[int, float]:
        from instructed_rl.model.places import off_place_cells

        if self.anchor is None and "pose" in obs:
            self.anchor = tuple(int(v) for v in obs["pose"])
        detour = self.implicit.advise(obs) if self.implicit is not None and "world" in obs else None
        if detour is not None:  # the part waits for a step it leaves implicit (AgentConfig.implicit_steps)
            self.memory = self.agent.initial_memory(1)  # it resumes afresh, as a new part would
            if self.loops is not None:
                self.loops.restart(0)  # it did not choose these steps: its dead reckoning starts again
            return detour, 0.0
        if self.placed and self.anchor is not None and "world" in obs:
            obs = dict(obs, skip=off_place_cells(np.asarray(obs["world"]), self.anchor, self.placed))
        action, done_prob = self._policy_step(obs)
        return action, believed(self.check, done_prob, obs)  # where the map says not done, the part goes on

    def _policy_step(self, obs) -> tuple[int, float]:
        import torch

        from instructed_rl.model.policy import choose_actions, preprocess_obs

        with torch.inference_mode():
            image, direction = preprocess_obs(obs, device=self.agent.device,
                                              map_memory=self.agent.config.policy.map_memory,
                                              planner=self.agent.config.policy.planner)
            out = self.agent(image, direction, self.goal, self.memory)
            self.memory = out.memory
            if self.loops is not None:
                action = int(self.loops.choose(out.logits, obs["image"], obs["direction"])[0])
            else:
                action = int(choose_actions(out.logits, greedy=self.greedy, generator=self.generator)[0][0])
            if out.target_map is not None:
                self.target_map = torch.sigmoid(out.target_map[0].float()).cpu().numpy()
            return action, float(torch.sigmoid(out.done_logit[0].float()))


@dataclass
class ExecStep:
    action: int | None  # None: the skill policy gave up (only the bot does)
    done_prob: float
    part_index: int
    part_text: str
    finished: bool  # the policy believes every part is done


class SequenceExecutor:
    """Runs ``policy`` on the parts of an instruction in turn. ``split=False`` hands the whole
    text to the policy as one part (the ablation of ``eval --sequences whole``). With
    ``game_grammar=False`` the parts come from ``read_parts`` alone (``eval --sequences agent``)."""

    def __init__(self, policy: SkillPolicy, corpus: Corpus, *, threshold: float = 0.5, split: bool = True,
                 read_parts: Callable[[str, str], list[str]] | None = None, game_grammar: bool = True):
        self.policy = policy
        self.corpus = corpus
        self.read_parts = read_parts  # the agent's own split, for connectives the corpus does not know
        self.game_grammar = game_grammar
        self.threshold = threshold
        self.split = split
        self.parts: list[str] = []
        self.index = 0
        self.description = ""

    def plan(self, instruction: str, description: str = "") -> list[str]:
        """The parts of ``instruction`` in the order to do them: the corpus's plan (unless the
        game's grammar is not to be used), each of its parts split again by the agent's own
        ``read_parts`` (which leaves the words ``description`` uses as written), all put in the
        order their order words say (:func:`instructed_rl.language.order.doing_order`)."""
        if not self.split:
            return [instruction]
        parts = (plan(instruction, self.corpus) if self.game_grammar else None) or [instruction]
        if self.read_parts is not None:  # a part split at the corpus's connectives may hold others
            parts = doing_order([piece for part in parts for piece in self.read_parts(part, description)])
        return parts

    def start(self, instruction: str, description: str = "", *, seed: int | None = None) -> list[str]:
        self.parts = self.plan(instruction, description)
        self.index = 0
        self.policy.prepare(self.parts)  # the bot resolves every part's objects at the start
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
