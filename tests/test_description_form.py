"""Descriptions whose objects are worded as no training description words them."""

from __future__ import annotations

import re

import pytest

from instructed_rl.games.env import describe_objects, make_game_env
from instructed_rl.games.spec import shipped_games
from instructed_rl.language.description_form import usual_form
from instructed_rl.model.agent import Agent


@pytest.mark.parametrize("written, usual", [
    ("It holds a ball that is blue, two keys which are grey and a box coloured red.",
     "It holds a blue ball, two grey keys and a red box."),
    ("Never touch the ball that is blue.", "Never touch the blue ball."),
    ("Gray keys and the gray box: avoid the box that is gray.", "Grey keys and the grey box: avoid the grey box."),
    ("Balls that are red are deadly.", "Red balls are deadly."),
    ("A key painted in green, a door colored grey, the ball in purple.", "A green key, a grey door, the purple ball."),
    ("A key of yellow colour, a box with a green hue, the key whose colour is red.",
     "A yellow key, a green box, the red key."),
    ("You see a ball (blue), a ball (a red one) and the box, the grey one.",
     "You see a blue ball, a red ball and the grey box."),
    ("You see three balls (red, blue and grey) and two keys (green and yellow).",
     "You see a red ball, a blue ball, a grey ball and a green key, a yellow key."),
    ("There are two keys, one green and one yellow, and a red box.", "There are a green key, a yellow key, and a red box."),
    ("Objects: four balls (two red, blue, grey).", "Objects: two red balls, a blue ball, a grey ball."),
    ("There are one grey ball; one red box; two purple keys here.",
     "There are a grey ball, a red box and two purple keys here."),
    # words said of one object inside the list: in a sentence of their own after it
    ("It holds a grey ball (the dax), a red key and a box.", "It holds a grey ball, a red key and a box. The grey ball (the dax)."),
    ("You see a red ball, which we call the wug, a blue key - poisonous - and a grey box called the fep here.",
     "You see a red ball, a blue key and a grey box. The red ball, which we call the wug. The blue key - poisonous. "
     "The grey box called the fep here."),
    ("There are a red ball and a yellow box (deadly to touch) here. One room.",
     "There are a red ball and a yellow box here. The yellow box (deadly to touch). One room."),
    ("Objects: two keys [the feps], a ball nobody may touch.", "Objects: two keys, a ball. Two keys [the feps]. The ball nobody may touch."),
    # rules joined in one sentence: a sentence each
    ("The dax is the red ball, and your wug is the blue key, while tapomi means grey.",
     "The dax is the red ball. Your wug is the blue key. Tapomi means grey."),
    ("Every fep is a ball and the word wug names a key.", "Every fep is a ball. The word wug names a key."),
    ("I use dax for the red box and whenever I say wug, I mean the grey key.",
     "I use dax for the red box. Whenever I say wug, I mean the grey key."),
    ("Names: the grey box is the dax, the blue key is the wug.", "Names: the grey box is the dax. The blue key is the wug."),
    # a line at a time: object lines are one list, any other line a sentence
    ("You see:\n- a red ball\n- two blue keys\nRules:\n- dax = red ball\n- wug = blue key",
     "You see: a red ball and two blue keys.\nRules:\ndax = red ball.\nwug = blue key."),
    ("In it are \n- a red ball\n- a box\n. One room.", "In it are a red ball and a box\n. One room."),
    ("- a red ball\n- a grey key\n- The dax is the red ball", "A red ball and a grey key.\nThe dax is the red ball."),
    # one object a sentence: one list
    ("There is a red ball. There are two grey keys. You see a box here. Avoid the red ball.",
     "There are a red ball, two grey keys and a box here. Avoid the red ball."),
    # a list said in two sentences: one list
    ("It holds a grey ball and a blue box. There are also a red box and two yellow keys. Never touch the red box.",
     "There are a grey ball, a blue box, a red box and two yellow keys here. Never touch the red box."),
    # a pronoun in the next sentence, said as the one object or kind the sentence before names
    ("There is a red ball. Avoid it.", "There is a red ball. Avoid the red ball."),
    ("Do you see the grey key? We call it the dax. Look at the boxes. Each one is a wug.",
     "Do you see the grey key? We call the grey key the dax. Look at the boxes. Each box is a wug."),
    ("One thing matters, the red ball. Its name is dax.", "One thing matters, the red ball. The red ball's name is dax."),
    # parts of a description between bars: sentences
    ("Room: one, no doors | Objects: a red ball, a blue key | dax: the red ball",
     "Room: one, no doors. Objects: a red ball, a blue key. dax: the red ball"),
    # what a rule is not, and a colour said as a compound
    ("The dax is the red ball (not the red key). The wug is the blue key, not the grey box.",
     "The dax is the red ball. The wug is the blue key."),
    ("The dax is not the red ball; the dax is the blue key. The grey ball isn't the wug.", "The dax is the blue key."),
    ("The dax is a red-coloured ball.", "The dax is a red ball."),
    # slips of the keyboard in an object phrase
    ("The dax is the grene ball. It holds a red bxo and two yelow kyes.",
     "The dax is the green ball. It holds a red box and two yellow keys."),
])
def test_objects_worded_another_way_read_in_the_usual_form(written, usual):
    assert usual_form(written) == usual


