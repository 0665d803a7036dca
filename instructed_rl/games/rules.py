"""Games whose rules live in their description: the ``RuleRoom`` world and its rule families.

Something the agent must know is stated only in the environment description, never in the
instruction or the view, and it is sampled afresh every episode:

- ``roles``: missions name objects by a role word ("go to the treasure", "put the treasure
  next to the trap"); the description binds every role to one object in the room ("The
  treasure is the green ball."). Another object of the same type and another of the same
  colour are always present, so half of a binding is never enough.
- ``words``: invented nouns stand for object types ("A dax is a box."); a mission says "pick
  up the red dax" in a room that also holds a red object of every other type.
- ``hazards``: some objects end the episode, as a failure, when touched (moved into, picked up
  or toggled): "Touching the purple ball ends the game." The mission leaves the target's
  colour out ("pick up a ball") and the only other objects of its type are hazards.
- ``colors``: invented colour words ("Tapomi means red."); a mission says "pick up the tapomi
  ball" in a room that also holds a ball of another colour and a red object of another type,
  so neither the colour word nor the type alone is enough. Every word is bound to its own
  colour; the ones the mission does not use are distractors (bound, where possible, to the
  colours of other objects in the room). Put next to names each of its two objects with an
  invented colour word or its real one, at least one of them invented.
- ``categories``: an invented noun covers a pair of types ("A dobel is a ball or a key."); a
  mission says "pick up the red dobel": the target is the only red object whose type is in the
  category, and the room also holds a red object of the third type (the colour alone is not
  enough) and objects of the category's types in other colours (the noun alone is not
  enough). Every word covers its own pair; the ones the mission does not use are distractors.
  Put next to names each object by a category word or by its type, at least one by a word.

The structured instruction (minigrid's verifier tree, ``info["instruction"]``) always names the
real object, so the verifier and the BabyAI bot work unchanged. The world tells the corpus how
to name objects in missions through ``object_aliases`` (:class:`instructed_rl.language.corpus.ObjectAlias`)
and lists the rules it stated as :class:`Fact` s: the env writes them into the description's
``{rules}`` slot and checks them against the game's ``heldout_rules`` for its splits.

A game spec declares the family and its words (``envs/rule_*.yaml``): fixed ``words`` or
``fresh_words: N`` drawn afresh every episode (:mod:`instructed_rl.games.fresh_words`)::

    world: instructed_rl:RuleRoom
    description: "One room. It holds {objects}. {rules}"
    rules: {family: roles, words: [treasure, prize, trap]}
    splits: [train, test, unseen_rules]
    heldout_rules:                 # never stated in train/test; every unseen_rules mission uses one
      - {word: treasure, color: green}

Words per game: roles 2-4, words 1-3 (one per type), colors 2-3 (one per colour), categories
1-2 (one per pair of types); a hazards game has none. A held-out rule names what a word is
bound to: roles a colour and/or type, words a type, colors a colour, categories a pair of types
(``{type: box, type2: key}``, either order; a lone ``type`` matches a category covering it, which
only a one-word game can hold out), hazards a colour and/or type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal

import numpy as np

from minigrid.core.constants import COLOR_NAMES
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
from minigrid.envs.babyai.core.verifier import GoToInstr, ObjDesc, PickupInstr, PutNextInstr

from instructed_rl.language.corpus import ObjectAlias
from instructed_rl.games.descriptions import RULES as RULE_TEMPLATES
from instructed_rl.games.descriptions import fact_slots, phrase
from instructed_rl.games.fresh_words import WordSource, fresh_words

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


class RuleRoom(RoomGridLevel):
    """
    ## Description

    One room with no doors and a handful of objects. Something the mission depends on is
    stated only in the environment description, freshly sampled each episode: which object
    a role word names (family ``roles``), which type an invented noun means (``words``),
    which objects end the game when touched (``hazards``), which colour an invented colour
    word means (``colors``) or which pair of types an invented noun covers (``categories``).
    See the module docstring.

    ## Mission Space

    "go to {obj}", "pick up {obj}" or "put {obj} next to {obj2}", where an object is named by
    its role ("the treasure"), by an invented noun ("the red dax"), without its colour
    ("a ball") when the other objects of its type are hazards, by an invented colour word
    ("the tapomi ball") or by an invented noun for two types ("the red dobel"). The corpus
    phrases it; the verifier tree always names the real object.

    ## Action Space

    Minigrid's seven actions; drop is used by put next to; toggle and done are unused.

    ## Rewards

    ``1 - 0.9 * (step_count / max_steps)`` on success, 0 otherwise (and 0 for touching a hazard).

    ## Termination

    Success, touching a hazard (moving into it, picking it up or toggling it), or
    ``max_steps`` (room_size^2 per navigation).

    ## Registered Configurations

    Used by the games in ``envs/rule_*.yaml`` (``InstructedRL/RoleRoom-v0`` ...).
    """

    def __init__(
        self,
        *,
        rules: Rules | dict,
        skills: tuple[str, ...] = RULE_SKILLS,
        sequences: tuple[str, ...] = (),
        num_objs: int = 7,
        room_size: int = 8,
        **kwargs,
    ):
        self.rules = rules if isinstance(rules, Rules) else Rules.from_dict(rules)
        unknown = set(skills) - set(RULE_SKILLS)
        if unknown or not skills:
            raise ValueError(f"RuleRoom skills must be some of {RULE_SKILLS}, got {skills}")
        if sequences:
            raise ValueError("RuleRoom has no instruction sequences; remove 'sequences' from the game spec")
        if "putnext" in skills and self.rules.family == "roles" and self.rules.word_count < 2:
            raise ValueError("put next to in a roles game needs at least two role words")
        self.skills = tuple(skills)
        self.num_objs = num_objs
        self.facts: tuple[Fact, ...] = ()
        self.object_aliases: dict[tuple[str, str | None], ObjectAlias] = {}
        self.hazards: frozenset[tuple[str, str]] = frozenset()  # (color, type)
        self.word_source: WordSource = "train"  # the env sets "reserved" for its unseen_words split
        super().__init__(num_rows=1, num_cols=1, room_size=room_size, **kwargs)

    @property
    def rules_text(self) -> str:
        """The rules this episode states, one sentence each (the description's ``{rules}``)."""
        return " ".join(fact.sentence for fact in self.facts)

    # ---- generation ------------------------------------------------------------------
    def gen_mission(self):
        self.place_agent(0, 0)  # first, so that no object starts right next to the agent
        skill = self._rand_elem(self.skills)
        generate = {"roles": self._gen_roles, "words": self._gen_words, "hazards": self._gen_hazards,
                    "colors": self._gen_colors, "categories": self._gen_categories}
        instrs, facts, aliases, hazards = generate[self.rules.family](skill)
        self.check_objs_reachable()  # nothing has to be moved out of the way (nor touched)
        self.instrs, self.facts, self.object_aliases, self.hazards = instrs, tuple(facts), aliases, frozenset(hazards)

    def _add(self, kind: str, color: str):
        return self.add_object(0, 0, kind, color)[0]

    def _instruction(self, skill: str, target: tuple[str, str], other: tuple[str, str] | None = None):
        """``target``/``other`` are (color, type); ``other`` is put next to's fixed object."""
        desc = ObjDesc(target[1], target[0])
        if skill == "putnext":
            return PutNextInstr(desc, ObjDesc(other[1], other[0]))
        return GoToInstr(desc) if skill == "goto" else PickupInstr(desc)

    def _fill(self, placed: list, allowed: list[tuple[str, str]]) -> None:
        while len(placed) < self.num_objs:
            color, kind = self._rand_elem(allowed)
            placed.append(self._add(kind, color))

    def _shuffled(self, items: list) -> list:
        return self._rand_subset(items, len(items))

    def _episode_words(self) -> tuple[str, ...]:
        """The spec's fixed words, or fresh ones from this episode's generator."""
        if not self.rules.fresh_words:
            return self.rules.words
        return fresh_words(self.np_random, self.rules.fresh_words, self.word_source)

    def _gen_roles(self, skill: str):
        words = self._episode_words()
        pairs = [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES]
        bound = self._rand_subset(pairs, len(words))  # role i names the only object of bound[i]
        taken = set(bound)
        placed = [self._add(t, c) for c, t in bound]
        for color, kind in bound:  # a same-type and a same-colour object, so half a binding is not enough
            if not any(o.type == kind and o.color != color for o in placed):
                placed.append(self._add(kind, self._rand_elem([c for c in COLOR_NAMES if (c, kind) not in taken])))
            if not any(o.color == color and o.type != kind for o in placed):
                placed.append(self._add(self._rand_elem([t for t in OBJECT_TYPES if (color, t) not in taken]), color))
        self._fill(placed, [p for p in pairs if p not in taken])
        if skill == "putnext":
            used = self._rand_subset(range(len(words)), 2)
            instrs = self._instruction(skill, bound[used[0]], bound[used[1]])
        else:
            used = [self._rand_int(0, len(words))]
            instrs = self._instruction(skill, bound[used[0]])
        facts = [Fact("role", words[i], bound[i][0], bound[i][1], used=i in used)
                 for i in self._shuffled(list(range(len(words))))]
        aliases = {(t, c): ObjectAlias(noun=word, color=False, article="definite") for word, (c, t) in zip(words, bound)}
        return instrs, facts, aliases, ()

    def _gen_words(self, skill: str):
        words = self._episode_words()
        meaning = dict(zip(words, self._rand_subset(OBJECT_TYPES, len(words))))
        count = 2 if skill == "putnext" else 1
        named = [self._rand_elem(words) for _ in range(count)]
        targets = [(self._rand_color(), meaning[word]) for word in named]
        if len(set(targets)) != len(targets):
            raise RejectSampling("put next to names the same object twice")
        placed = [self._add(t, c) for c, t in targets]
        for color, kind in targets:  # same colour, every other type: the colour alone is not enough
            for other in OBJECT_TYPES:
                if other != kind and not any(o.color == color and o.type == other for o in placed):
                    placed.append(self._add(other, color))
        self._fill(placed, [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES if (c, t) not in targets])
        instrs = self._instruction(skill, *targets)
        facts = [Fact("word", word, None, meaning[word], used=word in named) for word in self._shuffled(list(words))]
        aliases = {(kind, None): ObjectAlias(noun=word) for word, kind in meaning.items()}
        return instrs, facts, aliases, ()

    def _gen_hazards(self, skill: str):
        kind = self._rand_elem(OBJECT_TYPES)
        color, *hazard_colors = self._rand_subset(COLOR_NAMES, 1 + self.rules.hazards)
        placed = [self._add(kind, color)] + [self._add(kind, c) for c in hazard_colors]
        others = [(c, t) for t in OBJECT_TYPES if t != kind for c in COLOR_NAMES]
        self._fill(placed, others)
        if skill == "putnext":
            fixed = self._rand_elem([o for o in placed if o.type != kind])
            instrs = self._instruction(skill, (color, kind), (fixed.color, fixed.type))
        else:
            instrs = self._instruction(skill, (color, kind))
        facts = [Fact("hazard", None, c, kind, used=True) for c in hazard_colors]
        return instrs, facts, {(kind, color): ObjectAlias(color=False)}, [(c, kind) for c in hazard_colors]

    def _named(self, skill: str) -> tuple[bool, ...]:
        """Which of the mission's objects are named through the rule: the one object of go to /
        pick up; for put next to each of the two, at least one."""
        if skill != "putnext":
            return (True,)
        return self._rand_elem([(True, False), (False, True), (True, True)])

    def _put_unique(self, placed: list, targets: list[tuple[str, str]]) -> None:
        for color, kind in targets:
            if any((o.color, o.type) == (color, kind) for o in placed):
                raise RejectSampling("put next to names the same object twice")
            placed.append(self._add(kind, color))

    def _gen_colors(self, skill: str):
        words = self._episode_words()
        named = self._named(skill)
        targets = [(self._rand_color(), self._rand_elem(OBJECT_TYPES)) for _ in named]
        colors = list(dict.fromkeys(c for (c, _), by_word in zip(targets, named) if by_word))
        placed: list = []
        self._put_unique(placed, targets)
        for (color, kind), by_word in zip(targets, named):
            if not by_word:
                continue
            # Another of its type in another colour, another of its colour of another type: neither
            # the colour word nor the type alone picks the target out.
            if not any(o.type == kind and o.color != color for o in placed):
                placed.append(self._add(kind, self._rand_elem([c for c in COLOR_NAMES if c != color])))
            if not any(o.color == color and o.type != kind for o in placed):
                placed.append(self._add(self._rand_elem([t for t in OBJECT_TYPES if t != kind]), color))
        self._fill(placed, [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES if (c, t) not in targets])
        # The other words are distractors, bound first to colours that are in the room.
        present = self._shuffled(list(dict.fromkeys(o.color for o in placed if o.color not in colors)))
        absent = self._shuffled([c for c in COLOR_NAMES if c not in colors and c not in present])
        meaning = dict(zip(words, (colors + present + absent)[:len(words)]))
        word_of = {color: word for word, color in meaning.items()}
        instrs = self._instruction(skill, *targets)
        facts = [Fact("color", word, meaning[word], None, used=meaning[word] in colors)
                 for word in self._shuffled(list(words))]
        aliases = {(kind, color): ObjectAlias(color_word=word_of[color])
                   for (color, kind), by_word in zip(targets, named) if by_word}
        return instrs, facts, aliases, ()

    def _gen_categories(self, skill: str):
        words = self._episode_words()
        pairs = self._rand_subset(CATEGORY_PAIRS, len(words))
        meaning = {word: tuple(self._shuffled(list(pair))) for word, pair in zip(words, pairs)}  # either order
        chosen = [self._rand_elem(words) if by_word else None for by_word in self._named(skill)]
        targets = [(self._rand_color(), self._rand_elem(meaning[w] if w else OBJECT_TYPES)) for w in chosen]
        # A target named "the red dobel" is the only red object of the dobel's types: no other
        # object may take those (colour, type) pairs, the other target included.
        banned = {(c, t) for (c, kind), w in zip(targets, chosen) if w for t in meaning[w] if t != kind}
        if banned & set(targets):
            raise RejectSampling("put next to's other object has the colour and category of the first")
        placed: list = []
        self._put_unique(placed, targets)
        free = [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES if (c, t) not in banned and (c, t) not in targets]
        for (color, kind), word in zip(targets, chosen):
            if word is None:
                continue
            outside = next(t for t in OBJECT_TYPES if t not in meaning[word])
            if not any((o.color, o.type) == (color, outside) for o in placed):  # the colour alone is not enough
                if (color, outside) in banned:
                    raise RejectSampling("the colour's object outside one category is inside the other's")
                placed.append(self._add(outside, color))
            for covered in meaning[word]:  # the noun alone is not enough
                if not any(o.type == covered and o.color != color for o in placed):
                    placed.append(self._add(covered, self._rand_elem([c for c, t in free if t == covered and c != color])))
        self._fill(placed, free)
        instrs = self._instruction(skill, *targets)
        facts = [Fact("category", word, None, meaning[word][0], used=word in chosen, type2=meaning[word][1])
                 for word in self._shuffled(list(words))]
        aliases = {(kind, color): ObjectAlias(noun=word) for (color, kind), word in zip(targets, chosen) if word}
        return instrs, facts, aliases, ()

    # ---- dynamics --------------------------------------------------------------------
    def touches_hazard(self, action) -> bool:
        """Whether ``action`` would touch a hazard: move into, pick up or toggle the object in front."""
        if not self.hazards or action not in (self.actions.forward, self.actions.pickup, self.actions.toggle):
            return False
        front = self.grid.get(*self.front_pos)
        return front is not None and (front.color, front.type) in self.hazards

    def step(self, action):
        touched = self.touches_hazard(action)
        obs, reward, terminated, truncated, info = super().step(action)
        if touched:  # the rule the description states: the game ends, as a failure
            return obs, 0, True, truncated, dict(info, hazard=True)
        return obs, reward, terminated, truncated, info
