"""Read an instruction worded in ways the agent never trained on as its nearest trained wording.

"drop the red ball beside the blue key" uses no verb the agent trained on. The rephraser finds
the object phrases with the corpus's own object grammar ("the red ball", "the blue key"),
replaces them by neutral words ("drop something beside something else"), and compares that
wording with every trained template filled the same way ("put something next to something
else", "go to something", ...) by the cosine of their sentence embeddings from the frozen
all-MiniLM-L6-v2, a model trained for paraphrase similarity. The nearest template with the
same number of objects (and objects it allows: only doors are opened, doors are never picked
up) is filled with the instruction's own object phrases: "put the red ball next to the blue
key".

What it can do: new verbs and prepositions around BabyAI's objects ("fetch", "crack open",
"carry X over to Y"), using the language knowledge of MiniLM, none of ours. Words it does not
know between an article and an object word stay with the object ("fetch the tapomi ball" reads
"grab the tapomi ball"): they may be names the environment description defines, and only the
policy can read those. What it cannot: object words the corpus does not know ("sphere" for
ball), more than two objects, or wordings that reverse the objects' roles ("next to Y, put X":
objects are matched to slots in order of appearance). An instruction that already parses with
the trained templates, or where no object phrase is found, is returned unchanged, and so is a
sequence (any connective of the corpus, held-out ones included): the executor plans sequences first (see :mod:`instructed_rl.acting.executor`)
and each part is rephrased on its own.

Only held-out evaluation is affected: every training instruction parses, so is left as is.
``instructed-rl eval --no-rephrase`` measures the policy on the raw words (the ablation).

Sequences whose connective the corpus does not know ("go to the red ball, next pick up the
blue key") are split the same way (:meth:`Rephraser.split`): their wording is compared with
every trained sequence template filled with one trained wording of each skill ("go to
something, then pick up something else", "pick up something after you go to something else",
...) and with the single skills; where a sequence is nearest, the text is cut after its first
written part's objects, and each piece is split again the same way ("X, next Y, next Z" is three
parts). Which part comes first is read from the order words in the parts ("before you", "but
first", "once you", "when you are done": :mod:`instructed_rl.language.order`), which sentence
similarity does not tell apart; only where no part has one does the nearest sequence's order stand.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import string
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from instructed_rl.language.corpus import SEQUENCE_SLOTS, SKILL_SLOTS, Corpus
from instructed_rl.language.lexicon import CLOSED_CLASS_WORDS, DETERMINERS, WORD, Lexicon, description_words
from instructed_rl.language.order import EDGE_PUNCTUATION, PLACING_PHRASES, doing_order, placement, without_placing_words
from instructed_rl.language.parse import InstructionParser, ObjectRef, normalize, pronoun_positions
from instructed_rl.language.understanding import corpus_words
from instructed_rl.language.wordnet import is_english_word, is_verb_of_going

# Neutral stand-ins for the object phrases, in slot order: the comparison is about the wording
# around the objects, not which objects they are.
NEUTRAL_OBJECTS = ("something", "something else", "a third thing", "a fourth thing")
SKILL_OBJECTS = 2  # at most, in one skill (put next to)
PUNCTUATION = re.compile(r"([,;:.?!])")
CLAUSE_END = re.compile(r"[;.?!]+(?=\s)")  # where one clause of an instruction ends and another begins

Embed = Callable[[Sequence[str]], np.ndarray]  # one unit-length sentence vector per text


@dataclass(frozen=True)
class Rephrasing:
    """What the agent reads: ``text``; ``original`` as given; the trained ``template`` chosen and
    its cosine ``similarity`` (both None when the text was left unchanged)."""

    text: str
    original: str
    template: str | None = None
    similarity: float | None = None
    replaced: tuple[tuple[str, str], ...] = ()  # (written, read) colour and object words, see lexicon

    @property
    def changed(self) -> bool:
        return self.template is not None or bool(self.replaced)


@dataclass(frozen=True)
class _Template:
    kind: str
    text: str
    slots: tuple[str, ...]


@dataclass(frozen=True)
class _Sequence:
    """A two-part wording, parts in written order: its neutral text, the skills written first and
    second, and whether acting reverses the written order ("{a} after you {b}")."""

    text: str
    parts: tuple[_Template, _Template]
    reverse: bool


def _slots_in_order(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def _corpus_words(corpus: Corpus) -> set[str]:
    """Every word the corpus's trained templates and object grammar use."""
    texts = [t for kind in SKILL_SLOTS for t in corpus.templates(kind)] + list(corpus.object_templates)
    texts += [phrase for phrases in corpus.words.values() for phrase in phrases]
    formatter = string.Formatter()
    return {word for text in texts for literal, _, _, _ in formatter.parse(normalize(text)) for word in literal.split()}


