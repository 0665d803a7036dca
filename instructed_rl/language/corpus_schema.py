"""The corpus file's schema: its slots, BabyAI's default words, and the checks of a corpus YAML.

:class:`instructed_rl.language.corpus.Corpus` is built from what :func:`corpus_fields` returns;
every mistake is one line naming the file, the line and the key (:mod:`instructed_rl.yaml_check`).
"""

from __future__ import annotations

import string
from typing import Any

from instructed_rl.yaml_check import YamlFile

SKILL_SLOTS: dict[str, frozenset[str]] = {
    "goto": frozenset({"obj"}),
    "pickup": frozenset({"obj"}),
    "open": frozenset({"door"}),
    "putnext": frozenset({"obj", "obj2"}),
}
SEQUENCE_SLOTS: dict[str, frozenset[str]] = {
    "and": frozenset({"a", "b"}),
    "before": frozenset({"a", "b"}),
    "after": frozenset({"a", "b"}),
}
OBJECT_SLOTS = frozenset({"article", "color", "type", "location"})

# BabyAI's own words; a corpus overrides any of them under ``objects.words``.
DEFAULT_WORDS: dict[str, tuple[str, ...]] = {
    "ball": ("ball",),
    "box": ("box",),
    "key": ("key",),
    "door": ("door",),
    "object": ("object",),
    "red": ("red",),
    "green": ("green",),
    "blue": ("blue",),
    "purple": ("purple",),
    "yellow": ("yellow",),
    "grey": ("grey",),
    "front": ("in front of you",),
    "behind": ("behind you",),
    "left": ("on your left",),
    "right": ("on your right",),
    "definite": ("the",),
    "indefinite": ("a",),
}
DEFAULT_OBJECT_TEMPLATE = "{article} {color} {type} {location}"

TOP_LEVEL_KEYS = ("name", "description", "skills", "sequences", "heldout", "objects")
HELDOUT_KEYS = ("skills", "sequences")
OBJECT_KEYS = ("templates", "words")


def _slots(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _strings(file: YamlFile, key: str) -> tuple[str, ...]:
    """A non-empty list of strings (a lone string counts as a list of one)."""
    value = file.get(key)
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise file.fail(key, "must be a non-empty list of strings", f"write '{key.rsplit('.', 1)[-1]}: [\"...\"]'")
    return tuple(value)


def _check_slots(file: YamlFile, key: str, template: str, allowed: frozenset[str], *, need: frozenset[str]) -> None:
    """``template`` uses only ``allowed`` slots, each once, and all of ``need``."""
    try:
        used = _slots(template)
    except ValueError as error:
        raise file.fail(key, f"template {template!r} is malformed ({error})", "balance the braces") from None
    wrong = sorted(set(used) - allowed)
    if wrong:
        raise file.fail(key, f"template {template!r} uses unknown slot {{{wrong[0]}}}",
                        f"use only the slots {', '.join('{' + s + '}' for s in sorted(allowed))}")
    missing = sorted(need - set(used))
    if missing:
        raise file.fail(key, f"template {template!r} lacks slot {{{missing[0]}}}",
                        f"every template there needs {', '.join('{' + s + '}' for s in sorted(need))}")
    if len(used) != len(set(used)):
        raise file.fail(key, f"template {template!r} repeats a slot", "name each slot once")


def _templates(file: YamlFile, key: str, allowed: dict[str, frozenset[str]]) -> dict[str, tuple[str, ...]]:
    """A section of kind -> templates (``skills``, ``heldout.sequences``), each with its kind's slots."""
    section = file.mapping(key, problem="must be a mapping of kind -> list of templates",
                           fix=f"write '{key}: {{goto: [\"go to {{obj}}\"]}}'")
    file.known(key, allowed, what="kind", fix=f"use one of {', '.join(allowed)}")
    out = {}
    for kind in section:
        templates = _strings(file, f"{key}.{kind}")
        for template in templates:
            _check_slots(file, f"{key}.{kind}", template, allowed[kind], need=allowed[kind])
        out[kind] = tuple(t.strip() for t in templates)
    return out


def corpus_fields(file: YamlFile) -> dict[str, Any]:
    """The fields of a :class:`~instructed_rl.language.corpus.Corpus` from a checked corpus file."""
    file.mapping((), required=True, problem="a corpus must be a YAML mapping",
                 fix="start the file with 'name:' and 'skills:'")
    file.known((), TOP_LEVEL_KEYS)
    name = file.text("name", fix="add 'name: my_corpus'")
    skills = _templates(file, "skills", SKILL_SLOTS)
    if not skills:
        raise file.fail("skills", "missing or empty", "list templates for at least one skill, e.g. 'goto: [\"go to {obj}\"]'")
    sequences = _templates(file, "sequences", SEQUENCE_SLOTS)
    file.mapping("heldout", fix="write 'heldout: {skills: {...}, sequences: {...}}'")
    file.known("heldout", HELDOUT_KEYS)
    heldout_skills = _templates(file, "heldout.skills", SKILL_SLOTS)
    heldout_sequences = _templates(file, "heldout.sequences", SEQUENCE_SLOTS)
    for section, held in (("skills", heldout_skills), ("sequences", heldout_sequences)):
        for kind, templates in held.items():
            both = [t for t in templates if t in skills.get(kind, ()) + sequences.get(kind, ())]
            if both:
                raise file.fail(f"heldout.{section}.{kind}", f"template {both[0]!r} is both trained on and held out",
                                "remove it from one of the two lists")
    objects = file.mapping("objects", fix="write 'objects: {templates: [...], words: {...}}'")
    file.known("objects", OBJECT_KEYS)
    object_templates = objects.get("templates") or (DEFAULT_OBJECT_TEMPLATE,)
    object_templates = (object_templates,) if isinstance(object_templates, str) else tuple(object_templates)
    for template in object_templates:
        if not isinstance(template, str):
            raise file.fail("objects.templates", "must be a list of strings", "quote each template")
        _check_slots(file, "objects.templates", template, OBJECT_SLOTS, need=frozenset({"type"}))
    words = dict(DEFAULT_WORDS)
    given = file.mapping("objects.words", fix="write 'words: {ball: [ball, sphere]}'")
    file.known("objects.words", DEFAULT_WORDS, what="word", fix=f"use one of {', '.join(DEFAULT_WORDS)}")
    for word in given:
        words[word] = _strings(file, f"objects.words.{word}")
    description = file.of_type("description", str, default="", problem="must be a string", fix="quote the description")
    return dict(name=name, skills=skills, sequences=sequences, heldout_skills=heldout_skills,
                heldout_sequences=heldout_sequences, object_templates=object_templates, words=words,
                description=description)
