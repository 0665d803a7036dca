"""Corpora: the BabyAI corpus reproduces minigrid exactly; bad files fail in one clear line."""

from __future__ import annotations

import re

import gymnasium
import minigrid  # noqa: F401
import numpy as np
import pytest

from instructed_rl.language.corpus import Phraser, load_corpus, shipped_corpora
from instructed_rl.errors import CorpusError
from instructed_rl.games.env import InstructedEnv, quiet
from instructed_rl.games.spec import adhoc_spec

LEVELS = [
    "BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0", "BabyAI-PutNextLocal-v0", "BabyAI-OpenDoor-v0",
    "BabyAI-OpenDoorLoc-v0", "BabyAI-GoTo-v0", "BabyAI-Open-v0", "BabyAI-GoToSeq-v0",
    "BabyAI-SynthSeq-v0", "BabyAI-BossLevel-v0",
]


@pytest.mark.parametrize("level_id", LEVELS)
def test_babyai_corpus_reproduces_minigrid_missions(level_id):
    """Same seed, same world: our rendering with babyai.yaml equals minigrid's own string."""
    raw = gymnasium.make(level_id, disable_env_checker=True)
    ours = InstructedEnv(adhoc_spec(level_id), split="test", corpus="babyai")
    seeds = range(60) if "Seq" in level_id or "Boss" in level_id else range(150)
    for seed in seeds:
        with quiet():
            raw_obs, _ = raw.reset(seed=seed)
        obs, info = ours.reset(seed=seed)
        assert obs["mission"] == raw_obs["mission"], (level_id, seed)
        assert np.array_equal(obs["image"], raw_obs["image"])
        assert info["phrasing"] and all(not t.startswith("heldout") for t in info["phrasing"])


def test_phraser_matches_minigrid_surface_on_the_same_level():
    env = gymnasium.make("BabyAI-BossLevel-v0", disable_env_checker=True)
    phraser = Phraser(load_corpus("babyai"))
    for seed in range(40):
        with quiet():
            env.reset(seed=seed)
        level = env.unwrapped
        assert phraser.render(level.instrs, level, np.random.default_rng(0)).text == level.surface


def test_shipped_corpora_load_and_paraphrase_has_heldout():
    assert {"babyai", "paraphrase"} <= set(shipped_corpora())
    for name in shipped_corpora():
        corpus = load_corpus(name)
        assert corpus.skills
    paraphrase = load_corpus("paraphrase")
    assert paraphrase.has_heldout
    for kind in ("goto", "pickup", "open", "putnext"):
        assert len(paraphrase.templates(kind)) >= 4
        assert paraphrase.templates(kind, heldout=True)
        assert not set(paraphrase.templates(kind)) & set(paraphrase.templates(kind, heldout=True))


def test_object_words_and_templates_of_a_corpus(write_yaml):
    path = write_yaml(
        "name: tiny\n"
        "skills: {goto: ['walk up to {obj}']}\n"
        "objects:\n"
        "  templates: ['{article} {type} that is {color} {location}']\n"
        "  words: {ball: [sphere], definite: [that], indefinite: [some]}\n"
    )
    corpus = load_corpus(path)
    env = InstructedEnv("GoToRoom", split="train", corpus=path)
    texts = {env.reset(seed=s)[0]["mission"] for s in range(60)}
    assert all(t.startswith("walk up to ") for t in texts)
    assert any("sphere that is" in t for t in texts)
    assert not any(" ball" in t for t in texts)
    assert all("  " not in t for t in texts)  # empty slots collapse
    assert corpus.name == "tiny"


