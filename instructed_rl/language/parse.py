"""Read an instruction back into structure, using the corpus that phrases it.

The parser is driven entirely by the corpus: every skill and sequence template (training and
held-out) becomes a pattern, and object phrases are read with the corpus's object templates
and words. So a corpus that adds a connective ("{a}; next, {b}") or a synonym ("sphere") is
understood without code changes.

What it parses: any instruction the corpus can generate, i.e. BabyAI's grammar — a skill
(go to / pick up / open / put next to an object), two skills joined by an ``and`` template, and
one ``before``/``after`` template joining two of those. What it cannot: phrasings or object
words the corpus does not contain, and more than one level of before/after nesting. For the
sequence executor, :func:`plan` falls back to splitting on connectives alone when the parts are
phrased in words the corpus does not know (the policy may still understand them).

    >>> from instructed_rl.language.corpus import load_corpus
    >>> parsed = parse_instruction("open the red door after you pick up a ball", load_corpus("babyai"))
    >>> [step.text for step in parsed.steps()]
    ['pick up a ball', 'open the red door']
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Iterator

from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    AndInstr,
    BeforeInstr,
    GoToInstr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

from instructed_rl.errors import UserError
from instructed_rl.language.corpus import SEQUENCE_SLOTS, SKILL_SLOTS, Corpus
from instructed_rl.language.instructions import leaves_in_order
from instructed_rl.language.order import COPULAS, EDGE_PUNCTUATION, ENDING_ANAPHORS, doing_order
from instructed_rl.language.vocabulary import COLORS, OBJECT_TYPES

_COLORS = COLORS
_TYPES = OBJECT_TYPES + ("object",)
_LOCATIONS = ("front", "behind", "left", "right")
_ARTICLES = ("definite", "indefinite")


class ParseError(UserError):
    """The text is not an instruction the corpus can express."""


def normalize(text: str) -> str:
    return " ".join(text.lower().replace("\u00a0", " ").split()).rstrip(".!?")


@dataclass(frozen=True)
class ObjectRef:
    type: str | None
    color: str | None
    loc: str | None
    phrase: str

    def desc(self) -> ObjDesc:
        return ObjDesc(self.type, self.color, self.loc)

    def to_dict(self) -> dict[str, str | None]:
        return {"type": self.type, "color": self.color, "loc": self.loc}


@dataclass(frozen=True)
class Parsed:
    kind: str
    text: str
    obj: ObjectRef | None = None
    obj2: ObjectRef | None = None
    a: "Parsed | None" = None
    b: "Parsed | None" = None

    @property
    def is_sequence(self) -> bool:
        return self.kind in SEQUENCE_SLOTS

    def steps(self) -> list["Parsed"]:
        """Single-skill parts in the order to do them ("A after you B" is B, then A)."""
        if not self.is_sequence:
            return [self]
        first, second = (self.b, self.a) if self.kind == "after" else (self.a, self.b)
        return first.steps() + second.steps()

    def objects(self) -> list[ObjectRef]:
        if self.is_sequence:
            return self.a.objects() + self.b.objects()
        return [o for o in (self.obj, self.obj2) if o is not None]

    def to_dict(self) -> dict:
        """Same shape as the env's ``info["instruction"]``."""
        if self.is_sequence:
            return {"kind": self.kind, "a": self.a.to_dict(), "b": self.b.to_dict()}
        data = {"kind": self.kind, "obj": self.obj.to_dict()}
        if self.obj2 is not None:
            data["obj2"] = self.obj2.to_dict()
        return data

    def to_verifier(self):
        """A fresh minigrid verifier for this instruction (call ``reset_verifier(level)`` on it)."""
        if self.kind == "goto":
            return GoToInstr(self.obj.desc())
        if self.kind == "pickup":
            return PickupInstr(self.obj.desc())
        if self.kind == "open":
            return OpenInstr(self.obj.desc())
        if self.kind == "putnext":
            return PutNextInstr(self.obj.desc(), self.obj2.desc())
        cls = {"and": AndInstr, "before": BeforeInstr, "after": AfterInstr}[self.kind]
        return cls(self.a.to_verifier(), self.b.to_verifier())


# ---- patterns built from a corpus ----------------------------------------------------------

