"""Environment descriptions: fresh invented words never collide with the game's own vocabulary,
the unseen_descriptions split uses only held-out templates (and no other split ever does), the
sentence order varies, and a seed fixes the description.

Descriptions are read back by turning every template of the family into a regex: each sentence
of a description must match exactly one template, which says whether it is a held-out wording.
:func:`read_description` is also the listener of tests/test_rules.py.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pytest
from minigrid.core.constants import COLOR_NAMES

from instructed_rl.games.descriptions import CONTENTS, LAYOUTS, RULES, template_words
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.fresh_words import fresh_word, source_of
from instructed_rl.games.spec import find_game
from instructed_rl.resources import corpora_dir

TYPES = ("ball", "box", "key")
PLURALS = {"balls": "ball", "boxes": "box", "keys": "key"}
_COLOR = "|".join(COLOR_NAMES)
_TYPE = "|".join(TYPES)
_PLURAL = "|".join(PLURALS)
# slot -> (field it fills, regex for the slot's text with one group for the field's value)
SLOT_PATTERNS = {
    "word": ("word", r"([a-z]+)"), "Word": ("word", r"([A-Z][a-z]*)"),
    "a_word": ("word", r"an? ([a-z]+)"), "A_word": ("word", r"An? ([a-z]+)"),
    "color": ("color", rf"({_COLOR})"),
    "type": ("type", rf"({_TYPE})"), "a_type": ("type", rf"an? ({_TYPE})"), "types": ("type", rf"({_PLURAL})"),
    "type2": ("type2", rf"({_TYPE})"), "a_type2": ("type2", rf"an? ({_TYPE})"), "types2": ("type2", rf"({_PLURAL})"),
    "objects": ("objects", r"(.+?)"), "rooms": ("rooms", r"(\w+)"),
}


def template_regex(template: str) -> tuple[re.Pattern, list[str]]:
    """A regex matching every sentence ``template`` phrases, and the field each group fills."""
    parts, fields = [], []
    for index, piece in enumerate(re.split(r"(\{\w+\})", template)):
        if index % 2:
            field, pattern = SLOT_PATTERNS[piece[1:-1]]
            fields.append(field)
            parts.append(pattern)
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts)), fields


@lru_cache(maxsize=1)
def all_template_regexes() -> list[tuple[str, str, bool, re.Pattern, list[str]]]:
    """(group, template, held out?, regex, fields) for every template of the family."""
    groups = [(f"layout.{k}", v) for k, v in LAYOUTS.items()] + [("contents", CONTENTS)]
    groups += [(f"rule.{k}", v) for k, v in RULES.items()]
    out = []
    for name, templates in groups:
        for heldout, options in ((False, templates.train), (True, templates.heldout)):
            for template in options:
                regex, fields = template_regex(template)
                out.append((name, template, heldout, regex, fields))
    return out


def split_sentences(description: str) -> list[str]:
    return [s for s in re.split(r"(?<=\.) ", description.strip()) if s]


def read_sentence(sentence: str) -> tuple[str, bool, dict[str, str]]:
    """(group, held out?, slot values) of the one template the sentence was phrased from."""
    found = []
    uncapitalised = sentence[:1].lower() + sentence[1:]  # phrase() capitalises a sentence that starts with a slot
    for group, template, heldout, regex, fields in all_template_regexes():
        match = regex.fullmatch(sentence) or regex.fullmatch(uncapitalised)
        if match:
            values = {}
            for field, value in zip(fields, match.groups()):
                values[field] = PLURALS.get(value, value) if field.startswith("type") else value
                if field == "word":
                    values[field] = value.lower()
            found.append((group, heldout, values, template))
    assert len(found) == 1, (sentence, [f[3] for f in found])
    return found[0][:3]


def read_description(description: str) -> list[tuple[str, bool, dict[str, str]]]:
    """Every sentence of a description, read back: (group, held out?, slot values)."""
    return [read_sentence(sentence) for sentence in split_sentences(description)]


def read_rules(description: str) -> dict:
    """The rules a description states, from its text alone."""
    rules: dict = {"roles": {}, "words": {}, "hazards": set(), "colors": {}, "categories": {}}
    for group, _, values in read_description(description):
        if group == "rule.role":
            rules["roles"][values["word"]] = (values["color"], values["type"])
        elif group == "rule.word":
            rules["words"][values["word"]] = values["type"]
        elif group == "rule.hazard":
            rules["hazards"].add((values["color"], values["type"]))
        elif group == "rule.color":
            rules["colors"][values["word"]] = values["color"]
        elif group == "rule.category":
            rules["categories"][values["word"]] = frozenset((values["type"], values["type2"]))
    return rules


# ---- fresh words ---------------------------------------------------------------------------

def _vocabulary() -> set[str]:
    words = set(COLOR_NAMES) | set(TYPES) | {"door", "object", "gray"} | set(template_words())
    for path in corpora_dir().glob("*.yaml"):
        words.update(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    return words


@pytest.mark.parametrize("source", ["train", "reserved"])
def test_fresh_words_never_collide_with_the_game_vocabulary(source):
    vocabulary = _vocabulary()
    assert {"means", "called", "covers", "grab", "blorb"} <= vocabulary  # template and corpus words are in it
    rng = np.random.default_rng(0)
    draws = [fresh_word(rng, source) for _ in range(20_000)]
    assert not set(draws) & vocabulary
    assert all(source_of(word) == source for word in draws)
    assert len(set(draws)) > 15_000  # a large space: words rarely repeat


def test_the_two_word_sources_never_overlap():
    train = {fresh_word(np.random.default_rng(seed), "train") for seed in range(3000)}
    reserved = {fresh_word(np.random.default_rng(seed), "reserved") for seed in range(3000)}
    assert not train & reserved
    assert {source_of(w) for w in train} == {"train"} and {source_of(w) for w in reserved} == {"reserved"}


# ---- template splits -----------------------------------------------------------------------

def test_every_template_reads_back_as_itself():
    """The regexes are exact: each template's own sentence matches it and no other."""
    slots = {"word": "tapomi", "Word": "Tapomi", "a_word": "a tapomi", "A_word": "A tapomi", "color": "red",
             "type": "ball", "a_type": "a ball", "types": "balls", "type2": "key", "a_type2": "a key",
             "types2": "keys", "objects": "a red ball and two grey keys", "rooms": "nine"}
    for group, template, heldout, _, _ in all_template_regexes():
        text = template.format(**slots)
        text = text[:1].upper() + text[1:]
        assert read_sentence(text)[:2] == (group, heldout), template