def _joined_pairs(corpus: Corpus, known: set[str]) -> dict[str, str]:
    """Two neighbouring words of the corpus's templates typed as one ("goto", "pickup", "nextto"):
    the joined form -> the two words, where the joined form is no word of the corpus itself."""
    formatter = string.Formatter()
    pairs = {}
    for kind in (*SKILL_SLOTS, *SEQUENCE_SLOTS):
        for template in corpus.templates(kind):
            for literal, _, _, _ in formatter.parse(normalize(template)):
                words = [w for w in literal.split() if w.isalpha()]
                for first, second in zip(words, words[1:]):
                    if first + second not in known:
                        pairs[first + second] = f"{first} {second}"
    return pairs


# Quotation marks around a word or phrase ("go to the 'dax'"), not an apostrophe inside one ("let's").
QUOTES = re.compile(r"(?<![^\W_])['\"\u2018\u2019\u201c\u201d]+|['\"\u2018\u2019\u201c\u201d]+(?![^\W_])")


# The state an act leaves, said of its object: "once the green door is open" is "once you open
# the green door", "after the red ball has been picked up" is "after you pick up the red ball".
_PHRASE = r"(?P<object>\b(?:the|a|an|that|this)\s+(?:[^\W\d_]+\s+){0,2}?[^\W\d_]+)"
_BEING = r"\s+(?:is|are|was|has\s+been|have\s+been|gets|got)\s+"
_STATES = (
    (re.compile(rf"{_PHRASE}{_BEING}(?:open|opened|unlocked)\b", re.IGNORECASE), "you open {object}"),
    (re.compile(rf"{_PHRASE}{_BEING}(?:picked\s+up|in\s+your\s+hands?)\b", re.IGNORECASE), "you pick up {object}"),
    (re.compile(rf"\bwith\s+{_PHRASE}\s+(?:open|opened|unlocked)\b", re.IGNORECASE), "once you open {object}"),
)


def _states_as_acts(text: str) -> str:
    """``text`` with the state an act leaves said as the act: the rephraser and the order words
    read acts ("once you open the green door, go to ..."), and a state was cut inside its clause."""
    for pattern, act in _STATES:
        text = pattern.sub(lambda match: act.format(object=match.group("object")), text)
    return text


def _spaced_words(text: str) -> list[str]:
    """The words of ``text`` with its punctuation as words of their own ("key," -> "key", ",")."""
    return PUNCTUATION.sub(r" \1 ", text).split()


def _clean_spacing(text: str) -> str:
    """Words joined back: punctuation on the word before it."""
    return re.sub(r" ([,;:.?!])", r"\1", text)


def _clean(part: str) -> str:
    """A part cut from a sentence: punctuation back on its word, none left at either end."""
    return _clean_spacing(part).strip(EDGE_PUNCTUATION)


# The type of an object phrase whose noun the corpus does not know ("the grey mufu"): it may
# be a name the description gives, which only the policy can read, so it fits any slot.
UNKNOWN_NOUN = "unknown noun"


# One-word order words ("then", "first"), and words that join without saying when: before a part's
# object they leave it without a verb of its own ("..., then the grey box").
PLACING_WORDS = frozenset(phrase[0] for phrase in PLACING_PHRASES if len(phrase) == 1) | {"and", "also", "now"}
# Words that count or own what follows: no "the" goes before them ("two keys", "your ball").
COUNT_WORDS = frozenset({"two", "three", "four", "each", "every", "all", "both", "no", "another", "other", "your", "my"})
NAMING_WORDS = frozenset({"called", "named", "nicknamed", "dubbed"})  # "the ball called Dax"
# Words that only show an object, no act on it: "there's a red ball", "see the blue key?", "that key".
PRESENTING_WORDS = frozenset({"see", "there", "there's", "here", "here's", "is", "are", "somewhere", "notice", "spot",
                              "look", "at", "that", "this", "you", "can", "do", "over", "in", "front", "of"})
