"""A description's objects written the way every training description writes them.

Every description the agent trained on names an object by its colour, then its noun, and lists a
room's objects with commas ("a red ball, two grey keys and a blue door"). Its pointer reads a
description worded otherwise worse. Of 50 worlds each, with the shipped default (greedy): with
"a ball that is blue" HazardRoom fell to 41 and CategoryRoom to 36; with the objects listed
between semicolons, which end a sentence for the reader, HazardRoom fell to 34; with "three balls
(red, blue and grey)", to 27; with "the gray box", to 43. :func:`usual_form` rewrites those
wordings over the worlds' own colour and type words, and all of them read 50 of 50 after. A
description already in the usual form is returned unchanged: what the agent trained on reads as
before.

- **"gray"** is the world's "grey" (the lexicon's own spelling table, as instructions read it).
- **A colour said after its noun** goes before it: "a ball that is blue", "two keys which are
  grey", "a box coloured red", "a key painted in green", "the ball in purple", "a door of yellow
  colour", "a key whose colour is red", "a box with a green colour", "a ball (blue)", "a ball (a
  blue one)", "the box, the red one". Not where a colour already stands before the noun, nor where
  a noun follows the colour ("the key in the red box" says where the key is).
- **Objects counted together and coloured after** are counted one colour at a time: "three balls
  (red, blue and grey)", "two keys, one green and one yellow", "two boxes: a red one and a purple
  one" read "a red ball, a blue ball, a grey ball" and so on. Only where the colours add up to the
  count.
- **One object** is "a" object: "one red ball" reads "a red ball" (the pointer copied a
  neighbour's colour with it from "one purple box, one green key").
- **Objects listed between semicolons** are listed with commas, the last one after "and":
  "one blue ball; one red box; two green keys." Only where each item is an object phrase (a
  number or article, at most two more words, an object noun); a semicolon between clauses ("Keep
  clear of the red box; one touch ends the game.") stays.
"""

from __future__ import annotations

import functools
import re

from instructed_rl.language.lexicon import GREY_SPELLINGS, QUALITY_NOUNS
from instructed_rl.language.vocabulary import COLORS, NUMBER_WORDS, OBJECT_TYPES, plural

_COLOR = "|".join(COLORS)
_OTHER_SPELLING = re.compile(rf"\b(?:{'|'.join(GREY_SPELLINGS)})\b", re.IGNORECASE)  # "gray": the world's grey
_NOUN = "|".join(sorted({*OBJECT_TYPES, *(plural(kind) for kind in OBJECT_TYPES)}, key=len, reverse=True))
# The lexicon's nouns of a quality ("of yellow colour"), and "paint" ("with a green paint").
_QUALITY = rf"(?:{'|'.join(sorted((QUALITY_NOUNS - {'one', 'ones'}) | {'paint'}, key=len, reverse=True))})"
# What may stand between a noun and its colour said after it, each ending right before the colour.
_LINKS = (
    r"\s*,?\s*(?:that|which)\s+(?:is|are)\s+(?:(?:coloured|colored|painted)\s+(?:in\s+)?)?",
    r"\s*,?\s*that's\s+",
    r"\s+(?:coloured|colored|painted|tinted)\s+(?:in\s+)?",
    r"\s+in\s+",
    r"\s+of\s+(?:a\s+)?",                      # "of yellow colour": the quality noun must follow
    r"\s+whose\s+" + _QUALITY + r"\s+is\s+",
    r"\s+with\s+(?:a\s+)?",                    # "with a green colour": the quality noun must follow
    r"\s*\(\s*(?:an?\s+)?",                    # "(blue)", "(a blue one)": the bracket must close
    r"\s*,\s*(?:the|a)\s+",                    # ", the red one": "one" must follow
)
_COLOR_AFTER_NOUN = re.compile(
    rf"\b(?P<noun>{_NOUN})(?P<link>{'|'.join(f'(?:{link})' for link in _LINKS)})(?P<color>{_COLOR})\b"
    rf"(?P<tail>\s+(?:{_QUALITY}|ones?)\b(?:\s*\))?|\s*\))?",
    re.IGNORECASE)
_COUNTS = {word: n for n, word in NUMBER_WORDS.items()} | {"one": 1, "a": 1, "an": 1}
_HOW_MANY = rf"(?:{'|'.join(_COUNTS)}|\d+)"
_PLURAL_NOUN = "|".join(plural(kind) for kind in OBJECT_TYPES)
_COUNTED_ITEM = rf"(?:{_HOW_MANY})\s+(?:{_COLOR})(?:\s+ones?)?"  # "one green", "a red one", "two grey"
_COLORED_ITEM = rf"(?:{_COUNTED_ITEM}|(?:{_COLOR}))"  # in brackets the count may go: "(red, blue and grey)"
_ITEMS = rf"{_COLORED_ITEM}(?:\s*,\s*{_COLORED_ITEM})*(?:\s*,?\s+and\s+{_COLORED_ITEM})?"
_COUNTED_ITEMS = rf"{_COUNTED_ITEM}(?:\s*,\s*{_COUNTED_ITEM})*\s*,?\s+and\s+{_COUNTED_ITEM}"
_COUNTED_TOGETHER = re.compile(
    rf"\b(?P<count>{_HOW_MANY})\s+(?P<noun>{_PLURAL_NOUN})\s*(?:\((?P<bracketed>\s*{_ITEMS}\s*)\)"
    rf"|[,:]\s*(?P<listed>{_COUNTED_ITEMS})\b)", re.IGNORECASE)
