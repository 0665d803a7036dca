"""One browser tab's episode: its own world, actor state, current instruction and recording.

The server (:mod:`instructed_rl.web.app`) turns each websocket message into one call here and
sends back the dict it returns. Everything is synchronous and runs on one worker thread, so
a tab's session is never used by two threads at once and the shared agent serves one step at
a time. A play :class:`~instructed_rl.play.Session` does the judging and acting, exactly as
``instructed-rl play`` does; this adds what the page shows (PNG frames, the plan, the
termination head's confidence, the target map) and the GIF of the episode.

    page = PageSession(shared)
    page.world({"game": "SkillRoom", "seed": 0})   # -> {"type": "world", "mission": ..., "frame": ...}
    page.run({"text": page.play.env.mission})      # -> {"type": "start", "plan": [...], ...}
    page.step({})                                  # -> {"type": "step", ..., "verdict": None or "success: ..."}
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
from dataclasses import dataclass

import numpy as np

from instructed_rl.acting.actors import AgentActor, make_actor
from instructed_rl.errors import UserError
from instructed_rl.play import MAX_SEED, Attempt, Outcome, PlayConfig, Session, check_text
from instructed_rl.render.record import caption, tile_size

MAX_GIF_FRAMES = 2000  # ~8 minutes at 4 fps; each frame is kept as its PNG (a few kB)
MAX_NAME_CHARS = 100  # a game id or corpus name


class _Discard(io.TextIOBase):
    """A text stream that keeps nothing: the play session's terminal view writes here."""

    def write(self, text: str) -> int:
        return len(text)


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
        return make_actor(self.base.agent, bot="parts")


class FrameRenderer:
    """minigrid's ``level.get_frame(highlight=True, tile_size=...)``, pixel for pixel, redrawing only
    the tiles whose content changed since the last frame (a step changes a few dozen of a room's
    hundreds). Tiles come from minigrid's own ``Grid.render_tile``, keyed as its cache keys them.
    minigrid's whole-grid render was two thirds of a page step."""

    def __init__(self) -> None:
        self._image: np.ndarray | None = None
        self._keys: list[list[tuple]] = []
        self._tile = 0

    def __call__(self, level, tile: int) -> np.ndarray:
        from minigrid.core.grid import Grid

        width, height = level.width, level.height
        if self._image is None or self._tile != tile or self._image.shape[:2] != (height * tile, width * tile):
            self._image = np.zeros((height * tile, width * tile, 3), dtype=np.uint8)
            self._keys = [[()] * width for _ in range(height)]
            self._tile = tile
        highlight = _highlight_mask(level)
        agent = tuple(int(v) for v in level.agent_pos)
        for j in range(height):
            for i in range(width):
                cell = level.grid.get(i, j)
                direction = level.agent_dir if (i, j) == agent else None
                key = (direction, bool(highlight[i, j]), None if cell is None else cell.encode())
                if self._keys[j][i] != key:
                    self._keys[j][i] = key
                    self._image[j * tile:(j + 1) * tile, i * tile:(i + 1) * tile] = Grid.render_tile(
                        cell, agent_dir=direction, highlight=key[1], tile_size=tile)
        return self._image


