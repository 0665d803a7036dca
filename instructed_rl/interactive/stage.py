"""A game, a world that persists between instructions, and an actor: what ``play`` and a tab of
the web page both act on. :meth:`Stage.start` checks typed text and hands it to the actor;
:meth:`Stage.advance` takes one step of it (``play`` in a loop, the page when the browser asks).

    stage = Stage(PlayConfig(agent="bot", game="GoToRoom"))
    stage.new_world(1)
    attempt = stage.start("go to the grey box")        # an Attempt, or the not_run Outcome
    while stage.advance(attempt) is None:
        pass
    attempt.outcome.message                             # 'succeeded in 6 steps'
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass, field

from minigrid.core.actions import Actions

from instructed_rl.acting.actors import REFERENCE_AGENTS, Actor, Decision, make_actor
from instructed_rl.model.loops import action_mode
from instructed_rl.errors import UserError
from instructed_rl.eval.cell import take_step
from instructed_rl.games.env import InstructedEnv, describe_objects, quiet
from instructed_rl.games.spec import find_game
from instructed_rl.model.hub import resolve_agent
from instructed_rl.interactive.config import DEFAULT_AGENT, PlayConfig
from instructed_rl.interactive.judge import (Judge, Outcome, Status, absent_objects, judge, not_understood, verdict,
                                             with_world_words)
from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.understanding import negations_in

ACTION_NAMES = tuple(action.name for action in Actions)  # left right forward pickup drop toggle done


def make_driver(spec: str) -> Actor:
    """The actor ``play`` and ``serve`` run: a saved agent or the bot (part by part, through the
    executor), or random."""
    if spec in REFERENCE_AGENTS:
        return make_actor(spec, bot="parts")
    path = resolve_agent(spec)
    if not path.is_dir():
        if spec == DEFAULT_AGENT:
            raise UserError(f"no agent at {DEFAULT_AGENT} (the shipped agent is not there yet). Fix: train one with "
                            "'instructed-rl train --config configs/default.yaml --out runs/default' and pass "
                            "--agent runs/default/agent, or try --agent bot")
        raise UserError(f"--agent {spec!r}: not a saved agent directory. Fix: pass a directory written by "
                        f"'instructed-rl train' (e.g. {DEFAULT_AGENT}), bot or random")
    import torch

    # One observation at a time: more threads only add overhead (and starve a training run).
    torch.set_num_threads(1)
    return make_actor(str(path))


@dataclass
class Attempt:
    """One instruction under way on the current world."""

    text: str
    judge: Judge
    limit: int  # step limit
    obs: dict
    description: str
    steps: int = 0
    decision: Decision | None = None  # the actor's last
    trail: list[str] = field(default_factory=list)  # action names so far
    outcome: Outcome | None = None  # set when it is over

    def finish(self, status: Status) -> Outcome:
        self.outcome = Outcome(self.text, status, self.steps,
                               verdict(status, self.steps, self.limit, self.decision, self.judge))
        return self.outcome


class Stage:
    """The world (``env``, remade by :meth:`new_world`), the actor (``driver``) and the typed
    instructions run on it so far (``count``)."""

    def __init__(self, config: PlayConfig, *, driver: Actor | None = None) -> None:
        self.config = config
        self.driver = driver or make_driver(config.agent)  # the web page gives each tab its own
        # Told (--greedy / --no-greedy), or the agent's own mode (its config's 'actions').
        self.greedy = config.greedy if config.greedy is not None else getattr(self.driver, "greedy", True)
        self._own_corpus = _agent_corpus(self.driver)
        self.env = self._make_env(config.game)
        self.world_seed = config.seed
        self.count = 0  # instructions run, for captions and sampling seeds
        self.fresh = True  # no step taken since the world was made

    @property
    def action_mode(self) -> str:
        """How the driver chooses actions, in the words reports use."""
        agent = getattr(self.driver, "agent", None)
        return action_mode(self.greedy, bool(agent is not None and agent.config.escape_loops))

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

    def switch_game(self, name: str) -> None:
        env = self._make_env(name)  # a UserError leaves the current game in place
        self.env.close()
        self.env = env
        self.new_world(self.world_seed)

    def description(self) -> str:
        # The episode's own (the env composes it, from a template family in some games), as eval sees it.
        return self.env.description or self.env.spec_game.description.format(objects=describe_objects(self.env.level))

    @property
    def new_to_agent(self) -> bool:
        """The agent was trained on other games than this one."""
        trained_on = getattr(self.driver, "trained_on", ())
        return bool(trained_on) and self.env.spec_game.id not in trained_on

    def words_read(self, text: str, description: str) -> str:
        """``text`` with the colour and object words the actor's agent reads as its own replaced
        (:class:`instructed_rl.language.lexicon.Lexicon`); itself for the bot and foreign actors."""
        agent = getattr(self.driver, "agent", None)
        return agent.read_words(text, description).text if agent is not None else text

    def reading_corpora(self) -> list:
        """Corpora that read typed text, first to last: --corpus alone when given; else the agent's own
        (the shipped agent reads paraphrases, so its verdicts must too), then the world's."""
        own = self._own_corpus
        if self.config.corpus is None and own is not None and own.name != self.env.corpus.name:
            return [own, self.env.corpus]
        return [self.env.corpus]

    # ---- acting ---------------------------------------------------------------------------
    def start(self, text: str) -> Attempt | Outcome:
        """Check ``text`` and hand it to the actor on the current world: the attempt to step
        through with :meth:`advance`, or the ``not_run`` outcome saying why it cannot run."""
        text = " ".join(text.split())
        env, level, description = self.env, self.env.level, self.description()
        read = self.words_read(text, description)  # checked and judged as the agent reads it ("gray" is grey)
        if not self.config.anyway:  # words nothing names: refuse instead of acting out a guess
            refusal = not_understood(read, self.reading_corpora(), description)
            if refusal:
                return Outcome(text, "not_run", 0, refusal)
        judged = judge(read, env, self.reading_corpora(), fresh=self.fresh)
        absent = absent_objects(judged, level)
        if absent:
            return Outcome(text, "not_run", 0, absent)
        self.count += 1
        level.mission = text  # what minigrid's window shows
        self.driver.greedy = self.greedy
        try:
            self.driver.start(env, instruction=text, description=description, corpus=judged.corpus or env.corpus,
                              seed=self.world_seed * 1000 + self.count % 1000)
        except UserError as refusal:
            return Outcome(text, "not_run", 0, f"not run: {refusal}")
        if judged.source == "none" and not judged.missing:
            judged = self._judge_world_words(read) or self._judge_reading(text, description) or judged
        raw = level.gen_obs()
        obs = {"image": raw["image"], "direction": raw["direction"], "map": env.seen_map.observe(level, raw["image"]),
               "mission": text, "description": description}
        return Attempt(text, judged, self.config.max_steps or level.max_steps, obs, description)

    def _judge_world_words(self, text: str) -> Judge | None:
        """A judge of ``text`` with the names the world's rules define said as what they name
        (:func:`with_world_words`); None where it uses none or that does not parse either."""
        said = with_world_words(text, getattr(self.env.level, "facts", ()))
        if said is None or negations_in(text):
            return None
        judged = judge(said, self.env, self.reading_corpora(), fresh=False)
        if judged.source != "parse":
            return None
        judged.read_as, judged.by_world = said, True
        return judged

    def _judge_reading(self, text: str, description: str) -> Judge | None:
        """A judge of the agent's reading of ``text``, which does not parse: its parts as the policy
        reads them (rephrased onto trained wordings), in the order it does them; None when there is
        no agent, more than two parts, a "not" in the text, or the reading does not parse either."""
        agent, parts = getattr(self.driver, "agent", None), list(getattr(self.driver, "parts", ()))
        if agent is None or not 1 <= len(parts) <= 2 or negations_in(text):
            return None  # a reading without the text's "not" would be checked for the opposite
        readings = [agent.rephrase(part, description).text for part in parts]
        text = readings[0] if len(readings) == 1 else f"{readings[0]}, then {readings[1]}"  # the order it acts in
        judged = judge(text, self.env, self.reading_corpora(), fresh=False)
        if judged.source != "parse":
            return None
        judged.read_as = text
        return judged

    def read_as(self) -> list[str]:
        """How the actor read the instruction just started, where that differs from the text."""
        lines = [f"read as: {reading.text!r} ({_why(reading)})" for reading in getattr(self.driver, "rephrased", ())]
        lines += [f"read as: {reading!r} (words of {part!r} the description defines, replaced by what it binds them to)"
                  for part, reading in getattr(self.driver, "pointed", ())]
        return lines

    def advance(self, attempt: Attempt, *, before_step=None) -> Outcome | None:
        """One decision of the actor and, unless it believes the instruction done, one step of the
        world (``before_step()`` runs between the two: play's pacing). The outcome once it is over."""
        if attempt.outcome is not None:
            return attempt.outcome
        if attempt.steps >= attempt.limit:
            return attempt.finish("step_limit")
        step = take_step(self.env, self.driver, attempt.obs, instruction=attempt.text,
                         description=attempt.description, stop_when_finished=True, before_step=before_step)
        decision = attempt.decision = step.decision
        if step.obs is None:
            return attempt.finish("gave_up" if decision.gave_up else "believed_done")
        attempt.obs = step.obs
        attempt.steps += 1
        self.fresh = False
        said = attempt.judge.after(self.env.level, decision.action, step.terminated, step.info)
        attempt.trail.append(ACTION_NAMES[decision.action])
        if said in ("success", "failure"):
            return attempt.finish("succeeded" if said == "success" else "failed")
        return None

    def close(self) -> None:
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


def prepare_window() -> None:
    """Check for pygame and quiet it before minigrid opens its window."""
    if importlib.util.find_spec("pygame") is None:
        raise UserError("--view window needs pygame. Fix: pip install pygame, or use --view terminal")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    warnings.filterwarnings("ignore", message="The system font", category=UserWarning)  # minigrid's font lookup
    # SDL otherwise turns Ctrl-C into a window-close event, and a run could not be stopped.
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")


def _why(reading) -> str:
    """Why an instruction reads as it does: words read as known ones, a nearer trained wording."""
    reasons = []
    if reading.replaced:
        pairs = ", ".join(f"{written!r} as {read!r}" for written, read in reading.replaced)
        reasons.append(f"words it does not know read as its own: {pairs}")
    if reading.template is not None:
        reasons.append(f"the nearest trained wording to {reading.original!r}, similarity {reading.similarity:.2f}")
    return "; ".join(reasons)