# Words that say when, not what: a part with only these besides its object has no act of its own
# ("after that, the blue key"; "the red ball first").
VERBLESS_WORDS = PLACING_WORDS | {"after", "that", "this", "so", "which", "done", "finally", "lastly", "last", "first",
                                  "second", "third", "once", "please"}
# "go and fetch X" is "fetch X": after a verb of going and "and", the second verb says what to do,
# and sentence similarity weighs the first ("go and fetch something" lay nearest "go to something").
GOING_AND = ("go and ", "come and ", "run and ", "hurry and ")
# Words that, alone between two objects, put the first beside the second: no part ends there.
_NEXT_TO_WORDS = frozenset({"by", "beside", "besides", "near", "nearby", "next", "to", "close", "closer", "alongside",
                            "against", "toward", "towards", "adjacent", "right", "up", "side", "of", "at"})


def _says_where(between: list[str]) -> bool:
    """Whether the words between two object phrases only say where the first goes ("by", "next to")."""
    return bool(between) and all(word.lower() in _NEXT_TO_WORDS for word in between)


def _goes_to(before: list[str]) -> bool:
    """Whether the verb the words ``before`` an object end on is a verb of going ("head for the red
    ball"): MiniLM puts "head for something" and "run for something" nearest "get something"."""
    verb = next((word for word in reversed(before) if word.isalpha() and word not in CLOSED_CLASS_WORDS), None)
    return verb is not None and is_verb_of_going(verb)


def _fits(template: _Template, objects: list[ObjectRef]) -> bool:
    """BabyAI's constraints: only doors open, doors are never picked up or moved."""
    if len(template.slots) != len(objects):
        return False
    first = objects[0]
    if first.type == UNKNOWN_NOUN:
        return True
    if template.kind == "open":
        return first.type == "door"
    if template.kind in ("pickup", "putnext"):
        return first.type != "door"
    return True