_ONE_ITEM = re.compile(rf"(?:(?P<count>{_HOW_MANY})\s+)?(?P<color>{_COLOR})", re.IGNORECASE)
_ONE_OBJECT = re.compile(rf"\bone(?=\s+(?:{_COLOR})\s+(?:{'|'.join(OBJECT_TYPES)})\b)", re.IGNORECASE)
_COLOR_BEFORE = re.compile(rf"\b(?:{_COLOR})\s*$", re.IGNORECASE)
_NOUN_AFTER = re.compile(rf"\s*(?:{_COLOR}\s+)*(?:{_NOUN})\b", re.IGNORECASE)
_ITEM = rf"\s*\b{_HOW_MANY}\s+(?:[^\W\d_]+\s+){{0,2}}(?:{_NOUN})\s*"  # "one red box", "two keys"
_ITEM_END = re.compile(rf"{_ITEM}(?:\s+here\s*)?(?=[;.!?]|$)", re.IGNORECASE)
_ITEM_START = re.compile(rf"{_ITEM}$", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def usual_form(description: str) -> str:
    """``description`` with its objects worded as the training descriptions word them (see the
    module docstring); unchanged where it already is."""
    text = _OTHER_SPELLING.sub(_respelt, description)
    text = _listed_with_commas(_colors_before_nouns(_counted_one_colour_at_a_time(text)))
    return _ONE_OBJECT.sub(lambda match: "A" if match.group()[0] == "O" else "a", text)


def _respelt(match: re.Match) -> str:
    word = GREY_SPELLINGS[match.group().lower()]
    return word.capitalize() if match.group()[0].isupper() else word


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _COUNTS[word.lower()]


def _counted_one_colour_at_a_time(text: str) -> str:
    def spelt_out(match: re.Match) -> str:
        noun = match.group("noun").lower()
        kind = next(kind for kind in OBJECT_TYPES if plural(kind) == noun)
        counts: dict[str, int] = {}
        for item in _ONE_ITEM.finditer(match.group("bracketed") or match.group("listed")):
            color = item.group("color").lower()
            counts[color] = counts.get(color, 0) + (_count(item.group("count")) if item.group("count") else 1)
        if sum(counts.values()) != _count(match.group("count")):
            return match.group()
        return ", ".join(f"a {color} {kind}" if n == 1 else f"{NUMBER_WORDS.get(n, str(n))} {color} {plural(kind)}"
                         for color, n in counts.items())
    return _COUNTED_TOGETHER.sub(spelt_out, text)


def _colors_before_nouns(text: str) -> str:
    def moved(match: re.Match) -> str:
        link, tail = match.group("link").strip().lower(), (match.group("tail") or "").strip().lower()
        if link.startswith(("of", "with")) and not re.match(_QUALITY, tail):  # "a key of yellow" is not its colour
            return match.group()
        if link.startswith("(") and not tail.endswith(")"):
            return match.group()
        if link.startswith(",") and not link.startswith((", that", ", which", ",that", ",which")) \
                and tail != ("ones" if match.group("noun").lower().endswith("s") else "one"):
            return match.group()  # "the box, the red one"; not "a key, a red ball" or "two keys, a red one"
        if _COLOR_BEFORE.search(text, 0, match.start()) or _NOUN_AFTER.match(text, match.end()):
            return match.group()
        color, noun = match.group("color"), match.group("noun")
        if noun[:1].isupper():  # "Balls that are red are ...": the colour starts the sentence now
            color, noun = color.capitalize(), noun.lower()
        return f"{color} {noun}"
    return _COLOR_AFTER_NOUN.sub(moved, text)


def _listed_with_commas(text: str) -> str:
    """Semicolons between object phrases as commas, the last as "and"."""
    pieces = re.split(r"(;)", text)
    if len(pieces) == 1:
        return text
    joins = [i for i in range(1, len(pieces), 2)
             if _ITEM_START.search(pieces[i - 1]) and _ITEM_END.match(pieces[i + 1])]
    if not joins:
        return text
    runs: list[list[int]] = []
    for i in joins:
        if runs and runs[-1][-1] == i - 2:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        for i in run[:-1]:
            pieces[i] = ","
        pieces[run[-1]] = " and"
    return "".join(pieces)
