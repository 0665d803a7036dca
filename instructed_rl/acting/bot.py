"""minigrid's BabyAI bot, with its give-ups caught in one place.

The bot raises on rare worlds it cannot finish (a box it opened vanished, an assertion in its
planner). Every user (the teacher of imitation and PPO, demonstrations, the reference actor,
the sequence executor's stand-in skill policy) treats that the same way: no action from here on,
and a reason to report. :class:`BotSkill` runs the bot on one part of a sequence at a time.
"""

from __future__ import annotations

from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.language.corpus import Corpus
from instructed_rl.language.parse import parse_instruction

DONE_ACTION = 6  # minigrid's "done": a no-op in BabyAI levels


def failure_reason(error: BaseException) -> str:
    """A one-line name for what made the bot give up."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


class Bot:
    """The bot on one level: :meth:`next_action` is its action, or None once it has given up
    (then :attr:`gave_up` says why). A fresh one per world: it caches the map it has seen."""

    def __init__(self, level) -> None:
        self.gave_up: str | None = None
        try:
            self.bot = BabyAIBot(level)
        except Exception as error:  # noqa: BLE001 - an instruction the bot cannot plan for at all
            self.gave_up = failure_reason(error)

    def next_action(self, last_action: int | None = None) -> int | None:
        """The bot's action, given the action actually taken since its last one (None: its own)."""
        if self.gave_up is not None:
            return None
        try:
            return int(self.bot.replan(last_action))
        except Exception as error:  # noqa: BLE001 - the bot's own give-ups: DisappearedBoxError, AssertionError, ...
            self.gave_up = failure_reason(error)
            return None


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


class BotSkill:
    """The BabyAI bot solving one part at a time, with a verifier as its termination head: the
    sequence executor's skill policy for a perfect single-skill actor. Run through the executor,
    its failures belong to the executor (planning, hand-over), not to a learned policy.
    :meth:`step` gives None as the action once the bot has given up."""

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
        self.bot: Bot | None = None
        self.needs_free_hands = type(self.instr).__name__ in ("PickupInstr", "PutNextInstr")
        self.last_action = None
        self.done = False

    def step(self, obs) -> tuple[int | None, float]:
        if self.bot is not None and self.last_action is not None and not self.done:
            self.done = self.instr.verify(self.last_action) == "success"
        if self.done:
            return DONE_ACTION, 1.0  # a no-op while the next part takes over
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
            self.bot = Bot(_LevelWithInstruction(self.level, self.instr))
            self.last_action = None
            return self.step(obs)
        self.last_action = self.bot.next_action()
        return self.last_action, 0.0
