"""A text-only agent: it reads the instruction and the view in words, never the grid.

    instructed-rl eval --agent python:examples/text_reader.py:make_policy --game GoToRoom --episodes 100

A stand-in for a language-model agent, in a few rules: it takes the object from "go to the red
ball" (or "go to a key"), finds it among the sentences of instructed_rl.games.text_view ("You
see a red ball 1 step left and 2 steps forward."), turns and walks toward it, and says "done"
when it faces it. With the object out of view it turns around once to look, then steps on.
It knows only "go to" instructions; anything else it explores.
"""

import re

from instructed_rl.games.text_view import describe_view

LEFT, RIGHT, FORWARD, DONE = 0, 1, 2, 6
COLORS = r"red|green|blue|purple|yellow|grey"
TYPES = r"ball|box|key|door"
GOAL = re.compile(rf"go to (?:the|a) (?:({COLORS}) )?({TYPES})\b")
SEEN = re.compile(rf"You see an? (?:open |closed |locked )?({COLORS}) ({TYPES}) (.+)\.")
STEPS = re.compile(r"(\d+) steps? (left|right|forward)")


def _where(text: str) -> tuple[int, int]:
    """(sideways, forward) steps of a 'where' phrase; left is negative."""
    sideways = forward = 0
    for count, way in STEPS.findall(text):
        if way == "forward":
            forward = int(count)
        else:
            sideways = int(count) if way == "right" else -int(count)
    return sideways, forward


class TextReader:
    def start(self, env, *, instruction, description, seed, corpus=None):
        match = GOAL.search(instruction.lower())
        self.goal = (match.group(1), match.group(2)) if match else None
        self.turns = 0  # turns in a row without seeing the goal: after a full circle, walk on

    def act(self, obs):
        sentences = describe_view(obs["image"])
        targets, blocked = [], False
        for sentence in sentences:
            if sentence.startswith("You see") and _where(sentence) == (0, 1):  # something in the cell ahead
                blocked = True
            seen = SEEN.match(sentence)
            if seen and self.goal and seen.group(2) == self.goal[1] and self.goal[0] in (None, seen.group(1)):
                targets.append(_where(seen.group(3)))
        if targets:
            self.turns = 0
            sideways, forward = min(targets, key=lambda t: abs(t[0]) + t[1])
            if (sideways, forward) == (0, 1):
                return DONE  # facing it: BabyAI's verifier checks the cell ahead after every action
            if sideways == 0 or (forward > 0 and not blocked):
                return FORWARD if not blocked else (RIGHT if sideways >= 0 else LEFT)
            return RIGHT if sideways > 0 else LEFT
        if self.turns < 3 or blocked:  # look around before walking off
            self.turns += 1
            return RIGHT
        self.turns = 0
        return FORWARD


def make_policy():
    return TextReader()
