"""One browser tab's episode: its own world, actor state, current instruction and recording.

The server (:mod:`instructed_rl.interactive.web.app`) turns each websocket message into one call
here and sends back the dict it returns. Everything is synchronous and runs on one worker thread,
so a tab's session is never used by two threads at once and the shared agent serves one step at
a time. A :class:`~instructed_rl.interactive.stage.Stage` does the judging and acting, exactly as
``instructed-rl play`` does; this adds what the page shows (PNG frames, the plan, the
termination head's confidence, the target map) and the GIF of the episode.

    page = PageSession(shared)
    page.world({"game": "SkillRoom", "seed": 0})   # -> {"type": "world", "mission": ..., "frame": ...}
    page.run({"text": page.stage.env.mission})     # -> {"type": "start", "plan": [...], ...}
    page.step({})                                  # -> {"type": "step", ..., "verdict": None or "success: ..."}
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from dataclasses import dataclass

import numpy as np

from instructed_rl.acting.actors import AgentActor
from instructed_rl.errors import UserError
from instructed_rl.interactive.config import MAX_SEED, PlayConfig
from instructed_rl.interactive.judge import Outcome, check_text, judging_note
from instructed_rl.interactive.stage import Attempt, Stage, make_driver
from instructed_rl.render.frames import FrameRenderer, png_bytes, pose_of, view_cells
from instructed_rl.render.record import caption, tile_size, write_gif

MAX_GIF_FRAMES = 2000  # ~8 minutes at 4 fps; each frame is kept as its PNG (a few kB)
MAX_NAME_CHARS = 100  # a game id or corpus name


@dataclass(frozen=True)
class Shared:
    """What every tab shares: the loaded agent (None for bot / random) and the server's settings.
    ``base`` holds the defaults a tab starts from (game, seed, split, corpus, step limit, ...)."""

    agent: object | None
    base: PlayConfig
    games: tuple[str, ...]
    corpora: tuple[str, ...]

    def driver(self):
        """A tab's own actor: acting state is the actor's, so tabs sharing the agent never mix."""
        if self.agent is not None:
            return AgentActor(self.agent, name=self.base.agent)
        return make_driver(self.base.agent)  # bot or random: nothing loaded to share


def target_cells(level, target_map: np.ndarray | None, pose, *, fixed: bool) -> list[list[float]] | None:
    """The target map on world cells: ``[x, y, p_object, p_fixed]`` for each view cell inside the
    grid. ``pose`` is the agent's (:func:`~instructed_rl.render.frames.pose_of`) when it saw the view
    the map was computed from (before the step); ``fixed`` False zeroes the second slot (it means
    something only for "put next to")."""
    if target_map is None:
        return None
    cells = []
    for view_x, view_y, x, y in view_cells(level, pose):
        second = float(target_map[1, view_x, view_y]) if fixed and len(target_map) > 1 else 0.0
        cells.append([x, y, round(float(target_map[0, view_x, view_y]), 3), round(second, 3)])
    return cells


class PageSession:
    """One tab: a stage (world + actor), the instruction under way, the episode's frames."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.driver = shared.driver()
        self.stage: Stage | None = None
        self.attempt: Attempt | None = None
        self.frames: list[tuple[bytes, list[str]]] = []  # the episode (since the world was made): PNG, caption
        self.render = FrameRenderer()
        self.putnext: list[bool] = []  # per part of the plan: the target map's second slot means something

    # ---- messages -------------------------------------------------------------------------
    def hello(self) -> dict:
        base = self.shared.base
        return {"type": "hello", "games": list(self.shared.games), "corpora": list(self.shared.corpora),
                "agent": base.agent, "max_seed": MAX_SEED,
                "defaults": {"game": base.game, "seed": base.seed, "split": base.split or "", "corpus": base.corpus or ""}}

    def world(self, message: dict) -> dict:
        """Make the world ``message`` asks for (game, split, corpus, seed); an unknown one leaves the current world."""
        game = _name(message.get("game") or self.shared.base.game, "game", self.shared.games)
        corpus = _name(message.get("corpus") or "", "corpus", self.shared.corpora) or None
        split = _name(message.get("split") or "", "split", ()) or None
        seed = _seed(message.get("seed", self.shared.base.seed))
        if corpus is not None and corpus not in self.shared.corpora:  # a path would read any file on the machine
            raise UserError(f"unknown corpus {corpus!r}. Fix: pick one of {', '.join(self.shared.corpora)}, "
                            "or leave it empty for the game's own")
        config = dataclasses.replace(self.shared.base, game=game, split=split, corpus=corpus, seed=seed)
        current = self.stage.config if self.stage is not None else None
        if current is None or (current.game, current.split, current.corpus) != (game, split, corpus):
            stage = Stage(config, driver=self.driver)  # a UserError keeps the current world
            if self.stage is not None:
                self.stage.close()
            self.stage = stage
        self.stage.new_world(seed)
        self.attempt = None
        self.frames = []
        env = self.stage.env
        frame = self._frame([f"{env.spec_game.id} seed {seed}", "step 0"])
        return {"type": "world", "game": env.spec_game.id, "title": env.spec_game.title, "split": env.split,
                "splits": list(env.spec_game.splits), "corpus": env.corpus.name, "corpus_given": corpus or "",
                "seed": seed, "mission": env.mission, "description": self.stage.description(),
                "width": env.level.width, "height": env.level.height, "frame": frame,
                "new_to_agent": self.stage.new_to_agent}

    def run(self, message: dict) -> dict:
        """Start an instruction on the current world (which persists between instructions)."""
        stage = self._require_world()
        text = message.get("text")
        if not isinstance(text, str):
            raise UserError("no instruction: type one in the box (the suggestion, for example)")
        problem = check_text(text)
        if problem:
            raise UserError(_for_page(problem))
        self.attempt = None
        started = stage.start(text.strip())
        if isinstance(started, Outcome):
            raise UserError(_for_page(started.message))
        self.attempt = started
        self._target = None
        self.putnext = [self._is_putnext(part) for part in self._plan()]
        note = judging_note(started.judge)
        read_as = [line.removeprefix("read as: ") for line in stage.read_as()]
        return {"type": "start", "text": started.text, "read_as": read_as, "plan": self._plan(),
                "limit": started.limit, "note": note}

    def step(self, message: dict) -> dict:
        """One decision of the agent and one step of the world."""
        stage = self._require_world()
        attempt = self.attempt
        if attempt is None or attempt.outcome is not None:
            raise UserError("nothing to step: type an instruction and press Run")
        taken, pose = attempt.steps, pose_of(stage.env.level)
        outcome = stage.advance(attempt)
        moved = attempt.steps > taken
        decision = attempt.decision
        status = f"step {attempt.steps}/{attempt.limit}" + (f"  {attempt.trail[-1]}" if moved else "")
        if decision is not None and decision.done_prob is not None:
            status += f"  done? {decision.done_prob:.2f}"
        verdict = None
        if outcome is not None:  # the page's #verdict starts with success or failure
            verdict = ("success: " if outcome.succeeded else "failure: ") + outcome.message
        frame = self._frame([f"{stage.count}. {attempt.text}", status if verdict is None else verdict])
        if outcome is None or outcome.status != "step_limit":  # a decision was made on the view at ``pose``
            self._target = target_cells(stage.env.level, getattr(self.driver, "target_map", None), pose,
                                        fixed=decision is not None and self.putnext[decision.part])
        return {"type": "step", "step": attempt.steps, "limit": attempt.limit,
                "action": attempt.trail[-1] if moved else None,
                "done_prob": None if decision is None else decision.done_prob,
                "part": None if decision is None else decision.part, "parts": self._plan(),
                "target": self._target,
                "frame": frame, "verdict": verdict}

    def gif(self, message: dict | None = None) -> dict:
        """The episode so far as a GIF (base64), with each frame's caption."""
        if not self.frames:
            raise UserError("nothing to download yet: make a world first")
        data = episode_gif(list(self.frames), fps=4.0)
        env = self.stage.env
        return {"type": "gif", "name": f"{env.spec_game.id}-seed{self.stage.world_seed}.gif",
                "data": base64.b64encode(data).decode("ascii"), "frames": len(self.frames)}

    def close(self) -> None:
        if self.stage is not None:
            self.stage.close()
        self.stage = self.attempt = None
        self.frames = []

    # ---- pieces ---------------------------------------------------------------------------
    def _require_world(self) -> Stage:
        if self.stage is None:
            raise UserError("no world yet: pick a game and press 'new world'")
        return self.stage

    def _is_putnext(self, part: str) -> bool:
        """Whether ``part``, as the agent reads it (its rephrasing), is a "put ... next to ..."."""
        from instructed_rl.language.parse import ParseError, parse_instruction

        read = {r.original: r.text for r in getattr(self.driver, "rephrased", ())}.get(part, part)
        for corpus in self.stage.reading_corpora():
            try:
                return parse_instruction(read, corpus).kind == "putnext"
            except ParseError:
                continue
        return False

    def _plan(self) -> list[str]:
        return list(getattr(self.driver, "parts", ())) or ([self.attempt.text] if self.attempt else [])

    def _frame(self, lines: list[str]) -> str:
        """The world as minigrid draws it (PNG data URL); kept with ``lines`` for the GIF."""
        level = self.stage.env.level
        data = png_bytes(self.render(level, tile_size(level)))
        if len(self.frames) < MAX_GIF_FRAMES:
            self.frames.append((data, lines))
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def episode_gif(frames: list[tuple[bytes, list[str]]], *, fps: float) -> bytes:
    """PNG frames with their captions (as ``play --record`` writes them) -> GIF bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    write_gif((caption(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), lines) for data, lines in frames),
              buffer, fps=fps)
    return buffer.getvalue()


def _for_page(message: str) -> str:
    """play's words for its prompt commands, as the page's buttons."""
    return message.replace(", or :help", "").replace(":reset for another world", "'next world' for another world")


_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,%d}" % MAX_NAME_CHARS)


def _name(value, what: str, known: tuple[str, ...]) -> str:
    if value == "":
        return ""
    if not isinstance(value, str) or not _NAME.fullmatch(value.strip()):
        shown = value[:40] + "…" if isinstance(value, str) and len(value) > 40 else value
        examples = f" such as {', '.join(known[:3])}" if known else ""
        raise UserError(f"{what} {shown!r} is not a name. Fix: pick a {what} from the list{examples}")
    return value.strip()


def _seed(value) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,9}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UserError(f"seed must be a whole number from 0 to {MAX_SEED}, got {value!r}. Fix: type one, e.g. 0")
    return value
