"""Rule sentences reworded for reading practice: many ways to state one rule, built from parts.

The games state each rule with one of a few training templates ("The treasure is the green
ball."). A pointer trained on those alone learns where the bound words stand in those few
sentences, and a description worded otherwise is read worse ("Look for the green ball; that
one is the treasure."). The text-only reading steps therefore restate some rules with a small
grammar: a statement core in either order (the word first or the object first), a choice of
verb or punctuation that binds them, and optional openings and closings, so the pointer must
learn what a sentence binds rather than where a template puts it.

Only the families agents train on have a grammar here (roles, invented nouns, hazards); colour
words and categories stay families no training has seen. No core uses the verbs of the games'
held-out templates ("goes by", "stands for", "whenever you hear", "if you touch"), so the
``unseen_descriptions`` split stays unseen. Objects are always "colour type" in that order: the
pointer copies words in the order the description has them.
"""

from __future__ import annotations

import numpy as np

from instructed_rl.games.descriptions import fact_slots

# {W}: the word as the mission uses it; {O}: the object it is bound to, colour before type.
ROLE_CORES = (
    "{W} is {O}", "{W} means {O}", "{W} refers to {O}", "{W} denotes {O}", "{W}: {O}", "{W}, that is, {O}",
    "{W} will be {O}", "{W} here is {O}", "{O} is {W}", "{O} counts as {W}", "{O} serves as {W}",
    "{O} acts as {W}", "{O} is what we call {W}", "{O} is labelled {W}", "{O}: {W}", "{O} has the role of {W}",
    "we call {O} {W}", "let {O} be {W}", "take {O} as {W}", "treat {O} as {W}", "look for {O}; that one is {W}",
    "{O}, and nothing else, is {W}", "you may regard {O} as {W}", "{W} is played by {O}",
)
ROLE_WORDS = ("the {word}", "the {word}", "{word}", "your {word}", "the one called {word}")
ROLE_OBJECTS = ("the {color} {type}", "the {color} {type}", "that {color} {type}", "this {color} {type}",
                "the {color} {type} in the room", "the {color} {type} you can see")
WORD_CORES = (
    "{A_word} is {a_type}", "{a_type} counts as {a_word}", "the term {word} refers to {a_type}",
    "{word} denotes {a_type}", "{Word}: {a_type}", "{a_type} is labelled {a_word}", "we use {word} for {a_type}",
    "by {word} we mean {a_type}", "{word} is our word for {type}", "any {type} is {a_word}", "call {a_type} {a_word}",
    "if you see {a_type}, that is {a_word}", "{a_type}, or {a_word}, as we say", "{A_word}? That is {a_type}",
    "the thing called {a_word} is {a_type}", "{word} is simply {a_type}",
)
HAZARD_CORES = (
    "{O} is poisonous", "{O} is lethal", "{O} will end your game", "contact with {O} is fatal",
    "do not go near {O}", "give {O} a wide berth", "{O} must not be touched", "{O} is off limits",
    "stay away from {O}", "do not handle {O}", "{O} is a trap", "{O} ends the episode when touched",
    "{O} is forbidden to touch", "touching {O} is not allowed", "{O} is cursed: leave it alone",
)
OPENINGS = ("", "", "", "Note that ", "Remember: ", "In this game, ", "Here, ", "For this task, ", "Know that ",
            "Bear in mind that ", "Today, ", "Listen: ", "Important: ", "As a rule, ")
CLOSINGS = ("", "", "", " here", " in this room", " for this game", " today", ", remember", ", by the way",
            " from now on")
ENDINGS = (".", ".", ".", "!")
TRAINED_FAMILIES = ("role", "word", "hazard")


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def reworded(kind: str, word: str | None, color: str | None, type_: str, rng: np.random.Generator) -> str | None:
    """A fresh statement of one rule of family ``kind``; None for a family without a grammar here."""
    if kind not in TRAINED_FAMILIES:
        return None
    slots = fact_slots(word, color, type_)
    if kind == "word":
        core = _pick(rng, WORD_CORES).format(**slots)
    else:
        obj = _pick(rng, ROLE_OBJECTS).format(**slots)
        if kind == "role":
            core = _pick(rng, ROLE_CORES).format(W=_pick(rng, ROLE_WORDS).format(**slots), O=obj)
        else:
            core = _pick(rng, HAZARD_CORES).format(O=obj)
    sentence = _pick(rng, OPENINGS) + core + _pick(rng, CLOSINGS) + _pick(rng, ENDINGS)
    return sentence[0].upper() + sentence[1:]
