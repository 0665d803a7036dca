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
- **Words said of one object inside the list** stand in a sentence of their own after it: "It
  holds a grey ball (the treasure), a red key and a box." reads "It holds a grey ball, a red key
  and a box. The grey ball (the treasure)." The pointer reads a rule from the sentence that holds
  it, and in a list every other object of the room stands in that sentence too. With a name or a
  hazard said so, in eight wordings ("(the dax)", ", which we call the dax", "whose name is dax",
  "[dangerous]", "which is toxic", "nobody should touch", ...), RoleRoom had fallen to 10-17 of 50
  worlds and HazardRoom to 27 (as with no hazard said at all); read out of the list, 50 and 49.
  Only after a bracket, a dash, a comma or a clause ("called ...", "which ...", "nobody may ...");
  a place ("a key in the red box") or "here" stays in the list.
- **Rules joined in one sentence** are a sentence each: "The dax is the red ball, and your wug is
  the blue key.", "... the red ball and your wug is ..." or "... the red ball, your wug is ...".
  In one sentence each rule offers the other's object to copy: with rules joined by ", and" or
  by "and" alone, RoleRoom had fallen to 21 of 50 worlds, WordRoom to 30, ColorRoom to 35 and
  CategoryRoom to 28-29. Cut only between two clauses that each name a colour or an object and
  say something of it with a word of their own: "Dobels are balls and keys", "You see a red ball
  and a blue key" and "one touch and the game is over" stay whole, and so does a clause that
  points back ("one room, and it has no doors").
- **A description written a line at a time** reads as sentences: lines that each list an object
  ("- a red ball") are one list after the line that leads in to them ("You see:"), and any other
  line ends its sentence, with or without a stop ("- dax = grey box"). Without a stop, two rules
  on two lines were one sentence to the pointer.
- **Objects said one a sentence**, or a list said in two sentences ("There are also ..."), are
  one list: "There is a red ball. There is a grey key." reads "There are a red ball and a grey key
  here." A hazard's safe object is copied from the list beside it; one object a sentence,
  HazardRoom had fallen to 32 of 50.
- **A pronoun that points to the sentence before** is said as the one object (or kind) that
  sentence names: "Do you see the red ball? We call it the dax." reads "... We call the red ball
  the dax." (role wordings so, text only: 76 of 160 read right before, 159 after).
