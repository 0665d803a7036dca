"""minigrid's BabyAI bot, with its give-ups caught in one place.

The bot raises on rare worlds it cannot finish (a box it opened vanished, an assertion in its
planner). Every user (the teacher of imitation and PPO, demonstrations, the reference actor,
the sequence executor's stand-in skill policy) treats that the same way: no action from here on,
and a reason to report. :class:`BotSkill` runs the bot on one part of a sequence at a time.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.language.corpus import Corpus
from instructed_rl.language.parse import parse_instruction

DONE_ACTION = 6  # minigrid's "done": a no-op in BabyAI levels
# minigrid's bot keeps a handful of subgoals on its stack; on some worlds (BabyAI-UnlockToUnlock-v0,
# about a third of them) its exploration pushes "go next to" and "explore" in turn without end,
# inside one replan, and its memory grows by gigabytes. A plan this deep is that loop.
PLAN_DEPTH_LIMIT = 200


class PlanLoopError(RuntimeError):
    """The bot's planner pushed subgoals without end."""


class _BoundedPlan(list):
    """The bot's subgoal stack, which raises instead of growing past PLAN_DEPTH_LIMIT."""

    def append(self, subgoal) -> None:
        if len(self) >= PLAN_DEPTH_LIMIT:
            raise PlanLoopError(f"its plan grew past {PLAN_DEPTH_LIMIT} subgoals without an action "
                                "(minigrid's bot looping in its exploration)")
        super().append(subgoal)


def failure_reason(error: BaseException) -> str:
    """A one-line name for what made the bot give up."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


class QuickBabyAIBot(BabyAIBot):
    """minigrid's BabyAI bot, step for step (same actions, same search order), with its inner
    loops made cheaper: its breadth-first search pops the queue's front by copying the rest of
    the list (quadratic in the cells searched, the slowest part in mazes) and re-queues cells it
    has visited; it marks seen cells one numpy scalar at a time; and it builds the rotated view
    grid every step only to read which cells are visible (a level set up by
    ``games.view.use_fast_view`` says that directly). ``tests/test_bot.py`` checks the actions
    against minigrid's bot. Where minigrid's bot would plan forever it raises PlanLoopError."""

    def __init__(self, mission) -> None:
        super().__init__(mission)
        self.stack = _BoundedPlan(self.stack)

    def _process_obs(self):
        level = self.mission.unwrapped
        # A level set up by games.view says what it sees without building the rotated view grid.
        vis_mask = level.view_mask() if hasattr(level, "view_mask") else level.gen_obs_grid()[1]
        view_size = level.agent_view_size
        f_vec, r_vec = np.asarray(level.dir_vec), np.asarray(level.right_vec)
        top_left = np.asarray(level.agent_pos) + f_vec * (view_size - 1) - r_vec * (view_size // 2)
        vis_i, vis_j = np.nonzero(vis_mask)
        cells = top_left - np.outer(vis_j, f_vec) + np.outer(vis_i, r_vec)
        inside = ((cells[:, 0] >= 0) & (cells[:, 0] < self.vis_mask.shape[0])
                  & (cells[:, 1] >= 0) & (cells[:, 1] < self.vis_mask.shape[1]))
        self.vis_mask[cells[inside, 0], cells[inside, 1]] = True

    def _breadth_first_search(self, initial_states, accept_fn, ignore_blockers):
        self.bfs_counter += 1
        queue = deque((state, None) for state in initial_states)
        grid = self.mission.unwrapped.grid
        seen = self.vis_mask
        previous_pos: dict = {}
        while queue:
            (i, j, di, dj), prev_pos = queue.popleft()
            if (i, j) in previous_pos:
                continue
            self.bfs_step_counter += 1
            cell = grid.get(i, j)
            previous_pos[(i, j)] = prev_pos
            if accept_fn((i, j), cell):
                path, pos = [], (i, j)
                while pos:
                    path.append(pos)
                    pos = previous_pos[pos]
                return path, (i, j), previous_pos
            if not seen[i, j]:
                continue
            if cell:
                if cell.type == "wall":
                    continue
                if cell.type == "door":
                    if not cell.is_open:
                        continue
                elif not ignore_blockers:
                    continue
            # Straight on first, then the turns, as minigrid's bot orders them. A cell visited
            # already would be skipped when popped, so it is not queued at all.
            for k, l in ((di, dj), (dj, di), (-dj, -di), (-di, -dj)):
                if (i + k, j + l) not in previous_pos:
                    queue.append(((i + k, j + l, k, l), (i, j)))
        return None, None, previous_pos


class Bot:
    """The bot on one level: :meth:`next_action` is its action, or None once it has given up
    (then :attr:`gave_up` says why). A fresh one per world: it caches the map it has seen."""

    def __init__(self, level) -> None:
        self.gave_up: str | None = None
        try:
            self.bot = QuickBabyAIBot(level)
        except Exception as error:  # noqa: BLE001 - an instruction the bot cannot plan for at all
            self.gave_up = failure_reason(error)

    def next_action(self, last_action: int | None = None) -> int | None:
        """The bot's action, given the action actually taken since its last one (None: its own)."""
        if self.gave_up is not None:
            return None
        try:
            return int(self.bot.replan(last_action))
        except Exception as error:  # noqa: BLE001 - the bot's own give-ups: DisappearedBoxError, AssertionError, ...
            self.gave_up = failure_reason(error)
            return None


