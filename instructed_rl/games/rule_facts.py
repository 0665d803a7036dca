"""What a rule game declares and what its world states: :class:`Rules` (a spec's ``rules:``),
:class:`RulePattern` (a held-out rule) and :class:`Fact` (one stated rule). The families and the
world that states them: :mod:`instructed_rl.games.rules`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal

import numpy as np
from minigrid.core.constants import COLOR_NAMES

from instructed_rl.games.descriptions import RULES as RULE_TEMPLATES
from instructed_rl.games.descriptions import fact_slots, phrase

FAMILIES = ("roles", "words", "hazards", "colors", "categories")
RULE_SKILLS = ("goto", "pickup", "putnext")
OBJECT_TYPES = ("ball", "box", "key")
RULES_KEYS = ("family", "words", "fresh_words", "hazards")
PATTERN_KEYS = ("word", "color", "type", "type2")
CATEGORY_PAIRS = (("ball", "box"), ("ball", "key"), ("box", "key"))
MAX_HAZARDS = 3

Fail = Callable[[str, str, str], Exception]  # (key, problem, fix) -> the error to raise


def _value_error(key: str, problem: str, fix: str) -> Exception:
    return ValueError(f"rules.{key}: {problem}. Fix: {fix}")


def _indefinite(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


@dataclass(frozen=True)
class Rules:
    """A game's rule family and its words, from the spec's ``rules:`` mapping."""

    family: Literal["roles", "words", "hazards", "colors", "categories"]
    words: tuple[str, ...] = ()
    """role words (roles), invented nouns (words), colour words (colors) or category nouns
    (categories); every episode binds all of them"""
    fresh_words: int = 0
    """instead of fixed ``words``: this many invented words drawn afresh every episode
    (:mod:`instructed_rl.games.fresh_words`), so no binding can be memorised"""
    hazards: int = 1
    """hazards family: how many objects of the target's type are hazards"""

    @classmethod
    def from_dict(cls, data: Any, *, fail: Fail = _value_error, key: str = "rules") -> "Rules":
        if not isinstance(data, dict):
            raise fail(key, "must be a mapping", "write 'rules: {family: roles, words: [treasure, prize, trap]}'")
        unknown = sorted(set(data) - set(RULES_KEYS))
        if unknown:
            raise fail(f"{key}.{unknown[0]}", "unknown key", f"use only {', '.join(RULES_KEYS)}")
        family = data.get("family")
        if family not in FAMILIES:
            raise fail(f"{key}.family", f"{family!r} is not a rule family", f"use one of {', '.join(FAMILIES)}")
        words = data.get("words") or []
        if isinstance(words, str):
            words = [words]
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip().isalpha() for w in words):
            raise fail(f"{key}.words", "must be a list of single words", "write 'words: [treasure, prize, trap]'")
        words = [w.strip().lower() for w in words]
        fresh = data.get("fresh_words", 0)
        if not isinstance(fresh, int) or isinstance(fresh, bool) or fresh < 0:
            raise fail(f"{key}.fresh_words", "must be a non-negative integer", "write 'fresh_words: 3'")
        if fresh and words:
            raise fail(f"{key}.fresh_words", "a game has either fixed words or fresh ones", "remove 'words' or 'fresh_words'")
        if fresh and family == "hazards":
            raise fail(f"{key}.fresh_words", "a hazards game has no words", "remove 'fresh_words'")
        if len(set(words)) != len(words):
            raise fail(f"{key}.words", "a word is listed twice", "list each word once")
        reserved = set(COLOR_NAMES) | set(OBJECT_TYPES) | {"door", "object"}
        clash = [w for w in words if w in reserved]
        if clash:
            raise fail(f"{key}.words", f"{clash[0]!r} is already a colour or type word", "pick a word the game does not use")
        count = fresh or len(words)
        if family == "roles" and not 2 <= count <= 4:
            raise fail(f"{key}.words", "a roles game needs 2 to 4 role words", "write 'words: [treasure, prize, trap]'")
        if family == "words" and not 1 <= count <= len(OBJECT_TYPES):
            raise fail(f"{key}.words", f"a words game needs 1 to {len(OBJECT_TYPES)} invented nouns (one per type)",
                       "write 'words: [dax, wug, blicket]'")
        if family == "colors" and not 2 <= count <= 3:
            raise fail(f"{key}.words", "a colors game needs 2 to 3 invented colour words (one per colour)",
                       "write 'fresh_words: 3'")
        if family == "categories" and not 1 <= count <= 2:
            raise fail(f"{key}.words", "a categories game needs 1 to 2 category nouns (one per pair of types)",
                       "write 'fresh_words: 2'")
        if family == "hazards" and words:
            raise fail(f"{key}.words", "a hazards game has no words", "remove 'words' or use family roles/words")
        hazards = data.get("hazards", 1)
        if family != "hazards" and "hazards" in data:
            raise fail(f"{key}.hazards", "only the hazards family has hazards", "remove 'hazards'")
        if not isinstance(hazards, int) or not 1 <= hazards <= MAX_HAZARDS:
            raise fail(f"{key}.hazards", f"must be an integer from 1 to {MAX_HAZARDS}", "write 'hazards: 1'")
        return cls(family=family, words=tuple(words), fresh_words=fresh, hazards=hazards)

    @property
    def word_count(self) -> int:
        return self.fresh_words or len(self.words)