def _words_pattern(words: dict[str, str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _literal(text: str) -> str:
    return r"\s*".join(re.escape(part) for part in text.split()) if text.strip() else ""


class _CorpusGrammar:
    """Compiled patterns for one corpus (built once per corpus, cached on the parser)."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.lookup: dict[str, dict[str, str]] = {}
        for slot, keys in (("color", _COLORS), ("type", _TYPES), ("location", _LOCATIONS), ("article", _ARTICLES)):
            self.lookup[slot] = {normalize(w): key for key in keys for w in corpus.words[key]}
        self.object_patterns = [self._object_pattern(t) for t in corpus.object_templates]
        self.skill_templates = [(kind, t) for kind in SKILL_SLOTS
                                for heldout in (False, True) for t in corpus.templates(kind, heldout=heldout)]
        self.sequence_templates = [(kind, t) for kind in SEQUENCE_SLOTS
                                   for heldout in (False, True) for t in corpus.templates(kind, heldout=heldout)]

    def _object_pattern(self, template: str) -> re.Pattern:
        pieces = []
        for literal, slot, _, _ in string.Formatter().parse(template):
            if literal.strip():
                pieces.append(_literal(literal))
            if slot is not None:
                group = f"(?P<{slot}>{_words_pattern(self.lookup[slot])})"
                pieces.append(group if slot == "type" else f"(?:{group})?")
        return re.compile("^" + r"\s*".join(pieces) + "$")

    def parse_object(self, text: str) -> ObjectRef | None:
        text = normalize(text)
        for pattern in self.object_patterns:
            match = pattern.match(text)
            if match:
                groups = match.groupdict()

                def key(slot):
                    return self.lookup[slot].get(groups.get(slot)) if groups.get(slot) else None

                kind = key("type")
                return ObjectRef(type=None if kind == "object" else kind, color=key("color"),
                                 loc=key("location"), phrase=text)
        return None

    def without_location(self, phrase: str) -> str:
        """An object phrase without the words that say where it is from the agent: "it" in a later
        part names the object already reached, where "behind you" no longer holds."""
        ref = self.parse_object(phrase)
        if ref is None or ref.loc is None:
            return phrase
        for words in sorted(self.lookup["location"], key=len, reverse=True):
            found = re.search(rf"(?:^|\s){re.escape(words)}(?=\s|$)", phrase)
            if found is not None and self.lookup["location"][words] == ref.loc:
                return normalize(phrase[:found.start()] + phrase[found.end():])
        return phrase


def _at_word_boundary(text: str, begin: int, end: int) -> bool:
    before_ok = begin == 0 or not (text[begin - 1].isalnum() and text[begin].isalnum())
    after_ok = end >= len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
    return before_ok and after_ok


def _splits(template: str, text: str) -> Iterator[dict[str, str]]:
    """Every way ``text`` fills the template's slots (each slot non-empty)."""
    parts = list(string.Formatter().parse(template))
    literals = [normalize(lit) for lit, _, _, _ in parts]
    slots = [slot for _, slot, _, _ in parts if slot is not None]
    if len(parts) > len(slots):  # trailing literal with no slot after it
        tail = literals[-1]
    else:
        tail = ""
    literals = literals[:len(slots)]

    def fill(position: int, index: int, values: dict[str, str]):
        if index == len(slots):
            rest = text[position:].strip()
            if rest == tail:
                yield dict(values)
            return
        literal = literals[index]
        # the literal before slot `index` must come next (separated by whitespace or directly)
        if literal:
            remainder = text[position:].lstrip()
            begin = len(text) - len(remainder)
            if not remainder.startswith(literal) or not _at_word_boundary(text, begin, begin + len(literal)):
                return
            position = begin + len(literal)
        next_literal = literals[index + 1] if index + 1 < len(slots) else tail
        if index + 1 == len(slots) and not next_literal:
            value = text[position:].strip()
            if value:
                yield from fill(len(text), index + 1, {**values, slots[index]: value})
            return
        start = position
        while True:
            found = text.find(next_literal, start + 1) if next_literal else -1
            if found < 0:
                return
            start = found
            if not _at_word_boundary(text, found, found + len(next_literal)):
                continue  # "and" inside "wander" is no connective
            value = text[position:found].strip()
            if value:
                yield from fill(found, index + 1, {**values, slots[index]: value})

    yield from fill(0, 0, {})


class InstructionParser:
    def __init__(self, corpus: Corpus):
        self.grammar = _CorpusGrammar(corpus)

    def parse_skill(self, text: str) -> Parsed | None:
        for kind, template in self.grammar.skill_templates:
            for values in _splits(template, text):
                objects = {slot: self.grammar.parse_object(value) for slot, value in values.items()}
                if all(objects.values()):
                    if kind == "open" and objects["door"].type != "door":
                        continue
                    first = objects.get("door") or objects.get("obj")
                    return Parsed(kind=kind, text=text, obj=first, obj2=objects.get("obj2"))
        return None

    def parse(self, text: str, *, depth: int = 0) -> Parsed | None:
        """Sequences first (before/after, then and), then single skills: BabyAI's grammar."""
        text = normalize(text)
        order = ("before", "after", "and") if depth == 0 else ("and",)
        for wanted in order:
            for kind, template in self.grammar.sequence_templates:
                if kind != wanted:
                    continue
                for values in _splits(template, text):
                    a = self.parse(values["a"], depth=depth + 1) if kind != "and" else self.parse_skill(values["a"])
                    b = self.parse(values["b"], depth=depth + 1) if kind != "and" else self.parse_skill(values["b"])
                    if a is not None and b is not None:
                        return Parsed(kind=kind, text=text, a=a, b=b)
        return self.parse_skill(text)

    def split_loosely(self, text: str) -> list[str]:
        """Connectives only, parts left as free text (less the punctuation that joined them):
        for phrasings the corpus does not know. Parts joined by "and" must name an object or
        point back at one ("go and stand by the door" is one part); a pronoun that points back
        reads as the object the part before names first ("pick up the red ball, then put it next
        to the box": "put the red ball next to the box")."""
        parts = self._split_at_connectives(normalize(text).strip(EDGE_PUNCTUATION))
        return [self.resolved(part, before) for before, part in zip([None] + parts[:-1], parts)]

    def _split_at_connectives(self, text: str) -> list[str]:
        for wanted in ("before", "after", "and"):
            for kind, template in self.grammar.sequence_templates:
                if kind != wanted:
                    continue
                for values in _splits(template, text):
                    first, second = (values["b"], values["a"]) if kind == "after" else (values["a"], values["b"])
                    first, second = first.strip(EDGE_PUNCTUATION), second.strip(EDGE_PUNCTUATION)
                    if kind == "and" and not all(self._names_object(p) or _has_pronoun(p) for p in (first, second)):
                        continue
                    if kind == "and" and first.split()[-1] in ONE_ACT_VERBS:
                        continue  # "..., plus go and find the grey door": one act
                    if kind != "and" and any(_opens_with_a_state(p) for p in (first, second)):
                        continue  # "X, and once you have it, Y": the clause points back at X; not "Y once you X"
                    return self._split_at_connectives(first) + self._split_at_connectives(second)
        return [text]

    def resolved(self, part: str, before: str | None) -> str:
        """``part`` with its pronouns replaced by the first object phrase of ``before``, where no object
        of its own comes before them."""
        if before is None or not _has_pronoun(part):
            return part
        phrase = self._first_object(before)
        if phrase is None:
            return part
        phrase = self.grammar.without_location(phrase)
        words = part.split()  # a pronoun after an object of its own part is that object's ("move X so it sits ...")
        pronouns = pronoun_positions(words)
        return " ".join(phrase if index in pronouns and self._first_object(" ".join(words[:index])) is None else word
                        for index, word in enumerate(words))

    def _first_object(self, text: str) -> str | None:
        words = text.split()
        for start in range(len(words)):
            for end in range(len(words), start, -1):
                if self.grammar.parse_object(" ".join(words[start:end])):
                    return " ".join(words[start:end])
        return None

    def _names_object(self, text: str) -> bool:
        """Whether ``text`` holds an object phrase, or an article (whose noun may be a word the
        description defines)."""
        text = normalize(text).strip(EDGE_PUNCTUATION)
        return any(word in self.grammar.lookup["article"] for word in text.split()) or self._first_object(text) is not None


PRONOUNS = frozenset({"it", "them"})
# Verbs that "and" joins to the verb after them as one act: "go and find the door", "come and get it".
ONE_ACT_VERBS = frozenset({"go", "come", "try", "run", "hurry"})
# "make it" before a word of going names nothing: "make it to the box" is "reach the box" ("make it open" is the door).
IDIOM_VERBS = frozenset({"make", "makes", "made", "making"})
IDIOM_GOING_WORDS = frozenset({"to", "over", "up", "across", "into", "onto", "there", "back", "through", "all"})


def pronoun_positions(words: list[str]) -> list[int]:
    """Where ``words`` hold a pronoun that names an object ("put it next to the box"), not one of an idiom."""
    def idiom(i: int) -> bool:
        return 0 < i < len(words) - 1 and words[i - 1] in IDIOM_VERBS and words[i + 1] in IDIOM_GOING_WORDS

    return [i for i, word in enumerate(words) if word in PRONOUNS and not idiom(i)]


# Words of a clause that only says the part before is done ("have it", "are done", "'ve got that"):
# the order words' own ending words and verbs of being, with having and its objects.
_STATE_WORDS = ENDING_ANAPHORS | COPULAS | {"have", "has", "got", "ve", "you", "it", "that", "this", "them", "done",
                                            "so", "with", "all"}


def _opens_with_a_state(text: str) -> bool:
    """Whether ``text`` opens with a clause, up to a comma, of state words alone, and goes on after it."""
    clause, comma, rest = text.partition(",")
    words = re.findall(r"[a-z]+", clause.lower())
    return bool(comma and rest.strip() and words) and all(word in _STATE_WORDS for word in words)


def _has_pronoun(text: str) -> bool:
    return bool(pronoun_positions(text.split()))


_PARSERS: dict[int, tuple[Corpus, InstructionParser]] = {}


def parser_for(corpus: Corpus) -> InstructionParser:
    cached = _PARSERS.get(id(corpus))
    if cached is None or cached[0] is not corpus:
        cached = (corpus, InstructionParser(corpus))
        _PARSERS[id(corpus)] = cached
    return cached[1]


def parse_instruction(text: str, corpus: Corpus) -> Parsed:
    """Structured instruction for ``text``, or a one-line :class:`ParseError`."""
    parsed = parser_for(corpus).parse(text)
    if parsed is None:
        raise ParseError(f"cannot read {normalize(text)!r} with corpus {corpus.name}. Fix: phrase it like "
                         f"'{corpus.templates('goto')[0].format(obj='the red ball') if corpus.templates('goto') else 'go to the red ball'}'"
                         f" or pass the corpus that uses this wording")
    return parsed


def plan(text: str, corpus: Corpus) -> list[str]:
    """The parts of an instruction in the order to do them; one part when it is not a sequence.
    Parts split at connectives alone are put in order by their order words (:mod:`.order`)."""
    parsed = parser_for(corpus).parse(text)
    if parsed is not None:
        return [step.text for step in parsed.steps()]
    return doing_order(parser_for(corpus).split_loosely(text))


def carried_match(desc: ObjDesc, level):
    """What the agent carries, where ``desc`` names it, else None (a phrase with a place names a
    cell in the room, never the hands)."""
    held = level.carrying
    if held is None or desc.loc is not None:
        return None
    return held if desc.type in (None, held.type) and desc.color in (None, held.color) else None


def missing_objects(parsed: Parsed, level) -> list[str]:
    """Object phrases of the instruction that match nothing in the world, hands included."""
    missing = []
    for ref in parsed.objects():
        desc = ref.desc()
        objs, _ = desc.find_matching_objs(level)
        # minigrid's search lets "a grey object" match the grey walls
        if not any(obj.type != "wall" for obj in objs) and carried_match(desc, level) is None:
            missing.append(ref.phrase)
    return missing


def reset_verifier_with_hands(verifier, level) -> None:
    """``verifier.reset_verifier(level)``, and what the agent carries among the objects of each
    phrase that names it: minigrid's verifier looks for them on the grid alone, so "put the ball
    next to the key" with the ball in hand could never succeed."""
    verifier.reset_verifier(level)
    for leaf in leaves_in_order(verifier):
        for desc in (leaf.desc_move, leaf.desc_fixed) if isinstance(leaf, PutNextInstr) else (leaf.desc,):
            held = carried_match(desc, level)
            if held is not None and not any(obj is held for obj in desc.obj_set):
                desc.obj_set.append(held)
