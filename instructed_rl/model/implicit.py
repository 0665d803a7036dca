"""Steps an instruction leaves implicit: put down what is in hand, open the locked door on the way,
move what blocks the way, look where it has not looked.

BabyAI's verifier asks only for the end state, and some instructions need steps they never say:

- an object can be picked up only with empty hands, and a sequence ("pick up the purple box,
  then pick up the red ball") leaves the agent holding the last part's object;
- BabyAI's mazes lock one room and leave its key in another, and an instruction may name an object
  inside without a word about the lock (BossLevel's implicit unlocking);
- a ball, box or key may stand in front of the only door to a room (the bot picks it up and puts
  it aside);
- an object may lie in a room the policy never enters, while it searches the rooms it knows until
  the step limit.

The bot that labels imitation handles these as subgoals of its own; a policy trained on single
skills, each begun empty-handed, never learns the first and meets the others rarely (about 1 in
70 of SkillMaze's episodes has the lock). With ``AgentConfig.implicit_steps`` the agent takes
these steps itself, on nothing but what it has seen (the env's ``world``, ``pose`` and view):

- an instruction to pick something up (or to put it next to another) that begins with something
  else in hand first puts it down; facing the object to take with something else in hand, it puts
  that down and takes the object;
- when an object the instruction needs is nowhere on its map, no walkable cell it can reach borders
  one it has not seen, and it has seen a locked door and a key of that door's colour, it fetches that
  key, opens the door and puts the key down (again behind that door, up to :data:`DETOUR_LIMIT`
  doors, where one key lies behind another's door);
- when it is told to open a door and every such door it has seen is locked, it fetches the key and
  unlocks the door (in minigrid, unlocking opens it); where it has seen no such key, it first walks
  to the nearest cell it has not seen until it sees one, and once it has seen all it can reach, it
  opens the nearest box the instruction does not name (a key may lie inside);
- when an object the instruction needs is still nowhere on its map after :data:`EXPLORE_AFTER`
  steps, it walks to the nearest cell it has not seen, until it sees one (or has seen everything
  it can reach);
- when one of these walks finds no path but one through a ball, box or key, it picks that object
  up and puts it down aside, where it borders no door (its hands freed first; a key it put down
  for this it fetches again), at most :data:`CLEAR_LIMIT` times an instruction.

These steps are scripted, not learned: shortest walks over the seen map (objects block; closed
doors are opened on the way), then pick up, toggle or drop. They hold the policy's actions while
they run, and give up after :data:`STEP_LIMIT` steps on one of them or where no path leads.

    steps = ImplicitSteps.for_instruction(parser.parse_skill(text))   # None: it names nothing a map shows
    action = steps.advise(obs)   # None: the policy acts; else the scripted step's action
"""

from __future__ import annotations

import numpy as np
from minigrid.core.actions import Actions
from minigrid.core.constants import COLOR_TO_IDX, DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

from instructed_rl.model.planner import step_costs

STEP_LIMIT = 100  # steps one scripted step may take (a walk across a 3x3 maze takes ~40)
EXPLORE_AFTER = 200  # steps a part's policy may search before it is walked to what it has not seen
DROP_LIMIT = 4  # turns looking for a free cell to put something down
CLEAR_LIMIT = 3  # objects one instruction may move out of its way
DETOUR_LIMIT = 3  # locked doors one instruction may open (BabyAI-UnlockToUnlock-v0 chains two)

_DOOR, _KEY, _BOX, _EMPTY = (OBJECT_TO_IDX[name] for name in ("door", "key", "box", "empty"))
_LOCKED, _OPEN = STATE_TO_IDX["locked"], STATE_TO_IDX["open"]
_WALKABLE = [OBJECT_TO_IDX[name] for name in ("empty", "floor", "goal", "key", "ball", "box")]  # objects can be moved
_CARRIABLE = [OBJECT_TO_IDX[name] for name in ("key", "ball", "box")]
_HAND = (3, 6)  # the view cell that shows what the agent carries
_AHEAD = (3, 5)
_SIDES = ((1, 0), (-1, 0), (0, 1), (0, -1))


