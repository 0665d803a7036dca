"""The gymnasium env every game registers: a minigrid world + phrasing + description + split.

Observations keep minigrid's symbolic ``image`` and ``direction`` and add ``map`` (what the
agent has seen so far this episode, around it: :class:`instructed_rl.games.view.SeenMap`),
``mission`` (the corpus's phrasing) and ``description`` (the environment description: the spec's template with
``{objects}`` and, in games whose rules live in the description, ``{rules}``; see
:mod:`instructed_rl.games.rules`). The minigrid level is
``env.unwrapped.level``: its verifier tree (also ``env.unwrapped.instrs``) and the BabyAI bot
(``BabyAIBot(env.unwrapped.level)``) work as usual. ``info`` carries the structured instruction,
the phrasing used, the split, the rules the description states (``rules``, empty for most
games) and the subtask bookkeeping (plan order, which parts are done, which one is active).
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from typing import Any, Iterator

import gymnasium
import numpy as np
from gymnasium import spaces

from instructed_rl.language.corpus import Corpus, Phraser, load_corpus
from instructed_rl.errors import GameSpecError
from instructed_rl.games.descriptions import AUTO, compose
from instructed_rl.games.spec import SPLITS, GameSpec, find_game
from instructed_rl.games.view import MAP_SIZE, SeenMap, use_fast_view
from instructed_rl.games.worlds import WORLDS
from instructed_rl.language.instructions import (
    instruction_kind,
    instruction_to_dict,
    is_sequence,
    leaves_in_order,
    named_objects,
    subtask_status,
)
from instructed_rl.language.vocabulary import NUMBER_WORDS, plural

MAX_TEXT_LENGTH = 1024
# Printable Latin script: enough for the shipped corpora and most hand-written ones.
TEXT_CHARSET = frozenset(chr(c) for c in list(range(32, 127)) + list(range(0xA0, 0x250)))
HELDOUT_PHRASING_CORPUS = "paraphrase"
MAX_WORLD_TRIES = 2000


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Swallow minigrid's "Sampling rejected: ..." prints while a level is generated."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def describe_objects(level) -> str:
    """``a red ball, two grey keys and a blue door``: what the world holds, in a stable order."""
    counts: Counter[tuple[str, str]] = Counter()
    for obj in level.grid.grid:
        if obj is not None and obj.type in ("ball", "box", "key", "door"):
            counts[(obj.color, obj.type)] += 1
    if not counts:
        return "nothing"
    order = {"ball": 0, "box": 1, "key": 2, "door": 3}
    items = []
    for (color, kind), count in sorted(counts.items(), key=lambda kv: (order[kv[0][1]], kv[0][0])):
        if count == 1:
            items.append(f"a {color} {kind}")
        else:
            items.append(f"{NUMBER_WORDS.get(count, str(count))} {color} {plural(kind)}")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def make_world(spec: GameSpec, *, render_mode: str | None = None):
    kwargs: dict[str, Any] = dict(spec.world_kwargs)
    if spec.max_steps is not None:
        kwargs["max_steps"] = spec.max_steps
    if spec.rules is not None:
        kwargs["rules"] = spec.rules
    if spec.is_ours:
        return WORLDS[spec.world](skills=spec.skills, sequences=spec.sequences, render_mode=render_mode, **kwargs)
    import minigrid  # noqa: F401  (registers the BabyAI levels)

    return gymnasium.make(spec.world, render_mode=render_mode, disable_env_checker=True, **kwargs).unwrapped


class InstructedEnv(gymnasium.Env):
    """A game: one world generator (``self.level``), phrased by a corpus, restricted to a split."""

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, game: str | GameSpec, *, split: str = "train", corpus: str | Corpus | None = None,
                 render_mode: str | None = None):
        self.spec_game = game if isinstance(game, GameSpec) else find_game(game)
        if split not in SPLITS:
            raise GameSpecError(f"unknown split {split!r}. Fix: use one of {', '.join(SPLITS)}")
        if split not in self.spec_game.splits:
            raise GameSpecError(f"game {self.spec_game.id} has no split {split!r}. "
                                f"Fix: use one of {', '.join(self.spec_game.splits)}")
        self.split = split
        if corpus is None and split == "unseen_phrasings":
            corpus = HELDOUT_PHRASING_CORPUS
        self.corpus = load_corpus(corpus)
        game_id = self.spec_game.id
        self.corpus.require(self.spec_game.skills, for_what=f"game {game_id}")
        if not self.spec_game.source.startswith("BabyAI-"):  # ad-hoc levels: checked when a mission appears
            self.corpus.require(self.spec_game.sequences, for_what=f"game {game_id}")
        if split == "unseen_phrasings":
            self.corpus.require_heldout(self.spec_game.skills + self.spec_game.sequences,
                                        for_what=f"split unseen_phrasings of {game_id}")
        self.phraser = Phraser(self.corpus, heldout=split == "unseen_phrasings")
        self.level = make_world(self.spec_game, render_mode=render_mode)
        use_fast_view(self.level)  # the same observations as minigrid's, at about a third of the cost
        self.render_mode = render_mode
        self.action_space = self.level.action_space
        text = spaces.Text(max_length=MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
        self.observation_space = spaces.Dict({
            "image": self.level.observation_space["image"],
            "direction": self.level.observation_space["direction"],
            "map": spaces.Box(0, 255, (MAP_SIZE, MAP_SIZE, 3), np.uint8),
            "world": spaces.Box(0, 255, (self.level.width, self.level.height, 3), np.uint8),
            "pose": spaces.Box(0, max(self.level.width, self.level.height), (3,), np.int64),
            "mission": text,
            "description": text,
        })
        self.mission = ""
        self.description = ""
        self.phrasing = None
        self._plan: tuple = ()
        self._leaf_texts: dict[int, str] = {}
        self.seen_map = SeenMap()

    # ---- split rules -----------------------------------------------------------------
    def _has_heldout_composition(self, instr) -> bool:
        compositions = self.spec_game.heldout_compositions
        for leaf in leaves_in_order(instr):
            skill = instruction_kind(leaf)
            objects = [{"color": d.color, "type": d.type} for d in named_objects(leaf)]
            if any(c.matches(skill, objects) for c in compositions):
                return True
        return False

    def _heldout_rules(self, *, used_only: bool) -> bool:
        """Whether the world states a held-out rule (``used_only``: one the mission depends on)."""
        patterns = self.spec_game.heldout_rules
        facts = [f for f in getattr(self.level, "facts", ()) if f.used or not used_only]
        return any(p.matches(f) for p in patterns for f in facts)

    def _mission_allowed(self, instr) -> bool:
        if self.spec_game.heldout_rules:
            # unseen_rules: the mission needs a held-out rule; any other split never states one
            if self.split == "unseen_rules":
                return self._heldout_rules(used_only=True)
            if self._heldout_rules(used_only=False):
                return False
        heldout = self._has_heldout_composition(instr)
        if self.split == "unseen_compositions":
            return heldout
        if self.split == "unseen_sequences" and not is_sequence(instr):
            return False
        return not heldout

    # ---- gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        level = self.level
        if hasattr(level, "word_source"):  # fresh invented words: the reserved set only in unseen_words
            level.word_source = "reserved" if self.split == "unseen_words" else "train"
        with quiet():
            obs, _ = level.reset(seed=seed, options=options)
        for _ in range(MAX_WORLD_TRIES):
            if self._mission_allowed(level.instrs):
                # Phrasing draws from its own stream, seeded by the world's, so that the
                # world sequence does not depend on how many templates a corpus has.
                world_seed = int(level.np_random.integers(2**63 - 1))
                rng = np.random.default_rng(world_seed)
                phrasing = self.phraser.render(level.instrs, level, rng)
                if self.split != "unseen_phrasings" or phrasing.uses_heldout:
                    break
            with quiet():
                obs, _ = level.reset()  # continues the seeded generator: same seed, same worlds
        else:
            raise GameSpecError(f"game {self.spec_game.id}: split {self.split}: no allowed mission in {MAX_WORLD_TRIES} "
                                f"worlds. Fix: check the game's heldout_compositions and the corpus's heldout templates")
        self.seen_map.reset(level)
        self.phrasing = phrasing
        self.mission = phrasing.text
        self.plain_mission = self._plain_mission(level, world_seed)
        self._leaf_texts = phrasing.leaf_texts
        level.mission = self.mission  # shown by minigrid's own renderer
        facts = tuple(getattr(level, "facts", ()))
        self.description = self._describe(level, facts, np.random.default_rng([world_seed, 1]))
        self._plan = tuple(leaves_in_order(level.instrs))
        info = {
            "game": self.spec_game.id,
            "split": self.split,
            "corpus": self.corpus.name,
            "mission": self.mission,
            "description": self.description,
            "plain_mission": self.plain_mission,
            "instruction": instruction_to_dict(level.instrs),
            "phrasing": list(phrasing.templates),
            "rules": [fact.to_dict() for fact in facts],
            "subtasks": [self._leaf_texts[id(leaf)] for leaf in self._plan],
            "subtask_instructions": [instruction_to_dict(leaf) for leaf in self._plan],
            **self._subtask_info(succeeded=False),
        }
        return self._observation(obs), info

    def _plain_mission(self, level, world_seed: int) -> str:
        """The mission phrased the same way but with every object named by its own colour and
        type, not by a word the description defines: what reading should make of the mission.
        A training target of the reader's losses; the agent is never shown it."""
        aliases = getattr(level, "object_aliases", None)
        if not aliases:
            return self.mission
        level.object_aliases = {}
        try:
            return self.phraser.render(level.instrs, level, np.random.default_rng(world_seed)).text
        finally:
            level.object_aliases = aliases

    def _describe(self, level, facts, rng: np.random.Generator) -> str:
        """This episode's description: the shared template family, or the spec's fixed template
        (held-out templates in ``unseen_descriptions``, never elsewhere)."""
        heldout = self.split == "unseen_descriptions"
        template = self.spec_game.description
        if template == AUTO or heldout:
            sentences = [fact.phrase(rng, heldout=heldout) for fact in facts]
            return compose(level, objects=describe_objects(level), rule_sentences=sentences, rng=rng, heldout=heldout)
        return template.format(objects=describe_objects(level), rules=" ".join(fact.sentence for fact in facts))

    def step(self, action):
        obs, reward, terminated, truncated, info = self.level.step(action)
        succeeded = bool(terminated and reward > 0)
        info = dict(info, success=succeeded, **self._subtask_info(succeeded=succeeded))
        return self._observation(obs), reward, terminated, truncated, info

    def _subtask_info(self, *, succeeded: bool) -> dict[str, Any]:
        status = subtask_status(self.level.instrs, succeeded=succeeded)
        return {"subtasks_done": list(status.done), "active_subtask": status.active}

    @property
    def instrs(self):
        """minigrid's verifier tree for the current mission (what the BabyAI bot and trainers read)."""
        return self.level.instrs

    def render(self):
        return self.level.render()

    def close(self):
        self.level.close()

    def _observation(self, obs) -> dict[str, Any]:
        return {
            "image": obs["image"],
            "direction": obs["direction"],
            "map": self.seen_map.observe(self.level, obs["image"]),
            "world": self.seen_map.world(),
            "pose": np.array([*self.level.agent_pos, self.level.agent_dir], np.int64),
            "mission": self.mission,
            "description": self.description,
        }


def make_game_env(game: str, *, split: str = "train", corpus: str | Corpus | None = None,
                  render_mode: str | None = None) -> InstructedEnv:
    """Entry point behind ``gymnasium.make("InstructedRL/<game>-v0", split=..., corpus=...)``."""
    return InstructedEnv(game, split=split, corpus=corpus, render_mode=render_mode)