@pytest.mark.parametrize("text", [
    "The key in the red box is the dax.",          # where the key is, not its colour
    "The red ball that is red.",                   # a colour before the noun already
    "A key of yellow and a box.",                  # "of yellow" without a colour noun
    "Two keys, a blue one.",                       # which of the two?
    "Three balls (red and blue).",                 # the colours do not add up to the count
    "Keep clear of the red box; one touch and the game is over.",
    "The world is one room; its walls have doors.",
    "Dax means red. The red ball is the tapomi.",
    "There are a red ball and a blue key here.",  # "here" is said of the room
    "You see a red ball next to a blue key.",
    "A red ball (the dax) lies here.",            # one object: the sentence holds no other
    "You see a key in the red box, a blue ball and a grey door.",
    "You see blue ball, two green boxes, green key and two grey keys.",  # one more object, not words about one
    "You see a red ball, a blue key, and two grey boxes.",  # ", and" before one more object
    "There is only a single room here, and it has no doors.",  # "it" points back into the first clause
    "Dobels are balls and keys.",
    "Both balls and keys count as dobels; you see a red ball and a blue key.",
    "Keep clear of the red box; one touch and the game is over.",
    "You see a red ball. It has no doors.",  # the next sentence names an object of its own
    "There are a red ball and a key. Avoid it.",  # which one "it" is, the list does not say
    "We group balls and keys together as daxes.",  # a list of kinds, not two clauses
    "The grene is the red ball. A boz is a ball.",  # a word alone may be a name the description defines
    "The bleu box is the dax.",  # "bleu" is a word of its own (WordNet)
    "Do not touch the red box. The red box is not safe to touch.",  # what a rule is, said with "not"
])
def test_what_is_not_an_object_worded_another_way_stays(text):
    assert usual_form(text) == text


def test_every_shipped_games_descriptions_are_in_the_usual_form_already():
    """What the agents trained on reads exactly as before."""
    changed = []
    for name, spec in shipped_games().items():
        for split in spec.splits:
            env = make_game_env(name, split=split)
            for seed in range(8):
                description = env.reset(seed=31_000 + seed)[0]["description"]
                if usual_form(description) != description:
                    changed.append((name, split, description))
    assert not changed, changed[:3]


def _won(agent, env, obs, description: str) -> bool:
    """Whether ``agent`` does the mission of ``env``'s episode, just reset to ``obs``, reading ``description``."""
    agent.reset(obs["mission"], description)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(agent.act(obs).action)
        done = terminated or truncated
    return bool(info["success"])


_LISTED = re.compile(r"(a|two|three|four|five|six|seven|eight|nine) (\w+) (\w+)")


def _restyled(objects: str, style: str) -> str:
    """The env's object list ("a red ball, two grey keys and a blue door") worded another way."""
    items = _LISTED.findall(objects)
    assert items, objects
    if style == "semicolons":
        return "; ".join(f"{'one' if count == 'a' else count} {color} {kind}" for count, color, kind in items)
    parts = [f"a {kind} that is {color}" if count == "a" else f"{count} {kind} that are {color}"
             for count, color, kind in items]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


# HazardRoom worlds the default agent lost with either wording before it read them in the usual form.
HAZARD_SEEDS = (8_900_005, 8_900_006, 8_900_008, 8_900_010, 8_900_013, 8_900_017)