def _sides(cell: tuple[int, int], shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """The cells beside ``cell`` (not diagonally) inside a world of ``shape``."""
    x, y = cell
    return [(x + dx, y + dy) for dx, dy in _SIDES if 0 <= x + dx < shape[0] and 0 <= y + dy < shape[1]]


def explored(world: np.ndarray, pose) -> bool:
    """Whether no cell the agent can walk to on ``world`` (W, H, 3), through anything but walls
    and locked doors, borders a cell it has not seen."""
    kinds, states = world[..., 0], world[..., 2]
    walkable = np.isin(kinds, _WALKABLE) | ((kinds == _DOOR) & (states != _LOCKED))
    x0, y0 = int(pose[0]), int(pose[1])
    walkable[x0, y0] = True  # the agent's own cell is never in its view
    unseen = kinds == 0
    unseen[x0, y0] = False
    reached = np.zeros_like(walkable)
    reached[x0, y0] = True
    stack = [(x0, y0)]
    while stack:
        for nx, ny in _sides(stack.pop(), kinds.shape):
            if unseen[nx, ny]:
                return False
            if walkable[nx, ny] and not reached[nx, ny]:
                reached[nx, ny] = True
                stack.append((nx, ny))
    return True


def seen(world: np.ndarray, type_: str, color: str | None = None) -> np.ndarray:
    """(W, H) bool: cells of ``world`` showing an object of this type (and colour, unless None)."""
    cells = world[..., 0] == OBJECT_TO_IDX[type_]
    if color is not None:
        cells &= world[..., 1] == COLOR_TO_IDX[color]
    return cells


def seen_key(world: np.ndarray, color: int) -> np.ndarray:
    """(W, H) bool: cells of ``world`` showing a key of colour index ``color``."""
    return (world[..., 0] == _KEY) & (world[..., 1] == color)


def needs_of(parsed) -> tuple[tuple[str, str | None], ...] | None:
    """(type, colour or None) of each object a parsed skill names, the one it moves first; None where
    it names none, or one no map shows."""
    if parsed is None:
        return None
    objects = [o for o in (parsed.obj, parsed.obj2) if o is not None]
    if not objects or not all(o.type in OBJECT_TO_IDX for o in objects):
        return None
    return tuple((o.type, o.color) for o in objects)


def matches(holding: tuple[int, int] | None, need: tuple[str, str | None]) -> bool:
    """Whether what is carried (:func:`carried`) is an object of ``need``'s type and colour."""
    type_, color = need
    return holding is not None and holding[0] == OBJECT_TO_IDX[type_] and \
        (color is None or holding[1] == COLOR_TO_IDX[color])


def carried(image: np.ndarray) -> tuple[int, int] | None:
    """(type, colour) indices of what the agent carries, read off its view; None: empty-handed."""
    kind, color, _ = (int(v) for v in image[_HAND])
    return (kind, color) if kind in _CARRIABLE else None


def carriable_ahead(image: np.ndarray) -> tuple[int, int] | None:
    """(type, colour) indices of the ball, box or key the agent faces; None: nothing to pick up."""
    kind, color, _ = (int(v) for v in image[_AHEAD])
    return (kind, color) if kind in _CARRIABLE else None


def cell_ahead(pose) -> tuple[int, int]:
    """The cell the agent faces."""
    x, y, direction = (int(v) for v in pose)
    return x + int(DIR_TO_VEC[direction][0]), y + int(DIR_TO_VEC[direction][1])


def drop_action(image: np.ndarray) -> int:
    """Put down what is carried where the cell ahead is free, else turn to look for such a cell."""
    return int(Actions.drop) if int(image[_AHEAD][0]) == _EMPTY else int(Actions.left)


def steps_to(world: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """(W, H) steps from each cell to standing next to a cell of ``goal`` (W, H) bool, over the cells
    :func:`instructed_rl.model.planner.step_costs` lets through but locked doors (objects block), one
    step a cell; -1 where no path leads."""
    walkable = step_costs(world) > 0
    walkable &= ~((world[..., 0] == _DOOR) & (world[..., 2] == _LOCKED))
    steps = np.full(goal.shape, -1, np.int32)
    frontier = [side for cell in zip(*np.nonzero(goal)) for side in _sides(cell, goal.shape) if walkable[side]]
    for x, y in frontier:
        steps[x, y] = 0
    while frontier:
        reached = []
        for x, y in frontier:
            for nx, ny in _sides((x, y), goal.shape):
                if walkable[nx, ny] and steps[nx, ny] < 0:
                    steps[nx, ny] = steps[x, y] + 1
                    reached.append((nx, ny))
        frontier = reached
    return steps


def blocking_object(world: np.ndarray, pose, goal: np.ndarray) -> tuple[int, int] | None:
    """The first ball, box or key on a shortest walk to standing next to a cell of ``goal`` (W, H)
    bool, where walks may pass through such objects (the bot moves them out of its way); None where
    no walk leads there, or none needs to move anything."""
    kinds = world[..., 0]
    walkable = (step_costs(world) > 0) | np.isin(kinds, _CARRIABLE)
    walkable &= ~((kinds == _DOOR) & (world[..., 2] == _LOCKED))
    start = (int(pose[0]), int(pose[1]))
    parents: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
    frontier = [start]
    while frontier:
        reached = []
        for x, y in frontier:
            sides = _sides((x, y), goal.shape)
            if any(goal[side] for side in sides):
                path, cell = [], (x, y)
                while parents[cell] is not None:
                    path.append(cell)
                    cell = parents[cell]
                return next((cell for cell in reversed(path) if kinds[cell] in _CARRIABLE), None)
            for side in sides:
                if walkable[side] and side not in parents:
                    parents[side] = (x, y)
                    reached.append(side)
        frontier = reached
    return None


def stow_action(world: np.ndarray, pose, keep_clear: tuple[int, int] | None) -> int:
    """Put down what is carried where the cell ahead is free, is not ``keep_clear`` and borders no
    door (where it would stand in the way again), else turn to look for such a cell."""
    ahead = cell_ahead(pose)
    by_door = any(world[side][0] == _DOOR for side in _sides(ahead, world.shape))
    free = int(world[ahead][0]) == _EMPTY and ahead != keep_clear and not by_door
    return int(Actions.drop) if free else int(Actions.left)


def walk_action(world: np.ndarray, pose, goal: np.ndarray, act: int) -> int | None:
    """The next step to facing a cell of ``goal`` (W, H) bool on a shortest path over ``world`` as
    seen, and ``act`` once facing it; None where no path leads there."""
    x, y, direction = (int(v) for v in pose)
    ahead, right = DIR_TO_VEC[direction], DIR_TO_VEC[(direction + 1) % 4]
    front = (x + ahead[0], y + ahead[1])
    if goal[front]:
        return act
    if goal[x + right[0], y + right[1]]:
        return int(Actions.right)
    if goal[x - right[0], y - right[1]] or goal[x - ahead[0], y - ahead[1]]:
        return int(Actions.left)
    world = world.copy()
    world[x, y] = (_EMPTY, 0, 0)  # it stands there, whatever the map last showed
    steps = steps_to(world, goal)
    here = int(steps[x, y])
    if steps[front] >= 0 and (here < 0 or steps[front] < here):
        kind, _, state = (int(v) for v in world[front])
        return int(Actions.toggle) if kind == _DOOR and state != _OPEN else int(Actions.forward)
    if here < 0:
        return None
    return int(Actions.right) if 0 <= steps[x + right[0], y + right[1]] < here else int(Actions.left)


_WALKS = {"fetch": int(Actions.pickup), "open": int(Actions.toggle), "explore": int(Actions.forward),
          "seek": int(Actions.forward), "unbox": int(Actions.toggle),
          "pick": int(Actions.pickup)}  # the scripted steps that walk, and what each does on arrival
_DROPS = ("drop", "stow")


def _blocks_away(cell, pose) -> int:
    """Cells between ``cell`` and the agent, counted along the grid (how near, before any path)."""
    return abs(int(cell[0]) - int(pose[0])) + abs(int(cell[1]) - int(pose[1]))


def _goal(kind: str, argument, world: np.ndarray) -> np.ndarray:
    """(W, H) bool: the cells a walking step goes to face."""
    if kind == "fetch":
        return seen_key(world, argument)
    if kind in ("explore", "seek"):
        return world[..., 0] == 0
    cells = np.zeros(world.shape[:2], bool)
    cells[argument] = True
    return cells


class ImplicitSteps:
    """One instruction's implicit steps: whether it must first put down what is in hand, its watch
    for a locked door it needs opened, and the scripted steps once they start. ``needs``: the
    (type, colour or None) of every object the instruction names, the one it moves first;
    ``kind``: the skill (``goto``, ``pickup``, ``open``, ``putnext``)."""

    def __init__(self, needs: tuple[tuple[str, str | None], ...], *, kind: str) -> None:
        self.needs = needs
        self.kind = kind
        self.opens = kind == "open"  # its door may be the locked one
        self.plan: list[tuple[str, object]] = []  # the scripted steps still to do: (kind, argument)
        self.steps = 0  # taken on the current one
        self.begun = False  # whether it has looked at what is in hand
        self.detours = 0  # to locked doors, so far
        self.taken = 0  # steps of this instruction so far
        self.cleared = 0  # objects moved out of its way

    @classmethod
    def for_instruction(cls, parsed) -> ImplicitSteps | None:
        """For a parsed skill (:meth:`instructed_rl.language.parse.InstructionParser.parse_skill`);
        None where it names no object a map shows."""
        needs = needs_of(parsed)
        return None if needs is None else cls(needs, kind=parsed.kind)

    @property
    def detouring(self) -> bool:
        return bool(self.plan)

    def advise(self, obs) -> int | None:
        """This step's action, given the env's observation (``image``, ``world``, ``pose``): a
        scripted step's, or None (the policy acts)."""
        image, world, pose = np.asarray(obs["image"]), np.asarray(obs["world"]), obs["pose"]
        if self.kind in ("pickup", "putnext") and not self.plan:
            holding = carried(image)
            wrong_hands = holding is not None and not matches(holding, self.needs[0])
            # Hands free before it picks anything up: at the start, and facing the object to take
            # with something else in hand (a key it picked up on the way, say).
            if wrong_hands and not self.begun:
                self.plan = [("drop", None)]
                self.steps = 0
            elif wrong_hands and matches(carriable_ahead(image), self.needs[0]):
                # then back to it and take it, or the policy picks up what it put down again
                self.plan = [("drop", None), ("pick", cell_ahead(pose))]
                self.steps = 0
        self.begun = True
        self.taken += 1
        if self.detours < DETOUR_LIMIT and not self.plan:
            self._watch(world, pose, image)
        if not self.plan and self.taken > EXPLORE_AFTER and not self._in_sight(world, image):
            self.plan = [("explore", None)]
            self.steps = 0
        while self.plan:
            kind, argument = self.plan[0]
            if not self._done(kind, argument, image, world):
                action = self._act(kind, argument, image, world, pose)
                self.steps += 1
                if action is None and kind in _WALKS and self.cleared < CLEAR_LIMIT:
                    clearing = self._clearing(kind, argument, image, world, pose)
                    if clearing:  # an object stands in the way: move it first
                        self.cleared += 1
                        self.plan[:0] = clearing
                        self.steps = 0
                        continue
                if action is not None and self.steps <= (DROP_LIMIT if kind in _DROPS else STEP_LIMIT):
                    return action
                if kind not in _DROPS:
                    self.plan.clear()  # no way there, or it takes too long: back to the instruction
                    break
            self.plan.pop(0)
            self.steps = 0
        return None

    def _watch(self, world: np.ndarray, pose, image: np.ndarray) -> None:
        locked = {int(world[x, y, 1]): (int(x), int(y))
                  for x, y in zip(*np.nonzero((world[..., 0] == _DOOR) & (world[..., 2] == _LOCKED)))}
        holding = carried(image)
        keyed = [color for color in locked if holding == (_KEY, color) or seen_key(world, color).any()]
        if self.opens:
            doors = seen(world, *self.needs[0])
            if not doors.any() or not (world[doors, 2] == _LOCKED).all():
                return
            color = next((c for c in keyed if doors[locked[c]]), None)
            if color is not None:
                self._start(image, [("fetch", color), ("open", locked[color])])
            else:
                self._look_for_key(world, pose, int(world[doors, 1][0]))
            return
        if not keyed or self._in_sight(world, image) or not explored(world, pose):
            return
        color = min(keyed, key=lambda c: _blocks_away(locked[c], pose))
        self._start(image, [("fetch", color), ("open", locked[color]), ("drop", None)])

    def _look_for_key(self, world: np.ndarray, pose, color: int) -> None:
        """No key of this colour on the map: walk to where it has not looked, or, everything it can
        reach seen, open the nearest box the instruction does not name (a key may lie inside, as in
        BabyAI-KeyInBox-v0; an empty box vanishes)."""
        self.steps = 0
        if not explored(world, pose):
            self.plan = [("seek", color)]
            return
        named = np.zeros(world.shape[:2], bool)
        for need in self.needs:
            named |= seen(world, *need)
        boxes = np.argwhere((world[..., 0] == _BOX) & ~named)
        if len(boxes):
            self.detours += 1
            x, y = min(boxes.tolist(), key=lambda cell: _blocks_away(cell, pose))
            self.plan = [("unbox", (x, y))]

    def _in_sight(self, world: np.ndarray, image: np.ndarray) -> bool:
        holding = carried(image)
        return all(seen(world, *need).any() or matches(holding, need) for need in self.needs)

    def _start(self, image: np.ndarray, plan: list) -> None:
        self.detours += 1
        holding = carried(image)
        self.plan = ([("drop", None)] if holding is not None and holding != (_KEY, plan[0][1]) else []) + plan
        self.steps = 0

    def _clearing(self, kind: str, argument, image: np.ndarray, world: np.ndarray, pose) -> list:
        """The steps that move the object blocking this walk out of the way (the hands freed first, and
        a key put down for it fetched again), or none where no object blocks it."""
        cell = blocking_object(world, pose, _goal(kind, argument, world))
        if cell is None:
            return []
        holding = carried(image)
        steps = [("stow", cell)] if holding is not None else []
        steps += [("pick", cell), ("stow", cell)]
        if holding is not None and holding[0] == _KEY and kind != "fetch":
            steps.append(("fetch", holding[1]))
        return steps

    def _done(self, kind: str, argument, image: np.ndarray, world: np.ndarray) -> bool:
        if kind == "explore":
            return self._in_sight(world, image)
        if kind in _DROPS:
            return carried(image) is None
        if kind == "fetch":
            return carried(image) == (_KEY, argument)
        if kind == "seek":
            return carried(image) == (_KEY, argument) or bool(seen_key(world, argument).any())
        if kind == "pick":
            return int(world[argument][0]) not in _CARRIABLE
        if kind == "unbox":
            return int(world[argument][0]) != _BOX
        return int(world[argument][2]) == _OPEN

    @staticmethod
    def _act(kind: str, argument, image: np.ndarray, world: np.ndarray, pose) -> int | None:
        if kind == "drop":
            return drop_action(image)
        if kind == "stow":
            return stow_action(world, pose, argument)
        return walk_action(world, pose, _goal(kind, argument, world), _WALKS[kind])

