"""Instruction corpora: how a structured instruction is phrased as text.

A corpus is a small YAML file (``data/corpora/*.yaml``)::

    name: babyai
    skills:                      # one or more templates per skill
      goto:    ["go to {obj}"]
      pickup:  ["pick up {obj}"]
      open:    ["open {door}"]
      putnext: ["put {obj} next to {obj2}"]
    sequences:                   # {a} {b} hold whole instructions, minigrid's meaning
      and:    ["{a} and {b}"]    # both, any order
      before: ["{a}, then {b}"]  # a first
      after:  ["{a} after you {b}"]  # b first
    heldout:                     # optional: same shape, never used by a train split
      skills: {goto: ["head over to {obj}"]}
    objects:                     # optional: how an object is named
      templates: ["{article} {color} {type} {location}"]
      words: {ball: [ball, sphere]}

Object phrases default to BabyAI's own ("the red ball", "a key on your left"), so the
shipped ``babyai.yaml`` reproduces minigrid's mission strings exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    AndInstr,
    BeforeInstr,
    GoToInstr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

from instructed_rl.errors import CorpusError
from instructed_rl.language.corpus_schema import (
    DEFAULT_OBJECT_TEMPLATE,
    DEFAULT_WORDS,
    SEQUENCE_SLOTS,
    SKILL_SLOTS,
    corpus_fields,
)
from instructed_rl.language.vocabulary import CARRIABLE_TYPES, COLORS
from instructed_rl.resources import corpora_dir
from instructed_rl.yaml_check import YamlFile, read_yaml

DEFAULT_CORPUS = "babyai"


@dataclass(frozen=True)
class Corpus:
    """A validated corpus. Build it with :func:`load_corpus` or :meth:`from_dict`."""

    name: str
    source: str
    skills: dict[str, tuple[str, ...]]
    sequences: dict[str, tuple[str, ...]]
    heldout_skills: dict[str, tuple[str, ...]] = field(default_factory=dict)
    heldout_sequences: dict[str, tuple[str, ...]] = field(default_factory=dict)
    object_templates: tuple[str, ...] = (DEFAULT_OBJECT_TEMPLATE,)
    words: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_WORDS))
    description: str = ""

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, *, source: str, file: YamlFile | None = None) -> "Corpus":
        """A checked corpus from a parsed corpus file (``file`` gives the lines its errors cite)."""
        file = file if file is not None else YamlFile(data=data, source=source, error=CorpusError)
        return cls(source=source, **corpus_fields(file))

    # ---- queries ------------------------------------------------------------------
    def templates(self, kind: str, *, heldout: bool = False) -> tuple[str, ...]:
        if kind in SKILL_SLOTS:
            return (self.heldout_skills if heldout else self.skills).get(kind, ())
        return (self.heldout_sequences if heldout else self.sequences).get(kind, ())

    @property
    def has_heldout(self) -> bool:
        return bool(self.heldout_skills or self.heldout_sequences)

    def require(self, kinds: Iterable[str], *, for_what: str) -> None:
        """Fail with a clear error if a kind (skill or connective) has no training template."""
        for kind in kinds:
            if not self.templates(kind):
                section = "skills" if kind in SKILL_SLOTS else "sequences"
                slots = SKILL_SLOTS.get(kind) or SEQUENCE_SLOTS[kind]
                example = {"goto": "go to {obj}", "pickup": "pick up {obj}", "open": "open {door}",
                           "putnext": "put {obj} next to {obj2}", "and": "{a} and {b}",
                           "before": "{a}, then {b}", "after": "{a} after you {b}"}[kind]
                raise CorpusError(
                    f"{self.source}: {section}.{kind}: missing, but {for_what} needs it. "
                    f"Fix: add '{kind}: [\"{example}\"]' under '{section}' (slots: {', '.join(sorted(slots))})"
                )

    def require_heldout(self, kinds: Iterable[str], *, for_what: str) -> None:
        kinds = list(kinds)
        if not any(self.templates(kind, heldout=True) for kind in kinds):
            raise CorpusError(
                f"{self.source}: heldout: no held-out templates for {', '.join(kinds)}, but {for_what} needs some. "
                f"Fix: pass a corpus with 'heldout:' templates (e.g. --corpus paraphrase) or add them to this file"
            )


def load_corpus(name_or_path: str | Path | Corpus | None = None) -> Corpus:
    """Load a shipped corpus by name (``babyai``, ``paraphrase``) or any YAML file by path."""
    if isinstance(name_or_path, Corpus):
        return name_or_path
    name_or_path = DEFAULT_CORPUS if name_or_path is None else name_or_path
    path = Path(name_or_path)
    if not path.is_file():
        shipped = corpora_dir() / f"{name_or_path}.yaml"
        if shipped.is_file():
            path = shipped
        else:
            available = ", ".join(sorted(p.stem for p in corpora_dir().glob("*.yaml")))
            raise CorpusError(f"{name_or_path}: no such corpus file. Fix: give a YAML path or a shipped name ({available})")
    return _load_corpus_file(path.resolve(), path.stat().st_mtime_ns, str(path))


@functools.lru_cache(maxsize=64)
def _load_corpus_file(resolved: Path, mtime_ns: int, shown: str) -> Corpus:
    """Parse each corpus file once per version of it; a Corpus is immutable."""
    file = read_yaml(shown, what="corpus", example="data/corpora/babyai.yaml", error=CorpusError)
    return Corpus.from_dict(file.data, source=shown, file=file)


def shipped_corpora() -> list[str]:
    return sorted(p.stem for p in corpora_dir().glob("*.yaml"))


# ---- rendering ----------------------------------------------------------------------

_SKILL_OF = {GoToInstr: "goto", PickupInstr: "pickup", OpenInstr: "open", PutNextInstr: "putnext"}
_SEQUENCE_OF = {AndInstr: "and", BeforeInstr: "before", AfterInstr: "after"}


def instruction_kind(instr) -> str:
    for cls, kind in {**_SKILL_OF, **_SEQUENCE_OF}.items():
        if type(instr) is cls:
            return kind
    raise TypeError(f"unsupported instruction type {type(instr).__name__}")


@dataclass(frozen=True)
class Phrasing:
    """A rendered mission: its text, the templates that made it (``heldout.skills.goto[1]``...)
    and the text of each single-skill part, keyed by ``id()`` of the verifier leaf."""

    text: str
    templates: tuple[str, ...]
    leaf_texts: dict[int, str] = field(default_factory=dict, compare=False)

    @property
    def uses_heldout(self) -> bool:
        return any(t.startswith("heldout.") for t in self.templates)


class Phraser:
    """Renders minigrid verifier trees with a corpus. ``heldout=True`` prefers held-out templates."""

    def __init__(self, corpus: Corpus, *, heldout: bool = False):
        self.corpus = corpus
        self.heldout = heldout

    def render(self, instr, env, rng: np.random.Generator) -> Phrasing:
        used: list[str] = []
        leaf_texts: dict[int, str] = {}
        text = self._render(instr, env, rng, used, leaf_texts)
        return Phrasing(text=text, templates=tuple(used), leaf_texts=leaf_texts)

    def _pick(self, kind: str, rng: np.random.Generator, used: list[str]) -> str:
        section = "skills" if kind in SKILL_SLOTS else "sequences"
        if self.heldout and self.corpus.templates(kind, heldout=True):
            options, prefix = self.corpus.templates(kind, heldout=True), f"heldout.{section}"
        else:
            options, prefix = self.corpus.templates(kind), section
            if not options:
                self.corpus.require([kind], for_what="this mission")
        index = int(rng.integers(len(options))) if len(options) > 1 else 0
        used.append(f"{prefix}.{kind}[{index}]")
        return options[index]

    def _render(self, instr, env, rng: np.random.Generator, used: list[str], leaf_texts: dict[int, str]) -> str:
        kind = instruction_kind(instr)
        template = self._pick(kind, rng, used)
        if kind in SEQUENCE_SLOTS:
            a = self._render(instr.instr_a, env, rng, used, leaf_texts)
            b = self._render(instr.instr_b, env, rng, used, leaf_texts)
            return template.format(a=a, b=b)
        if kind == "putnext":
            text = template.format(obj=self.object_phrase(instr.desc_move, env, rng),
                                   obj2=self.object_phrase(instr.desc_fixed, env, rng))
        else:
            phrase = self.object_phrase(instr.desc, env, rng)
            text = template.format(door=phrase) if kind == "open" else template.format(obj=phrase)
        leaf_texts[id(instr)] = text
        return text

    def object_phrase(self, desc: ObjDesc, env, rng: np.random.Generator) -> str:
        """Name an object the way the corpus does; the article follows BabyAI (``a`` when several match).

        A world may rename some of its objects (``env.object_aliases``, see :class:`ObjectAlias`):
        the corpus's object template and article words still apply, only what fills them changes.
        """
        # A copy: find_matching_objs rewrites the desc's object set, and this desc is the verifier's
        # own (an object carried from the start is on no grid cell, and would leave that set).
        objs, _ = ObjDesc(desc.type, desc.color, desc.loc).find_matching_objs(env)
        words = self.corpus.words

        def word(key: str | None) -> str:
            if key is None:
                return ""
            options = words[key]
            return options[int(rng.integers(len(options)))] if len(options) > 1 else options[0]

        templates = self.corpus.object_templates
        template = templates[int(rng.integers(len(templates)))] if len(templates) > 1 else templates[0]
        alias = alias_of(desc, env)
        if alias is None:
            text = template.format(
                article=word("indefinite" if len(objs) > 1 else "definite"),
                color=word(desc.color),
                type=word(desc.type or "object"),
                location=word(desc.loc),
            )
            return " ".join(text.split())
        color = desc.color if alias.color else None
        article = alias.article
        if article is None:  # BabyAI's rule, over the objects that match what the phrase says
            said = objs if color == desc.color else ObjDesc(desc.type, color, desc.loc).find_matching_objs(env)[0]
            article = "indefinite" if len(said) > 1 else "definite"
        text = template.format(
            article=word(article),
            color=alias.color_word if alias.color_word and color else word(color),
            type=alias.noun if alias.noun else word(desc.type or "object"),
            location=word(desc.loc),
        )
        return " ".join(text.split())


@dataclass(frozen=True)
class ObjectAlias:
    """How a world wants one of its objects named in missions (games whose rules live in the description).

    A world exposes ``object_aliases: {(type, color): ObjectAlias}`` (``(type, None)`` for every
    colour); the structured instruction still names the real object, so the verifier and the
    BabyAI bot are unchanged, and only the mission text says "the treasure", "the red dax" or
    "the tapomi ball".

    >>> ObjectAlias(noun="treasure", color=False, article="definite")
    ObjectAlias(noun='treasure', color=False, article='definite', color_word=None)
    """

    noun: str | None = None
    """replaces the type word ("dax", "treasure"); None keeps the corpus's word for the type"""
    color: bool = True
    """False leaves the colour out of the phrase ("a ball" for the green ball)"""
    article: Literal["definite", "indefinite"] | None = None
    """forces the article; None follows BabyAI (indefinite when several objects match the phrase)"""
    color_word: str | None = None
    """replaces the colour word ("the tapomi ball" for the red ball); None keeps the corpus's word
    for the colour. Ignored when ``color`` is False"""