@dataclass(frozen=True)
class Fact:
    """One rule a description states, and whether the current mission depends on it."""

    kind: Literal["role", "word", "hazard", "color", "category"]
    word: str | None
    color: str | None
    type: str | None
    """None for colour facts (a colour word names no type)"""
    used: bool
    type2: str | None = None
    """category facts: the second type the word covers"""

    def phrase(self, rng: np.random.Generator | None = None, *, heldout: bool = False) -> str:
        """The sentence stating this rule: a random template of its kind (``rng``), or the first
        training template (no ``rng``)."""
        templates = RULE_TEMPLATES[self.kind]
        template = templates.train[0] if rng is None else templates.pick(rng, heldout=heldout)
        return phrase(template, fact_slots(self.word, self.color, self.type or "", self.type2))

    @property
    def sentence(self) -> str:
        return self.phrase()

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), sentence=self.sentence)


@dataclass(frozen=True)
class RulePattern:
    """A held-out rule: a word and/or an object colour and type. Unset fields match anything.

    A category fact covers two types: ``type`` alone matches either of them, ``type`` and
    ``type2`` together match the pair in either order."""

    word: str | None = None
    color: str | None = None
    type: str | None = None
    type2: str | None = None

    def matches(self, fact: Fact | dict) -> bool:
        get = fact.get if isinstance(fact, dict) else lambda name: getattr(fact, name, None)
        if not all(want is None or want == get(name) for name, want in (("word", self.word), ("color", self.color))):
            return False
        covered = {get("type"), get("type2")} - {None}
        if self.type2 is not None:
            return {self.type, self.type2} == covered
        return self.type is None or self.type in covered

    def __str__(self) -> str:
        return " ".join(v for v in (self.word, self.color, self.type, self.type2) if v)

    @classmethod
    def from_dict(cls, item: Any, *, rules: Rules, key: str, fail: Fail = _value_error) -> "RulePattern":
        if not isinstance(item, dict) or not item:
            raise fail(key, "must be a mapping", "write '- {word: treasure, color: green}'")
        bad = sorted(set(item) - set(PATTERN_KEYS))
        if bad:
            raise fail(f"{key}.{bad[0]}", "unknown key", f"use {', '.join(PATTERN_KEYS)}")
        if rules.fresh_words and "word" in item:
            raise fail(f"{key}.word", "this game draws fresh words every episode, so no word can be held out",
                       "hold out what a word is bound to instead, e.g. '- {color: green, type: ball}'")
        if "type2" in item and rules.family != "categories":
            raise fail(f"{key}.type2", "only a categories pattern names a second type", "remove 'type2'")
        for sub, allowed in (("word", rules.words), ("color", tuple(COLOR_NAMES)), ("type", OBJECT_TYPES),
                             ("type2", OBJECT_TYPES)):
            if sub in item and item[sub] not in allowed:
                what = "this game's words" if sub == "word" else f"the {sub}s"
                raise fail(f"{key}.{sub}", f"{item[sub]!r} is not one of {what}", f"use one of {', '.join(allowed) or '(none)'}")
        # Every episode states every word, so a pattern must say what the word is bound to:
        # holding out a whole word would leave no train episode to sample.
        named = "word" in item or rules.fresh_words > 0
        shape, example, valid = {
            "roles": ("word and a color and/or type", "{word: treasure, color: green}",
                      named and ("color" in item or "type" in item)),
            "words": ("word and a type", "{word: dax, type: box}", named and set(item) - {"word"} == {"type"}),
            "hazards": ("color and/or type (no word)", "{color: purple, type: ball}", "word" not in item),
            "colors": ("word and a color", "{color: green}", named and set(item) - {"word"} == {"color"}),
            "categories": ("word and a type pair (type, type2)", "{type: box, type2: key}",
                           named and set(item) - {"word"} in ({"type"}, {"type", "type2"})),
        }[rules.family]
        if not valid:
            raise fail(key, f"a {rules.family} pattern names a {shape}", f"write e.g. '- {example}'")
        if rules.family == "categories":
            if item.get("type") == item.get("type2"):
                raise fail(f"{key}.type2", "a category covers two different types", "write e.g. '- {type: box, type2: key}'")
            if "type2" not in item and "word" not in item and rules.word_count > 1:
                raise fail(key, f"{rules.word_count} category nouns cover every type in every episode, so no train "
                           "episode would be left", "hold out a pair instead, e.g. '- {type: box, type2: key}'")
        return cls(**item)
