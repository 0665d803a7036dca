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

import shutil
import sys
import time
from typing import TextIO

from instructed_rl.acting.actors import Actor, Decision
from instructed_rl.errors import UserError
from instructed_rl.interactive.config import PlayConfig
from instructed_rl.interactive.judge import Outcome, check_text, judging_note
from instructed_rl.interactive.prompt import PROMPT, help_lines, read_line, seed_problem, unknown_command
from instructed_rl.interactive.stage import ACTION_NAMES, Stage, prepare_window
from instructed_rl.render.terminal import TerminalView


class Session:
    """``play``'s session: a :class:`~instructed_rl.interactive.stage.Stage` (game, world, actor),
    the terminal view and an optional recording."""

    def __init__(self, config: PlayConfig, *, out: TextIO | None = None, driver: Actor | None = None) -> None:
        self.config = config
        self.out = out or sys.stdout
        window = config.view == "window"
        if window:
            prepare_window()
        from instructed_rl.render.record import Recorder

        self.recorder = Recorder(config.record, fps=config.fps) if config.record else None
        self.stage = Stage(config, driver=driver)
        color = config.color == "always" or (config.color == "auto" and self.out.isatty())
        self.view = TerminalView(self.out, color=color and not window, live=self.out.isatty() and not window,
                                 grid=not window)
        self._recording_full_said = False

    # ---- worlds ---------------------------------------------------------------------------
    def new_world(self, seed: int) -> None:
        self.stage.new_world(seed)
        self.show_world()

    def switch_game(self, name: str) -> None:
        self.stage.switch_game(name)
        self.show_world()

    def show_world(self) -> None:
        stage, say = self.stage, self.view.say
        env = stage.env
        mode = stage.action_mode
        reads = [c.name for c in stage.reading_corpora()]
        typed = f" (typed text read as {', then '.join(reads)})" if len(reads) > 1 else ""
        say(f"{env.spec_game.id}  seed {stage.world_seed}  split {env.split}  corpus {env.corpus.name}{typed}  "
            f"agent {stage.driver.name} ({mode})")
        if stage.new_to_agent:
            say(f"note: the agent was trained on {', '.join(stage.driver.trained_on)}; {env.spec_game.id} is new to it")
        if self.config.view == "window":
            env.render()
        self.view.world(env.level)
        say(f"description: {stage.description()}")
        say(f"suggestion:  {env.mission}")

    # ---- one instruction ------------------------------------------------------------------
    def run(self, text: str) -> Outcome:
        """Carry out one instruction on the current world; Ctrl-C stops it (the world stays)."""
        stage = self.stage
        attempt = stage.start(text)
        if isinstance(attempt, Outcome):
            return attempt
        for line in stage.read_as():
            self.view.say(line)
        note = judging_note(attempt.judge)
        if note:
            self.view.say(f"note: {note}")
        pace = (lambda: time.sleep(1.0 / self.config.fps)) if self.config.fps > 0 else None
        self._show(attempt.text, [f"step {0:>3}/{attempt.limit}  (ready)"], attempt.trail)
        try:
            while True:
                taken = attempt.steps
                outcome = stage.advance(attempt, before_step=pace)
                if attempt.steps > taken:
                    self._show(attempt.text, [_status(attempt.steps, attempt.limit, attempt.decision)], attempt.trail)
                if outcome is not None:
                    break
        except KeyboardInterrupt:
            attempt.finish("interrupted")
        self.view.end()
        return attempt.outcome

    def _show(self, text: str, status: list[str], trail: list[str]) -> None:
        level = self.stage.env.level
        shown = list(status)
        if self.view.live and trail:
            width = shutil.get_terminal_size().columns
            recent = " ".join(trail)
            shown.append("actions: " + (recent if len(recent) + 9 <= width else "…" + recent[-(width - 10):]))
        self.view.frame(level, shown)
        if self.recorder is not None and not self.recorder.add(level, [f"{self.stage.count}. {text}", status[0]]):
            if not self._recording_full_said:
                self._recording_full_said = True
                self.view.say(f"note: the recording is full ({len(self.recorder)} frames); later steps are not recorded")

    # ---- the prompt -----------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Act on one typed line; False when the session should end."""
        typed = read_line(line)
        if typed.kind == "quit":
            return False
        if typed.kind == "problem":
            self.view.say(typed.text)
        elif typed.kind == "command":
            self.command(typed.name, typed.text)
        else:
            self.view.say(f"verdict: {self.run(typed.text).message}")
        return True

    def command(self, name: str, arg: str) -> None:
        say = self.view.say
        if name == ":help":
            for line in help_lines():
                say(line)
        elif name == ":reset":
            self.new_world(self.stage.world_seed + 1)
        elif name == ":seed":
            problem = seed_problem(arg)
            if problem:
                say(problem)
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
            self.stage.greedy = name == ":greedy"
            say(f"actions are now {'greedy' if self.stage.greedy else 'sampled'}")
        elif name == ":show":
            self.show_world()
        else:
            say(unknown_command(name))

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
        self.stage.close()


def _status(steps: int, limit: int, decision: Decision) -> str:
    line = f"step {steps:>3}/{limit}  {ACTION_NAMES[decision.action]:<7}"
    if decision.done_prob is not None:
        line += f"  done? {decision.done_prob:.2f}"
    if decision.parts > 1:
        line += f"  part {decision.part + 1}/{decision.parts}: {decision.part_text}"
    return line


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
