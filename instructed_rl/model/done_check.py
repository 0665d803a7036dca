"""A part believed done, checked on the agent's own map before a sequence moves on.

The executor hands over to a sequence's next part when the policy's termination head says the
current one is done. Trained on single skills whose episodes end at success, that head has rarely
seen a wrong drop, and in BabyAI's mazes it calls "put the purple ball next to a green door" done
right after putting the ball down in open floor; the sequence then goes on and can never succeed.

With ``AgentConfig.check_done`` the agent looks at what it has seen (the env's ``world``, ``pose``
and its view, never the env's verifier) before it believes the head:

- go to: it faces an object the part names;
- pick up: it holds one;
- open: it faces an open door the part names;
- put next to: an object of the moved kind lies beside (not diagonally) one of the fixed kind,
  and it no longer holds one.

Colours count, places ("the door on your left") do not, so the check may pass a part the verifier
would not; it never fails one the map shows done. Where the map says not done, the sequence stays
on the part and the policy acts on, its memory kept.

    check = DoneCheck.for_instruction(parser.parse_skill(text))   # None: it names nothing a map shows
    check.holds(obs)   # False: the map shows the part is not done
    done = believed(check, done, obs)   # the head's P(done), 0 where the map shows otherwise
"""

from __future__ import annotations

import numpy as np
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX, STATE_TO_IDX

from instructed_rl.model.implicit import carried, matches, needs_of, seen

_DOOR, _OPEN = OBJECT_TO_IDX["door"], STATE_TO_IDX["open"]
KINDS = ("goto", "pickup", "open", "putnext")
BELIEVED_DONE = 0.5  # the executor's default threshold: a "done" above it is checked before it counts


def _beside(cells: np.ndarray) -> np.ndarray:
    """(W, H) bool: cells sharing a side with a cell of ``cells``."""
    near = np.zeros_like(cells)
    near[1:] |= cells[:-1]
    near[:-1] |= cells[1:]
    near[:, 1:] |= cells[:, :-1]
    near[:, :-1] |= cells[:, 1:]
    return near


class DoneCheck:
    """One part's check: ``kind`` (``goto``, ``pickup``, ``open``, ``putnext``) and ``needs``, the
    (type, colour or None) of each object it names, the one it moves first."""

    def __init__(self, needs: tuple[tuple[str, str | None], ...], *, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}; use one of {', '.join(KINDS)}")
        self.needs = needs
        self.kind = kind

    @classmethod
    def for_instruction(cls, parsed) -> DoneCheck | None:
        """For a parsed skill (:meth:`instructed_rl.language.parse.InstructionParser.parse_skill`);
        None where it names no object a map shows or is not one of the four skills."""
        needs = needs_of(parsed)
        if needs is None or parsed.kind not in KINDS or (parsed.kind == "putnext") != (len(needs) == 2):
            return None
        return cls(needs, kind=parsed.kind)

    def holds(self, obs) -> bool:
        """Whether the map of what the agent has seen (``obs``: ``image``, ``world``, ``pose``)
        agrees that the part is done."""
        image, world = np.asarray(obs["image"]), np.asarray(obs["world"])
        moved = self.needs[0]
        held = matches(carried(image), moved)
        if self.kind == "pickup":
            return held
        if self.kind == "putnext":
            return not held and bool((seen(world, *moved) & _beside(seen(world, *self.needs[1]))).any())
        x, y, direction = (int(v) for v in obs["pose"])
        dx, dy = DIR_TO_VEC[direction]
        front = (x + dx, y + dy)
        if not (0 <= front[0] < world.shape[0] and 0 <= front[1] < world.shape[1]):
            return False
        faces = bool(seen(world, *moved)[front])
        if self.kind == "open":
            return faces and int(world[front][0]) == _DOOR and int(world[front][2]) == _OPEN
        return faces


def believed(check: DoneCheck | None, done_prob: float, obs) -> float:
    """The head's P(part done), or 0 where it says done (above :data:`BELIEVED_DONE`) and the map in
    ``obs`` shows otherwise; unchanged without a check or a map."""
    if done_prob > BELIEVED_DONE and check is not None and "world" in obs and not check.holds(obs):
        return 0.0
    return done_prob
