"""Can the agent place every word of an instruction? A check before acting on typed text.

An agent asked to "go to the unicorn" or "asdf qwerty" would still act, and often look as if it
succeeded. Before ``play`` (or ``demo`` or the web page) runs a typed instruction, this check finds
the words it cannot place:

- an **object word** (a word of a phrase that starts with an article or a colour and ends at
  its object type, not after a preposition of place: "the unicorn", "a red sphinx", "the tapomi
  ball", but not "off the floor") that is neither one of the corpus's object words, nor a slip of
  the keyboard for a colour or an object ("yelow"), nor a word the environment description uses
  ("the tapomi" is fine where the description says "The tapomi is the green ball.");
- text in which **nothing can be placed at all**: no colour, object type, corpus word or
  description word ("asdf qwerty zxcv", another language);
- text that says **what not to do** ("do not pick up the red ball"): no skill does that, and a
  reading that drops the "not" would do the opposite.

Verbs and other words the corpus never used are let through: a new wording of a known skill
("fetch the red ball") is what the agent is for. The check decides nothing about what a word
means; it only says that nothing the agent knows names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from instructed_rl.language import vocabulary
from instructed_rl.language.corpus import Corpus
from instructed_rl.language.lexicon import PLACE_PREPOSITIONS, WORD, description_words, misspelt

ARTICLES = frozenset({"the", "a", "an", "any", "that", "this"})
# Also pronouns right after an order word or "do" ("after that stand by the box", "do this"): there
# a phrase they open is an object's only when it reaches an object type ("after that red ball").
DEMONSTRATIVES = frozenset({"that", "this"})
POINTING_BACK_AFTER = frozenset({"after", "before", "once", "when", "following", "upon", "do", "doing", "done", "did"})
COLORS = frozenset(vocabulary.COLORS) | {"gray"}
TYPES = frozenset({"ball", "box", "key", "door", "object", "thing", "balls", "boxes", "keys", "doors", "objects"})
# Words that never name an object: a noun slot holding one of them is empty, not unknown.
FUNCTION_WORDS = frozenset(
    "the a an any that this to of on in at by with from into onto next beside near your you it its and or then "
    "after before first later once when while is are be one".split())


# Words that say what not to do: no skill does that, and a reading without them does the opposite.
NEGATIONS = frozenset({"not", "never", "dont", "without", "nor"})  # and any "...n't"
GROUNDING_FIX = "name objects with colours and the types ball, box, key or door, or words the description defines"


@dataclass(frozen=True)
class Understanding:
    """Which words of an instruction nothing names (empty ``unplaced``: the agent may try it)."""

    instruction: str
    unplaced: tuple[str, ...]
    reason: str = ""
    fix: str = GROUNDING_FIX

    @property
    def understood(self) -> bool:
        return not self.reason

    def message(self) -> str:
        words = ", ".join(f"'{w}'" for w in self.unplaced)
        return f"cannot ground {self.instruction!r}: {self.reason} ({words}). Fix: {self.fix}; --anyway runs it regardless"


def corpus_words(corpus: Corpus) -> frozenset[str]:
    """Every word the corpus can print: its templates (held-out ones too) and its object words."""
    texts: list[str] = list(corpus.object_templates)
    for section in (corpus.skills, corpus.sequences, corpus.heldout_skills, corpus.heldout_sequences):
        for templates in section.values():
            texts.extend(templates)
    for options in corpus.words.values():
        texts.extend(options)
    words: set[str] = set()
    for text in texts:
        words.update(w.lower() for w in WORD.findall(re.sub(r"\{[^}]*\}", " ", text)))
    return frozenset(words)


def negations_in(text: str) -> tuple[str, ...]:
    """The words of ``text`` that say what not to do ("not", "never", "don't"), in order."""
    tokens = [t.strip(".,;:!?\"()").replace("\u2019", "'") for t in text.lower().split()]
    return tuple(dict.fromkeys(t for t in tokens if t in NEGATIONS or t.endswith("n't")))


def check_instruction(instruction: str, *, corpus: Corpus, description: str = "") -> Understanding:
    """The words of ``instruction`` that neither the corpus nor ``description`` names; see the module doc."""
    words = [w.lower() for w in WORD.findall(instruction)]
    negations = negations_in(instruction)
    if negations:
        return Understanding(instruction, negations, "it says what not to do, and every skill says what to do",
                             fix="say what to do instead")
    known = corpus_words(corpus) | COLORS | TYPES | description_words(description)
    if not any(w in known and w not in FUNCTION_WORDS for w in words):
        unplaced = tuple(dict.fromkeys(w for w in words if w not in FUNCTION_WORDS)) or (instruction.strip(),)
        return Understanding(instruction, unplaced, "no word of it names a skill, colour or object the agent knows")
    unplaced = tuple(dict.fromkeys(w for w in _object_phrase_words(words) if w not in known and misspelt(w) is None))
    if unplaced:
        return Understanding(instruction, unplaced, "no object here is called that, and the description defines no such word")
    return Understanding(instruction, ())


def _object_phrase_words(words: list[str]) -> list[str]:
    """The content words of each phrase that opens with an article or a colour, up to its object
    type or the next function word ("the tapomi ball" -> tapomi, ball)."""
    found = []
    for index, word in enumerate(words):
        if word not in ARTICLES and not (word in COLORS and (index == 0 or words[index - 1] not in COLORS | ARTICLES)):
            continue
        if index > 0 and words[index - 1] in PLACE_PREPOSITIONS:  # "off the floor" says where, names no object
            continue
        phrase = []
        for follower in words[index + 1:]:
            if follower in FUNCTION_WORDS or follower in ARTICLES:
                break
            if follower not in COLORS:
                phrase.append(follower)
            if follower in TYPES:  # the phrase's noun ends it: "the key adjacent to the box", "the ball quickly"
                break
        pronoun = word in DEMONSTRATIVES and index > 0 and words[index - 1] in POINTING_BACK_AFTER
        if not pronoun or (phrase and phrase[-1] in TYPES):
            found += phrase
    return found
