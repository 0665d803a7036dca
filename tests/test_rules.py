"""Games whose rules live in the description: the rule the text states is the rule the env enforces,
held-out rules never reach train, the description is necessary and sufficient, the bot solves them.

The env checker and the seeded determinism rollout run on these games in tests/test_games.py
(every registered game and split is parametrized there).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest
from minigrid.core.constants import COLOR_NAMES, DIR_TO_VEC
from minigrid.envs.babyai.core.verifier import GoToInstr, ObjDesc, PickupInstr, PutNextInstr

from instructed_rl.acting.actors import Decision
from instructed_rl.acting.bot import DONE_ACTION, Bot
from instructed_rl.errors import GameSpecError
from instructed_rl.eval.cell import EvalConfig, run_seeds
from instructed_rl.games.env import InstructedEnv
from instructed_rl.games.fresh_words import source_of
from instructed_rl.games.spec import SPLITS, find_game, load_game_spec, shipped_games
from instructed_rl.language.corpus import ObjectAlias, Phraser, load_corpus

from tests.test_descriptions import read_rules

RULE_GAMES = [spec.id for spec in shipped_games().values() if spec.rules is not None]
TRAINED_RULE_GAMES = [g for g in RULE_GAMES if "unseen_rules" in find_game(g).splits]
NEW_FAMILY_GAMES = ["ColorRoom", "CategoryRoom"]
TYPES = ("ball", "box", "key")

SKILL = re.compile(r"^(?:go to|pick up) (.+)$|^put (.+) next to (.+)$")


# ---- reading the text back, as a listener would -------------------------------------------
# read_rules (tests/test_descriptions.py) reads every template of the family, train and held out.

def read_mission(mission: str) -> tuple[str, list[str]]:
    """(kind, object phrases) of a mission phrased by the babyai corpus."""
    match = SKILL.match(mission)
    assert match, mission
    if match.group(1):
        return ("goto" if mission.startswith("go to") else "pickup"), [match.group(1)]
    return "putnext", [match.group(2), match.group(3)]


def room_objects(level) -> list[tuple[str, str]]:
    return [(o.color, o.type) for o in level.grid.grid if o is not None and o.type in TYPES]


def meaning(phrase: str, rules: dict) -> tuple[set[str] | None, set[str] | None]:
    """(colours, types) a two-word phrase ("the red ball", "the tapomi ball", "the red dax",
    "the red dobel") allows under the stated rules; None where the rules do not say."""
    color_word, noun = phrase.split()[1:]
    colors = {color_word} if color_word in COLOR_NAMES else (
        {rules["colors"][color_word]} if color_word in rules["colors"] else None)
    if noun in TYPES:
        types = {noun}
    elif noun in rules["words"]:
        types = {rules["words"][noun]}
    else:
        types = set(rules["categories"][noun]) if noun in rules["categories"] else None
    return colors, types


def resolve(phrase: str, rules: dict, objects: list[tuple[str, str]], rng) -> tuple[str, str]:
    """The (colour, type) a phrase means under the stated rules; a guess among what is in view when
    the rules do not say (no description, or another episode's)."""
    words = phrase.split()[1:]  # drop the article
    if len(words) == 1 and words[0] in TYPES:  # "a ball": the one of that type that is not a hazard
        options = [o for o in objects if o[1] == words[0] and o not in rules["hazards"]]
    elif len(words) == 1:  # "the treasure": a role
        bound = rules["roles"].get(words[0])
        options = [bound] if bound in objects else objects
    else:  # "the red key", "the red dax", "the tapomi ball", "the red dobel"
        colors, types = meaning(phrase, rules)
        options = [o for o in objects if (colors is None or o[0] in colors) and (types is None or o[1] in types)]
    options = sorted(set(options)) or sorted(set(objects))
    return options[int(rng.integers(len(options)))]


def read_instruction(mission: str, description: str, level, rng):
    """The verifier tree a perfect listener builds from the text (and the objects in view)."""
    kind, phrases = read_mission(mission)
    rules, objects = read_rules(description), room_objects(level)
    targets = [resolve(p, rules, objects, rng) for p in phrases]
    descs = [ObjDesc(t, c) for c, t in targets]
    if kind == "putnext":
        return PutNextInstr(*descs)
    return (GoToInstr if kind == "goto" else PickupInstr)(descs[0])


class Reader:
    """Reads the target from mission + description, then lets the BabyAI bot walk there.

    It is the bot with its knowledge of the real target replaced by what the text says, so it
    shows what the description is worth: with it the games are solved, without it the reader
    has to guess among the objects in view.
    """

    name = "reader"

    def start(self, env, *, instruction: str, description: str, seed: int, corpus=None) -> None:
        level = env.unwrapped.level
        guess = read_instruction(instruction, description, level, np.random.default_rng(seed))
        guess.reset_verifier(level)  # resolves its objects, as the bot expects
        real, level.instrs = level.instrs, guess
        try:
            self._bot = Bot(level)  # plans from level.instrs once, here
        finally:
            level.instrs = real

    def act(self, obs) -> Decision:
        action = self._bot.next_action()
        return Decision(DONE_ACTION if action is None else action)


# ---- the games ----------------------------------------------------------------------------

def test_rule_games_are_shipped_with_the_new_split():
    assert {"RoleRoom", "RoleRoomNew", "WordRoom", "HazardRoom", "ColorRoom", "CategoryRoom"} <= set(RULE_GAMES)
    assert "unseen_rules" in SPLITS
    assert {find_game(g).rules.family for g in RULE_GAMES} == {"roles", "words", "hazards", "colors", "categories"}
    # the training game draws fresh invented role words; the held-out game names its roles with real words
    assert find_game("RoleRoom").rules.fresh_words and not find_game("RoleRoom").rules.words
    assert find_game("RoleRoomNew").rules.words and not find_game("RoleRoomNew").rules.fresh_words
    assert find_game("RoleRoomNew").splits == ("test", "unseen_descriptions")
    # ColorRoom is evaluation only: no train split
    color_room = find_game("ColorRoom")
    assert "train" not in color_room.splits and "evaluation only" in color_room.title
    assert color_room.rules.fresh_words == 3 and find_game("CategoryRoom").rules.fresh_words == 2


def _words_of(info) -> list[str]:
    return [f["word"] for f in info["rules"] if f["word"]]


def _check_word_sources(spec, split, info) -> None:
    """Fresh words: the reserved source in unseen_words, the train source everywhere else."""
    if spec.rules.fresh_words:
        words = _words_of(info)
        assert len(words) == len(set(words)) == spec.rules.fresh_words
        wanted = "reserved" if split == "unseen_words" else "train"
        assert all(source_of(w) == wanted for w in words), (split, words)
    else:
        assert sorted(_words_of(info)) == sorted(spec.rules.words)


def _facts_as_read(rules: dict) -> dict:
    """The rules read back from the text, in the shape of ``info["rules"]`` facts."""
    facts = {("role", w, c, t, None) for w, (c, t) in rules["roles"].items()}
    facts |= {("word", w, None, t, None) for w, t in rules["words"].items()}
    facts |= {("hazard", None, c, t, None) for c, t in rules["hazards"]}
    facts |= {("color", w, c, None, None) for w, c in rules["colors"].items()}
    facts |= {("category", w, None, *sorted(pair)) for w, pair in rules["categories"].items()}
    return facts


def _facts_of(info) -> set:
    out = set()
    for f in info["rules"]:
        types = (f["type"], f["type2"])
        if f["kind"] == "category":
            types = tuple(sorted(types))
        out.add((f["kind"], f["word"], f["color"], *types))
    return out


@pytest.mark.parametrize("game", RULE_GAMES)
def test_stated_rule_is_the_enforced_rule(game):
    """Parse the description back: the verifier's target is the object the rule names, the
    mission alone never names it, and the rooms hold the distractors that make reading necessary."""
    spec = find_game(game)
    family = spec.rules.family
    seeds = range(300) if game in NEW_FAMILY_GAMES else range(150)
    for split in spec.splits:
        env = InstructedEnv(spec, split=split)
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            rules = read_rules(obs["description"])
            assert _facts_as_read(rules) == _facts_of(info), obs["description"]  # the text says what the world set
            _check_word_sources(spec, split, info)
            kind, phrases = read_mission(obs["mission"])
            instruction = info["instruction"]
            assert kind == instruction["kind"]
            targets = [instruction["obj"]] + ([instruction["obj2"]] if kind == "putnext" else [])
            targets = [(o["color"], o["type"]) for o in targets]
            objects = Counter(room_objects(env.level))
            mission_words = set(obs["mission"].split())
            words = _words_of(info)
            used = {f["word"] for f in info["rules"] if f["used"] and f["word"]}
            assert family == "hazards" or used == set(words) & mission_words, (used, obs["mission"])
            if family == "roles":
                assert set(rules["roles"]) == set(words)
                assert len(set(rules["roles"].values())) == len(words)
                for phrase, target in zip(phrases, targets):
                    assert phrase.split()[-1] in words
                    assert rules["roles"][phrase.split()[-1]] == target
                    color, kind_ = target
                    assert objects[target] == 1  # "the green ball" names one object
                    assert any(t == kind_ and c != color for c, t in objects)  # same type, other colour
                    assert any(c == color and t != kind_ for c, t in objects)  # same colour, other type
                assert not mission_words & (set(COLOR_NAMES) | set(TYPES))
            elif family == "words":
                assert sorted(rules["words"]) == sorted(words)
                assert len(set(rules["words"].values())) == len(rules["words"])
                for phrase, (color, kind_) in zip(phrases, targets):
                    _, said_color, noun = phrase.split()
                    assert said_color == color and rules["words"][noun] == kind_
                    assert {t for c, t in objects if c == color} == set(TYPES)  # the colour alone is not enough
                assert not mission_words & set(TYPES)
            elif family in ("colors", "categories"):
                _check_two_part_rule(family, rules, words, phrases, targets, objects, obs["mission"])
            else:
                hazard_type = {t for _, t in rules["hazards"]}
                assert len(rules["hazards"]) == spec.rules.hazards and len(hazard_type) == 1
                color, kind_ = targets[0]
                assert (color, kind_) not in rules["hazards"] and {kind_} == hazard_type
                assert phrases[0].split() == ["a", kind_]  # the colour is left out of the mission
                assert {o for o in objects if o[1] == kind_} == {targets[0]} | rules["hazards"]
                assert not any(t in rules["hazards"] for t in targets[1:])
                _check_hazards_end_the_game(env, seed, rules["hazards"], targets[0], kind)


def _check_two_part_rule(family, rules, words, phrases, targets, objects: Counter, mission: str) -> None:
    """colors ("the tapomi ball") and categories ("the red dobel"): the phrase, read under the
    stated rules, picks out exactly the verifier's object, and neither half of it alone does."""
    bound = rules[family]
    assert sorted(bound) == sorted(words)
    assert len(set(bound.values())) == len(bound)  # one colour / one pair of types per word
    by_rule = 0
    for phrase, target in zip(phrases, targets):
        article, first, second = phrase.split()
        assert article == "the"
        colors, types = meaning(phrase, rules)
        assert colors is not None and types is not None, (phrase, rules)
        picked = [o for o in objects.elements() if o[0] in colors and o[1] in types]
        assert picked == [target], (phrase, picked, target)  # exactly the verifier's object
        if (first if family == "colors" else second) not in bound:  # named plainly ("the blue key")
            assert first in COLOR_NAMES and second in TYPES
            continue
        by_rule += 1
        same_color = [o for o in objects.elements() if o[0] in colors]
        same_types = [o for o in objects.elements() if o[1] in types]
        assert len(same_color) > 1 and len(same_types) > 1, (phrase, objects)  # neither half alone is enough
        if family == "colors":
            assert first not in COLOR_NAMES and second == target[1]
            assert any(c != target[0] and t == target[1] for c, t in objects)  # its type, another colour
            assert any(c == target[0] and t != target[1] for c, t in objects)  # its colour, another type
        else:
            assert first == target[0] and second not in TYPES
            assert any(c == target[0] and t not in types for c, t in objects)  # its colour, outside the category
            for covered in types:  # each of the category's types in another colour
                assert any(c != target[0] and t == covered for c, t in objects)
    assert by_rule >= 1, mission  # put next to names at least one of its objects through the rule


def _face(level, target_pos) -> bool:
    """Put the agent on a free cell next to ``target_pos``, facing it."""
    for direction, vec in enumerate(DIR_TO_VEC):
        cell = (int(target_pos[0] - vec[0]), int(target_pos[1] - vec[1]))
        if level.grid.get(*cell) is None:
            level.agent_pos, level.agent_dir = cell, direction
            return True
    return False


def _positions(level, wanted) -> list[tuple[int, int]]:
    return [(i, j) for i in range(level.width) for j in range(level.height)
            if (o := level.grid.get(i, j)) is not None and (o.color, o.type) == wanted]


def _check_hazards_end_the_game(env, seed, hazards, target, kind):
    rng = np.random.default_rng(seed)
    forward, pickup, toggle = (env.level.actions.forward, env.level.actions.pickup, env.level.actions.toggle)
    for hazard in hazards:
        env.reset(seed=seed)
        assert _face(env.level, _positions(env.level, hazard)[0])
        action = [forward, pickup, toggle][int(rng.integers(3))]
        _, reward, terminated, _, info = env.step(action)
        assert terminated and reward == 0 and not info["success"] and info.get("hazard")
    env.reset(seed=seed)  # touching the target is fine: facing it ends go to, picking it up ends pick up
    assert _face(env.level, _positions(env.level, target)[0])
    _, reward, terminated, _, info = env.step(pickup)
    solved = kind in ("goto", "pickup")
    assert not info.get("hazard") and terminated == solved and info["success"] == solved and (reward > 0) == solved


def _stated_heldout(spec, description: str, *, mission: str | None = None) -> bool:
    """Whether the description states a held-out rule (one the mission uses, when given)."""
    keys = ("kind", "word", "color", "type", "type2")
    facts = [dict(zip(keys, fact)) for fact in _facts_as_read(read_rules(description))]
    if mission is not None and spec.rules.family != "hazards":
        facts = [f for f in facts if f["word"] in mission.split()]
    return any(p.matches(f) for p in spec.heldout_rules for f in facts)


@pytest.mark.parametrize("game", TRAINED_RULE_GAMES)
def test_heldout_rules_never_in_train_and_always_used_in_unseen_rules(game):
    spec = find_game(game)
    train = InstructedEnv(spec, split="train", corpus="paraphrase")
    seen = []
    for seed in range(2000):
        obs, info = train.reset(seed=seed)
        assert not _stated_heldout(spec, obs["description"]), obs["description"]
        assert not any(p.matches(f) for p in spec.heldout_rules for f in info["rules"])
        seen.extend(info["rules"])
    test = InstructedEnv(spec, split="test")
    for seed in range(1_000_000, 1_000_300):
        assert not _stated_heldout(spec, test.reset(seed=seed)[0]["description"])
    held = InstructedEnv(spec, split="unseen_rules")
    for seed in range(200):
        obs, _ = held.reset(seed=seed)
        assert _stated_heldout(spec, obs["description"], mission=obs["mission"]), (obs["mission"], obs["description"])
    for pattern in spec.heldout_rules:  # each part of a held-out pairing is trained, only the pairing is new
        fields = {k: v for k, v in (("word", pattern.word), ("color", pattern.color), ("type", pattern.type),
                                    ("type2", pattern.type2)) if v}
        if len(fields) < 2:  # a single value held out altogether (WordRoom: no noun means a box)
            continue
        for name, value in fields.items():
            if name.startswith("type"):  # a category covers its two types in either order
                assert any(value in (fact["type"], fact["type2"]) for fact in seen), (pattern, name)
            else:
                assert any(fact[name] == value for fact in seen), (pattern, name)


@pytest.mark.parametrize("game", RULE_GAMES)
def test_bot_solves_the_rule_games(game):
    spec = find_game(game)
    split = spec.splits[-1]
    results = run_seeds(EvalConfig(agent="bot", game=game), split, list(range(120)))
    successes = sum(r.success for r in results)
    # The bot never reads the description; in HazardRoom it may, rarely, pick up a hazard that
    # stands in its way (about 1 episode in 300).
    assert successes >= (117 if spec.rules.family == "hazards" else 120), successes


@pytest.mark.parametrize("game", ["RoleRoom", "WordRoom", "HazardRoom", "ColorRoom", "CategoryRoom"])
def test_the_description_is_necessary_and_sufficient(game):
    """A listener that reads the rules solves the game; without them (or with another episode's)
    it must guess among the objects in view."""
    spec = find_game(game)
    seeds = list(range(1_000_000, 1_000_060))
    rates = {}
    for ablation in ("true", "none", "shuffled"):
        config = EvalConfig(agent="bot", game=game, description=ablation)
        results = run_seeds(config, "test", seeds, actor=Reader())
        rates[ablation] = sum(r.success for r in results) / len(results)
    assert rates["true"] >= 0.97, rates
    assert rates["none"] <= 0.65 and rates["shuffled"] <= 0.65, rates
    assert spec.rules is not None


def test_aliases_keep_the_corpus_grammar():
    """An alias changes what fills the corpus's object template, not the template or the verbs."""
    env = InstructedEnv("RoleRoom", split="train", corpus="zorblax")
    obs, info = env.reset(seed=4)
    corpus = load_corpus("zorblax")
    assert not set(obs["mission"].split()) & (set(COLOR_NAMES) | set(TYPES))
    assert any(f["word"] in obs["mission"].split() for f in info["rules"])
    level = env.level
    desc = ObjDesc(info["instruction"]["obj"]["type"], info["instruction"]["obj"]["color"])
    plain = Phraser(corpus).object_phrase(desc, _without_aliases(level), np.random.default_rng(0))
    assert desc.color in plain.split() or any(w in plain.split() for w in corpus.words[desc.color])
    level.object_aliases = {(desc.type, None): ObjectAlias(noun="dax")}
    phrase = Phraser(corpus).object_phrase(desc, level, np.random.default_rng(0))
    assert "dax" in phrase.split() and not any(w in phrase.split() for w in corpus.words[desc.type])


def test_color_word_alias_replaces_only_the_colour_word():
    """ColorRoom's alias swaps the corpus's colour word for the invented one; type word, article
    and template stay the corpus's."""
    corpus = load_corpus("zorblax")
    env = InstructedEnv("ColorRoom", split="test", corpus="zorblax")
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        level = env.level
        for key in ("obj", "obj2"):
            if key not in info["instruction"]:
                continue
            real = info["instruction"][key]
            desc = ObjDesc(real["type"], real["color"])
            alias = level.object_aliases.get((real["type"], real["color"]))
            phrase = Phraser(corpus).object_phrase(desc, level, np.random.default_rng(seed)).split()
            plain = Phraser(corpus).object_phrase(desc, _without_aliases(level), np.random.default_rng(seed)).split()
            assert any(w in phrase for w in corpus.words[real["type"]])
            if alias is None:
                assert phrase == plain
                continue
            bound = {f["word"]: f["color"] for f in info["rules"]}
            assert alias.color_word in phrase and bound[alias.color_word] == real["color"]
            assert not any(w in phrase for w in corpus.words[real["color"]])
            assert phrase == [alias.color_word if w in corpus.words[real["color"]] else w for w in plain]
    assert ObjectAlias(color_word="tapomi", color=False).color_word == "tapomi"


class _without_aliases:
    def __init__(self, level):
        self._level = level

    def __getattr__(self, name):
        if name == "object_aliases":
            return {}
        return getattr(self._level, name)

    @property
    def unwrapped(self):
        return self


BAD_SPECS = [
    ("world: BabyAI-GoToLocal-v0\nrules: {family: roles, words: [a1]}\n", "rules", "only the world"),
    ("world: instructed_rl:RuleRoom\n", "rules", "missing"),
    ("world: instructed_rl:RuleRoom\nrules: {family: riddles}\n", "rules.family", "'riddles' is not a rule family"),
    ("world: instructed_rl:RuleRoom\nrules: {family: roles, words: [treasure, red]}\n", "rules.words", "colour or type"),
    ("world: instructed_rl:RuleRoom\nrules: {family: roles, words: [treasure, prize]}\nsplits: [train, unseen_rules]\n",
     "heldout_rules", "empty"),
    ("world: instructed_rl:RuleRoom\nrules: {family: roles, words: [treasure, prize]}\nheldout_rules: [{word: trap, color: red}]\n",
     "heldout_rules[0].word", "'trap' is not one of this game's words"),
    ("world: instructed_rl:RuleRoom\nrules: {family: roles, words: [treasure, prize]}\nheldout_rules: [{word: treasure}]\n",
     "heldout_rules[0]", "names a word and a color"),
    ("world: instructed_rl:RuleRoom\nrules: {family: words, words: [dax]}\nheldout_rules: [{word: dax, color: red}]\n",
     "heldout_rules[0]", "names a word and a type"),
    ("world: instructed_rl:RuleRoom\nrules: {family: hazards, hazards: 9}\n", "rules.hazards", "from 1 to 3"),
    ("world: instructed_rl:RuleRoom\nrules: {family: roles, words: [treasure, prize]}\nskills: [open]\n", "skills", "'open'"),
    ("world: instructed_rl:RuleRoom\nrules: {family: colors, fresh_words: 5}\n", "rules.words", "2 to 3 invented colour words"),
    ("world: instructed_rl:RuleRoom\nrules: {family: categories, fresh_words: 3}\n", "rules.words", "1 to 2 category nouns"),
    ("world: instructed_rl:RuleRoom\nrules: {family: categories, fresh_words: 2}\nheldout_rules: [{type: box}]\n",
     "heldout_rules[0]", "cover every type"),
    ("world: instructed_rl:RuleRoom\nrules: {family: categories, fresh_words: 1}\nheldout_rules: [{type: box, type2: box}]\n",
     "heldout_rules[0].type2", "two different types"),
    ("world: instructed_rl:RuleRoom\nrules: {family: categories, fresh_words: 1}\nheldout_rules: [{color: red}]\n",
     "heldout_rules[0]", "names a word and a type pair"),
    ("world: instructed_rl:RuleRoom\nrules: {family: words, fresh_words: 2}\nheldout_rules: [{type: box, type2: key}]\n",
     "heldout_rules[0].type2", "only a categories pattern"),
    ("world: instructed_rl:RuleRoom\nrules: {family: colors, fresh_words: 2}\nheldout_rules: [{type: box}]\n",
     "heldout_rules[0]", "names a word and a color"),
    ("world: instructed_rl:RuleRoom\nrules: {family: roles, words: [treasure, prize]}\ndescription: no slot\n",
     "description", "{rules}"),
]


@pytest.mark.parametrize("text,key,problem", BAD_SPECS)
def test_bad_rule_specs_give_one_line_errors(write_yaml, text, key, problem):
    base = {"id": "X", "description": "'{objects}. {rules}'", "skills": "[goto]", "splits": "[train]"}
    given = {line.split(":", 1)[0] for line in text.splitlines()}
    text = "".join(f"{k}: {v}\n" for k, v in base.items() if k not in given) + text
    path = write_yaml(text, "bad_rules.yaml")
    with pytest.raises(GameSpecError) as caught:
        load_game_spec(path)
    message = str(caught.value)
    assert "\n" not in message and "bad_rules.yaml" in message and key in message and problem in message, message
    assert "Fix:" in message
