"""Draw a minigrid world as text, two characters a cell, with ANSI colours when wanted; and
:class:`TerminalView`, the terminal that ``play`` and ``demo`` write to.

Each object is a colour letter and a type mark, so the grid reads without colour too. Every
colour has its own letter (green and grey share an initial: grey is ``e``)::

    ## ## ## ##
    ## rO    ##     rO: red ball   gK: green key   eX: grey box
    ##    >> ##     yD: closed yellow door, y/: open, yL: locked
    ## ## ## ##     >> v< << ^^: the agent facing right, down, left, up
"""

from __future__ import annotations

from typing import TextIO

from instructed_rl.render.frames import visible_cells

ANSI = {"red": "91", "green": "92", "blue": "94", "purple": "95", "yellow": "93", "grey": "37"}
TYPE_MARK = {"ball": "O", "box": "X", "key": "K", "goal": "G", "lava": "~"}
AGENT_MARK = {0: ">>", 1: "vv", 2: "<<", 3: "^^"}
# One letter per minigrid colour, all different (initials would draw green and grey alike).
COLOR_LETTER = {"red": "r", "green": "g", "blue": "b", "purple": "p", "yellow": "y", "grey": "e"}
LEGEND = ("legend: O ball, X box, K key, D closed door, / open door, L locked door, ## wall, >> vv << ^^ agent; "
          "colour: " + ", ".join(f"{letter} {name}" for name, letter in COLOR_LETTER.items()))


def _cell(obj) -> tuple[str, str | None]:
    """Two characters and the colour name to paint them with."""
    if obj is None:
        return "  ", None
    if obj.type == "wall":
        return "##", "wall"
    if obj.type == "door":
        mark = "L" if obj.is_locked else ("/" if obj.is_open else "D")
        return _letter(obj.color) + mark, obj.color
    return _letter(obj.color) + TYPE_MARK.get(obj.type, "?"), obj.color


def _letter(color: str) -> str:
    return COLOR_LETTER.get(color, color[:1])


def _paint(text: str, color: str | None, *, highlight: bool) -> str:
    if color == "wall":
        return f"\x1b[90;100m{text}\x1b[0m"
    codes = []
    if color in ANSI:
        codes.append("1;" + ANSI[color])
    if highlight:
        codes.append("48;5;236")  # cells the agent can see get a dark background
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m" if codes else text


def render_grid(level, *, color: bool = False) -> str:
    """The whole grid as lines of text; with ``color`` the agent's field of view is shaded."""
    visible = visible_cells(level) if color else set()
    rows = []
    agent = tuple(level.agent_pos)
    for y in range(level.height):
        cells = []
        for x in range(level.width):
            if (x, y) == agent:
                text, paint = AGENT_MARK[level.agent_dir], "agent"
            else:
                text, paint = _cell(level.grid.get(x, y))
            if color:
                text = f"\x1b[1;97;41m{text}\x1b[0m" if paint == "agent" else _paint(text, paint, highlight=(x, y) in visible)
            cells.append(text)
        rows.append("".join(cells))
    carrying = level.carrying
    if carrying is not None:
        rows.append(f"carrying: {carrying.color} {carrying.type}")
    return "\n".join(rows)


class TerminalView:
    """Lines on ``out``; a step's frame (grid + status) is redrawn in place when ``live``."""

    def __init__(self, out: TextIO, *, color: bool, live: bool, grid: bool = True) -> None:
        self.out = out
        self.color = color
        self.live = live
        self.grid = grid
        self.every_frame = True  # False: not live, only a run's last frame is written (by end())
        self._drawn = 0  # lines of the frame that the next one overwrites
        self._held: list[str] = []

    def say(self, line: str = "") -> None:
        self._drawn = 0
        self.out.write(line + "\n")
        self.out.flush()

    def world(self, level) -> None:
        if self.grid:
            self.say(render_grid(level, color=self.color))
            self.say(LEGEND)

    def frame(self, level, status: list[str]) -> None:
        lines = (render_grid(level, color=self.color).splitlines() if self.grid else []) + status
        if not self.live and not self.every_frame:
            self._held = lines
            return
        up = f"\x1b[{self._drawn}F\x1b[J" if self.live and self._drawn else ""
        self.out.write(up + "\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines) if self.live else 0

    def end(self) -> None:
        if self._held:
            self.out.write("\n".join(self._held) + "\n")
            self.out.flush()
            self._held = []
        self._drawn = 0
