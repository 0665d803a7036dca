"""The grounding check: held-out wordings pass, words nothing names are refused."""

from __future__ import annotations

import io

import numpy as np
import pytest

from instructed_rl.language.corpus import load_corpus
from instructed_rl.games.env import InstructedEnv
from instructed_rl.language.understanding import check_instruction

# Invented for this test: objects no game has, other languages, keyboard noise.
UNKNOWN_NOUNS = ("unicorn", "dragon", "teapot", "sofa", "lamp", "banana", "bicycle", "cloud", "hammer", "violin")
FOREIGN = ("va à la balle rouge", "ouvre la porte bleue", "geh zum roten Ball", "hebe den gelben Schlüssel auf",
           "ve a la caja verde", "去红色的球", "赤いボールに行って", "иди к синему ключу")


def _nonsense(rng: np.random.Generator) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    texts = [f"{verb} the {color}{noun}" for verb in ("go to", "pick up", "open", "put down")
             for color in ("", "red ", "grey ") for noun in UNKNOWN_NOUNS]
    texts += [" ".join("".join(rng.choice(list(letters), size=int(rng.integers(3, 8)))) for _ in range(3))
              for _ in range(100)]
    return texts + list(FOREIGN)


def test_held_out_paraphrases_are_accepted_and_nonsense_refused():
    corpus = load_corpus("paraphrase")
    accepted = []
    for game in ("SkillRoom", "PutNextRoom", "GoToRoom", "PickupRoom", "OpenRoom"):
        env = InstructedEnv(game, split="unseen_phrasings", corpus=corpus)
        for seed in range(80):
            obs, _ = env.reset(seed=seed)
            accepted.append(check_instruction(obs["mission"], corpus=corpus, description=obs["description"]).understood)
    nonsense = _nonsense(np.random.default_rng(0))
    refused = [not check_instruction(text, corpus=corpus).understood for text in nonsense]
    assert np.mean(accepted) >= 0.99, f"accepted {np.mean(accepted):.1%} of {len(accepted)} held-out paraphrases"
    assert np.mean(refused) >= 0.95, f"refused {np.mean(refused):.1%} of {len(refused)} nonsense instructions"


@pytest.mark.parametrize("game,split", [("RoleRoom", "unseen_words"), ("WordRoom", "test"), ("ColorRoom", "test"),
                                        ("CategoryRoom", "unseen_words")])
def test_words_the_description_defines_are_placed(game, split):
    corpus = load_corpus("paraphrase")
    env = InstructedEnv(game, split=split, corpus=corpus)
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        assert check_instruction(obs["mission"], corpus=corpus, description=obs["description"]).understood
        bare = check_instruction(obs["mission"], corpus=corpus)  # without the description the invented word is unknown
        assert not bare.understood and bare.unplaced


def test_the_refusal_names_the_words_and_the_fix():
    result = check_instruction("go to the unicorn", corpus=load_corpus("paraphrase"))
    assert result.unplaced == ("unicorn",)
    assert "'unicorn'" in result.message() and "Fix:" in result.message() and "\n" not in result.message()


def test_play_refuses_words_nothing_defines_unless_asked_to_run_anyway():
    from instructed_rl.interactive.config import PlayConfig
    from instructed_rl.interactive.repl import Session

    for anyway, refused in ((False, True), (True, False)):
        config = PlayConfig(agent="random", game="GoToRoom", seed=3, fps=0, color="never", anyway=anyway,
                            instruction=("go to the unicorn",), max_steps=5)
        session = Session(config, out=io.StringIO())
        session.new_world(config.seed)
        outcome = session.run("go to the unicorn")
        session.close()
        assert (outcome.status == "not_run" and "'unicorn'" in outcome.message) == refused, outcome


def test_an_objects_noun_ends_its_phrase():
    """Words after the noun ("adjacent", "so it sits", "quickly") or after "that" used as a pronoun
    are the wording's, left to the rephraser; a word in the noun's own place is still checked."""
    corpus = load_corpus("paraphrase")
    for text in ("position the yellow key adjacent to the grey box", "move the red ball so it sits next to the blue key",
                 "go to the green door quickly", "pick up the purple box now, please",
                 "go to the red ball and after that stand next to the blue key"):
        assert check_instruction(text, corpus=corpus).understood, text
    assert check_instruction("put the red ball adjacent to the unicorn", corpus=corpus).unplaced == ("unicorn",)
    assert "unicorn" in check_instruction("put the red unicorn adjacent to the box", corpus=corpus).unplaced
    assert check_instruction("go to that unicorn ball", corpus=corpus).unplaced == ("unicorn",)
    assert check_instruction("go to this unicorn", corpus=corpus).unplaced == ("unicorn",)


def test_what_not_to_do_is_refused_by_its_negation():
    """No skill says what not to do, and a reading that drops the "not" does the opposite."""
    corpus = load_corpus("paraphrase")
    for text, word in (("do not pick up the red ball", "not"), ("Don't go to the blue key!", "don't"),
                       ("never open the grey door", "never"), ("go to a ball without touching the box", "without")):
        result = check_instruction(text, corpus=corpus)
        assert result.unplaced == (word,), text
        assert "say what to do instead" in result.message()
    assert check_instruction("put the red ball next to the blue key", corpus=corpus).understood