DESCRIBED_GAMES = ["GoToRoom", "SkillRoom", "RoleRoom", "BabyAI-GoToLocal-v0", "ColorRoom", "CategoryRoom"]


@pytest.mark.parametrize("game", DESCRIBED_GAMES)
def test_unseen_descriptions_uses_only_heldout_templates_and_no_other_split_does(game):
    splits = [s for s in find_game(game).splits if s != "unseen_sequences"]  # GoToLocal has no sequences
    for split in splits:
        env = InstructedEnv(game, split=split)
        orders = set()
        for seed in range(40):
            obs, info = env.reset(seed=seed)
            read = read_description(obs["description"])
            assert all(heldout == (split == "unseen_descriptions") for _, heldout, _ in read), (split, obs["description"])
            groups = [group for group, _, _ in read]
            assert groups.count("contents") == 1 and sum(g.startswith("layout.") for g in groups) >= 1
            assert sum(g.startswith("rule.") for g in groups) == len(info["rules"])
            orders.add(tuple(groups))
        assert len(orders) > 1, (split, orders)  # the sentences come in a different order across seeds


@pytest.mark.parametrize("game", ["SkillRoom", "CategoryRoom"])
def test_same_seed_same_description(game):
    first, second = InstructedEnv(game, split="test"), InstructedEnv(game, split="test")
    texts = [first.reset(seed=seed)[0]["description"] for seed in range(10)]
    assert texts == [second.reset(seed=seed)[0]["description"] for seed in range(10)]
    assert texts == [first.reset(seed=seed)[0]["description"] for seed in range(10)]
    assert len(set(texts)) == len(texts)
