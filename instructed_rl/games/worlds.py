"""World generators of our own, in the Minigrid style (all randomness through ``self.np_random``)."""

from __future__ import annotations

from minigrid.core.constants import COLOR_NAMES
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    AndInstr,
    BeforeInstr,
    GoToInstr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

from instructed_rl.games.rules import RuleRoom

ALL_SKILLS = ("goto", "pickup", "open", "putnext")


class SkillRoom(RoomGridLevel):
    """
    ## Description

    One room holding a few objects and four closed doors (one per wall), with the agent
    inside; the rest of a 3x3 room grid lies behind the doors. Every skill can be asked in
    the same world, so one game trains go to, pick up, open and put next to together, and
    held-out compositions (e.g. "pick up ... red ball") are cheap to sample.

    ## Mission Space

    One single-skill instruction ("go to the red ball", "open the blue door",
    "put the grey key next to the green box"), or with ``sequences`` two of them joined by
    "and", ", then" or "after you".

    ## Action Space

    Minigrid's seven actions; done is unused.

    ## Rewards

    ``1 - 0.9 * (step_count / max_steps)`` on success, 0 otherwise.

    ## Termination

    Success, a failed strict instruction, or ``max_steps`` (2 * room_size^2 per navigation).

    ## Registered Configurations

    Used by the games ``InstructedRL/SkillRoom-v0`` and ``InstructedRL/SkillRoomSeq-v0``.
    """

    def __init__(
        self,
        *,
        skills: tuple[str, ...] = ALL_SKILLS,
        sequences: tuple[str, ...] = (),
        num_objs: int = 5,
        room_size: int = 7,
        **kwargs,
    ):
        unknown = set(skills) - set(ALL_SKILLS)
        if unknown or not skills:
            raise ValueError(f"SkillRoom skills must be some of {ALL_SKILLS}, got {skills}")
        self.skills = tuple(skills)
        self.sequences = tuple(sequences)
        self.num_objs = num_objs
        super().__init__(num_rows=3, num_cols=3, room_size=room_size, **kwargs)

    def reset(self, **kwargs):
        obs = super().reset(**kwargs)
        if not self.fixed_max_steps:
            # The 3x3 grid would give 9 rooms' worth of steps; the task lives in one room.
            self.max_steps = 2 * self.room_size**2 * self.num_navs_needed(self.instrs)
        return obs

    def gen_mission(self):
        doors = [
            self.add_door(1, 1, door_idx=index, color=color, locked=False)[0]
            for index, color in enumerate(self._rand_subset(COLOR_NAMES, 4))
        ]
        objs = self.add_distractors(1, 1, num_distractors=self.num_objs, all_unique=False)
        self.place_agent(1, 1)
        if self.sequences:
            first, second = self._single(objs, doors), self._single(objs, doors)
            if first.surface(self) == second.surface(self):
                raise RejectSampling("the two parts of a sequence are the same instruction")
            connective = self._rand_elem(self.sequences)
            cls = {"and": AndInstr, "before": BeforeInstr, "after": AfterInstr}[connective]
            self.instrs = cls(first, second)
        else:
            self.instrs = self._single(objs, doors)

    def _single(self, objs, doors):
        skill = self._rand_elem(self.skills)
        if skill == "open":
            door = self._rand_elem(doors)
            return OpenInstr(ObjDesc("door", door.color))
        if skill == "goto":
            target = self._rand_elem(objs + doors)
            return GoToInstr(ObjDesc(target.type, target.color))
        if skill == "pickup":
            target = self._rand_elem(objs)
            return PickupInstr(ObjDesc(target.type, target.color))
        move, fixed = self._rand_subset(objs, 2)
        return PutNextInstr(ObjDesc(move.type, move.color), ObjDesc(fixed.type, fixed.color))


WORLDS = {"instructed_rl:SkillRoom": SkillRoom, "instructed_rl:RuleRoom": RuleRoom}