def alias_of(desc: ObjDesc, env) -> ObjectAlias | None:
    """The alias a world gives the object ``desc`` names, if any (exact colour first, then any colour)."""
    aliases = getattr(getattr(env, "unwrapped", env), "object_aliases", None)
    if not aliases:
        return None
    return aliases.get((desc.type, desc.color)) or aliases.get((desc.type, None))


# ---- text for building a vocabulary ------------------------------------------------

_COLORS = COLORS
_TYPES = CARRIABLE_TYPES
_LOCATIONS = ("front", "behind", "left", "right")


def _random_object_phrase(corpus: Corpus, rng: np.random.Generator, *, door: bool) -> str:
    def pick(options):
        return options[int(rng.integers(len(options)))]

    color = pick(_COLORS + (None,)) if not door else pick(_COLORS)
    kind = "door" if door else pick(_TYPES + (None,))
    location = pick(_LOCATIONS) if rng.random() < 0.3 else None
    template = pick(corpus.object_templates)
    text = template.format(
        article=pick(corpus.words[pick(("definite", "indefinite"))]),
        color=pick(corpus.words[color]) if color else "",
        type=pick(corpus.words[kind or "object"]),
        location=pick(corpus.words[location]) if location else "",
    )
    return " ".join(text.split())


def sample_instructions(corpus: Corpus, *, count: int, seed: int = 0, sequences: bool = True) -> list[str]:
    """Instructions rendered from the corpus's *training* templates over the game vocabulary.

    Used to train a tokenizer: held-out templates are left out on purpose, so an agent meets
    their words for the first time at evaluation, as a zero-shot claim requires.
    """
    rng = np.random.default_rng(seed)
    skills = [k for k in SKILL_SLOTS if corpus.templates(k)]
    connectives = [k for k in SEQUENCE_SLOTS if corpus.templates(k)] if sequences else []

    def single() -> str:
        kind = skills[int(rng.integers(len(skills)))]
        options = corpus.templates(kind)
        template = options[int(rng.integers(len(options)))]
        if kind == "open":
            return template.format(door=_random_object_phrase(corpus, rng, door=True))
        if kind == "putnext":
            return template.format(obj=_random_object_phrase(corpus, rng, door=False),
                                   obj2=_random_object_phrase(corpus, rng, door=False))
        return template.format(obj=_random_object_phrase(corpus, rng, door=kind == "goto" and rng.random() < 0.2))

    texts = []
    for index in range(count):
        if connectives and index % 4 == 3:
            kind = connectives[int(rng.integers(len(connectives)))]
            options = corpus.templates(kind)
            texts.append(options[int(rng.integers(len(options)))].format(a=single(), b=single()))
        else:
            texts.append(single())
    # Every template and every word at least once, whatever the sampling did.
    for kind in skills + connectives:
        for template in corpus.templates(kind):
            slots = {s: _random_object_phrase(corpus, rng, door=s == "door") for s in ("obj", "obj2", "door")}
            texts.append(template.format(**slots, a=single(), b=single()))
    texts.extend(" ".join(words) for words in corpus.words.values())
    return texts
