"""What is in view, in words (BabyAI-Text style), for agents that read instead of look.

    import gymnasium, instructed_rl
    from instructed_rl.games.text_view import TextView

    env = TextView(gymnasium.make("InstructedRL/GoToRoom-v0"))
    obs, _ = env.reset(seed=3)
    obs["view"]   # 'You see a wall 3 steps forward. You see a red ball 1 step left and 2 steps forward. ...'

The observation becomes text only: ``mission``, ``description`` and ``view``. ``view`` names
every object in the 7x7 egocentric view (its colour, type, a door's state) and where it is,
counted in steps from the agent (forward, left, right), the nearest wall straight ahead, to
the left and to the right, and what the agent carries. Cells hidden behind walls are not
described: the view says only what minigrid's own observation shows.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces
from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, STATE_TO_IDX

from instructed_rl.games.env import MAX_TEXT_LENGTH, TEXT_CHARSET

AGENT_X, AGENT_Y = 3, 6  # the agent's cell in minigrid's 7x7 view: bottom row, middle column, facing up
IDX_TO_STATE = {index: name for name, index in STATE_TO_IDX.items()}
OBJECTS = ("door", "key", "ball", "box", "goal", "lava")
VIEW_LENGTH = 4096  # more than 48 cells' sentences can take


def _steps(count: int, word: str) -> str:
    return f"{count} step{'s' if count != 1 else ''} {word}"


def where(x: int, y: int) -> str:
    """``1 step left and 2 steps forward`` for a cell of the view, relative to the agent."""
    forward, sideways = AGENT_Y - y, x - AGENT_X
    parts = []
    if sideways:
        parts.append(_steps(abs(sideways), "right" if sideways > 0 else "left"))
    if forward:
        parts.append(_steps(forward, "forward"))
    return " and ".join(parts) or "here"


def _name(cell: np.ndarray) -> str:
    """``red ball``, ``locked purple door``; a goal or lava has one colour, so none is said."""
    kind, color, state = (int(v) for v in cell)
    thing = IDX_TO_OBJECT[kind]
    if thing in ("goal", "lava"):
        return thing
    name = f"{IDX_TO_COLOR[color]} {thing}"
    return f"{IDX_TO_STATE[state]} {name}" if thing == "door" else name


def describe_view(image: np.ndarray) -> list[str]:
    """The sentences of one symbolic 7x7x3 view (``obs["image"]``)."""
    sentences = []
    walls = {"forward": None, "left": None, "right": None}
    for distance in range(1, AGENT_Y + 1):  # the nearest wall straight ahead
        if walls["forward"] is None and IDX_TO_OBJECT[int(image[AGENT_X, AGENT_Y - distance, 0])] == "wall":
            walls["forward"] = (AGENT_X, AGENT_Y - distance)
    for distance in range(1, AGENT_X + 1):  # and on each side
        for side, x in (("left", AGENT_X - distance), ("right", AGENT_X + distance)):
            if walls[side] is None and IDX_TO_OBJECT[int(image[x, AGENT_Y, 0])] == "wall":
                walls[side] = (x, AGENT_Y)
    for side in ("forward", "left", "right"):
        if walls[side] is not None:
            sentences.append(f"You see a wall {where(*walls[side])}.")
    # Near to far, then left to right: the order a reader would scan.
    for y in range(AGENT_Y, -1, -1):
        for x in range(7):
            if (x, y) == (AGENT_X, AGENT_Y):
                continue
            if IDX_TO_OBJECT[int(image[x, y, 0])] in OBJECTS:
                sentences.append(f"You see a {_name(image[x, y])} {where(x, y)}.")
    carried = image[AGENT_X, AGENT_Y]
    if IDX_TO_OBJECT[int(carried[0])] in OBJECTS:
        sentences.append(f"You carry a {_name(carried)}.")
    else:
        sentences.append("You carry nothing.")
    return sentences


class TextView(gymnasium.ObservationWrapper):
    """Observations as text only: ``mission``, ``description`` and ``view`` (see the module docstring)."""

    def __init__(self, env: gymnasium.Env):
        super().__init__(env)
        text = spaces.Text(max_length=MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
        self.observation_space = spaces.Dict({
            "mission": text,
            "description": text,
            "view": spaces.Text(max_length=VIEW_LENGTH, min_length=0, charset=TEXT_CHARSET),
        })

    def observation(self, observation):
        return {"mission": observation["mission"], "description": observation["description"],
                "view": " ".join(describe_view(observation["image"]))}