class Rephraser:
    """Maps instructions onto the trained templates of ``corpus`` (its held-out ones are ignored)."""

    def __init__(self, corpus: Corpus, embed: Embed):
        self.trained = dataclasses.replace(corpus, heldout_skills={}, heldout_sequences={})
        self.parser = InstructionParser(self.trained)
        self.connectives = InstructionParser(corpus)  # every connective, held-out ones too: a sequence is left whole
        self.embed = embed
        self.articles = {w for key in ("definite", "indefinite") for phrase in corpus.words[key] for w in phrase.split()}
        self.known_words = _corpus_words(self.trained)
        self.joined = _joined_pairs(self.trained, self.known_words)
        self.lexicon = Lexicon(corpus.words, corpus_words(corpus), embed)
        self.location_phrases = [phrase.split() for phrase in self.parser.grammar.lookup["location"]]
        self.templates = [_Template(kind, template, _slots_in_order(template))
                          for kind in SKILL_SLOTS for template in self.trained.templates(kind)]
        if not self.templates:
            raise ValueError(f"corpus {corpus.name} has no skill templates to rephrase onto")
        self._template_vectors = self.embed([self._neutral(t.text) for t in self.templates])
        self._nearest: dict[tuple[str, tuple[str, ...]], tuple[int, float]] = {}  # wording -> template
        self._sequence_cache: dict[int, tuple[list[_Sequence], np.ndarray]] = {}
        self._rows_of_kind = {kind: [i for i, t in enumerate(self.templates) if t.kind == kind] for kind in SKILL_SLOTS}

    @staticmethod
    def _neutral(template: str) -> str:
        names = dict(zip(_slots_in_order(template), NEUTRAL_OBJECTS))
        return template.format(**names)

    def find_objects(self, words: list[str], names: frozenset[str] = frozenset()) -> list[tuple[int, int, ObjectRef]]:
        """Object phrases as (first word, end word, reference), longest match first, left to right;
        an article and words ending on one of ``names`` (nouns the description uses that the
        corpus does not know) are one too, of type :data:`UNKNOWN_NOUN`: "put the grey mufu next
        to the green key" has two objects where the description says what a mufu is."""
        found, start = [], 0
        while start < len(words):
            for end in range(len(words), start, -1):
                if not WORD.fullmatch(words[end - 1]):  # an object phrase ends on a word, not on "?"
                    continue
                ref = self.parser.grammar.parse_object(" ".join(words[start:end]))
                if ref is not None:
                    found.append((self._with_unknown_modifiers(words, start), end, ref))
                    start = end
                    break
            else:
                end = self._unknown_noun_phrase(words, start, names)
                if end is None:
                    start += 1
                else:
                    found.append((start, end, ObjectRef(UNKNOWN_NOUN, None, None, " ".join(words[start:end]))))
                    start = end
        return found

    def _unknown_noun_phrase(self, words: list[str], start: int, names: frozenset[str]) -> int | None:
        """Where an object phrase with a noun the corpus does not know ends, if one begins at
        ``start``: an article, colour words or unknown words up to the last of them that is one of ``names``,
        no object word after them ("the tapomi ball" is a ball, found as such), then a location
        phrase if any."""
        if words[start] not in self.articles:
            return None
        end = start + 1
        while end < len(words) and (words[end] in self.lexicon.colors
                                    or (WORD.fullmatch(words[end]) and words[end] not in self.known_words
                                        and words[end] not in CLOSED_CLASS_WORDS)):  # "the rekir so it ...": not "so"
            end += 1
        while end > start + 1 and words[end - 1] not in names:  # "the mulpe adjacent to ...": the noun is the name
            end -= 1
        if end == start + 1:
            return None
        if end < len(words) and words[end] in self.lexicon.nouns:
            return None
        for location in self.location_phrases:
            if words[end:end + len(location)] == location:
                return end + len(location)
        return end

    @staticmethod
    def _neutral_wording(words: list[str], spans: list[tuple[int, int, ObjectRef]]) -> str:
        pieces, last = [], 0
        for index, (start, end, _) in enumerate(spans):
            pieces += words[last:start] + [NEUTRAL_OBJECTS[index]]
            last = end
        return " ".join(pieces + words[last:])

    def _sequences(self, objects: int) -> tuple[list[_Sequence], np.ndarray]:
        """Every trained sequence template filled with each skill's first trained wording, for
        ``objects`` objects in all, and their sentence vectors (built once per count)."""
        if objects not in self._sequence_cache:
            firsts = {kind: self.trained.templates(kind)[0] for kind in SKILL_SLOTS if self.trained.templates(kind)}
            skills = [_Template(kind, text, _slots_in_order(text)) for kind, text in firsts.items()]
            readings = []
            for kind in SEQUENCE_SLOTS:
                for template in self.trained.templates(kind):
                    written = _slots_in_order(template)  # ("a", "b") or ("b", "a")
                    reverse = (written == ("a", "b")) == (kind == "after")
                    for first, second in itertools.product(skills, repeat=2):
                        if len(first.slots) + len(second.slots) != objects:
                            continue
                        names = iter(NEUTRAL_OBJECTS)
                        filled = [part.text.format(**{slot: next(names) for slot in part.slots})
                                  for part in (first, second)]
                        readings.append(_Sequence(template.format(**dict(zip(written, filled))), (first, second), reverse))
            vectors = self.embed([r.text for r in readings]) if readings else np.zeros((0, 1))
            self._sequence_cache[objects] = (readings, vectors)
        return self._sequence_cache[objects]

    def read_words(self, text: str, description: str = "") -> tuple[str, tuple[tuple[str, str], ...]]:
        """``text`` with the colour and object words the corpus does not know read as its own
        (:class:`instructed_rl.language.lexicon.Lexicon`), two of its words typed as one ("goto")
        apart and quotation marks left out, and what was replaced; ``text`` itself when nothing was."""
        unquoted = _states_as_acts(QUOTES.sub("", text))
        words = _spaced_words(normalize(unquoted))
        read, replaced = self.lexicon(words, description)
        if unquoted != text:  # no trained wording quotes a word or says a state; the policy reads "the dax"
            replaced.insert(0, (text.strip(), unquoted.strip()))
        named = description_words(description)
        for index, word in enumerate(read):  # "goto the red ball": two words typed as one
            if word in self.joined and word not in named:
                read[index] = self.joined[word]
                replaced.append((word, self.joined[word]))
        read = self._names_as_objects(read, f"{description} {unquoted}", named, replaced)
        read = self._with_articles(read, named, replaced)
        return (_clean_spacing(" ".join(read)), tuple(replaced)) if replaced else (text, ())

    def _names_as_objects(self, words: list[str], written: str, named: frozenset[str],
                          replaced: list[tuple[str, str]]) -> list[str]:
        """``words`` with a name the description gives said as an object, with "the": "go to Dax"
        reads "go to the Dax", and "the ball called Dax" reads "the Dax". Without an article the
        name was no object to the rephraser ("bring Dax to the green box" read "take the green
        box"). A name: a word of the description no trained wording uses, written with a capital
        inside a sentence or after an article (in the description or the instruction, ``written``),
        or no English word."""
        out: list[str] = []
        for word in words:
            if not self._is_name(word, written, named):
                out.append(word)
                continue
            called = len(out) >= 2 and out[-1] in NAMING_WORDS and out[-2] in self.lexicon.nouns
            if called:  # "the ball called Dax": the name says which ball
                start = len(out) - 2
                while start > 0 and out[start - 1] in self.lexicon.before_noun:
                    start -= 1
                replaced.append((" ".join(out[start:] + [word]), f"the {word}"))
                out[start:] = ["the", word]
            elif not out or out[-1] not in self.lexicon.before_noun | DETERMINERS.keys():
                replaced.append((word, f"the {word}"))
                out += ["the", word]
            else:
                out.append(word)
        return out

    def _with_articles(self, words: list[str], named: frozenset[str], replaced: list[tuple[str, str]]) -> list[str]:
        """``words`` with "the" before an object said without an article ("pick up blue ball",
        "put tufa box next to ..."), where a word of the corpus or the first word, a verb, stands
        before it (after another word it does not know, "fetch desmur box", the phrase may begin
        anywhere): every trained wording has one, and the policy read a copy into such a phrase
        worse (ColorRoom 27 of 30 worlds)."""
        out: list[str] = []
        for word in words:
            if word in self.lexicon.nouns and word != "object":
                start = len(out)
                while start > 0 and (out[start - 1] in self.lexicon.colors or (
                        out[start - 1] in named and out[start - 1] not in self.known_words
                        and out[start - 1] not in CLOSED_CLASS_WORDS)):
                    start -= 1
                before = out[start - 1] if start > 0 else None
                if before is None or ((before in self.known_words | CLOSED_CLASS_WORDS or start == 1)
                                      and before not in self.lexicon.before_noun | DETERMINERS.keys() | COUNT_WORDS):
                    replaced.append((" ".join(out[start:] + [word]), " ".join(["the", *out[start:], word])))
                    out.insert(start, "the")
            out.append(word)
        return out

    def _is_name(self, word: str, written: str, named: frozenset[str]) -> bool:
        """Whether ``word`` is a name the description gives (see :meth:`_names_as_objects`)."""
        if word not in named or word in self.known_words or word in CLOSED_CLASS_WORDS or not WORD.fullmatch(word):
            return False
        capital = re.search(rf"(?<![.!?:]\s)(?<=\s){re.escape(word[0].upper() + word[1:])}\b", written)
        a_noun = re.search(rf"\b(?:the|a|an|your|our|my)\s+{re.escape(word)}\b", written, re.IGNORECASE)
        return capital is not None or a_noun is not None or not is_english_word(word)

    def split(self, text: str, description: str = "") -> list[str]:
        """The parts of ``text`` in the order to do them, read by similarity where the corpus
        knows none of its connectives; ``[text]`` when it reads nearest as one skill. Colour and
        object words the corpus does not know are read first (:meth:`read_words`); words
        ``description`` uses are left as written.

        Whether it is a sequence: the whole wording's nearest trained wording, a sequence or a
        skill. Which sequence: the one whose wording and whose two skills are together nearest,
        each part's wording (the text cut after that sequence's first objects) compared with its
        skill's trained templates. Which part comes first: the order words in each, where the
        text has them (:func:`instructed_rl.language.order.doing_order`), else that sequence's order."""
        text, _ = self.read_words(text, description)
        names = description_words(description)
        parts = self._split_read(text, names)
        for index in range(1, len(parts)):  # in written order: "go to A, then B, then C" goes to C too
            parts[index] = self._with_verb_of(parts[index], parts[index - 1], names)
        parts = self._without_presenting(self._pronouns_named(doing_order(parts), names), names)
        return self._without_needless_goto([self._going_to_a_bare_object(part, names) for part in parts], description)

    def _going_to_a_bare_object(self, part: str, names: frozenset[str]) -> str:
        """``part`` as going to its object where it says one object and no act at all ("the red ball
        first, then the blue key"): going to it is part of every skill."""
        words = _spaced_words(part)
        spans = self.find_objects(words, names)
        if len(spans) != 1 or any(WORD.fullmatch(w) and w.lower() not in VERBLESS_WORDS
                                  for w in words[:spans[0][0]] + words[spans[0][1]:]):
            return part
        start = spans[0][0]
        return _clean_spacing(" ".join(words[:start] + ["go", "to"] + words[start:]))

    def _pronouns_named(self, parts: list[str], names: frozenset[str]) -> list[str]:
        """``parts`` where a pronoun left in a part, before any object of its own, is the first object
        of the part before: the grammar's own reading of pronouns knows only the corpus's nouns,
        not those the description defines ("find the golmurus and pick it up")."""
        named = parts[:1]
        for part in parts[1:]:
            words, before = _spaced_words(part), _spaced_words(named[-1])
            spans = self.find_objects(before, names)
            # "once you have it, go to the door": that "it" is had, not acted on
            comma = words.index(",") + 1 if "," in words else 0
            said = comma if comma and self.find_objects(words[comma:], names) else 0
            pronouns = [k for k in pronoun_positions(words) if k >= said and not self.find_objects(words[:k], names)]
            if spans and pronouns:
                phrase = self.parser.grammar.without_location(" ".join(before[spans[0][0]:spans[0][1]]))
                part = _clean_spacing(" ".join(phrase if k in pronouns else word for k, word in enumerate(words)))
            named.append(part)
        return named

    def _without_presenting(self, parts: list[str], names: frozenset[str]) -> list[str]:
        """``parts`` without a part that only shows an object ("the red ball: go to it", "see the
        blue key? pick it up", "that blue key, grab it") where the next part acts on it: read as a
        skill of its own, "the red ball" was picked up before it was gone to."""
        kept = []
        for part, following in zip(parts, [*parts[1:], None]):
            words = _spaced_words(part)
            spans = self.find_objects(words, names)
            shown = len(spans) == 1 and all(word.lower() in PRESENTING_WORDS or not WORD.fullmatch(word)
                                            for word in words[:spans[0][0]] + words[spans[0][1]:])
            if shown and following is not None:
                acted = self.find_objects(_spaced_words(following), names)
                if acted and acted[0][2] == spans[0][2]:
                    continue
            kept.append(part)
        return kept

    def _without_needless_goto(self, parts: list[str], description: str) -> list[str]:
        """``parts`` where going to an object said by where it is ("the ball on your left") right
        before a skill that acts on it is one part, that skill on the object as the going named it:
        the place holds from where the agent starts, not once the object is reached, and every
        skill goes to its object first."""
        kept: list[str] = []
        for part in parts:
            joined = self._acting_on_reached(kept[-1], part, description) if kept else None
            if joined is None:
                kept.append(part)
            else:
                kept[-1] = joined
        return kept

    def _acting_on_reached(self, reach: str, act: str, description: str) -> str | None:
        """``act`` on the object ``reach`` goes to, named as ``reach`` names it; None where ``reach``
        is no going to an object said by its place that ``act`` acts on next."""
        going = self.parser.parse(normalize(self(reach, description).text))
        acting = self.parser.parse(normalize(self(act, description).text))
        if going is None or acting is None or going.kind != "goto" or acting.kind not in ("pickup", "open", "putnext"):
            return None
        reached, acted = going.obj, acting.obj
        if reached.loc is None or (reached.type, reached.color) != (acted.type, acted.color) \
                or acted.loc not in (None, reached.loc):
            return None
        return acting.text.replace(acted.phrase, reached.phrase, 1)

    def _with_verb_of(self, part: str, before: str, names: frozenset[str]) -> str:
        """``part`` with the words that open ``before`` up to its first object where ``part`` has no
        verb of its own: "go to the red ball, then the grey box" goes to the box too."""
        words, earlier = _spaced_words(part), _spaced_words(before)
        own, theirs = self.find_objects(words, names), self.find_objects(earlier, names)
        if len(own) != 1 or not theirs or any(w.lower() not in VERBLESS_WORDS and WORD.fullmatch(w)
                                              for w in words[:own[0][0]]):
            return part
        verb = earlier[:theirs[0][0]]
        if not verb or all(w.lower() in PLACING_WORDS for w in verb):
            return part
        return " ".join(words[:own[0][0]] + [w for w in verb if w.lower() not in PLACING_WORDS] + words[own[0][0]:])

    def _clauses(self, text: str, names: frozenset[str]) -> list[str]:
        """``text`` cut where a clause ends (";", ".", "?", "!"); a clause that names no object
        ("X? too", "X. Thanks.") stays with the one before it (the first: with the one after)."""
        def names_object(clause: str) -> bool:  # a pronoun names the object of the clause before
            words = _spaced_words(clause)
            return bool(self.find_objects(words, names)) or bool(clauses and pronoun_positions(words))

        clauses: list[str] = []
        for clause in (c.strip() for c in CLAUSE_END.split(text)):
            if not clause.strip(" ,;:"):
                continue
            if clauses and not (names_object(clauses[-1]) and names_object(clause)):
                clauses[-1] = f"{clauses[-1]} {clause}"
            else:
                clauses.append(clause)
        return clauses

    def _split_read(self, text: str, names: frozenset[str]) -> list[str]:
        """:meth:`split` once the words are read, parts in the order the connectives say (the
        order words are read after, on all the parts together)."""
        normalized = normalize(text)
        parsed = self.parser.parse(normalized)
        if parsed is not None:
            return [step.text for step in parsed.steps()]
        clauses = self._clauses(normalized, names)
        if len(clauses) > 1:  # "X; after that, go and open Y", "X? Then Y": their own parts before any connective
            return [piece for clause in clauses for piece in self._split_read(clause, names)]
        loose = self.parser.split_loosely(normalized)  # trained connectives only: held-out ones are read
        if len(loose) > 1:  # each part may hold connectives of its own that the corpus does not know
            return [piece for part in loose for piece in self._split_read(part, names)]
        words = _spaced_words(normalized)
        spans = self.find_objects(words, names)
        if len(spans) == 1:  # "walk to the blue key, grab it": the pronoun names the key again
            words, spans = self._pronoun_spelled_out(words, spans[0], names)
        if len(spans) < 2:
            return [text]
        if len(spans) > len(NEUTRAL_OBJECTS):
            return self._split_at_commas(text, names)
        if len(spans) == 2 and _says_where(words[spans[0][1]:spans[1][0]]):
            return [text]  # "drop the red box by the grey ball": the second object says where the first goes
        objects = [ref for _, _, ref in spans]
        readings, vectors = self._sequences(len(spans))
        fitting = [i for i, r in enumerate(readings) if _fits(r.parts[0], objects[:len(r.parts[0].slots)])
                   and _fits(r.parts[1], objects[len(r.parts[0].slots):])]
        if not fitting:  # "stand by the blue door, plus go to the red box, ...": no two skills hold them all
            return self._split_at_commas(text, names)
        cuts = sorted({len(readings[i].parts[0].slots) for i in fitting})  # objects in the first written part
        pieces = {m: (words[:spans[m - 1][1]], words[spans[m - 1][1]:]) for m in cuts}
        texts = [self._neutral_wording(words, spans)]
        for m in cuts:
            texts += [self._neutral_wording(pieces[m][0], spans[:m]),
                      self._neutral_wording(pieces[m][1], [(a - spans[m - 1][1], b - spans[m - 1][1], r)
                                                           for a, b, r in spans[m:]])]
        texts[0] = without_placing_words(texts[0])  # "first drop X near Y" is one part placed first, not two
        embedded = self.embed([_clean(t) for t in texts])
        whole = embedded[0]
        part_vectors = {m: (embedded[1 + 2 * k], embedded[2 + 2 * k]) for k, m in enumerate(cuts)}
        single = [i for i, t in enumerate(self.templates) if len(spans) <= SKILL_OBJECTS and _fits(t, objects)]
        nearest_single = float((self._template_vectors[single] @ whole).max()) if single else -1.0
        if nearest_single >= float((vectors[fitting] @ whole).max()):
            return [text]

        def score(i: int) -> float:
            reading = readings[i]
            m = len(reading.parts[0].slots)
            return float(vectors[i] @ whole) + sum(self._nearest_of_kind(part.kind, vector)
                                                   for part, vector in zip(reading.parts, part_vectors[m]))

        reading = readings[max(fitting, key=score)]
        m = len(reading.parts[0].slots)
        parts = [_clean(" ".join(piece)) for piece in pieces[m]]
        parts[1] = self.parser.resolved(parts[1], parts[0])  # "after grabbing X, drop it next to Y": it is X
        if reading.reverse and not any(placement(part) for part in parts):  # order words, where any, decide
            parts = parts[::-1]
        # Either part may be a sequence itself ("X, next Y, next Z"); each is shorter than the text.
        return [piece for part in parts for piece in self._split_read(part, names)]

    def _split_at_commas(self, text: str, names: frozenset[str]) -> list[str]:
        """``text`` cut at its commas, each piece that names no object ("please") kept with the one
        before it (the first: with the one after), and each piece split again; ``[text]`` where that
        leaves one piece."""
        pieces: list[str] = []
        for piece in (p.strip() for p in text.split(",")):
            if not piece:
                continue
            if pieces and not (self.find_objects(_spaced_words(piece), names)
                               and self.find_objects(_spaced_words(pieces[-1]), names)):
                pieces[-1] = f"{pieces[-1]}, {piece}"
            else:
                pieces.append(piece)
        if len(pieces) < 2:
            return [text]
        return [part for piece in pieces for part in self._split_read(piece, names)]

    def _pronoun_spelled_out(self, words: list[str], span: tuple[int, int, ObjectRef],
                       names: frozenset[str]) -> tuple[list[str], list[tuple[int, int, ObjectRef]]]:
        """``words`` with the first pronoun after the one object ``span`` replaced by that object's
        phrase, and the objects found then; as they are where no pronoun follows."""
        start, end, _ = span
        pronoun = next((k for k in pronoun_positions(words) if k >= end), None)
        if pronoun is None:
            return words, [span]
        phrase = self.parser.grammar.without_location(" ".join(words[start:end])).split()
        words = words[:pronoun] + phrase + words[pronoun + 1:]
        return words, self.find_objects(words, names)

    def _nearest_of_kind(self, kind: str, vector: np.ndarray) -> float:
        """Cosine of ``vector`` with the nearest trained template of skill ``kind``."""
        return float((self._template_vectors[self._rows_of_kind[kind]] @ vector).max())

    def _with_unknown_modifiers(self, words: list[str], start: int) -> int:
        """Where the object phrase beginning at ``start`` really begins: before the words the
        corpus does not know that stand between it and an article ("the desmur box"); ``start``
        when there are none, or no article before them (then they are the wording's, as "fetch")."""
        first = start
        while first > 0 and words[first - 1] not in self.known_words:
            first -= 1
        if first < start and first > 0 and words[first - 1] in self.articles:
            return first - 1
        return start

    def __call__(self, text: str, description: str = "") -> Rephrasing:
        """What the policy reads for ``text`` (words ``description`` uses are left as written)."""
        original = text
        text, replaced = self.read_words(text, description)
        unchanged = Rephrasing(text, original, replaced=replaced)
        normalized = normalize(text)
        if self.parser.parse(normalized) is not None or len(self.connectives.split_loosely(normalized)) > 1:
            return unchanged
        words = _spaced_words(normalized)  # "the red key, thanks": "key" ends its object
        spans = self.find_objects(words, description_words(description))
        if not 0 < len(spans) <= SKILL_OBJECTS:
            return unchanged
        wording = self._neutral_wording(words, spans)
        wording = next((wording[len(going):] for going in GOING_AND if wording.startswith(going)), wording)
        objects = [ref for _, _, ref in spans]
        key = (wording, tuple(ref.type if ref.type in ("door", UNKNOWN_NOUN) else "" for ref in objects))  # what _fits reads
        if key not in self._nearest:
            allowed = [i for i, t in enumerate(self.templates) if _fits(t, objects)]
            if not allowed:
                return unchanged
            similarity = self._template_vectors[allowed] @ self.embed([wording])[0]
            best = int(similarity.argmax())
            if self.templates[allowed[best]].kind == "pickup" and _goes_to(words[:spans[0][0]]):
                going = [k for k, i in enumerate(allowed) if self.templates[i].kind == "goto"]
                best = max(going, key=lambda k: similarity[k], default=best)
            self._nearest[key] = (allowed[best], float(similarity[best]))
        index, similarity = self._nearest[key]
        template = self.templates[index]
        phrases = {slot: " ".join(words[start:end]) for slot, (start, end, _) in zip(template.slots, spans)}
        read = template.text.format(**phrases)
        if read == normalized:  # already a trained wording around words it does not know
            return unchanged
        return Rephrasing(read, original, template.text, similarity, replaced)
