"""Instruction parsing and the sequence executor (no learned policy involved)."""

from __future__ import annotations

import pytest

from instructed_rl.language.corpus import Corpus, load_corpus
from instructed_rl.games.env import InstructedEnv
from instructed_rl.language.parse import ParseError, missing_objects, parse_instruction, plan
from instructed_rl.acting.bot import BotSkill
from instructed_rl.acting.executor import SequenceExecutor

BABYAI = load_corpus("babyai")
PARAPHRASE = load_corpus("paraphrase")


@pytest.mark.parametrize("text,expected", [
    ("go to the red ball", ["go to the red ball"]),
    ("go to the red ball, then pick up a key", ["go to the red ball", "pick up a key"]),
    ("open the red door after you pick up the blue box", ["pick up the blue box", "open the red door"]),
    ("go to a ball and open the grey door", ["go to a ball", "open the grey door"]),
    ("go to a ball and pick up a key, then open a door", ["go to a ball", "pick up a key", "open a door"]),
    ("open a door after you go to a ball and pick up a key", ["go to a ball", "pick up a key", "open a door"]),
    ("put the red ball next to a box after you go to the key on your left and open a door",
     ["go to the key on your left", "open a door", "put the red ball next to a box"]),
])
def test_plans_for_babyai_connectives(text, expected):
    assert plan(text, BABYAI) == expected


@pytest.mark.parametrize("text,expected", [
    ("first grab the red ball, then walk to a door", ["grab the red ball", "walk to a door"]),
    ("after you open the blue door, find the grey key", ["open the blue door", "find the grey key"]),
    ("fetch a ball but only after you head to the green box", ["head to the green box", "fetch a ball"]),
    ("throw open the red door; afterwards approach a key", ["throw open the red door", "approach a key"]),
])
def test_plans_for_paraphrase_connectives_including_heldout_ones(text, expected):
    assert plan(text, PARAPHRASE) == expected


def test_a_connective_added_by_a_corpus_needs_no_code():
    corpus = Corpus.from_dict({"name": "mine", "skills": {"goto": ["go to {obj}"], "pickup": ["pick up {obj}"]},
                               "sequences": {"before": ["{a}; next, {b}"], "after": ["once {b} is done, {a}"]}},
                              source="mine.yaml")
    assert plan("pick up the red ball; next, go to a key", corpus) == ["pick up the red ball", "go to a key"]
    assert plan("once go to a key is done, pick up a box", corpus) == ["go to a key", "pick up a box"]


def test_unknown_words_fall_back_to_splitting_on_connectives():
    assert plan("snatch the shiny thing, then wander about", BABYAI) == ["snatch the shiny thing", "wander about"]
    with pytest.raises(ParseError, match="cannot read"):
        parse_instruction("snatch the shiny thing", BABYAI)


@pytest.mark.parametrize("game,split,corpus", [
    ("SkillRoomSeq", "unseen_sequences", "babyai"), ("SkillRoomSeq", "unseen_sequences", "paraphrase"),
    ("GoToSeq", "test", "babyai"), ("BossLevel", "test", "paraphrase"), ("SynthSeq", "test", "babyai"),
    ("PickupRoom", "train", "paraphrase"), ("SkillRoom", "unseen_phrasings", "paraphrase"),
])
def test_parse_recovers_the_env_structured_instruction(game, split, corpus):
    env = InstructedEnv(game, split=split, corpus=corpus)
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        parsed = parse_instruction(obs["mission"], env.corpus)
        assert parsed.to_dict() == info["instruction"], obs["mission"]
        assert [step.text for step in parsed.steps()] == info["subtasks"]
        assert missing_objects(parsed, env.level) == []


def test_missing_objects_are_reported():
    env = InstructedEnv("OpenRoom", split="train")
    obs, _ = env.reset(seed=0)
    colors = {o.color for o in env.level.grid.grid if o is not None and o.type == "door"}
    absent = next(c for c in ("red", "green", "blue", "purple", "yellow", "grey") if c not in colors)
    parsed = parse_instruction(f"open the {absent} door", BABYAI)
    assert missing_objects(parsed, env.level) == [f"the {absent} door"]


@pytest.mark.parametrize("game,split,corpus,episodes", [
    ("SkillRoomSeq", "unseen_sequences", "babyai", 40),
    ("SkillRoomSeq", "unseen_sequences", "paraphrase", 40),
    ("GoToSeqSmall", "unseen_sequences", "babyai", 20),
    ("BossLevelNoUnlock", "unseen_sequences", "paraphrase", 10),
])
def test_executor_with_the_bot_as_single_skill_policy_solves_sequences(game, split, corpus, episodes):
    """The bot solves one part at a time and says when it is done; the executor does the rest."""
    env = InstructedEnv(game, split=split, corpus=corpus)
    wins = walked_all = 0
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        executor = SequenceExecutor(BotSkill(env.level, env.corpus), env.corpus)
        parts = executor.start(obs["mission"], obs["description"])
        assert parts == info["subtasks"]
        parts_seen, done = set(), False
        while not done:
            step = executor.act(obs)
            parts_seen.add(step.part_index)
            assert step.action is not None, f"the bot gave up on seed {seed}"
            obs, _, terminated, truncated, info = env.step(step.action)
            done = terminated or truncated
        wins += info["success"]
        walked_all += parts_seen == set(range(len(parts)))
    assert wins == episodes
    assert walked_all >= episodes // 2  # (a part can also get done in passing while doing another)


def test_parts_joined_by_and_name_an_object_and_pronouns_read_as_the_object_before():
    # "go and stand by ..." is one skill, not "go" and "stand by ..."
    assert plan("go and stand by the red door", BABYAI) == ["go and stand by the red door"]
    assert plan("go to the yellow key, then pick it up", BABYAI) == ["go to the yellow key", "pick the yellow key up"]
    assert plan("pick up the red ball and then put it next to the grey box", BABYAI)[1].endswith(
        "put the red ball next to the grey box")
    assert plan("find a green box and pick it up", BABYAI) == ["find a green box", "pick a green box up"]
    # a pronoun after an object of its own part is that object's
    assert plan("pick up the yellow box and move a purple ball so it sits next to a blue door", BABYAI) == [
        "pick up the yellow box", "move a purple ball so it sits next to a blue door"]
    # a part that names nothing and points at nothing stays a part where the connective is clear
    assert plan("snatch the shiny thing, then wander about", BABYAI) == ["snatch the shiny thing", "wander about"]
