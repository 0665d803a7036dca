"""Fresh invented words, drawn per episode, so that no word-to-meaning binding can be memorised.

Games whose rules live in the description (:mod:`instructed_rl.games.rules`) can name their
role words and invented nouns afresh every episode (``rules: {fresh_words: 3}``). The words
are pronounceable syllable strings ("tapomi", "gelkur") from a space of a few million, so a
training run almost never sees the same word bound twice: the only way to act well is to read
the description.

Two disjoint sources:

- ``train``: syllables built only from :data:`TRAIN_CONSONANTS`.
- ``reserved``: every word has at least one onset from :data:`RESERVED_CONSONANTS`, letters that
  training never produces at all. The ``unseen_words`` split draws from it, so its words (and
  their tokenizer pieces) are guaranteed never to have appeared in a training episode.

Neither source yields a colour, an object type, or a word of any shipped corpus or description
template (:func:`is_blocked`).
"""

from __future__ import annotations

import functools
import re
from typing import Literal

import numpy as np

WordSource = Literal["train", "reserved"]
WORD_SOURCES: tuple[str, ...] = ("train", "reserved")
TRAIN_CONSONANTS = tuple("bdfgklmnprst")
RESERVED_CONSONANTS = tuple("vzjw")
VOWELS = tuple("aeiou")
CODAS = ("", "", "", "n", "r", "l", "s")  # an open syllable is the most common
MIN_SYLLABLES, MAX_SYLLABLES = 2, 3
# Colours, types and the closed-class words every game uses; corpus words are added lazily.
_ALWAYS_BLOCKED = frozenset(
    "red green blue purple yellow grey gray ball box key door object wall floor goal lava agent "
    "the a an is are of to in on at it its and or not then after before next one two three this that "
    "game room world ends means thing things".split())


@functools.lru_cache(maxsize=1)
def _corpus_words() -> frozenset[str]:
    """Every word of the shipped corpora and description templates (a fresh word must not be one)."""
    from instructed_rl.games.descriptions import template_words
    from instructed_rl.resources import corpora_dir

    words: set[str] = set(template_words())
    for path in corpora_dir().glob("*.yaml"):
        words.update(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    return frozenset(words)


def is_blocked(word: str) -> bool:
    """Whether ``word`` is a colour, a type, a closed-class word or a word of a shipped corpus."""
    return word in _ALWAYS_BLOCKED or word in _corpus_words()


def source_of(word: str) -> WordSource | None:
    """Which source could have generated ``word`` (None: neither)."""
    letters = set(word)
    if not re.fullmatch(r"[a-z]+", word):
        return None
    allowed = set(TRAIN_CONSONANTS) | set(RESERVED_CONSONANTS) | set(VOWELS) | {c for c in CODAS if c}
    if not letters <= allowed:
        return None
    return "reserved" if letters & set(RESERVED_CONSONANTS) else "train"


def _syllable(rng: np.random.Generator, onsets: tuple[str, ...]) -> str:
    return onsets[int(rng.integers(len(onsets)))] + VOWELS[int(rng.integers(len(VOWELS)))] + \
        CODAS[int(rng.integers(len(CODAS)))]


def fresh_word(rng: np.random.Generator, source: WordSource = "train") -> str:
    """One pronounceable invented word from ``source`` (see the module docstring)."""
    if source not in WORD_SOURCES:
        raise ValueError(f"unknown word source {source!r}; use one of {', '.join(WORD_SOURCES)}")
    while True:
        count = int(rng.integers(MIN_SYLLABLES, MAX_SYLLABLES + 1))
        if source == "train":
            word = "".join(_syllable(rng, TRAIN_CONSONANTS) for _ in range(count))
        else:  # at least one reserved onset, the others from either set
            reserved_at = int(rng.integers(count))
            both = TRAIN_CONSONANTS + RESERVED_CONSONANTS
            word = "".join(_syllable(rng, RESERVED_CONSONANTS if i == reserved_at else both) for i in range(count))
        if not is_blocked(word):
            return word


def fresh_words(rng: np.random.Generator, count: int, source: WordSource = "train") -> tuple[str, ...]:
    """``count`` distinct fresh words."""
    words: list[str] = []
    while len(words) < count:
        word = fresh_word(rng, source)
        if word not in words:
            words.append(word)
    return tuple(words)
