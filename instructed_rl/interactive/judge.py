"""Whether typed text can run on the world as it is, and whether it was achieved.

Typed text gets its own minigrid verifier, built from its parse on the world as it is now (the
world persists between instructions, so the world's own mission no longer says what was asked).
Text that does not parse ("walk over to the red ball") is checked with the world's own words
for the names its rules define ("go to the runto": "go to the red ball"), else as the agent
reads it, when that reading parses ("walk to the red ball", its nearest trained wording), and
the verdict says so; otherwise it still runs, but its success cannot be checked. The world's
own mission, typed on an untouched world, is judged by the world itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from minigrid.core.actions import Actions

from instructed_rl.acting.actors import Decision
from instructed_rl.games.env import describe_objects
from instructed_rl.language.parse import ParseError, missing_objects, parse_instruction, reset_verifier_with_hands
from instructed_rl.language.vocabulary import plural
from instructed_rl.language.understanding import check_instruction

MAX_INSTRUCTION_CHARS = 200

Status = Literal["succeeded", "failed", "believed_done", "gave_up", "step_limit", "interrupted", "not_run"]


def check_text(line: str) -> str | None:
    """Why ``line`` cannot be an instruction (one line), or None when it can."""
    if not line.strip():
        return "empty instruction: type one (the suggestion above, for example), or :help"
    if len(line) > MAX_INSTRUCTION_CHARS:
        return f"too long ({len(line)} characters, at most {MAX_INSTRUCTION_CHARS}): type a shorter instruction"
    if not line.replace("\t", " ").isprintable():
        return "that is not plain text (it has control or binary characters): type the instruction again"
    return None


@dataclass
class Judge:
    """How the typed text's success is judged: its own verifier, the world's mission, or not at all."""

    verifier: object | None
    source: Literal["parse", "env", "none"]
    why_not: str = ""  # when source is "none": short, for the verdict
    detail: str = ""  # the whole reason, shown once before the run
    missing: tuple[str, ...] = ()
    corpus: object | None = None  # the corpus that read the text (the actor plans its parts with it)
    read_as: str = ""  # the reading that was parsed, where the typed text itself does not parse
    by_world: bool = False  # that reading is the world's own words for the names it defines, not the agent's

    def after(self, level, action: int, terminated: bool, info: dict) -> str:
        if self.source == "parse":
            if action == Actions.drop:  # minigrid tracks dropped objects this way for its own verifier
                level.update_objs_poss(self.verifier)
            return self.verifier.verify(action)
        if self.source == "env":
            return "success" if info["success"] else ("failure" if terminated else "continue")
        return "continue"


def judge(text: str, env, corpora: list, *, fresh: bool) -> Judge:
    """The judge of ``text`` on ``env``'s world as it is now, reading it with ``corpora`` in turn;
    ``fresh``: no step was taken since the world was made."""
    parsed = error = None
    for corpus in corpora:
        try:
            parsed = parse_instruction(text, corpus)
            break
        except ParseError as problem:
            error = error or problem
    if parsed is None:
        if fresh and text == env.mission:  # the world's own mission, still untouched
            return Judge(env.level.instrs, "env", corpus=env.corpus)
        names = " or ".join(c.name for c in corpora)
        return Judge(None, "none", f"the text does not parse under corpus {names}", str(error))
    missing = tuple(missing_objects(parsed, env.level))
    if missing:
        return Judge(None, "none", missing=missing)
    verifier = parsed.to_verifier()
    reset_verifier_with_hands(verifier, env.level)
    return Judge(verifier, "parse", corpus=corpus)


def with_world_words(text: str, facts) -> str | None:
    """``text`` with each word the world's rules define (``facts``, :class:`instructed_rl.games.
    rule_facts.Fact`) said as what it names: "go to the runto" where the runto is the red ball
    reads "go to the red ball". None where it uses none, or a category word (which of its two
    types is meant, the rules alone do not say)."""
    said: dict[str, str | None] = {}
    for fact in facts:
        if fact.kind == "role":
            said[fact.word] = f"{fact.color} {fact.type}"
        elif fact.kind == "color":
            said[fact.word] = fact.color
        elif fact.kind in ("word", "category"):  # a noun: "dax", "daxs", "daxes"
            said[fact.word] = fact.type if fact.kind == "word" else None
            for ending in ("s", "es"):
                said[fact.word + ending] = plural(fact.type) if fact.kind == "word" else None
    words = text.split()
    used = [said[w.lower()] for w in words if w.lower() in said]
    if not used or any(w is None for w in used):
        return None
    return " ".join(said.get(w.lower()) or w for w in words)


def judging_note(judged: Judge) -> str | None:
    """What to say before the run about how its success is checked, when not by the text's own parse."""
    if judged.source == "none":
        return f"success cannot be checked: {judged.detail or judged.why_not}"
    if judged.read_as:
        return f"the text does not parse; success is checked {_as_read(judged)}"
    return None


def _as_read(judged: Judge) -> str:
    return f"as the world names what it says: {judged.read_as!r}" if judged.by_world else f"as read: {judged.read_as!r}"


def not_understood(text: str, corpora: list, description: str) -> str | None:
    """Why ``text`` is refused for naming words nothing defines ("the unicorn"), or None."""
    known = [check_instruction(text, corpus=c, description=description) for c in corpora]
    return None if any(u.understood for u in known) else known[0].message()


def absent_objects(judged: Judge, level) -> str | None:
    """Why the text cannot run for naming objects this world lacks, or None."""
    if not judged.missing:
        return None
    absent = "; ".join(f"there is no {re.sub(r'^(the|a|an) ', '', m)} here" for m in judged.missing)
    return (f"{absent}: not run (the world holds {describe_objects(level)}; "
            "rephrase it, or :reset for another world)")


@dataclass
class Outcome:
    instruction: str
    status: Status
    steps: int
    message: str

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def verdict(status: Status, steps: int, limit: int, decision: Decision | None, judged: Judge) -> str:
    """The verdict's words for an instruction that ran."""
    unverifiable = judged.source == "none"
    belief = f" (done? {decision.done_prob:.2f})" if decision is not None and decision.done_prob is not None else ""
    read = f" (checked {_as_read(judged)})" if judged.read_as else ""
    if status == "succeeded":
        return f"succeeded in {_steps(steps)}{read}"
    if status == "failed":
        return f"failed after {_steps(steps)}: the verifier says the instruction can no longer be met{read}"
    if status == "interrupted":
        return f"stopped by Ctrl-C after {_steps(steps)}"
    if status == "gave_up":
        return f"the bot gave up after {_steps(steps)}"
    if status == "believed_done":
        if unverifiable:
            return f"believed done after {_steps(steps)}{belief}; unverifiable: {judged.why_not}"
        return f"believed done after {_steps(steps)}{belief}, but the verifier says not{read}"
    if unverifiable:
        return f"step limit ({limit} steps) reached; unverifiable: {judged.why_not}"
    return f"step limit ({limit} steps) reached without success{read}"
