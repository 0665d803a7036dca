"""Colour words, object nouns and locations the corpus does not know, read as the ones it does.

"go to the crimson sphere" names no colour and no object of the corpus. Before the rephraser
compares wordings, this reads the words that stand where an object's colour or noun stands:

- **Colours**: any colour name in matplotlib's tables (the 949 names of the xkcd colour survey,
  then CSS's 148; up to three words, "dark forest green") is read as a world colour: crimson ->
  red, navy -> blue, lilac -> purple, gray and silver -> grey. A name that holds a world colour
  word reads as that word ("sky blue" -> blue); any other as the word of the named shades
  nearest to it in CIELAB ("sea blue", "dusty purple", ... : the 449 names that hold one). So
  the map comes from how the survey's people named colours, not from our games.
- **Object nouns**: an unknown word after an article or a colour, and not before an object word,
  is read as an object type, unless MiniLM embeds "a thing" nearer it than every type ("a
  little", "a while", "a unicorn"). The type is the one WordNet's hierarchy of kinds puts
  nearest (:mod:`instructed_rl.language.wordnet`: a coffer is a chest, a chest a box), and for a
  word WordNet does not have, the one whose phrase MiniLM embeds nearest ("a keycard" against "a
  ball", "a box", "a key" and "a door").

- **Slips of the keyboard**: a word that is no English word (WordNet's) and one letter added,
  dropped, changed, or two letters swapped away from exactly one world colour or object word
  reads as that word: "blu" -> blue, "yelow" -> yellow, "purpel" -> purple, "boxx" -> box. Not
  "bed" or "bleu" (words), nor "gree" (as near green as grey).
- **Determiners and colours said after the noun**: "an", "any", "some", "this", "that" before
  an object read as the corpus's articles; "the ball which is red", "a box coloured crimson"
  read as "the red ball", "a red box".
- **Locations**: after an object's noun, a few function words around one direction word ("to
  your left", "ahead of you", "right behind you", "at your back") read as the corpus's phrase for
  that direction ("on your left", "in front of you", ...); not where another object follows
  ("to the left of the box" places it by the box, not by the agent).

Words the environment description uses are never read this way: the description defines them
(role words, invented nouns and colours), and only the policy can read those. An unknown word
that is neither a colour name nor in an object noun's place (a verb, "fetch") is left for the
rephraser. "the red one" reads as some object, and a rare synonym may read as the wrong type
(WordNet reads "an exit" as a ball).
"""

from __future__ import annotations

import functools
import re
from typing import Callable, Sequence

import numpy as np

from instructed_rl.language.vocabulary import COLORS, OBJECT_NOUNS, OBJECT_TYPES, singulars
from instructed_rl.language.wordnet import english_words, names_no_thing, object_type

Embed = Callable[[Sequence[str]], np.ndarray]  # one unit-length sentence vector per text
LONGEST_COLOR_NAME = 3  # words
NEIGHBOURS = 7
LIGHTNESS_WEIGHT = np.array([0.5, 1.0, 1.0])  # a shade's hue and chroma say more than how light it is
GREY_SPELLINGS = {"gray": "grey"}
# A word in any script: "ox-tail", and names written with an apostrophe or digits ("k'tar", "c3po"), are one word.
WORD = re.compile(r"[^\W_]*[^\W\d_][^\W_]*(?:[-'\u2019][^\W_]*[^\W\d_][^\W_]*)*")
GENERIC_NOUN = "thing"  # a word nearer this than every object type names no object ("a little")
# Determiners a corpus may not use, read as its articles: "any red ball" is "a red ball".
DETERMINERS = {"an": "indefinite", "any": "indefinite", "some": "indefinite", "one": "indefinite",
               "this": "definite", "that": "definite"}
# Words that link a colour said after the noun to it: "the ball which is red", "a box coloured blue",
# "a key of yellow colour", "the key whose colour is green", "the box, the blue one".
COLOR_LINKS = frozenset({"that", "which", "is", "coloured", "colored", "painted", "in", "of", "a", "the", "whose",
                         "with", "having", "has", "colour", "color", ",", "that's", "that’s", "thats", "it's"})
