"""``instructed-rl play``: type an instruction, watch an agent carry it out in a world that persists.

    instructed-rl play                                   # the shipped agent on SkillRoom
    instructed-rl play --agent runs/default/agent --game GoToRoom --seed 3 --record session.gif
    instructed-rl play --agent bot --game GoToRoom --seed 1 --fps 0 --instruction "go to the grey box"

At the ``instruction>`` prompt type an instruction, or a command (``:help`` lists them; ``quit``
leaves). Typed text is read (for its verdict) with the agent's own corpus, then the world's. The
agent acts at ``--fps`` actions a second and stops when its termination head believes the
instruction is done (done? > 0.5), when the verifier says it succeeded or failed, or at the
step limit. The world is not reset between instructions, so each typed text gets a fresh
minigrid verifier, built from its parse (``instructed_rl.language.parse``) on the world as it is now:
text that does not parse still runs, but its success cannot be checked.

With ``--instruction`` (repeatable) the instructions run in order on the same world and the
exit status is 0 only when every one succeeded (an unverifiable one does not count).
"""

from __future__ import annotations

import difflib
import importlib.util
import math
import os
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO

from minigrid.core.actions import Actions

from instructed_rl.acting.actors import REFERENCE_AGENTS, Actor, Decision, make_actor
from instructed_rl.config import option
from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.understanding import check_instruction
from instructed_rl.errors import UserError
from instructed_rl.games.env import InstructedEnv, describe_objects, quiet
from instructed_rl.games.spec import find_game
from instructed_rl.language.parse import ParseError, missing_objects, parse_instruction
from instructed_rl.render.terminal import LEGEND, render_grid
from instructed_rl.resources import PROJECT_ROOT

DEFAULT_AGENT = "data/agents/default"
DEFAULT_GAME = "SkillRoom"
PROMPT = "instruction> "
MAX_INSTRUCTION_CHARS = 200
DONE_THRESHOLD = 0.5
MAX_SEED = 999_999_999
ACTION_NAMES = tuple(action.name for action in Actions)  # left right forward pickup drop toggle done
COMMANDS = {
    ":help": "this list",
    ":reset": "next world of the seed sequence (seed + 1)",
    ":seed N": "world N",
    ":game NAME": "another game (same seed); 'instructed-rl envs' lists them",
    ":greedy": "greedy actions",
    ":sample": "sampled actions",
    ":show": "draw the world again",
    ":quit": "leave (also quit, exit, Ctrl-D, or Ctrl-C twice)",
}
QUIT_WORDS = ("quit", "exit", "q")


