"""Game specs: declarative YAML files in ``envs/`` that turn a world generator into a game.

A game names its world (a BabyAI level id, or one of ours such as ``instructed_rl:SkillRoom``),
the environment description shown to the agent (``auto``, the default: the shared template
family of :mod:`instructed_rl.games.descriptions`; or a fixed template), the skills and connectives it samples, the
compositions it holds out, and the splits it offers::

    id: GoToRoom
    title: Go to an object in a single room
    world: BabyAI-GoToLocal-v0
    description: "One room. You see {objects}."
    skills: [goto]
    splits: [train, test, unseen_compositions, unseen_phrasings]
    heldout_compositions:
      - {skill: goto, color: red, type: ball}

A game on our ``instructed_rl:RuleRoom`` world also declares ``rules:`` (a rule family and its
words) and ``heldout_rules:``, and its description states the rules in a ``{rules}`` slot; see
:mod:`instructed_rl.games.rules`.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instructed_rl.language.corpus import SEQUENCE_SLOTS, SKILL_SLOTS
from instructed_rl.errors import GameSpecError
from instructed_rl.games.descriptions import AUTO
from instructed_rl.games.rule_facts import RULE_SKILLS, RulePattern, Rules
from instructed_rl.resources import games_dir
from instructed_rl.yaml_check import YamlFile, read_yaml

SPLITS: dict[str, str] = {
    "train": "training distribution: no held-out composition, training phrasings",
    "test": "same distribution as train, for in-distribution evaluation",
    "unseen_compositions": "every mission names a held-out skill/object composition",
    "unseen_phrasings": "held-out templates of the corpus (default corpus: paraphrase)",
    "unseen_sequences": "multi-part missions only; agents are trained without sequences",
    "unseen_rules": "every mission depends on a held-out rule of the description (e.g. a role bound to a new object)",
    "unseen_words": "fresh invented words from the reserved set, which training never generates",
    "unseen_descriptions": "every sentence of the description phrased with a held-out template",
}
OUR_WORLDS = ("instructed_rl:SkillRoom", "instructed_rl:RuleRoom")
RULE_WORLD = "instructed_rl:RuleRoom"
SPEC_KEYS = ("id", "title", "world", "world_kwargs", "description", "skills", "sequences", "splits",
             "heldout_compositions", "max_steps", "rules", "heldout_rules")
COMPOSITION_KEYS = ("skill", "color", "type")
COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
TYPES = ("ball", "box", "key", "door")
NAMESPACE = "InstructedRL"


@dataclass(frozen=True)
class Composition:
    """A held-out pattern: a skill, an object colour and/or type. Unset fields match anything."""

    skill: str | None = None
    color: str | None = None
    type: str | None = None

    def matches(self, skill: str, objects: list[dict[str, str | None]]) -> bool:
        if self.skill is not None and self.skill != skill:
            return False
        return any((self.color is None or obj["color"] == self.color) and (self.type is None or obj["type"] == self.type)
                   for obj in objects)

    def __str__(self) -> str:
        return " ".join(v for v in (self.skill, self.color, self.type) if v)


@dataclass(frozen=True)
class GameSpec:
    id: str
    title: str
    world: str
    description: str
    skills: tuple[str, ...]
    splits: tuple[str, ...]
    sequences: tuple[str, ...] = ()
    world_kwargs: dict[str, Any] = field(default_factory=dict)
    heldout_compositions: tuple[Composition, ...] = ()
    max_steps: int | None = None
    source: str = ""
    rules: Rules | None = None
    heldout_rules: tuple[RulePattern, ...] = ()

    @property
    def env_id(self) -> str:
        return f"{NAMESPACE}/{self.id}-v0"

    @property
    def is_ours(self) -> bool:
        return self.world in OUR_WORLDS

    @classmethod
    def from_dict(cls, data: Any, *, source: str, file: YamlFile | None = None) -> "GameSpec":
        """A checked spec from a parsed spec file (``file`` gives the lines its errors cite)."""
        file = file if file is not None else YamlFile(data=data, source=source, error=GameSpecError)
        fail = file.fail
        data = file.mapping((), required=True, problem="a game spec must be a YAML mapping",
                            fix="start the file with 'id:' and 'world:'")
        file.known((), SPEC_KEYS)
        game_id = file.text("id", fix="add 'id: ...'")
        world = file.text("world", fix="add 'world: ...'")
        description = file.text("description", fix="add 'description: ...'") if "description" in data else AUTO
        if not game_id.replace("_", "").isalnum():
            raise fail("id", f"{game_id!r} is not a plain name", "use letters, digits and underscores, e.g. GoToRoom")
        if not (world in OUR_WORLDS or world.startswith("BabyAI-")):
            raise fail("world", f"unknown world {world!r}", f"use a BabyAI level id (BabyAI-GoToLocal-v0) or one of {', '.join(OUR_WORLDS)}")

        skills = file.names("skills", SKILL_SLOTS, required=True, fix=f"write 'skills: [{', '.join(SKILL_SLOTS)}]'")
        sequences = file.names("sequences", SEQUENCE_SLOTS, required=False,
                               fix=f"write 'sequences: [{', '.join(SEQUENCE_SLOTS)}]'")
        splits = file.names("splits", SPLITS, required=True, fix=f"write 'splits: [{', '.join(SPLITS)}]'")

        compositions = []
        for at, item in file.items("heldout_compositions", needs=None, allowed=COMPOSITION_KEYS,
                                   fix="write '- {skill: pickup, color: red, type: ball}'"):
            for sub, allowed in (("skill", skills), ("color", COLORS), ("type", TYPES)):
                if sub in item:
                    file.one_of(at + (sub,), item[sub], allowed,
                                problem=f"{item[sub]!r} is not one of this game's {sub}s")
            compositions.append(Composition(**item))
        if "unseen_compositions" in splits and not compositions:
            raise fail("heldout_compositions", "empty, but the game offers the unseen_compositions split",
                       "list held-out compositions or drop that split")
        if "unseen_sequences" in splits and not sequences:
            raise fail("sequences", "empty, but the game offers the unseen_sequences split",
                       "list the connectives the world samples, e.g. [and, before, after]")

        rules, heldout_rules = None, []
        if world == RULE_WORLD or "rules" in data:
            if world != RULE_WORLD:
                raise fail("rules", f"only the world {RULE_WORLD} has rules", f"use 'world: {RULE_WORLD}' or remove 'rules'")
            if "rules" not in data:
                raise fail("rules", f"missing, but the world {RULE_WORLD} needs it", "add 'rules: {family: roles, words: [treasure, prize]}'")
            rules = Rules.from_dict(data["rules"], fail=fail)
            not_rule_skills = [s for s in skills if s not in RULE_SKILLS]
            if not_rule_skills:
                raise fail("skills", f"{not_rule_skills[0]!r} is not a skill of {RULE_WORLD}", f"use some of {', '.join(RULE_SKILLS)}")
            if description != AUTO and "{rules}" not in description:
                raise fail("description", "has no {rules} slot, so the rules would be stated nowhere",
                           "write e.g. 'description: \"One room. It holds {objects}. {rules}\"'")
        file.of_type("heldout_rules", list, default=[], problem="must be a list",
                     fix="write '- {word: treasure, color: green}' items")
        for index, item in enumerate(data.get("heldout_rules") or []):
            if rules is None:
                raise fail("heldout_rules", "the game has no rules", "add 'rules:' or remove 'heldout_rules'")
            heldout_rules.append(RulePattern.from_dict(item, rules=rules, key=f"heldout_rules[{index}]", fail=fail))
        if "unseen_words" in splits and not (rules is not None and rules.fresh_words):
            raise fail("splits", "unseen_words needs fresh words, but the game has none",
                       "add 'fresh_words: 3' under 'rules', or drop the unseen_words split")
        if "unseen_rules" in splits and not heldout_rules:
            raise fail("heldout_rules", "empty, but the game offers the unseen_rules split",
                       "list held-out rules (e.g. '- {word: treasure, color: green}') or drop that split")

        world_kwargs = file.mapping("world_kwargs", fix="write 'world_kwargs: {num_objs: 6}'")
        steps_fix = "write 'max_steps: 64' or remove it"
        max_steps = file.of_type("max_steps", int, problem="must be a positive integer", fix=steps_fix)
        if max_steps is not None and max_steps <= 0:
            raise fail("max_steps", "must be a positive integer", steps_fix)
        title = data.get("title") or game_id
        return cls(
            id=game_id, title=str(title), world=world, description=description,
            skills=skills, sequences=sequences, splits=splits, world_kwargs=dict(world_kwargs),
            heldout_compositions=tuple(compositions), max_steps=max_steps, source=source,
            rules=rules, heldout_rules=tuple(heldout_rules),
        )


def load_game_spec(path: str | Path) -> GameSpec:
    path = Path(path)
    try:
        return _load_game_spec_cached(path.resolve(), path.stat().st_mtime_ns, str(path))
    except FileNotFoundError:
        raise GameSpecError(f"{path}: no such game spec file. Fix: check the path") from None


@functools.lru_cache(maxsize=256)
def _load_game_spec_cached(path: Path, mtime_ns: int, shown: str) -> GameSpec:
    """Specs are immutable: parse each file once per version of it (envs are built by the hundred)."""
    file = read_yaml(shown, what="game spec", example="envs/goto_room.yaml", error=GameSpecError)
    return GameSpec.from_dict(file.data, source=shown, file=file)


def shipped_games() -> dict[str, GameSpec]:
    """Every spec in ``envs/``, keyed by id, in file-name order."""
    specs: dict[str, GameSpec] = {}
    for path in sorted(games_dir().glob("*.yaml")):
        spec = load_game_spec(path)
        if spec.id in specs:
            file = read_yaml(path, what="game spec", example="envs/goto_room.yaml", error=GameSpecError)
            raise file.fail("id", f"{spec.id!r} is already used by {specs[spec.id].source}", "rename one")
        specs[spec.id] = spec
    return specs


_ID_LINE = re.compile(r"^id:\s*[\"']?([A-Za-z0-9_]+)[\"']?\s*(?:#.*)?$", re.MULTILINE)


def shipped_game_ids() -> dict[str, Path]:
    """Id -> file of every spec in ``envs/``, read from each file's ``id:`` line without parsing
    the YAML: registration at import stays cheap, and a broken file fails only when it is named."""
    ids: dict[str, Path] = {}
    for path in sorted(games_dir().glob("*.yaml")):
        match = _ID_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            ids.setdefault(match.group(1), path)
    return ids


def is_game_file(name: str) -> bool:
    """A game named by its spec file (``--game path/to/game.yaml``) rather than by an id."""
    return name.strip().lower().endswith((".yaml", ".yml"))


def babyai_level_ids() -> list[str]:
    import gymnasium
    import minigrid  # noqa: F401  (registers the BabyAI levels)

    return sorted(k for k in gymnasium.registry if k.startswith("BabyAI-"))


def adhoc_spec(level_id: str) -> GameSpec:
    """Any registered BabyAI level as a game: canonical skills, no held-out compositions."""
    return GameSpec(
        id=level_id, title=f"BabyAI level {level_id}", world=level_id,
        description=AUTO,
        skills=tuple(SKILL_SLOTS), sequences=tuple(SEQUENCE_SLOTS),
        splits=("train", "test", "unseen_phrasings", "unseen_sequences", "unseen_descriptions"), source=level_id,
    )


# Id -> spec file named earlier in this process: once a file is named, its id finds it too (a suite
# or report that goes on by id). Shipped ids come first.
_NAMED_FILES: dict[str, Path] = {}


def find_game_at(name: str, where: object = None) -> GameSpec:
    """:func:`find_game`; an unknown name's error starts with ``where`` it was written
    (``suite.yaml:4: cells[1].game``). A spec file's own errors cite that file instead."""
    try:
        return find_game(name)
    except GameSpecError as error:
        if where is None or is_game_file(name):
            raise
        raise GameSpecError(f"{where}: {error}") from None


