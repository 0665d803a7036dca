"""A tiny policy from outside the project, scored by instructed-rl's own evaluation.

    instructed-rl eval --agent python:examples/wall_follower.py:make_policy --game GoToRoom --episodes 100

It ignores the instruction: it walks forward until something blocks the cell ahead, then turns
right. It is the protocol's smallest example (see instructed_rl/acting/foreign.py), and a floor:
a policy that reads the instruction should beat it.
"""

import numpy as np

FORWARD, RIGHT = 2, 1
EMPTY = 1  # minigrid's object index of an empty cell
AHEAD = (3, 5)  # the cell in front of the agent in its 7x7 view


class WallFollower:
    def start(self, env, *, instruction, description, seed, corpus=None):
        self.rng = np.random.default_rng(seed)

    def act(self, obs):
        if obs["image"][AHEAD][0] == EMPTY:
            return FORWARD if self.rng.random() < 0.9 else RIGHT
        return RIGHT


def make_policy():
    return WallFollower()