class _LevelWithInstruction:
    """The level as the BabyAI bot sees it, but with one part's instruction as its mission."""

    def __init__(self, level, instrs):
        self._level = level
        self.instrs = instrs

    def __getattr__(self, name):
        return getattr(self._level, name)

    @property
    def unwrapped(self):
        return self


class BotSkill:
    """The BabyAI bot solving one part at a time, with a verifier as its termination head: the
    sequence executor's skill policy for a perfect single-skill actor. Run through the executor,
    its failures belong to the executor (planning, hand-over), not to a learned policy.
    :meth:`step` gives None as the action once the bot has given up."""

    def __init__(self, level, corpus: Corpus):
        self.level = level
        self.corpus = corpus

    def prepare(self, parts: list[str]) -> None:
        """Resolve every part's objects now, as BabyAI does once per mission: "the key on your
        left" means the key on the agent's left at the start, wherever it stands later."""
        self.verifiers = {}
        for part in parts:
            instr = parse_instruction(part, self.corpus).to_verifier()
            instr.reset_verifier(self.level)
            self.verifiers[part] = instr

    def begin(self, instruction: str, description: str, *, seed: int | None, first: bool) -> None:
        if instruction not in getattr(self, "verifiers", {}):
            self.prepare([instruction])
        self.instr = self.verifiers[instruction]
        # The whole-mission bot drops what it picked up at once; a fresh one expects free hands.
        self.bot: Bot | None = None
        self.needs_free_hands = type(self.instr).__name__ in ("PickupInstr", "PutNextInstr")
        self.last_action = None
        self.done = False

    def step(self, obs) -> tuple[int | None, float]:
        if self.bot is not None and self.last_action is not None and not self.done:
            self.done = self.instr.verify(self.last_action) == "success"
        if self.done:
            return DONE_ACTION, 1.0  # a no-op while the next part takes over
        if self.bot is None:
            actions = self.level.actions
            if self.needs_free_hands and self.level.carrying is not None:
                free = self.level.grid.get(*self.level.front_pos) is None
                self.last_action = int(actions.drop if free else actions.left)
                return self.last_action, 0.0
            # Where the mission's objects are now (the set itself was fixed at the start).
            self.instr.update_objs_poss()
            if hasattr(self.instr, "preCarrying"):
                self.instr.preCarrying = self.level.carrying
            self.bot = Bot(_LevelWithInstruction(self.level, self.instr))
            self.last_action = None
            return self.step(obs)
        self.last_action = self.bot.next_action()
        return self.last_action, 0.0
