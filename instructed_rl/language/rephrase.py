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
objects are matched to slots in order of appearance). An instruction that already parses with the trained templates, or where no object
phrase is found, is returned unchanged, and so is a sequence (any connective of the corpus,
held-out ones included): the executor plans sequences first (see :mod:`instructed_rl.acting.executor`)
and each part is rephrased on its own.

Only held-out evaluation is affected: every training instruction parses, so is left as is.
``instructed-rl eval --no-rephrase`` measures the policy on the raw words (the ablation).
"""

from __future__ import annotations

import dataclasses
import string
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from instructed_rl.language.corpus import SKILL_SLOTS, Corpus
from instructed_rl.language.parse import InstructionParser, ObjectRef, normalize

# Neutral stand-ins for the object phrases, in slot order: the comparison is about the wording
# around the objects, not which objects they are.
NEUTRAL_OBJECTS = ("something", "something else")

Embed = Callable[[Sequence[str]], np.ndarray]  # one unit-length sentence vector per text


@dataclass(frozen=True)
class Rephrasing:
    """What the agent reads: ``text``; ``original`` as given; the trained ``template`` chosen and
    its cosine ``similarity`` (both None when the text was left unchanged)."""

    text: str
    original: str
    template: str | None = None
    similarity: float | None = None

    @property
    def changed(self) -> bool:
        return self.template is not None


@dataclass(frozen=True)
class _Template:
    kind: str
    text: str
    slots: tuple[str, ...]


def _slots_in_order(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def _corpus_words(corpus: Corpus) -> set[str]:
    """Every word the corpus's trained templates and object grammar use."""
    texts = [t for kind in SKILL_SLOTS for t in corpus.templates(kind)] + list(corpus.object_templates)
    texts += [phrase for phrases in corpus.words.values() for phrase in phrases]
    formatter = string.Formatter()
    return {word for text in texts for literal, _, _, _ in formatter.parse(normalize(text)) for word in literal.split()}


def _fits(template: _Template, objects: list[ObjectRef]) -> bool:
    """BabyAI's constraints: only doors open, doors are never picked up or moved."""
    if len(template.slots) != len(objects):
        return False
    first = objects[0]
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
        self.templates = [_Template(kind, template, _slots_in_order(template))
                          for kind in SKILL_SLOTS for template in self.trained.templates(kind)]
        if not self.templates:
            raise ValueError(f"corpus {corpus.name} has no skill templates to rephrase onto")
        self._template_vectors = self.embed([self._neutral(t.text) for t in self.templates])
        self._nearest: dict[tuple[str, tuple[bool, ...]], tuple[int, float]] = {}  # wording -> template

    @staticmethod
    def _neutral(template: str) -> str:
        names = dict(zip(_slots_in_order(template), NEUTRAL_OBJECTS))
        return template.format(**names)

    def find_objects(self, text: str) -> list[tuple[int, int, ObjectRef]]:
        """Object phrases as (first word, end word, reference), longest match first, left to right."""
        words = text.split()
        found, start = [], 0
        while start < len(words):
            for end in range(len(words), start, -1):
                ref = self.parser.grammar.parse_object(" ".join(words[start:end]))
                if ref is not None:
                    found.append((self._with_unknown_modifiers(words, start), end, ref))
                    start = end
                    break
            else:
                start += 1
        return found

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

    def __call__(self, text: str) -> Rephrasing:
        normalized = normalize(text)
        if self.parser.parse(normalized) is not None or len(self.connectives.split_loosely(normalized)) > 1:
            return Rephrasing(text, text)
        spans = self.find_objects(normalized)
        if not 0 < len(spans) <= len(NEUTRAL_OBJECTS):
            return Rephrasing(text, text)
        words = normalized.split()
        pieces, last = [], 0
        for index, (start, end, _) in enumerate(spans):
            pieces += words[last:start] + [NEUTRAL_OBJECTS[index]]
            last = end
        wording = " ".join(pieces + words[last:])
        objects = [ref for _, _, ref in spans]
        key = (wording, tuple(ref.type == "door" for ref in objects))
        if key not in self._nearest:
            allowed = [i for i, t in enumerate(self.templates) if _fits(t, objects)]
            if not allowed:
                return Rephrasing(text, text)
            similarity = self._template_vectors[allowed] @ self.embed([wording])[0]
            best = int(similarity.argmax())
            self._nearest[key] = (allowed[best], float(similarity[best]))
        index, similarity = self._nearest[key]
        template = self.templates[index]
        phrases = {slot: " ".join(words[start:end]) for slot, (start, end, _) in zip(template.slots, spans)}
        return Rephrasing(template.text.format(**phrases), text, template.text, similarity)
