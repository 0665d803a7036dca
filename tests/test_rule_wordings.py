"""Rule sentences restated for reading practice: what the grammar may say, and that it teaches."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from instructed_rl.games.descriptions import RULES
from instructed_rl.games.rule_wordings import TRAINED_FAMILIES, reworded
from instructed_rl.train.reading import pointer_reading_loss, reading_examples, reword_rules, warm_up_reader


def _words(templates) -> set[str]:
    return {w for t in templates for w in re.findall(r"[a-z]+", re.sub(r"\{[^}]*\}", " ", t.lower())) if len(w) > 3}


def _heldout_words() -> set[str]:
    """Words of the held-out rule templates that no training template uses: what makes them unseen."""
    common = {"this", "when", "they", "over"}
    return _words(t for r in RULES.values() for t in r.heldout) - _words(t for r in RULES.values() for t in r.train) - common


@pytest.mark.parametrize("kind", TRAINED_FAMILIES)
def test_a_restated_rule_names_its_word_and_object_colour_first(kind):
    rng = np.random.default_rng(0)
    for _ in range(200):
        sentence = reworded(kind, None if kind == "hazard" else "dax", "green", "ball", rng).lower()
        assert ("green ball" in sentence) != (kind == "word"), sentence
        assert kind == "hazard" or "dax" in sentence
        assert sentence.endswith((".", "!"))


def test_no_restatement_uses_a_held_out_templates_words_and_untrained_families_have_none():
    rng = np.random.default_rng(1)
    heldout = _heldout_words()
    for kind in TRAINED_FAMILIES:
        for _ in range(300):
            words = set(re.findall(r"[a-z]+", reworded(kind, "dax", "red", "key", rng).lower()))
            assert not words & heldout, (kind, words & heldout)
    assert reworded("color", "tapomi", "red", "", rng) is None
    assert reworded("category", "dobel", None, "ball", rng) is None


def test_rewording_a_description_restates_its_rules_and_keeps_the_rest():
    example = next(e for e in reading_examples(["RoleRoom"], corpus="paraphrase", split="train", worlds_per_game=5,
                                               seed=0) if e.rules)
    rng = np.random.default_rng(0)
    changed = [reword_rules(example.description, example.rules, rng) for _ in range(20)]
    assert any(text != example.description for text in changed)
    objects = example.description.split(". ")[1] if ". " in example.description else ""
    for text in changed:
        for rule in example.rules:
            assert rule["word"] in text and f"{rule['color']} {rule['type']}" in text
        assert objects.split(" ")[-1] in text  # the world's contents are left as they were


def _pointer_agent():
    from instructed_rl.model.agent import Agent, AgentConfig

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32, "max_length": 256},
                                    "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1,
                                               "read_description": True, "reader": "pointer",
                                               "reader_context_layers": 1}})
    examples = reading_examples(["RoleRoom"], corpus="paraphrase", split="train", worlds_per_game=300, seed=0)
    texts = [text for e in examples for text in (e.instruction, e.description)]
    return Agent.create(config, texts=texts, seed=0)


@pytest.mark.integration
def test_practice_on_restated_rules_teaches_to_read_wordings_no_template_has():
    """Two pointers, the same steps: the one that practised on restated rules reads restated
    descriptions (fresh worlds, fresh draws of the grammar) far better than the one that did not."""
    fresh = reading_examples(["RoleRoom"], corpus="paraphrase", split="test", worlds_per_game=120, seed=99)
    rng = np.random.default_rng(5)
    restated = [type(e)(e.instruction, reword_rules(e.description, e.rules, rng), e.target, e.plain, e.rules)
                for e in fresh]
    read = {}
    for reword in (False, True):
        torch.manual_seed(0)
        agent = _pointer_agent()
        warm_up_reader(agent, games=["RoleRoom"], corpus="paraphrase", steps=150, seed=0, max_grad_norm=1.0,
                       worlds_per_game=300, lr=4e-3, log=lambda _: None, reword=reword)
        with torch.no_grad():
            read[reword] = pointer_reading_loss(agent, restated)[1]
    print(read)
    assert read[True] >= read[False] + 0.2, read


@pytest.mark.integration
def test_a_reading_only_run_trains_the_pointer_alone_and_records_its_time(tmp_path):
    import json

    from safetensors.torch import load_file

    from instructed_rl.commands.train import run as train_run

    start = tmp_path / "start"
    torch.manual_seed(0)
    _pointer_agent().save_pretrained(start)
    config = tmp_path / "reading.yaml"
    config.write_text(f"algorithm: imitation\ngames: [RoleRoom]\ncorpus: paraphrase\ninit_agent: {start}\nframes: 0\n"
                      "reading_warmup: 30\nreading_warmup_worlds: 100\nreading_reword: true\nseed: 1\nthreads: 1\n"
                      "eval_episodes: 2\n")
    final = train_run(str(config), str(tmp_path / "run"), [])
    before, after = load_file(start / "model.safetensors"), load_file(f"{final}/model.safetensors")
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all("pointer_reader" in name for name in changed), sorted(changed)[:5]
    record = json.loads((tmp_path / "run" / "training_record.json").read_text())
    assert record["frames"] == 0 and record["wall_seconds"] > 0 and record["reading_warmup"]


def test_frames_zero_needs_reading_steps():
    from instructed_rl.train.imitation import ImitationConfig

    with pytest.raises(ValueError, match="reading-only"):
        ImitationConfig(games=["SkillRoom"], frames=0)
