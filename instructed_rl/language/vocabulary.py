"""The closed vocabulary of the worlds, defined once, from minigrid's own constants."""

from __future__ import annotations

from minigrid.core.constants import COLOR_TO_IDX

# red, green, blue, purple, yellow, grey: minigrid's index order. The reader's target head numbers
# its colour classes in this order, so saved agents depend on it.
COLORS: tuple[str, ...] = tuple(sorted(COLOR_TO_IDX, key=COLOR_TO_IDX.get))
OBJECT_TYPES: tuple[str, ...] = ("ball", "box", "key", "door")  # what an instruction can name
CARRIABLE_TYPES: tuple[str, ...] = ("ball", "box", "key")
# How descriptions count objects: "two grey keys" (a count over nine is written in digits).
NUMBER_WORDS: dict[int, str] = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def plural(kind: str) -> str:
    """An object type in the plural, as descriptions write it: "boxes", "keys"."""
    return "boxes" if kind == "box" else f"{kind}s"


# Every word an object type is said with, in either number: "ball", "balls", "box", "boxes", ...
OBJECT_NOUNS: frozenset[str] = frozenset({*OBJECT_TYPES, *(plural(kind) for kind in OBJECT_TYPES)})
# The same as one regular-expression choice, longest first ("boxes" before "box").
OBJECT_NOUN_PATTERN = "|".join(sorted(OBJECT_NOUNS, key=len, reverse=True))


def singulars(word: str) -> tuple[str, ...]:
    """What ``word`` is the plural of, if it is one by its ending ("boxes": box, boxe; "gates": gate)."""
    return tuple(word[:-n] for n, ending in ((2, "es"), (1, "s")) if word.endswith(ending))
