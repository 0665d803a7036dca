"""Places read as BabyAI's verifier reads them (model.places, AgentConfig.read_places): from where
the instruction was given, in that room; the planner's table then counts only what the place allows."""

from __future__ import annotations

import numpy as np
import pytest
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.parse import parser_for
from instructed_rl.language.vocabulary import COLORS, OBJECT_TYPES
from instructed_rl.model.places import Placed, off_place_cells, start_room, without_places
from instructed_rl.model.planner import FAR, distance_table, table_row

ANY_BOX = table_row(OBJECT_TYPES.index("box"), len(COLORS))


def _world() -> np.ndarray:
    """A 9x9 world seen in full: walls around, a wall across x = 5 with a closed door at (5, 2);
    boxes at (2, 2) and (2, 6) in the west room, one at (7, 2) in the east room."""
    cells = np.zeros((9, 9, 3), np.uint8)
    cells[..., 0] = OBJECT_TO_IDX["empty"]
    for edge in (0, 8):
        cells[edge, :, 0] = cells[:, edge, 0] = OBJECT_TO_IDX["wall"]
    cells[5, :, 0] = OBJECT_TO_IDX["wall"]
    cells[5, 2] = [OBJECT_TO_IDX["door"], COLOR_TO_IDX["red"], STATE_TO_IDX["closed"]]
    for x, y in ((2, 2), (2, 6), (7, 2)):
        cells[x, y] = [OBJECT_TO_IDX["box"], COLOR_TO_IDX["green"], 0]
    return cells


def test_a_place_is_read_off_the_text_and_the_rest_goes_to_the_policy():
    parser = parser_for(load_corpus("babyai"))
    assert without_places("put the box on your left next to the yellow key", parser) == (
        "put the box next to the yellow key", (Placed("box", None, "left"), Placed("key", "yellow", None)))
    assert without_places("open the red door in front of you", parser) == (
        "open the red door", (Placed("door", "red", "front"),))
    assert without_places("go to the red ball", parser) == ("go to the red ball", ())
    assert without_places("go to the ball, then open a door", parser) == ("go to the ball, then open a door", ())


def test_a_place_counts_from_where_the_instruction_was_given_inside_that_room():
    world = _world()
    room = start_room(world, 3, 4)
    assert room[1:5, 1:8].all() and not room[6:8, 1:8].any()
    assert room[5, 2] and room[0, 4]  # its door and walls belong to it, as in minigrid's Room.pos_inside
    # Facing east (direction 0) at (3, 4): north, smaller y, is the agent's left.
    left = off_place_cells(world, (3, 4, 0), (Placed("box", None, "left"),))
    assert set(zip(*np.nonzero(left))) == {(2, 6), (7, 2)}  # the box on its right, and the one in the other room
    right = off_place_cells(world, (3, 4, 0), (Placed("box", "green", "right"),))
    assert set(zip(*np.nonzero(right))) == {(2, 2), (7, 2)}
    behind = off_place_cells(world, (3, 4, 0), (Placed("box", None, "behind"),))
    assert set(zip(*np.nonzero(behind))) == {(7, 2)}  # both west boxes lie behind it (x < 3)
    assert not off_place_cells(world, (3, 4, 0), (Placed("box", None, "front"),))[5, 2]  # not a box
    doors = off_place_cells(world, (3, 4, 0), (Placed("door", None, "front"),))
    assert not doors.any()  # the door in the room's east wall is in front of it and in its room
    # Another object of the instruction that has no place keeps every box a target for itself.
    assert not off_place_cells(world, (3, 4, 0), (Placed("box", None, "left"), Placed("box", None, None))).any()


def test_the_table_leads_only_to_the_objects_a_place_allows():
    world = _world()
    assert distance_table(world, (3, 2), 0)[ANY_BOX, 0] == 0  # it stands next to the box at (2, 2)
    skip = off_place_cells(world, (4, 4, 3), (Placed("box", None, "behind"),))  # given facing north at (4, 4)
    assert set(zip(*np.nonzero(skip))) == {(2, 2), (7, 2)}
    assert distance_table(world, (3, 2), 0, skip=skip)[ANY_BOX, 0] == 4  # to (2, 6), behind where it was told
    everything = off_place_cells(world, (4, 4, 3), (Placed("box", "green", "right"),))
    assert distance_table(world, (3, 2), 0, skip=everything)[ANY_BOX, 0] == FAR  # east of x = 4 in its room: none