def _highlight_mask(level) -> np.ndarray:
    """The cells the agent sees, as minigrid's ``get_full_render`` highlights them."""
    _, visible = level.gen_obs_grid()
    size = level.agent_view_size
    forward, right = level.dir_vec, level.right_vec
    top_left = level.agent_pos + forward * (size - 1) - right * (size // 2)
    mask = np.zeros((level.width, level.height), dtype=bool)
    for view_y in range(size):
        for view_x in range(size):
            if visible[view_x, view_y]:
                x, y = top_left - forward * view_y + right * view_x
                if 0 <= x < level.width and 0 <= y < level.height:
                    mask[x, y] = True
    return mask


def png_bytes(frame: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def target_cells(level, target_map: np.ndarray | None, pose, *, fixed: bool) -> list[list[float]] | None:
    """The target map on world cells: ``[x, y, p_object, p_fixed]`` for each view cell inside the
    grid. ``pose`` is the agent's ``(position, direction vector, right vector)`` when it saw the view
    the map was computed from (before the step); ``fixed`` False zeroes the second slot (it means
    something only for "put next to")."""
    if target_map is None:
        return None
    size = level.agent_view_size
    position, forward, right = (np.asarray(v) for v in pose)
    top_left = position + forward * (size - 1) - right * (size // 2)
    cells = []
    for view_x in range(size):
        for view_y in range(size):
            x, y = top_left - forward * view_y + right * view_x  # as minigrid's highlight mask
            if 0 <= x < level.width and 0 <= y < level.height:
                second = float(target_map[1, view_x, view_y]) if fixed and len(target_map) > 1 else 0.0
                cells.append([int(x), int(y), round(float(target_map[0, view_x, view_y]), 3), round(second, 3)])
    return cells


def pose_of(level) -> tuple:
    return tuple(level.agent_pos), tuple(level.dir_vec), tuple(level.right_vec)


class PageSession:
    """One tab: a play session (world + actor), the instruction under way, the episode's frames."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.driver = shared.driver()
        self.play: Session | None = None
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
        current = self.play.config if self.play is not None else None
        if current is None or (current.game, current.split, current.corpus) != (game, split, corpus):
            play = Session(config, out=_Discard(), driver=self.driver)  # a UserError keeps the current world
            if self.play is not None:
                self.play.env.close()
            self.play = play
        self.play.new_world(seed)
        self.attempt = None
        self.frames = []
        env = self.play.env
        frame = self._frame([f"{env.spec_game.id} seed {seed}", "step 0"])
        trained_on = getattr(self.driver, "trained_on", ())
        return {"type": "world", "game": env.spec_game.id, "title": env.spec_game.title, "split": env.split,
                "splits": list(env.spec_game.splits), "corpus": env.corpus.name, "corpus_given": corpus or "",
                "seed": seed, "mission": env.mission, "description": self.play.description(),
                "width": env.level.width, "height": env.level.height, "frame": frame,
                "new_to_agent": bool(trained_on) and env.spec_game.id not in trained_on}

    def run(self, message: dict) -> dict:
        """Start an instruction on the current world (which persists between instructions)."""
        play = self._require_world()
        text = message.get("text")
        if not isinstance(text, str):
            raise UserError("no instruction: type one in the box (the suggestion, for example)")
        problem = check_text(text)
        if problem:
            raise UserError(_for_page(problem))
        self.attempt = None
        started = play.start(text.strip())
        if isinstance(started, Outcome):
            raise UserError(_for_page(started.message))
        self.attempt = started
        self._target = None
        self.putnext = [self._is_putnext(part) for part in self._plan()]
        judge = started.judge
        note = None if judge.source != "none" else f"success cannot be checked: {judge.detail or judge.why_not}"
        return {"type": "start", "text": started.text, "read_as": [line.removeprefix("read as: ") for line in play.read_as()], "plan": self._plan(),
                "limit": started.limit, "note": note}

    def step(self, message: dict) -> dict:
        """One decision of the agent and one step of the world."""
        play = self._require_world()
        attempt = self.attempt
        if attempt is None or attempt.outcome is not None:
            raise UserError("nothing to step: type an instruction and press Run")
        taken, pose = attempt.steps, pose_of(play.env.level)
        outcome = play.advance(attempt)
        moved = attempt.steps > taken
        decision = attempt.decision
        status = f"step {attempt.steps}/{attempt.limit}" + (f"  {attempt.trail[-1]}" if moved else "")
        if decision is not None and decision.done_prob is not None:
            status += f"  done? {decision.done_prob:.2f}"
        verdict = None
        if outcome is not None:  # the page's #verdict starts with success or failure
            verdict = ("success: " if outcome.succeeded else "failure: ") + outcome.message
        frame = self._frame([f"{play.count}. {attempt.text}", status if verdict is None else verdict])
        if outcome is None or outcome.status != "step_limit":  # a decision was made on the view at ``pose``
            self._target = target_cells(play.env.level, getattr(self.driver, "target_map", None), pose,
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
        env = self.play.env
        return {"type": "gif", "name": f"{env.spec_game.id}-seed{self.play.world_seed}.gif",
                "data": base64.b64encode(data).decode("ascii"), "frames": len(self.frames)}

    def close(self) -> None:
        if self.play is not None:
            self.play.env.close()
        self.play = self.attempt = None
        self.frames = []

    # ---- pieces ---------------------------------------------------------------------------
    def _require_world(self) -> Session:
        if self.play is None:
            raise UserError("no world yet: pick a game and press 'new world'")
        return self.play

    def _is_putnext(self, part: str) -> bool:
        """Whether ``part``, as the agent reads it (its rephrasing), is a "put ... next to ..."."""
        from instructed_rl.language.parse import ParseError, parse_instruction

        read = {r.original: r.text for r in getattr(self.driver, "rephrased", ())}.get(part, part)
        for corpus in self.play.reading_corpora():
            try:
                return parse_instruction(read, corpus).kind == "putnext"
            except ParseError:
                continue
        return False

    def _plan(self) -> list[str]:
        return list(getattr(self.driver, "parts", ())) or ([self.attempt.text] if self.attempt else [])

    def _frame(self, lines: list[str]) -> str:
        """The world as minigrid draws it (PNG data URL); kept with ``lines`` for the GIF."""
        level = self.play.env.level
        data = png_bytes(self.render(level, tile_size(level)))
        if len(self.frames) < MAX_GIF_FRAMES:
            self.frames.append((data, lines))
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def episode_gif(frames: list[tuple[bytes, list[str]]], *, fps: float) -> bytes:
    """PNG frames with their captions (as ``play --record`` writes them) -> GIF bytes."""
    from PIL import Image

    def captioned():
        for data, lines in frames:
            frame = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            yield Image.fromarray(caption(frame, lines)).convert("P", palette=Image.Palette.ADAPTIVE)

    images = captioned()
    first = next(images)
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=images, duration=max(20, round(1000 / fps)), loop=0)
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