LONGEST_COLOR_LINK = 4  # words
# Nouns that stand where an object's noun stands but name a quality or stand for a noun said
# before: "a key of yellow colour", "the box, the blue one". They name no object type.
QUALITY_NOUNS = frozenset({"colour", "color", "colours", "colors", "shade", "hue", "tint", "one", "ones"})
# Nouns that name any object, read as the corpus's word for one ("a blue thing": "a blue object"),
# and pronouns that do so before a colour ("something red": "a red object").
ANY_OBJECT_NOUNS = frozenset({"thing", "item", "entity"})
ANY_OBJECT_PRONOUNS = frozenset({"something", "anything"})
# How a compound says a colour: "yellow-coloured", "navy-tinted".
COLOR_COMPOUND = re.compile(r"(.+)-(?:coloured|colored|tinted|hued|painted)")
# English's closed classes (copulas and auxiliaries, pronouns, prepositions, conjunctions): words a
# description uses ("The world is one room.") that name no object, whatever the corpus knows.
CLOSED_CLASS_WORDS = frozenset(
    "am is are was were be been being has have had do does did will would shall should can could may might must "
    "i you he she it we they me him her us them my your his its our their this that these those who whom whose "
    "which what there here of in on at by for with from to into onto over under about above below between through "
    "during after before around near beside behind across along against among upon within without off up down out "
    "and or but nor so yet if then than because while when once until unless although though whether as not no "
    "all each every some any both either neither such only very just also too".split())
# Prepositions whose noun phrase says where, not which object: "pick the box off the floor",
# "the key from the shelf", "go to the ball in the hall" ("next to", "beside", "near" and "by"
# name an instruction's second object, so they are not here).
PLACE_PREPOSITIONS = frozenset({"off", "from", "on", "onto", "in", "into", "inside", "across", "along", "around",
                                "through", "under", "over", "within", "throughout"})
# Where an object is relative to the agent: one direction word among a few function words.
DIRECTIONS = ("front", "behind", "left", "right")
DIRECTIONS_BY_WORD = {"front": "front", "ahead": "front", "forward": "front", "forwards": "front",
                      "behind": "behind", "back": "behind", "rear": "behind", "backward": "behind",
                      "backwards": "behind", "left": "left", "right": "right", "left-hand": "left", "right-hand": "right"}
LOCATION_WORDS = frozenset({"to", "on", "at", "in", "of", "from", "by", "your", "you", "the", "side", "hand", "is",
                            "that", "which", "directly", "just", "immediately", "straight", "located", "lying",
                            "sitting", "standing", "placed", "positioned", "situated", "there", "over"})
LOCATION_TRAILERS = frozenset({"the", "that", "which", "is", "to", "at", "on", "in", "by", "from", "of", "there", "over"})
LONGEST_LOCATION = 7  # words
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


@functools.lru_cache(maxsize=1)
def color_names() -> dict[str, str]:
    """Colour name -> hex, the xkcd survey's names over CSS's where both have one."""
    from matplotlib import colors

    names = dict(colors.CSS4_COLORS)
    names.update({name.removeprefix("xkcd:"): value for name, value in colors.XKCD_COLORS.items()})
    return {name: value for name, value in names.items() if re.fullmatch(r"[a-z]+( [a-z]+)*", name)}