@pytest.mark.parametrize("style", ["semicolons", "colour after the noun"])
def test_the_default_agent_avoids_a_hazard_whatever_the_object_list_wording(style):
    agent = Agent.from_pretrained("data/agents/default")
    env = make_game_env("HazardRoom", split="test")
    won = 0
    for seed in HAZARD_SEEDS:
        obs, _ = env.reset(seed=seed)
        objects = describe_objects(env.unwrapped.level)
        description = obs["description"].replace(objects, _restyled(objects, style))
        assert description != obs["description"]
        won += _won(agent, env, obs, description)
    assert won >= len(HAZARD_SEEDS) - 1


def test_an_instruction_and_a_description_both_saying_gray_read_grey():
    """A word the description uses is its own, left as written for the policy; "gray" in both
    texts is the world's grey, not a word the description defines."""
    agent = Agent.from_pretrained("data/agents/default")
    description = "A single room with no doors. It holds a gray ball, a red box and a gray key. Never touch the gray key."
    assert agent.rephrase("pick up the gray ball", description).text == "pick up the grey ball"
    assert agent.split("go to the ball that is gray, then go to the red box", description) == [
        "go to the grey ball", "go to the red box"]


def _said_in_the_list(description: str, rules: list[dict], objects: str) -> str:
    """``description`` with each role and hazard rule said inside its object list, after its object,
    in wordings written for this test, instead of in a sentence of its own."""
    listed = objects
    stated = []
    for rule in rules:
        item = f"a {rule['color']} {rule['type']}"
        if rule["kind"] not in ("role", "hazard") or len(re.findall(rf"\b{item}\b(?!s)", objects)) != 1:
            continue
        said = f" (its name: {rule['word']})" if rule["kind"] == "role" else " which nobody may touch"
        listed = re.sub(rf"\b{item}\b(?!s)", item + said, listed)
        stated.append((f"{rule['color']} {rule['type']}", rule["word"] or ""))
    sentences = [s for s in re.split(r"(?<=[.!?]) ", description)
                 if objects in s or not any(thing in s and word in s for thing, word in stated)]
    return " ".join(sentences).replace(objects, listed)


# RoleRoom and HazardRoom worlds the default agent lost with rules said in the list before it read
# them out of it.
IN_LIST_SEEDS = {"RoleRoom": (8_900_000, 8_900_002, 8_900_004, 8_900_006, 8_900_008, 8_900_009),
                 "HazardRoom": (8_900_000, 8_900_005, 8_900_006, 8_900_008, 8_900_010, 8_900_011)}


@pytest.mark.parametrize("game", sorted(IN_LIST_SEEDS))
def test_the_default_agent_reads_a_rule_said_inside_the_object_list(game):
    agent = Agent.from_pretrained("data/agents/default")
    env = make_game_env(game, split="test")
    won = 0
    for seed in IN_LIST_SEEDS[game]:
        obs, info = env.reset(seed=seed)
        description = _said_in_the_list(obs["description"], info["rules"], describe_objects(env.unwrapped.level))
        assert description != obs["description"] and ("its name:" in description or "nobody" in description)
        won += _won(agent, env, obs, description)
    assert won >= len(IN_LIST_SEEDS[game]) - 1


def _rules_joined(description: str, rules: list[dict]) -> str:
    """``description`` with its rule sentences joined into one by ", and", after the rest."""
    sentences = re.split(r"(?<=[.!?]) ", description)
    stated = [s for s in sentences if any(rule["word"] and rule["word"] in s.lower() for rule in rules)]
    rest = [s for s in sentences if s not in stated]
    clauses = [stated[0].rstrip(".")] + [s[0].lower() + s[1:].rstrip(".") for s in stated[1:]]
    return " ".join(rest + [", and ".join(clauses) + "."])


# RoleRoom worlds the default agent lost with its rules joined so, before it read them a sentence each.
JOINED_SEEDS = (8_900_000, 8_900_001, 8_900_002, 8_900_004, 8_900_006, 8_900_008)


def test_the_default_agent_reads_rules_joined_in_one_sentence():
    agent = Agent.from_pretrained("data/agents/default")
    env = make_game_env("RoleRoom", split="test")
    won = 0
    for seed in JOINED_SEEDS:
        obs, info = env.reset(seed=seed)
        description = _rules_joined(obs["description"], info["rules"])
        assert description.count(", and ") == len(info["rules"]) - 1 >= 1, description
        won += _won(agent, env, obs, description)
    assert won >= len(JOINED_SEEDS) - 1