@dataclass
class PlayConfig:
    agent: str = option(DEFAULT_AGENT, "saved agent directory, or 'bot' (BabyAI bot; needs text that parses) / 'random'")
    game: str = option(DEFAULT_GAME, "game id (see 'instructed-rl envs') or a BabyAI level id")
    seed: int = option(0, "seed of the first world; :reset moves on to seed + 1, seed + 2, ...")
    split: str | None = option(None, "split the worlds and suggestions come from (default: test when the game has it)")
    corpus: str | None = option(None, "corpus that phrases suggestions and parses what you type (default: the game's)")
    view: Literal["terminal", "window"] = option("terminal", "draw the world in the terminal, or in minigrid's pygame window")
    color: Literal["auto", "always", "never"] = option("auto", "ANSI colours in the terminal: auto means on a terminal")
    record: str | None = option(None, "write what was shown to this .gif (or .mp4, with imageio-ffmpeg installed)")
    fps: float = option(4.0, "actions per second; 0 = as fast as possible")
    instruction: tuple[str, ...] = option((), "run this instruction without prompting (repeatable: in order, same world)")
    max_steps: int | None = option(None, "step limit per instruction (default: the game's max_steps)")
    greedy: bool = option(True, "greedy actions; --no-greedy samples (:greedy / :sample switch at the prompt)")
    anyway: bool = option(False, "run instructions even when they name words nothing defines (\"the unicorn\")")

    def __post_init__(self):
        self.instruction = tuple(self.instruction)
        if not self.agent:
            raise ValueError(f"--agent is empty. Fix: pass a saved agent directory (default {DEFAULT_AGENT}), bot or random")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"--seed must be from 0 to {MAX_SEED}, got {self.seed}")
        if not math.isfinite(self.fps) or self.fps < 0:
            raise ValueError(f"--fps must be 0 (as fast as possible) or positive, got {self.fps}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ValueError(f"--max-steps must be positive, got {self.max_steps}")


def check_text(line: str) -> str | None:
    """Why ``line`` cannot be an instruction (one line), or None when it can."""
    if not line.strip():
        return "empty instruction: type one (the suggestion above, for example), or :help"
    if len(line) > MAX_INSTRUCTION_CHARS:
        return f"too long ({len(line)} characters, at most {MAX_INSTRUCTION_CHARS}): type a shorter instruction"
    if not line.replace("\t", " ").isprintable():
        return "that is not plain text (it has control or binary characters): type the instruction again"
    return None


# ---- who acts -------------------------------------------------------------------------------

def resolve_agent(spec: str) -> Path:
    """The directory of a saved agent: a path, a shipped name or a Hub id (:func:`instructed_rl.hub.resolve_agent`)."""
    from instructed_rl.hub import resolve_agent as find_agent

    path = find_agent(spec)
    if path.is_dir():
        return path
    if spec == DEFAULT_AGENT:
        if (PROJECT_ROOT / spec).is_dir():
            return PROJECT_ROOT / spec
        raise UserError(f"no agent at {DEFAULT_AGENT} (the shipped agent is not there yet). Fix: train one with "
                        "'instructed-rl train --config configs/default.yaml --out runs/default' and pass "
                        "--agent runs/default/agent, or try --agent bot")
    raise UserError(f"--agent {spec!r}: not a saved agent directory. Fix: pass a directory written by "
                    f"'instructed-rl train' (e.g. {DEFAULT_AGENT}), bot or random")


def make_driver(spec: str) -> Actor:
    """The actor ``play`` runs: a saved agent or the bot (part by part, through the executor), or random."""
    if spec in REFERENCE_AGENTS:
        return make_actor(spec, bot="parts")
    path = resolve_agent(spec)
    import torch

    # One observation at a time: more threads only add overhead (and starve a training run).
    torch.set_num_threads(1)
    return make_actor(str(path))


# ---- what is shown --------------------------------------------------------------------------

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


# ---- one instruction ------------------------------------------------------------------------

Status = Literal["succeeded", "failed", "believed_done", "gave_up", "step_limit", "interrupted", "not_run"]


@dataclass
class Outcome:
    instruction: str
    status: Status
    steps: int
    message: str

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass
class Judge:
    """How the typed text's success is judged: its own verifier, the world's mission, or not at all."""

    verifier: object | None
    source: Literal["parse", "env", "none"]
    why_not: str = ""  # when source is "none": short, for the verdict
    detail: str = ""  # the whole reason, shown once before the run
    missing: tuple[str, ...] = ()
    corpus: object | None = None  # the corpus that read the text (the actor plans its parts with it)

    def after(self, level, action: int, terminated: bool, info: dict) -> str:
        if self.source == "parse":
            if action == Actions.drop:  # minigrid tracks dropped objects this way for its own verifier
                level.update_objs_poss(self.verifier)
            return self.verifier.verify(action)
        if self.source == "env":
            return "success" if info["success"] else ("failure" if terminated else "continue")
        return "continue"


@dataclass
class Attempt:
    """One instruction under way on the current world: :meth:`Session.advance` takes it one step
    at a time (``play`` in a loop, the web page when the browser asks)."""

    text: str
    judge: Judge
    limit: int  # step limit
    obs: dict
    steps: int = 0
    decision: Decision | None = None  # the actor's last
    trail: list[str] = field(default_factory=list)  # action names so far
    outcome: Outcome | None = None  # set when it is over

    def finish(self, status: Status) -> Outcome:
        self.outcome = Outcome(self.text, status, self.steps,
                               _message(status, self.steps, self.limit, self.decision, self.judge))
        return self.outcome


class Session:
    """A game, a world that persists between instructions, an actor, a view and an optional recording."""

    def __init__(self, config: PlayConfig, *, out: TextIO | None = None, driver: Actor | None = None) -> None:
        self.config = config
        self.out = out or sys.stdout
        window = config.view == "window"
        if window:
            _prepare_window()
        from instructed_rl.render.record import Recorder

        self.recorder = Recorder(config.record, fps=config.fps) if config.record else None
        self.driver = driver or make_driver(config.agent)  # the web page gives each tab its own
        color = config.color == "always" or (config.color == "auto" and self.out.isatty())
        self.view = TerminalView(self.out, color=color and not window, live=self.out.isatty() and not window,
                                 grid=not window)
        self.greedy = config.greedy
        self._own_corpus = _agent_corpus(self.driver)
        self.env = self._make_env(config.game)
        self.world_seed = config.seed
        self.count = 0  # instructions run, for captions and sampling seeds
        self.fresh = True  # no step taken since the world was made
        self._recording_full_said = False

    # ---- worlds ---------------------------------------------------------------------------
    def _make_env(self, game: str) -> InstructedEnv:
        spec = find_game(game)
        split = self.config.split or ("test" if "test" in spec.splits else spec.splits[0])
        render_mode = "human" if self.config.view == "window" else None
        return InstructedEnv(spec, split=split, corpus=self.config.corpus, render_mode=render_mode)

    def new_world(self, seed: int) -> None:
        self.world_seed = seed
        try:
            with quiet():
                self.env.reset(seed=seed)
        except Exception as error:
            if self.config.view == "window" and type(error).__module__.startswith("pygame"):
                raise UserError(f"--view window: cannot open a window ({error}). "
                                "Fix: run where a display is available, or use --view terminal") from None
            raise
        self.fresh = True
        self.show_world()

    def switch_game(self, name: str) -> None:
        env = self._make_env(name)  # a UserError leaves the current game in place
        self.env.close()
        self.env = env
        self.new_world(self.world_seed)

    def description(self) -> str:
        # The episode's own (the env composes it, from a template family in some games), as eval sees it.
        return self.env.description or self.env.spec_game.description.format(objects=describe_objects(self.env.level))

    def show_world(self) -> None:
        env, say = self.env, self.view.say
        mode = "greedy" if self.greedy else "sampling"
        reads = [c.name for c in self.reading_corpora()]
        typed = f" (typed text read as {', then '.join(reads)})" if len(reads) > 1 else ""
        say(f"{env.spec_game.id}  seed {self.world_seed}  split {env.split}  corpus {env.corpus.name}{typed}  "
            f"agent {self.driver.name} ({mode})")
        trained_on = getattr(self.driver, "trained_on", ())
        if trained_on and env.spec_game.id not in trained_on:
            say(f"note: the agent was trained on {', '.join(trained_on)}; {env.spec_game.id} is new to it")
        if self.config.view == "window":
            env.render()
        self.view.world(env.level)
        say(f"description: {self.description()}")
        say(f"suggestion:  {env.mission}")

    # ---- judging --------------------------------------------------------------------------
    def reading_corpora(self) -> list:
        """Corpora that read typed text, first to last: --corpus alone when given; else the agent's own
        (the shipped agent reads paraphrases, so its verdicts must too), then the world's."""
        own = self._own_corpus
        if self.config.corpus is None and own is not None and own.name != self.env.corpus.name:
            return [own, self.env.corpus]
        return [self.env.corpus]

    def judge(self, text: str) -> Judge:
        env = self.env
        corpora = self.reading_corpora()
        parsed = error = None
        for corpus in corpora:
            try:
                parsed = parse_instruction(text, corpus)
                break
            except ParseError as problem:
                error = error or problem
        if parsed is None:
            if self.fresh and text == env.mission:  # the world's own mission, still untouched
                return Judge(env.level.instrs, "env", corpus=env.corpus)
            names = " or ".join(c.name for c in corpora)
            return Judge(None, "none", f"the text does not parse under corpus {names}", str(error))
        missing = tuple(missing_objects(parsed, env.level))
        if missing:
            return Judge(None, "none", missing=missing)
        verifier = parsed.to_verifier()
        verifier.reset_verifier(env.level)
        return Judge(verifier, "parse", corpus=corpus)

    # ---- acting ---------------------------------------------------------------------------
    def start(self, text: str) -> Attempt | Outcome:
        """Check ``text`` and hand it to the actor on the current world: the attempt to step
        through with :meth:`advance`, or the ``not_run`` outcome saying why it cannot run."""
        text = " ".join(text.split())
        env, level = self.env, self.env.level
        if not self.config.anyway:  # words nothing names: refuse instead of acting out a guess
            known = [check_instruction(text, corpus=c, description=self.description()) for c in self.reading_corpora()]
            if not any(u.understood for u in known):
                return Outcome(text, "not_run", 0, known[0].message())
        judge = self.judge(text)
        if judge.missing:
            absent = "; ".join(f"there is no {re.sub(r'^(the|a|an) ', '', m)} here" for m in judge.missing)
            return Outcome(text, "not_run", 0, f"{absent}: not run (the world holds {describe_objects(level)}; "
                                               "rephrase it, or :reset for another world)")
        self.count += 1
        level.mission = text  # what minigrid's window shows
        self.driver.greedy = self.greedy
        try:
            self.driver.start(env, instruction=text, description=self.description(), corpus=judge.corpus or env.corpus,
                              seed=self.world_seed * 1000 + self.count % 1000)
        except UserError as refusal:
            return Outcome(text, "not_run", 0, f"not run: {refusal}")
        raw = level.gen_obs()
        obs = {"image": raw["image"], "direction": raw["direction"], "mission": text, "description": self.description()}
        return Attempt(text, judge, self.config.max_steps or level.max_steps, obs)

    def read_as(self) -> list[str]:
        """How the actor read the instruction just started, where that differs from the text."""
        lines = [f"read as: {reading.text!r} (the nearest trained wording to {reading.original!r}, "
                 f"similarity {reading.similarity:.2f})" for reading in getattr(self.driver, "rephrased", ())]
        lines += [f"read as: {reading!r} (words of {part!r} the description defines, replaced by what it binds them to)"
                  for part, reading in getattr(self.driver, "pointed", ())]
        return lines

    def advance(self, attempt: Attempt, *, before_step=None) -> Outcome | None:
        """One decision of the actor and, unless it believes the instruction done, one step of the
        world (``before_step()`` runs between the two: play's pacing). The outcome once it is over."""
        if attempt.outcome is not None:
            return attempt.outcome
        status = None
        if attempt.steps >= attempt.limit:
            status = "step_limit"
        else:
            decision = attempt.decision = self.driver.act(attempt.obs)
            if decision.finished:
                status = "gave_up" if decision.gave_up else "believed_done"
            else:
                if before_step is not None:
                    before_step()
                obs, _, terminated, _, info = self.env.step(decision.action)
                attempt.obs = dict(obs, mission=attempt.text)
                attempt.steps += 1
                self.fresh = False
                verdict = attempt.judge.after(self.env.level, decision.action, terminated, info)
                attempt.trail.append(ACTION_NAMES[decision.action])
                if verdict in ("success", "failure"):
                    status = "succeeded" if verdict == "success" else "failed"
        if status is not None:
            attempt.finish(status)
        return attempt.outcome

    def run(self, text: str) -> Outcome:
        """Carry out one instruction on the current world; Ctrl-C stops it (the world stays)."""
        attempt = self.start(text)
        if isinstance(attempt, Outcome):
            return attempt
        for line in self.read_as():
            self.view.say(line)
        judge = attempt.judge
        if judge.source == "none":
            self.view.say(f"note: success cannot be checked: {judge.detail or judge.why_not}")
        pace = (lambda: time.sleep(1.0 / self.config.fps)) if self.config.fps > 0 else None
        self._show(attempt.text, [f"step {0:>3}/{attempt.limit}  (ready)"], attempt.trail)
        try:
            while True:
                taken = attempt.steps
                outcome = self.advance(attempt, before_step=pace)
                if attempt.steps > taken:
                    self._show(attempt.text, [self._status(attempt.steps, attempt.limit, attempt.decision)],
                               attempt.trail)
                if outcome is not None:
                    break
        except KeyboardInterrupt:
            attempt.finish("interrupted")
        self.view.end()
        return attempt.outcome

    @staticmethod
    def _status(steps: int, limit: int, decision: Decision) -> str:
        line = f"step {steps:>3}/{limit}  {ACTION_NAMES[decision.action]:<7}"
        if decision.done_prob is not None:
            line += f"  done? {decision.done_prob:.2f}"
        if decision.parts > 1:
            line += f"  part {decision.part + 1}/{decision.parts}: {decision.part_text}"
        return line

    def _show(self, text: str, status: list[str], trail: list[str]) -> None:
        level = self.env.level
        shown = list(status)
        if self.view.live and trail:
            width = shutil.get_terminal_size().columns
            recent = " ".join(trail)
            shown.append("actions: " + (recent if len(recent) + 9 <= width else "…" + recent[-(width - 10):]))
        self.view.frame(level, shown)
        if self.recorder is not None and not self.recorder.add(level, [f"{self.count}. {text}", status[0]]):
            if not self._recording_full_said:
                self._recording_full_said = True
                self.view.say(f"note: the recording is full ({len(self.recorder)} frames); later steps are not recorded")

    # ---- the prompt -----------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Act on one typed line; False when the session should end."""
        problem = check_text(line)
        if problem:
            self.view.say(problem)
            return True
        text = line.strip()
        if text.lower().rstrip(".!") in QUIT_WORDS:  # what people type to leave; never an instruction
            return False
        if text.startswith(":"):
            return self.command(text)
        outcome = self.run(text)
        self.view.say(f"verdict: {outcome.message}")
        return True

    def command(self, text: str) -> bool:
        name, _, arg = text.partition(" ")
        name, arg, say = name.lower(), arg.strip(), self.view.say
        if name in (":quit", ":q", ":exit"):
            return False
        if name == ":help":
            for command, meaning in COMMANDS.items():
                say(f"  {command:<11} {meaning}")
            say("  anything else is an instruction for the agent; Ctrl-C stops a run")
        elif name == ":reset":
            self.new_world(self.world_seed + 1)
        elif name == ":seed":
            if not re.fullmatch(r"\d{1,9}", arg):
                say(f":seed needs a whole number from 0 to {MAX_SEED}, e.g. :seed 3 (got {arg or 'nothing'})")
            else:
                self.new_world(int(arg))
        elif name == ":game":
            if not arg:
                say(":game needs a game id, e.g. :game GoToRoom ('instructed-rl envs' lists them)")
            else:
                try:
                    self.switch_game(arg)
                except UserError as error:
                    say(f"error: {error}")
        elif name in (":greedy", ":sample"):
            self.greedy = name == ":greedy"
            say(f"actions are now {'greedy' if self.greedy else 'sampled'}")
        elif name == ":show":
            self.show_world()
        else:
            close = difflib.get_close_matches(name, [c.split()[0] for c in COMMANDS], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            say(f"unknown command {name}{hint}: :help lists the commands")
        return True

    def interact(self) -> int:
        echo = not sys.stdin.isatty()  # piped input: show what was read, so the output reads like a session
        if not echo:
            import readline  # noqa: F401  (arrow keys and history for input())
        self.view.say("type an instruction for the agent (the suggestion, or your own); :help lists commands")
        interrupted = False
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                self.view.say()
                return 0
            except KeyboardInterrupt:
                self.view.say()
                if interrupted:
                    return 0
                interrupted = True
                self.view.say("(Ctrl-C again, or Ctrl-D, to quit)")
                continue
            except UnicodeDecodeError:
                self.view.say("that is not text (undecodable bytes): type the instruction again")
                continue
            interrupted = False
            if echo:
                self.view.say(line)
            try:
                if not self.handle(line):
                    return 0
            except KeyboardInterrupt:  # e.g. while a new game loads; a run itself reports its own stop
                self.view.end()
                self.view.say("\nstopped (Ctrl-C)")

    def batch(self, instructions: tuple[str, ...]) -> int:
        outcomes = []
        for line in instructions:
            self.view.say(f"{PROMPT}{line}")
            problem = check_text(line)
            outcome = Outcome(line, "not_run", 0, problem) if problem else self.run(line)
            self.view.say(f"verdict: {outcome.message}")
            outcomes.append(outcome)
            if outcome.status == "interrupted":
                break
        done = sum(o.succeeded for o in outcomes)
        self.view.say(f"{done}/{len(instructions)} instructions succeeded")
        return 0 if done == len(instructions) else 1

    def close(self) -> None:
        if self.recorder is not None:
            frames = self.recorder.save()
            self.view.say(f"wrote {self.recorder.path} ({frames} frames)" if frames
                          else f"nothing was shown, so {self.recorder.path} was not written")
        self.env.close()


def _agent_corpus(driver):
    """The corpus a saved agent was trained on (None for the bot, random, or one this installation lacks)."""
    name = getattr(getattr(getattr(driver, "agent", None), "config", None), "corpus", "")
    if not name:
        return None
    try:
        return load_corpus(name)
    except UserError:
        return None  # the world's corpus still reads typed text


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _message(status: str, steps: int, limit: int, decision: Decision | None, judge: Judge) -> str:
    unverifiable = judge.source == "none"
    belief = f" (done? {decision.done_prob:.2f})" if decision is not None and decision.done_prob is not None else ""
    if status == "succeeded":
        return f"succeeded in {_steps(steps)}"
    if status == "failed":
        return f"failed after {_steps(steps)}: the verifier says the instruction can no longer be met"
    if status == "interrupted":
        return f"stopped by Ctrl-C after {_steps(steps)}"
    if status == "gave_up":
        return f"the bot gave up after {_steps(steps)}"
    if status == "believed_done":
        if unverifiable:
            return f"believed done after {_steps(steps)}{belief}; unverifiable: {judge.why_not}"
        return f"believed done after {_steps(steps)}{belief}, but the verifier says not"
    if unverifiable:
        return f"step limit ({limit} steps) reached; unverifiable: {judge.why_not}"
    return f"step limit ({limit} steps) reached without success"


def _prepare_window() -> None:
    if importlib.util.find_spec("pygame") is None:
        raise UserError("--view window needs pygame. Fix: pip install pygame, or use --view terminal")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    warnings.filterwarnings("ignore", message="The system font", category=UserWarning)  # minigrid's font lookup
    # SDL otherwise turns Ctrl-C into a window-close event, and a run could not be stopped.
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")


def play(config: PlayConfig) -> int:
    """Run a session: the ``--instruction`` list (exit 0 only if all succeed), else the prompt."""
    session = Session(config)
    try:
        session.new_world(config.seed)
        if config.instruction:
            return session.batch(config.instruction)
        return session.interact()
    finally:
        session.close()