def find_game(name: str) -> GameSpec:
    """A game by spec file (``my_game.yaml``), shipped id (``GoToRoom``), env id
    (``InstructedRL/GoToRoom-v0``) or any BabyAI level id. Only the named spec is parsed."""
    wanted = name.strip()
    if is_game_file(wanted):
        spec = load_game_spec(wanted)
        _NAMED_FILES.setdefault(spec.id.lower(), Path(wanted).resolve())
        return spec
    files = shipped_game_ids()
    for game_id, path in files.items():
        if wanted.lower() in (game_id.lower(), f"{NAMESPACE}/{game_id}-v0".lower()):
            spec = load_game_spec(path)
            if spec.id == game_id:
                return spec
            # an id line that is not the parsed id (odd quoting): parse them all
            return next(s for s in shipped_games().values() if wanted.lower() in (s.id.lower(), s.env_id.lower()))
    named = _NAMED_FILES.get(wanted.lower().removeprefix(f"{NAMESPACE}/".lower()).removesuffix("-v0"))
    if named is not None:
        return load_game_spec(named)
    levels = babyai_level_ids()
    if wanted in levels:
        return adhoc_spec(wanted)
    candidates = list(files) + [f"{NAMESPACE}/{g}-v0" for g in files] + levels
    close = difflib.get_close_matches(wanted, candidates, n=3, cutoff=0.5)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise GameSpecError(f"unknown game {wanted!r}: {hint}Fix: run 'instructed-rl envs' to list games, "
                        "pass a BabyAI level id, or the path of your own game spec (my_game.yaml)")
