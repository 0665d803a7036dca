"""The distance table over the seen world and the features the policy takes from it
(model.planner), and the policy part that reads them (policy.map_planner)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

from instructed_rl.language.vocabulary import COLORS, OBJECT_TYPES
from instructed_rl.model.planner import (COLOUR_CLASSES, FAR, NOTHING, TABLE_ROWS, UNSEEN_ROW, distance_table,
                                         plan_classes, plan_features, plan_reading_loss, row_features, step_costs,
                                         table_row)

AGENT, AHEAD, LEFT, RIGHT, BEHIND = range(5)
RED_BALL = table_row(OBJECT_TYPES.index("ball"), COLORS.index("red"))
ANY_BALL = table_row(OBJECT_TYPES.index("ball"), len(COLORS))
BLUE_BALL = table_row(OBJECT_TYPES.index("ball"), COLORS.index("blue"))


def _world() -> np.ndarray:
    """A 9x9 world seen in full: walls around, a wall across y = 4 with a closed red door at x = 6,
    a red ball at (6, 2) beyond it; the agent will stand at (2, 6) facing up (direction 3)."""
    cells = np.zeros((9, 9, 3), np.uint8)
    cells[..., 0] = OBJECT_TO_IDX["empty"]
    for edge in (0, 8):
        cells[edge, :, 0] = cells[:, edge, 0] = OBJECT_TO_IDX["wall"]
    cells[:, 4, 0] = OBJECT_TO_IDX["wall"]
    cells[6, 4] = [OBJECT_TO_IDX["door"], COLOR_TO_IDX["red"], STATE_TO_IDX["closed"]]
    cells[6, 2] = [OBJECT_TO_IDX["ball"], COLOR_TO_IDX["red"], 0]
    return cells


def test_the_table_counts_steps_through_the_door_from_each_cell_around_the_agent():
    table = distance_table(_world(), (2, 6), 3)
    assert table.shape == (TABLE_ROWS, 5)
    # From (2, 6): 4 steps right to (6, 6), 1 up to (6, 5), the closed door (2), then (6, 3) (1),
    # which stands next to the ball: 8.
    assert table[RED_BALL, AGENT] == 8 and table[ANY_BALL, AGENT] == 8
    assert table[RED_BALL, RIGHT] == 7 and table[RED_BALL, LEFT] == 9 and table[RED_BALL, BEHIND] == 9
    assert table[RED_BALL, AHEAD] == 7  # (2, 5), then along y = 5
    assert table[BLUE_BALL, AGENT] == FAR  # never seen: no path
    assert (table[UNSEEN_ROW] == FAR).all()  # the whole world is seen


def test_walls_block_unseen_cells_are_walked_and_lead_the_search():
    cells = _world()
    cells[6, 4] = [OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0]
    assert distance_table(cells, (2, 6), 3)[RED_BALL, AGENT] == FAR
    cells[1:8, 1:4, 0] = OBJECT_TO_IDX["unseen"]  # the room beyond the wall not seen yet
    cells[6, 4] = [OBJECT_TO_IDX["door"], COLOR_TO_IDX["red"], STATE_TO_IDX["locked"]]
    table = distance_table(cells, (2, 6), 3)
    assert table[RED_BALL, AGENT] == FAR
    assert table[UNSEEN_ROW, AGENT] == 4 + 1 + 3  # next to (6, 3): the locked door costs 3
    assert step_costs(cells)[6, 4] == 3 and step_costs(cells)[2, 2] == 1 and step_costs(cells)[0, 0] == 0


def test_with_an_object_cost_a_ball_in_the_doorway_is_a_detour_not_a_wall():
    """The bot moves a blocker aside; a table with planner_object_cost counts that instead of
    giving up on everything behind it."""
    from instructed_rl.model.planner import PlannerSettings
    from instructed_rl.model.policy import PolicyConfig, policy_view

    cells = _world()
    cells[6, 4] = [OBJECT_TO_IDX["door"], COLOR_TO_IDX["red"], STATE_TO_IDX["open"]]
    cells[6, 5] = [OBJECT_TO_IDX["box"], COLOR_TO_IDX["grey"], 0]  # in front of the only door
    assert distance_table(cells, (2, 6), 3)[RED_BALL, AGENT] == FAR
    # (2, 6) -> (6, 6): 4, the box at (6, 5): 4, the open door: 1, (6, 3): 1
    assert distance_table(cells, (2, 6), 3, object_cost=4)[RED_BALL, AGENT] == 10
    assert step_costs(cells, 4)[6, 5] == 4 and step_costs(cells, 4)[0, 0] == 0
    obs = {"image": np.zeros((7, 7, 3), np.uint8), "direction": 3, "map": np.zeros((21, 21, 3), np.uint8),
           "world": cells, "pose": np.array([2, 6, 3])}
    blocked = policy_view(obs, map_memory=True, planner=PolicyConfig(map_memory=True, map_planner=True).planner)
    detour = policy_view(obs, map_memory=True, planner=PlannerSettings(object_cost=4))
    assert not np.array_equal(blocked, detour)
    assert np.array_equal(blocked, policy_view(obs, map_memory=True, planner=True))
    assert PolicyConfig().planner is None
    with pytest.raises(ValueError, match="planner_object_cost"):
        PolicyConfig(planner_object_cost=-1)


def test_features_say_which_way_is_nearer_and_weights_pick_the_rows():
    table = torch.as_tensor(distance_table(_world(), (2, 6), 3)).unsqueeze(0)
    rows = row_features(table)[0]
    assert rows[RED_BALL, 0] == 1 and rows[RED_BALL, 1] == pytest.approx(8 / 40)
    assert rows[RED_BALL, 2] > 0 and rows[RED_BALL, 4] > 0 and rows[RED_BALL, 3] < 0 and rows[RED_BALL, 5] < 0
    assert not rows[BLUE_BALL].any()
    weights = torch.zeros(1, 2, TABLE_ROWS)
    weights[0, 0, RED_BALL] = 1.0
    weights[0, 1, NOTHING] = 1.0
    features = plan_features(table, weights)[0].view(3, 6)
    assert torch.equal(features[0], rows[RED_BALL]) and not features[1].any()


def test_policy_view_folds_the_table_and_the_policy_reads_it_back():
    from instructed_rl.model.planner import unfold_table
    from instructed_rl.model.policy import MAP_FOLDED, policy_view, view_channels

    obs = {"image": np.zeros((7, 7, 3), np.uint8), "direction": 3, "map": np.zeros((21, 21, 3), np.uint8),
           "world": _world(), "pose": np.array([2, 6, 3])}
    view = policy_view(obs, map_memory=True, planner=True)
    assert view.shape == (7, 7, view_channels(True, True))
    read = unfold_table(torch.as_tensor(view[None]), 3 + MAP_FOLDED)[0].numpy()
    assert np.array_equal(read, distance_table(_world(), (2, 6), 3))
    foreign = policy_view({"image": obs["image"], "direction": 3}, map_memory=True, planner=True)
    assert (unfold_table(torch.as_tensor(foreign[None]), 3 + MAP_FOLDED) == FAR).all()  # no world: no path


def test_the_env_reports_its_seen_world_and_the_agents_pose():
    from instructed_rl.games.env import InstructedEnv

    env = InstructedEnv("GoToAnyMaze", split="test")
    obs, _ = env.reset(seed=3)
    level = env.unwrapped.level
    assert obs["world"].shape == (level.width, level.height, 3)
    assert tuple(obs["pose"]) == (*level.agent_pos, level.agent_dir)
    assert 0 < (obs["world"][..., 0] != 0).sum() < level.width * level.height
    assert env.observation_space.contains(obs)


def test_plan_classes_name_the_rows_of_each_slot():
    kind, colour = OBJECT_TYPES.index("key"), COLORS.index("green")
    assert plan_classes((colour, kind, -1, len(OBJECT_TYPES))) == (table_row(kind, colour), NOTHING)
    assert plan_classes((len(COLORS), kind, colour, kind)) == (kind * COLOUR_CLASSES + len(COLORS),
                                                              table_row(kind, colour))
    assert plan_classes((-1, -1, -1, -1)) == (-1, -1)


def _tiny_agent():
    from instructed_rl.model.agent import Agent, AgentConfig

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 32, "film_layers": 1, "map_memory": True}})
    texts = ["go to the red ball", "pick up a key", "put the blue box next to the green key", "a room"]
    return Agent.create(config, texts=texts)


def test_a_grown_agent_acts_as_before_and_its_table_reader_learns():
    from instructed_rl.model.policy import view_channels

    agent = _tiny_agent()
    grown = agent.with_policy(map_planner=True)
    generator = torch.Generator().manual_seed(0)
    image = torch.randint(0, 3, (2, 5, 7, 7, view_channels(True, True)), generator=generator)
    direction = torch.randint(0, 4, (2, 5), generator=generator)
    goal = agent.encode_goal(["go to the red ball", "pick up a key"], ["a room", ""])
    before = agent.forward_sequence(image[..., :view_channels(True)], direction, goal, agent.initial_memory(2))
    after = grown.forward_sequence(image, direction, goal, grown.initial_memory(2))
    assert torch.allclose(before.logits, after.logits, atol=1e-6)

    # The reader of which rows to follow learns from the episodes' targets.
    instructions = ["go to the red ball", "pick up a key", "put the blue box next to the green key"]
    targets = [(COLORS.index("red"), OBJECT_TYPES.index("ball"), -1, len(OBJECT_TYPES)),
               (len(COLORS), OBJECT_TYPES.index("key"), -1, len(OBJECT_TYPES)),
               (COLORS.index("blue"), OBJECT_TYPES.index("box"), COLORS.index("green"), OBJECT_TYPES.index("key"))]
    optimizer = torch.optim.Adam(grown.parameters(), lr=3e-3)
    for _ in range(150):
        goal = grown.encode_goal(instructions, [""] * 3)
        loss, exact = plan_reading_loss(grown.policy.plan_class_logits(goal), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert exact == 1.0 and loss.item() < 0.1


def test_map_planner_needs_the_map():
    from instructed_rl.model.policy import PolicyConfig

    with pytest.raises(ValueError, match="map_planner needs map_memory"):
        PolicyConfig(map_planner=True)