- **What a rule is not** is left out ("the red ball (not the red key)", "The dax is not the red
  ball;"): the pointer copied the denied object too. **A colour said as a compound** ("a
  red-coloured ball") is the colour. **A slip of the keyboard** in an object phrase ("the grene
  ball", "a red bxo") is the word it misses.
"""

from __future__ import annotations

import functools
import re

from instructed_rl.language.lexicon import CLOSED_CLASS_WORDS, GREY_SPELLINGS, QUALITY_NOUNS, misspelt
from instructed_rl.language.vocabulary import COLORS, NUMBER_WORDS, OBJECT_NOUN_PATTERN, OBJECT_NOUNS, OBJECT_TYPES, plural

_COLOR = "|".join(COLORS)
_OTHER_SPELLING = re.compile(rf"\b(?:{'|'.join(GREY_SPELLINGS)})\b", re.IGNORECASE)  # "gray": the world's grey
_NOUN = OBJECT_NOUN_PATTERN
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
# One object phrase, colour optional: "a red ball", "two keys".
_OBJECT = rf"(?:(?:{_COLOR})\s+)?(?:{_NOUN})"
_COUNTED_OBJECT = rf"(?:{_HOW_MANY})\s+{_OBJECT}"
_ITEM = rf"\s*\b{_HOW_MANY}\s+(?:[^\W\d_]+\s+){{0,2}}(?:{_NOUN})\s*"  # "one red box", "two keys"
_ITEM_END = re.compile(rf"{_ITEM}(?:\s+here\s*)?(?=[;.!?]|$)", re.IGNORECASE)
_ITEM_START = re.compile(rf"{_ITEM}$", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def usual_form(description: str) -> str:
    """``description`` with its objects worded as the training descriptions word them (see the
    module docstring); unchanged where it already is."""
    text = _COLOR_COMPOUND.sub(r"\g<color>", _slips_mended(_BAR.sub(". ", description)))
    text = _lines_as_sentences(_OTHER_SPELLING.sub(_respelt, _without_denials(text)))
    text = _listed_with_commas(_colors_before_nouns(_counted_one_colour_at_a_time(text)))
    text = _ONE_OBJECT.sub(lambda match: "A" if match.group()[0] == "O" else "a", text)
    return _objects_for_pronouns(_clauses_as_sentences(_rules_out_of_lists(_objects_said_one_by_one_as_a_list(text))))


# A bar between parts of a description ("Objects: ... | dax: the red ball") ends a sentence.
_BAR = re.compile(r"(?<![.!?;:])\s*\|\s*")
# A colour said as a compound: "a red-coloured ball" is a red ball.
_COLOR_COMPOUND = re.compile(rf"\b(?P<color>{_COLOR})-(?:coloured|colored|painted|tinted|hued)\b", re.IGNORECASE)
# An object said to be what a rule is not: "(not the red key)", ", not the red key", "rather than
# the red key"; and a clause that denies a binding, "The dax is not the red ball;", "The red ball is
# not the dax.".
_DENIED_OBJECT = re.compile(rf"\s*(?:\(\s*(?:and\s+|but\s+)?not\s+(?:the|a|an)\s+(?:(?:{_COLOR})\s+)?(?:{_NOUN})\s*\)"
                            rf"|,\s*(?:and\s+|but\s+)?not\s+(?:the|a|an)\s+(?:(?:{_COLOR})\s+)?(?:{_NOUN})\s*(?=[,.;!?]|$)"
                            rf"|\s(?:rather\s+than|instead\s+of)\s+(?:the|a|an)\s+(?:(?:{_COLOR})\s+)?(?:{_NOUN})\b)",
                            re.IGNORECASE)
_DENIED_CLAUSE = re.compile(rf"(?:^|(?<=[.!?;]\s))(?:[^.!?;]*?\b(?:is|are)(?:\s+not|n't)\s+(?:the|a|an)\s+(?:(?:{_COLOR})\s+)?"
                            rf"(?:{_NOUN})\b[^.!?;]*|\s*(?:the|a|an)\s+(?:{_COLOR})\s+(?:{_NOUN})\s+(?:is|are)(?:\s+not|n't)\s+"
                            rf"(?:(?:the|a|an|your|our)\s+)?[^\W\d_]+\s*)[.!?;]\s*", re.IGNORECASE)


def _without_denials(text: str) -> str:
    """``text`` without what it says a rule is not: the pointer copies from the sentence that
    holds a name, and a denied object there is copied as well ("The dax is the red ball (not the
    red key)." read "the ball red key"). Only a denied object: "Do not touch the red box." and
    "The red box is not safe to touch." say what a rule is, and stay."""
    kept = _DENIED_CLAUSE.sub("", _DENIED_OBJECT.sub("", text)).rstrip() + text[len(text.rstrip()):]
    return kept[:1].upper() + kept[1:] if kept.strip() else text


_LETTERS = re.compile(r"[^\W\d_]+")


def _slips_mended(text: str) -> str:
    """Slips of the keyboard for a colour or an object word (:func:`misspelt`) read as the word,
    where they stand as one: a colour right before an object word, an object word right after a
    colour ("the grene ball", "a red bxo", "the yelow kye"). A word standing alone may be a name
    the description defines ("The grene is the red ball."), and stays."""
    words = list(_LETTERS.finditer(text))
    read = [_world_word(word.group()) for word in words]
    mended = [None] * len(words)
    for index in range(len(words) - 1):
        first, second = read[index], read[index + 1]
        if text[words[index].end():words[index + 1].start()].strip():
            continue  # only words side by side: "grene, ball" is no object
        if first in COLORS and second in OBJECT_NOUNS:
            for at in (index, index + 1):
                if read[at] != words[at].group().lower():
                    mended[at] = read[at]
    for index in reversed(range(len(words))):
        if mended[index] is not None:
            written = words[index].group()
            word = mended[index].capitalize() if written[0].isupper() else mended[index]
            text = text[:words[index].start()] + word + text[words[index].end():]
    return text


def _world_word(word: str) -> str:
    """``word`` as a colour or object word (lower case), itself or the one it is a slip for; else itself."""
    lower = GREY_SPELLINGS.get(word.lower(), word.lower())
    if lower in COLORS or lower in OBJECT_NOUNS:
        return lower
    return misspelt(lower) or lower


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


# A line that lists one object or more ("- a red ball", "* two grey keys"), after its bullet.
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u2013]|\d+[.)])\s+")
_OBJECTS_LINE = re.compile(rf"(?:(?:{_HOW_MANY})\s+)?{_OBJECT}\s*[,;.]?", re.IGNORECASE)


def _lines_as_sentences(text: str) -> str:
    """A description written a line at a time, as sentences: lines that each list an object read
    as one list, after the line that leads in to them ("You see:", then "- a red ball" and "- a key"
    reads "You see: a red ball and a key."), and any other line ends its sentence ("- dax = grey
    box" reads "dax = grey box."). Without a stop, two rules on two lines were one sentence to the
    pointer, and each offered the other's object to copy."""
    if "\n" not in text:
        return text
    lines = [_BULLET.sub("", line).rstrip() for line in text.split("\n")]
    out: list[str] = []
    index = 0
    while index < len(lines):
        line, index = lines[index], index + 1
        items = []
        if _OBJECTS_LINE.fullmatch(line.strip()):  # the list opens the description
            line, items = "", [line.strip().rstrip(",;.")]
        while index < len(lines) and _OBJECTS_LINE.fullmatch(lines[index].strip()):
            items.append(lines[index].strip().rstrip(",;."))
            index += 1
        if items:
            listed = items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
            line = f"{line} {listed}".strip() if line.strip() else listed[0].upper() + listed[1:]
        following = lines[index].lstrip() if index < len(lines) else ""
        if line.strip() and not line.endswith((".", "!", "?", ";", ":")) and not following.startswith((".", "!", "?")):
            line += "."
        out.append(line)
    return "\n".join(out)


def _sentences(text: str) -> list[tuple[str, str]]:
    """The sentences of ``text``, each with the space that follows it ("\n" or " "), so a rewrite
    keeps the description's own layout."""
    parts = re.split(r"(?<=[.!?])(\s+)", text)
    return list(zip(parts[::2], [*parts[1::2], ""]))


# A sentence that only says which objects are there: "There is a red ball.", "There are also two
# grey keys and a blue box."
_THERE_IS = re.compile(rf"(?:there\s+(?:is|are)|you\s+(?:can\s+)?(?:also\s+)?see|here\s+(?:is|are)|(?:it|the\s+room)\s+(?:also\s+)?holds"
                       rf"|the\s+(?:world|room)\s+(?:also\s+)?contains|in\s+it\s+(?:is|are)|objects\s*:)"
                       rf"(?:\s+also)?\s+(?P<items>{_COUNTED_OBJECT}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+){_COUNTED_OBJECT})*)"
                       rf"(?:\s+(?:here|too|as\s+well))?\s*[.!]", re.IGNORECASE)
_ITEM_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", re.IGNORECASE)


def _objects_said_one_by_one_as_a_list(text: str) -> str:
    """Two or more sentences in a row that each say which objects are there, as one list: "There
    is a red ball. There is a grey key." and "There are a red ball and a blue box. There are also two
    grey keys." read "There are a red ball, ... and ... here." A hazard's safe object is copied from
    the list beside it; with the objects in two or more sentences, the pointer cannot tell which
    ball is the safe one (one object a sentence: HazardRoom 32 of 50 worlds)."""
    out, run = [], []
    for sentence, space in [*_sentences(text), ("", "")]:
        said = _THERE_IS.fullmatch(sentence.strip())
        if said is not None:
            run.append((sentence + space, _ITEM_SEPARATOR.split(said.group("items"))))
            continue
        if len(run) == 1:
            out.append(run[0][0])
        elif run:
            items = [item[0].lower() + item[1:] for _, listed in run for item in listed]
            following = run[-1][0][len(run[-1][0].rstrip()):]
            out.append(f"There are {', '.join(items[:-1])} and {items[-1]} here.{following}")
        run = []
        out.append(sentence + space)
    return "".join(out)


# A comma and a conjunction before a clause of its own: "The dax is the red ball, and the wug is
# the blue key." Not before one more object of a list ("a red ball, a key, and a grey box"), nor
# before a clause that points back into the first ("one room, and it has no doors").
_CLAUSE_JOIN = re.compile(r",\s+(?:and|while|whereas|but|plus)\s+(?=\S)", re.IGNORECASE)
_ONE_MORE_OBJECT = re.compile(rf"(?:(?:{_HOW_MANY}|the|both|all)\s+)?(?:(?:{_COLOR})\s+)*(?:{_NOUN})(?:\s+here)?\s*"
                              r"(?:[,;.!?]|$)", re.IGNORECASE)

# "and" alone between two clauses that each say something of an object ("The dax is the red ball and
# the wug is the blue key"), not inside one ("Both balls and keys count as dobels", "Dobels are balls
# and keys"; "Keep clear of the red box; one touch and the game is over").
_AND = re.compile(r"(?<=\w)\s+and\s+(?=\w)", re.IGNORECASE)
_CLAUSE_EDGE = re.compile(r"([,;:.!?])")
_SENTENCE_EDGE = re.compile(r"([;.!?])")
_OBJECT_WORD = re.compile(rf"\b(?:{_COLOR}|{_NOUN})\b", re.IGNORECASE)
_KIND_BEFORE = re.compile(rf"\b(?:{_NOUN})\s*$", re.IGNORECASE)  # "balls" before "and keys": one list of kinds
_POINTS_BACK = re.compile(r"(?:it|its|they|them|their|this|that|these|those|there)\b", re.IGNORECASE)


def _clauses_as_sentences(text: str) -> str:
    """Clauses joined by a comma and a conjunction, by "and" alone or by a comma alone, as
    sentences of their own: the pointer reads a rule from the sentence that holds it, and two
    rules in one sentence each offer the other's object to copy."""
    pieces, cursor = [], 0
    for join in _CLAUSE_JOIN.finditer(text):
        if _ONE_MORE_OBJECT.match(text, join.end()) or _POINTS_BACK.match(text, join.end()):
            continue
        pieces += [text[cursor:join.start()], ". ", text[join.end()].upper()]
        cursor = join.end() + 1
    text = "".join(pieces) + text[cursor:]
    sentences = _SENTENCE_EDGE.split(text)  # "and" is weighed across commas: "X and whenever I say Y, I mean Z"
    text = "".join(_clauses_joined_by_and(part) if index % 2 == 0 else part for index, part in enumerate(sentences))
    parts = _CLAUSE_EDGE.split(text)  # clauses, and the punctuation between them
    says = [_says_of_an_object(part) for part in parts[::2]]
    for index in range(1, len(parts) - 1, 2):  # "the grey box is the dax, the blue key is the wug"
        if parts[index] == "," and says[index // 2] and says[index // 2 + 1] \
                and not _POINTS_BACK.match(parts[index + 1].lstrip()):
            parts[index] = "."
            parts[index + 1] = re.sub(r"^\s*\S", lambda first: first.group().upper(), parts[index + 1])
    return "".join(parts)


def _clauses_joined_by_and(clause: str) -> str:
    """``clause`` (a sentence, commas and all) cut where "and" joins two clauses that each say
    something of an object. Pieces between "and"s are grouped first: one that says nothing of its
    own ("keys", "a blue key") is one more thing of the piece before, and a piece that says nothing
    yet takes the next one in; so does a piece that goes on a list of kinds ("We group balls and
    keys together as daxes")."""
    pieces = _AND.split(clause)
    if len(pieces) == 1:
        return clause
    groups = [pieces[0]]
    for piece in pieces[1:]:
        if _says_of_an_object(groups[-1]) and _says_of_an_object(piece) and not _POINTS_BACK.match(piece) \
                and not (_KIND_BEFORE.search(groups[-1]) and _NOUN_AFTER.match(piece)):
            groups.append(piece[0].upper() + piece[1:])
        else:
            groups[-1] += " and " + piece
    return ". ".join(groups)


_NO_SAYING = CLOSED_CLASS_WORDS | {"the", "a", "an"}  # words that say nothing of an object


def _says_of_an_object(clause: str) -> bool:
    """Whether ``clause`` names a colour or an object and says something of it with a word of its own."""
    words = re.findall(r"[^\W\d_]+", clause.lower())
    return _OBJECT_WORD.search(clause) is not None and any(
        word not in _NO_SAYING and not _OBJECT_WORD.fullmatch(word) and word not in _COUNTS for word in words)


# One object said by its colour, or one kind in the plural, and a pronoun that may point back to
# it from the next sentence.
_ONE_COLORED_OBJECT = re.compile(rf"\b(?:the|a|an|that|this|one)\s+(?P<color>{_COLOR})\s+(?P<type>{'|'.join(OBJECT_TYPES)})\b",
                                 re.IGNORECASE)
_ONE_KIND = re.compile(rf"\b(?:the|all|all\s+the|these|those)\s+(?P<kinds>{_PLURAL_NOUN})\b", re.IGNORECASE)
_POINTING_PRONOUN = re.compile(r"\b(?:it['\u2019]s|its|it|that one|this one)\b", re.IGNORECASE)
_POINTING_PLURAL = re.compile(r"\b(?:each one|every one|each of them|all of them|they|them|their)\b", re.IGNORECASE)


def _objects_for_pronouns(text: str) -> str:
    """A pronoun in a sentence that names no object, said as the one object (or kind) the sentence
    before names: "Do you see the red ball? We call it the dax." reads "... We call the red ball
    the dax."; "Look at the keys. Each one is a dax." reads "... Each key is a dax." The pointer
    reads a rule from the sentence that holds it, and "it" holds nothing to copy."""
    out, before = [], ""
    for sentence, space in _sentences(text):
        said = None if _OBJECT_WORD.search(sentence) else _pointed_at(before, sentence)
        if said is None:
            out.append(sentence + space)
        else:
            start, end, words = said
            words = words[0].upper() + words[1:] if start == 0 else words
            out.append(sentence[:start] + words + sentence[end:] + space)
        before = sentence
    return "".join(out)


def _pointed_at(before: str, sentence: str) -> tuple[int, int, str] | None:
    """Where ``sentence``'s one pronoun is and the words for what it points to in the sentence
    ``before``, which names one object by its colour or one kind and nothing else; else None."""
    if len(_OBJECT_WORD.findall(before)) == 2:
        named, pronouns = list(_ONE_COLORED_OBJECT.finditer(before)), list(_POINTING_PRONOUN.finditer(sentence))
        if len(named) == 1 and len(pronouns) == 1:
            said = f"the {named[0].group('color').lower()} {named[0].group('type').lower()}"
            pronoun = pronouns[0].group().lower().replace("\u2019", "'")
            return pronouns[0].start(), pronouns[0].end(), {"its": said + "'s", "it's": said + " is"}.get(pronoun, said)
    if len(_OBJECT_WORD.findall(before)) == 1:
        named, pronouns = list(_ONE_KIND.finditer(before)), list(_POINTING_PLURAL.finditer(sentence))
        if len(named) == 1 and len(pronouns) == 1:
            kinds = named[0].group("kinds").lower()
            kind = next(kind for kind in OBJECT_TYPES if plural(kind) == kinds)
            pronoun = pronouns[0].group().lower()
            said = f"each {kind}" if pronoun.startswith(("each", "every")) else kinds if pronoun != "their" else kinds + "'"
            return pronouns[0].start(), pronouns[0].end(), said
    return None


_LISTED = re.compile(rf"\b(?P<count>{_HOW_MANY})\s+(?P<object>{_OBJECT})\b", re.IGNORECASE)
_LIST_SEPARATOR = re.compile(r"\s*(?:,\s*and|,|and)\s+$", re.IGNORECASE)
# What starts words said of one listed object: a bracket, a dash, or a clause about it, opened by a
# relative word, a participle or a subject ("a red key called the treasure", "a box nobody may
# touch"), a comma before it or not; between two objects also anything after a comma ("a ball,
# avoid it, a key"). Not "here" ("There are ... here."), a place ("a key in the red box") or a
# colour ("a key of yellow"); not a comma after the last object ("a key, the red ball"); nothing
# that names an object itself ("two boxes, green key and two keys" lists one more).
_CLAUSE = (r"(?:,\s*)?(?:(?:which|that|who|whose|also|you|we|they|nobody|no one|everyone|everybody|someone|i)\b"
           r"|[^\W\d_]{3,}ed\b)")
_SAID_OF_THE_LAST = re.compile(rf"\s*(?:[(\[\-\u2013\u2014]|{_CLAUSE})", re.IGNORECASE)
_SAID_OF_IT = re.compile(rf"\s*(?:[(\[\-\u2013\u2014,;:]|{_CLAUSE})", re.IGNORECASE)
_ANY_NOUN = re.compile(rf"\b(?:{_NOUN})\b", re.IGNORECASE)
_CLOSED = {"(": r"\)", "[": r"\]", "-": r"\s-(?=\W|$)", "\u2013": "\u2013", "\u2014": "\u2014"}


def _rules_out_of_lists(text: str) -> str:
    """Words said of one object inside a list of objects, in a sentence of their own after the list:
    "It holds a grey ball (the treasure), a red key and a box." reads "It holds a grey ball, a red
    key and a box. The grey ball (the treasure)." The pointer reads a rule from the sentence that
    holds it; in a list, every other object of the room stands in that sentence too."""
    out = []
    for sentence, space in _sentences(text):
        items = list(_LISTED.finditer(sentence))
        if len(items) < 2:
            out.append(sentence + space)
            continue
        kept, said, cursor = [], [], 0
        for index, item in enumerate(items):
            kept.append(sentence[cursor:item.end()])
            cursor = item.end()
            last = index == len(items) - 1
            gap = sentence[item.end():] if last else sentence[item.end():items[index + 1].start()]
            if not (_SAID_OF_THE_LAST if last else _SAID_OF_IT).match(gap):
                continue
            if last:
                words = _said_after_the_last(gap)
            else:
                separator = _LIST_SEPARATOR.search(gap)
                words = gap[:separator.start()] if separator else ""
            if words.strip(" ,;:") and not _ANY_NOUN.search(words):  # "two boxes, green key and ...": more objects
                said.append((item, words))
                cursor += len(words)
        kept.append(sentence[cursor:])
        sentences = ["".join(kept)]
        for item, words in said:
            words = words.rstrip().rstrip("-\u2013\u2014,;:").rstrip()
            if item.group("count").lower() in ("a", "an", "one"):
                sentences.append(f"The {item.group('object')}{words}.")
            else:
                sentences.append(f"{item.group()[0].upper()}{item.group()[1:]}{words}.")
        out.append(" ".join(sentences) + space)
    return "".join(out)


def _said_after_the_last(tail: str) -> str:
    """The words said of the list's last object, from what follows it to the sentence's end: up to
    its closing bracket or dash where it opens with one, else all of it but the final stop."""
    opening = tail.lstrip()[:1]
    if opening in _CLOSED:
        closing = re.compile(_CLOSED[opening]).search(tail, len(tail) - len(tail.lstrip()) + 1)
        if closing is not None:
            return tail[:closing.end()]
    return tail[:len(tail.rstrip()) - len(re.search(r"[.!?]*$", tail.rstrip()).group())]
