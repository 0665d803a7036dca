"""Environment descriptions: one template family for every game, BabyAI level ids included.

A description is a few sentences, each phrased from one of several templates and shuffled
into a random order every episode:

- the **layout** (one room without doors, one room with doors, N rooms joined by doors, and
  whether some doors are locked), read off the level itself, so any BabyAI level gets the
  same wordings as the project's own games;
- the **contents** ("It holds a red ball and two grey keys.");
- one sentence per **rule** the world states (games whose rules live in the description, see
  :mod:`instructed_rl.games.rules`), including rules the mission does not use.

Every kind of sentence has training templates and held-out templates. The ``unseen_descriptions``
split phrases every sentence with held-out templates only; every other split never uses them.
So an agent that keys on one exact wording, rather than reading, shows it as a gap between a
game's ``test`` and ``unseen_descriptions`` splits.

A game spec may still give a fixed ``description:`` template (``"One room. It holds {objects}.
{rules}"``); it is then used as written, every episode, in every split except
``unseen_descriptions`` (held-out templates). ``description: auto`` (the default) uses the family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from instructed_rl.language.vocabulary import NUMBER_WORDS, plural

AUTO = "auto"


@dataclass(frozen=True)
class Templates:
    """Training and held-out wordings of one kind of sentence."""

    train: tuple[str, ...]
    heldout: tuple[str, ...]

    def pick(self, rng: np.random.Generator, *, heldout: bool) -> str:
        options = self.heldout if heldout else self.train
        return options[int(rng.integers(len(options)))]


LAYOUTS: dict[str, Templates] = {
    "room": Templates(
        train=("A single room with no doors.", "One room, no doors.", "You are in a room without doors.",
               "The world is one closed room.", "This is a small room with four walls and no door."),
        heldout=("Everything happens inside one doorless room.", "There is only a single room here, and it has no doors."),
    ),
    "room_doors": Templates(
        train=("A room with a closed door in each wall.", "One room with doors in its walls.",
               "You are in a room that has doors.", "The world is one room; its walls have doors."),
        heldout=("A lone room whose walls are fitted with doors.", "Doors are set into the walls of this single room."),
    ),
    "rooms": Templates(
        train=("{rooms} rooms joined by doors.", "A maze of {rooms} rooms connected by doors.",
               "You are in one of {rooms} rooms linked by doors.", "The world has {rooms} rooms with doors between them."),
        heldout=("This place is a grid of {rooms} rooms that open onto each other through doors.",
                 "Doors connect the {rooms} rooms of this world."),
    ),
    "locked": Templates(
        train=("Some doors are locked.", "A few doors are locked.", "Not every door is open: some are locked."),
        heldout=("Certain doors need a key.", "You will find locked doors here."),
    ),
}
CONTENTS = Templates(
    train=("It holds {objects}.", "You see {objects}.", "There are {objects} here.", "The world contains {objects}.",
           "Objects: {objects}.", "In it are {objects}."),
    heldout=("Scattered around you will find {objects}.", "Lying about are {objects}."),
)
# Rule sentences, by :class:`instructed_rl.games.rule_facts.Fact` kind. Slots: {word} {Word} {color}
# {type} {a_type} {types} {a_word} {A_word}; see :func:`fact_slots`.
RULES: dict[str, Templates] = {
    "role": Templates(
        train=("The {word} is the {color} {type}.", "The {color} {type} is the {word}.",
               "Call the {color} {type} the {word}.", "The {word} means the {color} {type}.",
               "We refer to the {color} {type} as the {word}.", "By the {word} we mean the {color} {type}.",
               "Your {word} is the {color} {type}.", "The {color} {type} is known as the {word}."),
        heldout=("Whenever you hear {word}, think of the {color} {type}.", "The {color} {type} goes by the name {word}."),
    ),
    "word": Templates(
        train=("{A_word} is {a_type}.", "{Word} means {type}.", "Every {word} is {a_type}.", "A {type} is called {a_word}.",
               "The word {word} names {a_type}.", "{Word} is another word for {type}.",
               "{A_word} is what we call {a_type}."),
        heldout=("In this world the word {word} stands for {a_type}.", "People here say {word} when they mean {a_type}."),
    ),
    "hazard": Templates(
        train=("Touching the {color} {type} ends the game.", "Do not touch the {color} {type}: it ends the game.",
               "The {color} {type} is deadly to touch.", "Stay away from the {color} {type}: touching it ends the game.",
               "The {color} {type} is a hazard.", "Avoid the {color} {type} at all costs.",
               "Never touch the {color} {type}.", "Beware of the {color} {type}.", "The {color} {type} is dangerous."),
        heldout=("If you touch the {color} {type}, you lose.", "Keep clear of the {color} {type}; one touch and the game is over."),
    ),
    "color": Templates(
        train=("{Word} means {color}.", "A {word} thing is {color}.", "The colour {color} is called {word}.",
               "Things that are {color} are {word}.", "{Word} is the word for {color}.",
               "Here {color} things are called {word}.", "Read {word} as {color}."),
        heldout=("In this world, {word} is the name for {color}.", "When you hear {word}, picture something {color}."),
    ),
    "category": Templates(
        train=("A {word} is {a_type} or {a_type2}.", "{Word}s are {types} and {types2}.",
               "Both {types} and {types2} count as {word}s.", "The word {word} covers {types} and {types2}."),
        heldout=("Here, {types} and {types2} alike are known as {word}s.", "Anything that is {a_type} or {a_type2} is {a_word}."),
    ),
}


def _indefinite(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def fact_slots(word: str | None, color: str | None, kind: str, kind2: str | None = None) -> dict[str, str]:
    """Every slot a rule template may use, for one fact."""
    word = word or ""
    slots = {"word": word, "Word": word.capitalize(), "color": color or "", "type": kind,
             "a_type": _indefinite(kind), "types": plural(kind), "a_word": _indefinite(word),
             "A_word": _indefinite(word).capitalize()}
    if kind2 is not None:
        slots.update(type2=kind2, a_type2=_indefinite(kind2), types2=plural(kind2))
    return slots


def phrase(template: str, slots: dict[str, str]) -> str:
    text = template.format(**slots)
    return text[:1].upper() + text[1:]


def layout_of(level) -> tuple[str, int, bool]:
    """(layout kind, number of rooms, any locked door) of a minigrid level. A world whose only room
    in use (holding the agent or an object) is one room is described as one room: SkillRoom's
    empty outer rooms are not part of the game."""
    doors = [obj for obj in level.grid.grid if obj is not None and obj.type == "door"]
    locked = any(getattr(door, "is_locked", False) for door in doors)
    rooms = [room for row in getattr(level, "room_grid", []) for room in row]
    if not rooms:
        return ("room_doors" if doors else "room"), 1, locked
    agent = tuple(level.agent_pos)
    used = [room for room in rooms if room.objs or _inside(room, agent)]
    if len(used) > 1:
        return "rooms", len(rooms), locked
    own_doors = used and any(door is not None for door in used[0].doors)
    return ("room_doors" if own_doors else "room"), 1, locked


def _inside(room, pos: tuple[int, int]) -> bool:
    (x, y), (w, h) = room.top, room.size
    return x < pos[0] < x + w - 1 and y < pos[1] < y + h - 1


def compose(level, *, objects: str, rule_sentences: list[str], rng: np.random.Generator, heldout: bool) -> str:
    """A whole description from the family: layout, contents and rules, in a random order."""
    kind, rooms, locked = layout_of(level)
    sentences = [phrase(LAYOUTS[kind].pick(rng, heldout=heldout), {"rooms": NUMBER_WORDS.get(rooms, str(rooms))})]
    if locked:
        sentences.append(LAYOUTS["locked"].pick(rng, heldout=heldout))
    sentences.append(phrase(CONTENTS.pick(rng, heldout=heldout), {"objects": objects}))
    sentences.extend(rule_sentences)
    order = rng.permutation(len(sentences))
    return " ".join(sentences[i] for i in order)


def all_templates() -> list[str]:
    groups = [*LAYOUTS.values(), CONTENTS, *RULES.values()]
    return [t for group in groups for t in (*group.train, *group.heldout)]


def template_words() -> frozenset[str]:
    """Every word the templates themselves use (fresh invented words must avoid them)."""
    words: set[str] = set()
    for template in all_templates():
        words.update(re.findall(r"[a-z]+", re.sub(r"\{[^}]*\}", " ", template).lower()))
    return frozenset(words)