def _lab(hex_color: str) -> np.ndarray:
    """CIELAB coordinates of an sRGB colour (D65): distances there follow perceived difference."""
    from matplotlib import colors

    rgb = np.asarray(colors.to_rgb(hex_color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = SRGB_TO_XYZ @ linear / D65_WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@functools.lru_cache(maxsize=1)
def _labelled_shades() -> tuple[np.ndarray, tuple[str, ...]]:
    """Every named colour whose name holds a world colour word ("sea blue", "dusty purple"),
    as a point in CIELAB (lightness scaled down) and that word (the last one, "grey blue": blue)."""
    points, labels = [], []
    for name, hex_color in color_names().items():
        word = _color_word_in(name)
        if word is not None:
            points.append(_lab(hex_color) * LIGHTNESS_WEIGHT)
            labels.append(word)
    return np.stack(points), tuple(labels)


def _color_word_in(name: str) -> str | None:
    """The last world colour word a colour name holds ("grey blue": blue), or None."""
    named = [GREY_SPELLINGS.get(word, word) for word in name.split()]
    return next((word for word in reversed(named) if word in COLORS), None)


def nearest_color(name: str) -> str | None:
    """The world colour (one of :data:`COLORS`) a colour name reads as; None if it names no colour.

    A name with a world colour word in it reads as that word; any other by a vote of the
    :data:`NEIGHBOURS` nearest shades that have one, weighted by closeness (a leave-one-out check
    of the shades themselves agrees with their own word 94% of the time)."""
    spellings = (name, name.replace("gray", "grey"), name.replace("grey", "gray"))
    hex_color = next((color_names()[n] for n in spellings if n in color_names()), None)
    if hex_color is None:
        return None
    named = _color_word_in(name)
    if named is not None:
        return named
    points, labels = _labelled_shades()
    distances = np.linalg.norm(points - _lab(hex_color) * LIGHTNESS_WEIGHT, axis=1)
    votes: dict[str, float] = {}
    for index in np.argsort(distances)[:NEIGHBOURS]:
        votes[labels[index]] = votes.get(labels[index], 0.0) + 1.0 / (distances[index] + 1e-6)
    return max(votes, key=votes.get)


# The words a slip of the keyboard is read back to: the world's colours and object types.
WORLD_WORDS = frozenset({*COLORS, *GREY_SPELLINGS, *OBJECT_NOUNS})
SHORTEST_SLIP = 3  # letters: "rde", "kye"


def _one_slip_apart(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter added, dropped or changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        differ = [k for k in range(len(a)) if a[k] != b[k]]
        return len(differ) == 1 or (len(differ) == 2 and differ[1] == differ[0] + 1
                                    and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:k] + long[k + 1:] == short for k in range(len(long)))


@functools.lru_cache(maxsize=4096)
def misspelt(word: str) -> str | None:
    """The one world colour or object word ``word`` is a slip of the keyboard for ("yelow" -> "yellow"),
    or None: where ``word`` is an English word, is one itself, or is as near two of them."""
    word = word.lower()
    if len(word) < SHORTEST_SLIP or not word.isalpha() or word in WORLD_WORDS:
        return None
    near = [world for world in WORLD_WORDS if _one_slip_apart(word, world)]
    if len(near) != 1 or word in english_words():  # WordNet's words are read only for a likely slip
        return None
    return GREY_SPELLINGS.get(near[0], near[0])


def description_words(description: str) -> frozenset[str]:
    """The words a description uses, each also without a plural ending ("daxes" defines "dax")."""
    words = {word.lower() for word in WORD.findall(description)}
    return frozenset(words | {singular for word in words for singular in singulars(word)})


def _opens_a_place(before: list[str], modifiers: frozenset[str] | set[str]) -> bool:
    """Whether the phrase whose article and colours end ``before`` follows a preposition of place."""
    start = len(before)
    while start > 0 and before[start - 1] in modifiers:
        start -= 1
    return start > 0 and before[start - 1] in PLACE_PREPOSITIONS


class Lexicon:
    """Reads unknown colour names and object nouns as the corpus's own words.

    ``words``: the corpus's word for each colour, object type and article key (its first phrase
    for the key, e.g. ``{"red": "red", "ball": "ball", "definite": "the", ...}``); ``known``:
    every word the corpus uses (left as they are); ``embed``: sentence vectors (MiniLM)."""

    def __init__(self, words: dict[str, tuple[str, ...]], known: set[str], embed: Embed):
        self.color_word = {color: words[color][0] for color in COLORS}
        self.type_word = {kind: words[kind][0] for kind in OBJECT_TYPES}
        self.articles = {w for key in ("definite", "indefinite") for phrase in words[key] for w in phrase.split()}
        self.colors = {w for color in COLORS for phrase in words[color] for w in phrase.split()}
        self.nouns = {w for kind in OBJECT_TYPES + ("object",) for phrase in words[kind] for w in phrase.split()}
        self.before_noun = self.articles | self.colors  # what may stand before a noun or a colour
        self.noun_or_color = self.nouns | self.colors
        self.known = known
        self.embed = embed
        self._noun_of: dict[str, str | None] = {}
        self.location_phrase = {where: words[where][0] for where in DIRECTIONS if words.get(where)}
        self.article_word = {key: words[key][0] for key in ("definite", "indefinite") if words.get(key)}
        self.object_word = words["object"][0] if words.get("object") else None

    def __call__(self, words: list[str], description: str = "") -> tuple[list[str], list[tuple[str, str]]]:
        """``words`` with unknown colours and nouns replaced, and the (written, read) pairs."""
        defined = description_words(description)
        replaced: list[tuple[str, str]] = []
        words = list(words)
        for k, word in enumerate(words):  # "the bleu key": a slip of the keyboard first
            meant = misspelt(word) if word not in self.known and word not in defined else None
            if meant is not None:
                words[k] = self.color_word.get(meant) or self.type_word.get(meant) or meant
                replaced.append((word, words[k]))
        unknown = [w not in self.known and w not in defined and (w.isalpha() or COLOR_COMPOUND.fullmatch(w) is not None)
                   and w not in CLOSED_CLASS_WORDS and w not in QUALITY_NOUNS for w in words]
        out: list[str] = []
        i = 0
        while i < len(words):
            said_after = self._color_after_noun(words, unknown, i) if out and out[-1] in self.nouns else None
            if said_after is not None:  # "the ball which is red" -> "the red ball"
                length, word = said_after
                replaced.append((" ".join(words[i:i + length]), word))
                if len(out) < 2 or out[-2] not in self.colors:
                    out.insert(len(out) - 1, word)
                i += length
                continue
            any_object = self._any_object_at(words, unknown, i, out, defined)
            if any_object is not None:  # "a blue thing", "something red": "a red object"
                length, phrase = any_object
                replaced.append((" ".join(words[i:i + length]), " ".join(phrase)))
                out += phrase
                i += length
                continue
            article = self._article_for(words, unknown, i, defined)
            if article is not None:
                replaced.append((words[i], article))
                out.append(article)
                i += 1
                continue
            color = self._color_at(words, unknown, i)
            if color is not None:
                length, word = color
                replaced.append((" ".join(words[i:i + length]), word))
                out.append(word)
                i += length
                continue
            if unknown[i] and out and out[-1] in self.before_noun and not _opens_a_place(out, self.before_noun) \
                    and not self._names_a_part(words, i, defined):
                last = i  # the noun is the last of a run of unknown words ("the ash casket")
                while last + 1 < len(words) and unknown[last + 1] and self._color_at(words, unknown, last + 1) is None:
                    last += 1
                following = last + 1
                if following == len(words) or (words[following] not in self.noun_or_color  # else a modifier
                                               and self._color_at(words, unknown, following) is None):
                    noun = self._noun(words[last])
                    out += words[i:last] + [noun or words[last]]
                    if noun is not None:
                        replaced.append((words[last], noun))
                    i = last + 1
                    continue
            location = self._location_at(words, i, defined) if out and self._is_noun(out[-1], defined) else None
            if location is not None:
                length, phrase = location
                replaced.append((" ".join(words[i:i + length]), phrase))
                out += phrase.split()
                i += length
                continue
            out.append(words[i])
            i += 1
        return out, replaced

    def _any_object_at(self, words: list[str], unknown: list[bool], i: int, out: list[str],
                       defined: frozenset[str]) -> tuple[int, list[str]] | None:
        """(words it spans, the corpus's words) where a noun or pronoun that names any object starts
        at ``i``: "thing" after an article or colour, "something" before a colour."""
        word = words[i]
        if self.object_word is None or word in defined:
            return None
        if word in ANY_OBJECT_NOUNS and out and out[-1] in self.before_noun:
            return 1, [self.object_word]
        if word in ANY_OBJECT_PRONOUNS and i + 1 < len(words) and "indefinite" in self.article_word:
            following = words[i + 1]
            color = (1, following) if following in self.colors else self._color_at(words, [True] * len(words), i + 1)
            if color is not None:
                return 1 + color[0], [self.article_word["indefinite"], color[1], self.object_word]
        return None

    def _names_a_part(self, words: list[str], i: int, defined: frozenset[str]) -> bool:
        """Whether the unknown word at ``i`` names a part or side of an object named after it
        ("by the side of the ball", "at the far end of the red box"), not an object itself."""
        if i + 1 >= len(words) or words[i + 1] != "of":
            return False
        following = words[i + 2:i + 2 + LONGEST_COLOR_NAME + 1]
        return any(self._is_noun(word, defined) for word in following)

    def _is_noun(self, word: str, defined: frozenset[str]) -> bool:
        """An object word of the corpus, or a word the description defines that the corpus does not use."""
        return word in self.nouns or (word in defined and word not in self.known and word not in CLOSED_CLASS_WORDS)

    def _article_for(self, words: list[str], unknown: list[bool], i: int, defined: frozenset[str]) -> str | None:
        """The corpus's article for a determiner it does not use ("an", "any", "this") that
        stands before an object's colour or noun, a noun the description defines, or a word it
        does not know before either ("that tapomi ball")."""
        if words[i] not in DETERMINERS or i + 1 >= len(words):
            return None
        following = words[i + 1]
        after = words[i + 2] if i + 2 < len(words) else ""
        if following in self.noun_or_color or self._is_noun(following, defined) \
                or (unknown[i + 1] and following not in COLOR_LINKS and after in self.noun_or_color):
            return self.article_word.get(DETERMINERS[words[i]])  # not "in that order": no object follows
        return None

    def _color_after_noun(self, words: list[str], unknown: list[bool], i: int) -> tuple[int, str] | None:
        """(words it spans, corpus colour word) where the colour of the object just named is
        said after its noun ("which is red", "that is crimson", "coloured blue", "in grey", "of
        yellow colour", ", the blue one"): a quality noun right after the colour goes with it."""
        end = i
        while end < len(words) and end - i < LONGEST_COLOR_LINK and words[end] in COLOR_LINKS:
            end += 1
        if end == i or end >= len(words):
            return None
        if words[end] in self.colors:
            length, word = 1, words[end]
        else:
            found = self._color_at(words, [True] * len(words), end) if unknown[end] else None
            if found is None:
                return None
            length, word = found
        following = words[end + length] if end + length < len(words) else ""
        if following in QUALITY_NOUNS:  # "of yellow colour", "the blue one"
            length += 1
            following = words[end + length] if end + length < len(words) else ""
        if following in self.nouns or following in self.colors:  # "... is red ball"? not a colour said after
            return None
        return end + length - i, word

    def _location_at(self, words: list[str], i: int, defined: frozenset[str]) -> tuple[int, str] | None:
        """(words it spans, the corpus's phrase) where a wording of where an object is relative to
        the agent starts at ``i`` (right after the object's noun): words of :data:`LOCATION_WORDS`
        holding one direction word ("to your left", "right behind you", "ahead of you"), not
        followed by another object ("to the left of the box" says where it is from the box)."""
        end = i
        while end < len(words) and end - i < LONGEST_LOCATION and (words[end] in LOCATION_WORDS
                                                                  or words[end] in DIRECTIONS_BY_WORD):
            end += 1
        following = words[end] if end < len(words) else ""
        if following in self.before_noun or self._is_noun(following, defined) \
                or (following.isalpha() and following not in self.known):
            return None
        while end > i and words[end - 1] in LOCATION_TRAILERS:  # "the ball ahead of you, then ..."
            end -= 1
        # Right after the noun, "right" says how near, not where: "right behind you", "right next to the box".
        named = [w for k, w in enumerate(words[i:end]) if w in DIRECTIONS_BY_WORD and not (k == 0 and w == "right")]
        phrase = self.location_phrase.get(DIRECTIONS_BY_WORD[named[0]]) if len(named) == 1 else None
        return None if phrase is None or " ".join(words[i:end]) == phrase else (end - i, phrase)

    def _color_at(self, words: list[str], unknown: list[bool], i: int) -> tuple[int, str] | None:
        """(words it spans, corpus colour word) where a colour name the corpus does not know
        starts at ``i`` in a colour's place: after an article or colour, before an object word,
        or next to another unknown word of the object phrase."""
        if not unknown[i]:
            return None
        for length in range(min(LONGEST_COLOR_NAME, len(words) - i), 0, -1):
            if not all(unknown[i + k] or words[i + k] in self.colors for k in range(length)):
                continue
            name = " ".join(words[i:i + length])
            compound = COLOR_COMPOUND.fullmatch(name)
            color = nearest_color(compound.group(1).replace("-", " ") if compound else name)
            if color is None:
                continue
            before = words[i - 1] if i > 0 else ""
            after = words[i + length] if i + length < len(words) else ""
            if before in self.before_noun or after in self.nouns \
                    or (i > 0 and unknown[i - 1]) or (after and unknown[i + length]):  # "the big crimson sphere"
                return length, self.color_word[color]
        return None

    def _noun(self, word: str) -> str | None:
        """The corpus's word for the object type ``word`` names: WordNet's nearest, else the one
        MiniLM finds nearest ("a sphere" against "a ball", "a box", ...); None where WordNet
        knows only abstract senses of it ("a visit") or MiniLM finds "a thing" nearer than every
        type ("a little")."""
        if word not in self._noun_of:
            kinds = list(OBJECT_TYPES)
            vectors = self.embed([f"a {text}" for text in [word, GENERIC_NOUN] + [self.type_word[k] for k in kinds]])
            similarity = vectors[1:] @ vectors[0]
            best = int(similarity[1:].argmax())
            if similarity[1 + best] <= similarity[0] or names_no_thing(word):  # "pay a visit to the red ball"
                self._noun_of[word] = None
            else:
                self._noun_of[word] = self.type_word[object_type(word) or kinds[best]]
        return self._noun_of[word]