BAD_CORPORA = [
    ("name: x\nskills: {goto: ['go to {obj}']}\nsurprise: 1\n", "surprise", "unknown key"),
    ("name: x\nskills: {goto: ['go to {thing}']}\n", "skills.goto", "unknown slot {thing}"),
    ("name: x\nskills: {putnext: ['put {obj} away']}\n", "skills.putnext", "lacks slot {obj2}"),
    ("name: x\nskills: {fly: ['fly to {obj}']}\n", "skills.fly", "unknown kind"),
    ("name: x\nskills: {}\n", "skills", "missing or empty"),
    ("skills: {goto: ['go to {obj}']}\n", "name", "missing"),
    ("name: x\nskills: {goto: ['go to {obj}']}\nsequences: {and: ['{a} plus']}\n", "sequences.and", "lacks slot {b}"),
    ("name: x\nskills: {goto: ['go to {obj}']}\nheldout: {skills: {goto: ['go to {obj}']}}\n", "heldout", "both trained on and held out"),
    ("name: x\nskills: {goto: ['go to {obj}']}\nobjects: {words: {cat: [dog]}}\n", "objects.words.cat", "unknown word"),
    ("name: x\nskills: {goto: ['go to {obj']}\n", "skills.goto", "malformed"),
    ("name: [unclosed\n", "not valid YAML", "not valid YAML"),
]


@pytest.mark.parametrize("text,key,problem", BAD_CORPORA)
def test_bad_corpus_gives_one_line_error_naming_file_key_and_fix(write_yaml, text, key, problem):
    path = write_yaml(text, "bad_corpus.yaml")
    with pytest.raises(CorpusError) as caught:
        load_corpus(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "bad_corpus.yaml" in message and key in message and problem in message and "Fix:" in message


def test_corpus_missing_a_skill_the_game_needs(write_yaml):
    path = write_yaml("name: only_goto\nskills: {goto: ['go to {obj}']}\n", "only_goto.yaml")
    with pytest.raises(CorpusError, match=r"only_goto.yaml: skills.pickup: missing, but game PickupRoom needs it"):
        InstructedEnv("PickupRoom", corpus=path)
    with pytest.raises(CorpusError, match=r"no held-out templates"):
        InstructedEnv("GoToRoom", split="unseen_phrasings", corpus=path)


def test_unknown_corpus_name_lists_the_shipped_ones():
    with pytest.raises(CorpusError, match=r"no such corpus file.*babyai.*paraphrase"):
        load_corpus("klingon")


def test_heldout_phrasings_never_in_train_but_always_in_unseen_phrasings():
    corpus = load_corpus("paraphrase")
    patterns = []
    for kind in ("goto", "pickup", "open", "putnext"):
        for template in corpus.templates(kind, heldout=True):
            regex = re.escape(template)
            for slot in ("obj2", "obj", "door"):
                regex = regex.replace(re.escape("{" + slot + "}"), ".+")
            patterns.append(re.compile(f"^{regex}$"))
    train = InstructedEnv("SkillRoom", split="train", corpus=corpus)
    heldout = InstructedEnv("SkillRoom", split="unseen_phrasings", corpus=corpus)
    for seed in range(400):
        mission = train.reset(seed=seed)[0]["mission"]
        assert not any(p.match(mission) for p in patterns), mission
        _, info = heldout.reset(seed=seed)
        assert any(p.match(info["mission"]) for p in patterns), info["mission"]
        assert any(t.startswith("heldout.") for t in info["phrasing"])


def test_yaml_syntax_errors_in_corpora_and_game_specs_name_the_line(tmp_path):
    from instructed_rl.errors import UserError
    from instructed_rl.games.spec import load_game_spec

    corpus = tmp_path / "c.yaml"
    corpus.write_text('name: x\nskills:\n  goto: ["go to {obj}"\n  pickup: x: y\n')
    spec = tmp_path / "g.yaml"
    spec.write_text("id: G\nworld: BabyAI-GoToLocal-v0\n skills: [goto]\n")
    for load, path, line in ((load_corpus, corpus, "line 4"), (load_game_spec, spec, "line 3")):
        with pytest.raises(UserError) as error:
            load(path)
        assert line in str(error.value) and "Fix:" in str(error.value) and "\n" not in str(error.value)