@pytest.mark.integration
def test_the_default_finds_a_later_parts_object_where_the_verifier_places_it():
    """BabyAI-SynthSeq-v0 seed 7,200,079, a development seed: "put the blue ball behind you next to the
    yellow door in front of you after you open the purple door". "Behind you" and "in front of you"
    count from where the instruction was given; by the time the second part begins the agent stands
    elsewhere. Read from there, the default runs out of the level's 1,728 steps; reading places as
    the verifier does, it succeeds at step 133. The test gives it 600."""
    from instructed_rl.acting.actors import AgentActor
    from instructed_rl.eval.cell import take_step
    from instructed_rl.games.env import InstructedEnv
    from instructed_rl.model.agent import Agent

    agent = Agent.from_pretrained("data/agents/default")
    outcomes = {}
    for read_places in (False, True):
        agent.config.read_places = read_places
        actor = AgentActor(agent)
        env = InstructedEnv("BabyAI-SynthSeq-v0", split="test")
        obs, _ = env.reset(seed=7_200_079)
        actor.start(env, instruction=obs["mission"], description=obs["description"], seed=7_200_079)
        assert actor.parts == [
            "open the purple door", "put the blue ball behind you next to the yellow door in front of you"]
        for _ in range(600):
            step = take_step(env, actor, obs, instruction=obs["mission"], description=obs["description"])
            obs = step.obs
            if step.terminated or step.truncated:
                break
        outcomes[read_places] = bool(step.terminated and step.info["success"])
        if read_places:
            assert actor.skill.placed == (Placed("ball", "blue", "behind"), Placed("door", "yellow", "front"))
    assert outcomes == {False: False, True: True}


def test_read_places_needs_the_planner():
    from instructed_rl.model.agent import AgentConfig
    from instructed_rl.model.policy import PolicyConfig

    with pytest.raises(ValueError, match="read_places needs policy.map_planner"):
        AgentConfig(read_places=True)
    assert AgentConfig(policy=PolicyConfig(map_memory=True, map_planner=True), read_places=True).read_places


def test_it_opens_no_door_its_place_rules_out_in_that_room():
    """Told to open "the door on your left" at (3, 4) facing east in a world whose west room has a
    door on each side, (3, 0) on its left and (3, 8) on its right: facing (3, 8) from the west room,
    toggle may not win; facing (3, 0) it may; and nothing is held back where the instruction also
    names an object without a place (its way may lead through any door), nor for a box."""
    import torch
    from minigrid.core.actions import Actions

    from instructed_rl.model.agent import ActState, Agent

    world = _world()
    for y in (0, 8):
        world[3, y] = [OBJECT_TO_IDX["door"], COLOR_TO_IDX["blue"], STATE_TO_IDX["closed"]]
    anchor = (3, 4, 0)
    door_left = (Placed("door", None, "left"),)
    skip = off_place_cells(world, anchor, door_left)
    assert skip[3, 8] and not skip[3, 0]
    logits = torch.zeros(3, 7)
    logits[:, int(Actions.toggle)] = 5.0
    poses = np.array([[3, 7, 1], [3, 1, 3], [2, 5, 1]])  # facing (3, 8), (3, 0) and the box at (2, 6)
    obs = {"image": np.zeros((3, 7, 7, 3), np.uint8), "world": [world] * 3, "skip": [skip] * 3, "pose": poses}
    state = ActState(instructions=["open the door on your left"] * 3, descriptions=[""] * 3, goal=None, memory=None, greedy=True,
                     generator=None, placed=[door_left] * 3, anchors=[anchor] * 3)
    masked = Agent._doors_ruled_out_shut(logits, obs, state)
    assert masked[0].argmax() != int(Actions.toggle)
    assert torch.equal(masked[1:], logits[1:])
    state.placed = [door_left + (Placed("ball", "red", None),)] * 3  # "put the red ball next to the door on your left"
    assert torch.equal(Agent._doors_ruled_out_shut(logits, obs, state), logits)


@pytest.mark.integration
def test_the_default_opens_no_door_its_place_rules_out_on_a_strict_level():
    """BabyAI-OpenDoorDebug-v0 fails an episode on the first wrong door it opens. Development seeds
    7,900,003 ("open a door behind you") and 7,900,016 ("open a door on your left"): the default
    opened the door it faced first."""
    from instructed_rl.eval.cell import EvalConfig, run_seeds

    config = EvalConfig(agent="data/agents/default", game="BabyAI-OpenDoorDebug-v0")
    results = run_seeds(config, "test", [7_900_003, 7_900_016], bot_paths=False)
    assert [r.success for r in results] == [True, True]
