"""Games whose rules live in their description: the ``RuleRoom`` world and its rule families.

Something the agent must know is stated only in the environment description, never in the
instruction or the view, and it is sampled afresh every episode:

- ``roles``: missions name objects by a role word ("go to the treasure", "put the treasure
  next to the trap"); the description binds every role to one object in the room ("The
  treasure is the green ball."). Another object of the same type and another of the same
  colour are always present, so half of a binding is never enough.
- ``words``: invented nouns stand for object types ("A dax is a box."); a mission says "pick
  up the red dax" in a room that also holds a red object of every other type.
- ``hazards``: some objects end the episode, as a failure, when touched (moved into, picked up
  or toggled): "Touching the purple ball ends the game." The mission leaves the target's
  colour out ("pick up a ball") and the only other objects of its type are hazards.
- ``colors``: invented colour words ("Tapomi means red."); a mission says "pick up the tapomi
  ball" in a room that also holds a ball of another colour and a red object of another type,
  so neither the colour word nor the type alone is enough. Every word is bound to its own
  colour; the ones the mission does not use are distractors (bound, where possible, to the
  colours of other objects in the room). Put next to names each of its two objects with an
  invented colour word or its real one, at least one of them invented.
- ``categories``: an invented noun covers a pair of types ("A dobel is a ball or a key."); a
  mission says "pick up the red dobel": the target is the only red object whose type is in the
  category, and the room also holds a red object of the third type (the colour alone is not
  enough) and objects of the category's types in other colours (the noun alone is not
  enough). Every word covers its own pair; the ones the mission does not use are distractors.
  Put next to names each object by a category word or by its type, at least one by a word.

The structured instruction (minigrid's verifier tree, ``info["instruction"]``) always names the
real object, so the verifier and the BabyAI bot work unchanged. The world tells the corpus how
to name objects in missions through ``object_aliases`` (:class:`instructed_rl.language.corpus.ObjectAlias`)
and lists the rules it stated as :class:`Fact` s: the env writes them into the description's
``{rules}`` slot and checks them against the game's ``heldout_rules`` for its splits.

A game spec declares the family and its words (``envs/rule_*.yaml``): fixed ``words`` or
``fresh_words: N`` drawn afresh every episode (:mod:`instructed_rl.games.fresh_words`)::

    world: instructed_rl:RuleRoom
    description: "One room. It holds {objects}. {rules}"
    rules: {family: roles, words: [treasure, prize, trap]}
    splits: [train, test, unseen_rules]
    heldout_rules:                 # never stated in train/test; every unseen_rules mission uses one
      - {word: treasure, color: green}

Words per game: roles 2-4, words 1-3 (one per type), colors 2-3 (one per colour), categories
1-2 (one per pair of types); a hazards game has none. A held-out rule names what a word is
bound to: roles a colour and/or type, words a type, colors a colour, categories a pair of types
(``{type: box, type2: key}``, either order; a lone ``type`` matches a category covering it, which
only a one-word game can hold out), hazards a colour and/or type.
"""

from __future__ import annotations

from minigrid.core.constants import COLOR_NAMES
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
from minigrid.envs.babyai.core.verifier import GoToInstr, ObjDesc, PickupInstr, PutNextInstr

from instructed_rl.language.corpus import ObjectAlias
from instructed_rl.games.rule_facts import CATEGORY_PAIRS, OBJECT_TYPES, RULE_SKILLS, Fact, Rules
from instructed_rl.games.fresh_words import WordSource, fresh_words

class RuleRoom(RoomGridLevel):
    """
    ## Description

    One room with no doors and a handful of objects. Something the mission depends on is
    stated only in the environment description, freshly sampled each episode: which object
    a role word names (family ``roles``), which type an invented noun means (``words``),
    which objects end the game when touched (``hazards``), which colour an invented colour
    word means (``colors``) or which pair of types an invented noun covers (``categories``).
    See the module docstring.

    ## Mission Space

    "go to {obj}", "pick up {obj}" or "put {obj} next to {obj2}", where an object is named by
    its role ("the treasure"), by an invented noun ("the red dax"), without its colour
    ("a ball") when the other objects of its type are hazards, by an invented colour word
    ("the tapomi ball") or by an invented noun for two types ("the red dobel"). The corpus
    phrases it; the verifier tree always names the real object.

    ## Action Space

    Minigrid's seven actions; drop is used by put next to; toggle and done are unused.

    ## Rewards

    ``1 - 0.9 * (step_count / max_steps)`` on success, 0 otherwise (and 0 for touching a hazard).

    ## Termination

    Success, touching a hazard (moving into it, picking it up or toggling it), or
    ``max_steps`` (room_size^2 per navigation).

    ## Registered Configurations

    Used by the games in ``envs/rule_*.yaml`` (``InstructedRL/RoleRoom-v0`` ...).
    """

    def __init__(
        self,
        *,
        rules: Rules | dict,
        skills: tuple[str, ...] = RULE_SKILLS,
        sequences: tuple[str, ...] = (),
        num_objs: int = 7,
        room_size: int = 8,
        **kwargs,
    ):
        self.rules = rules if isinstance(rules, Rules) else Rules.from_dict(rules)
        unknown = set(skills) - set(RULE_SKILLS)
        if unknown or not skills:
            raise ValueError(f"RuleRoom skills must be some of {RULE_SKILLS}, got {skills}")
        if sequences:
            raise ValueError("RuleRoom has no instruction sequences; remove 'sequences' from the game spec")
        if "putnext" in skills and self.rules.family == "roles" and self.rules.word_count < 2:
            raise ValueError("put next to in a roles game needs at least two role words")
        self.skills = tuple(skills)
        self.num_objs = num_objs
        self.facts: tuple[Fact, ...] = ()
        self.object_aliases: dict[tuple[str, str | None], ObjectAlias] = {}
        self.hazards: frozenset[tuple[str, str]] = frozenset()  # (color, type)
        self.word_source: WordSource = "train"  # the env sets "reserved" for its unseen_words split
        super().__init__(num_rows=1, num_cols=1, room_size=room_size, **kwargs)

    @property
    def rules_text(self) -> str:
        """The rules this episode states, one sentence each (the description's ``{rules}``)."""
        return " ".join(fact.sentence for fact in self.facts)

    # ---- generation ------------------------------------------------------------------
    def gen_mission(self):
        self.place_agent(0, 0)  # first, so that no object starts right next to the agent
        skill = self._rand_elem(self.skills)
        generate = {"roles": self._gen_roles, "words": self._gen_words, "hazards": self._gen_hazards,
                    "colors": self._gen_colors, "categories": self._gen_categories}
        instrs, facts, aliases, hazards = generate[self.rules.family](skill)
        self.check_objs_reachable()  # nothing has to be moved out of the way (nor touched)
        self.instrs, self.facts, self.object_aliases, self.hazards = instrs, tuple(facts), aliases, frozenset(hazards)

    def _add(self, kind: str, color: str):
        return self.add_object(0, 0, kind, color)[0]

    def _instruction(self, skill: str, target: tuple[str, str], other: tuple[str, str] | None = None):
        """``target``/``other`` are (color, type); ``other`` is put next to's fixed object."""
        desc = ObjDesc(target[1], target[0])
        if skill == "putnext":
            return PutNextInstr(desc, ObjDesc(other[1], other[0]))
        return GoToInstr(desc) if skill == "goto" else PickupInstr(desc)

    def _fill(self, placed: list, allowed: list[tuple[str, str]]) -> None:
        while len(placed) < self.num_objs:
            color, kind = self._rand_elem(allowed)
            placed.append(self._add(kind, color))

    def _shuffled(self, items: list) -> list:
        return self._rand_subset(items, len(items))

    def _episode_words(self) -> tuple[str, ...]:
        """The spec's fixed words, or fresh ones from this episode's generator."""
        if not self.rules.fresh_words:
            return self.rules.words
        return fresh_words(self.np_random, self.rules.fresh_words, self.word_source)

    def _gen_roles(self, skill: str):
        words = self._episode_words()
        pairs = [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES]
        bound = self._rand_subset(pairs, len(words))  # role i names the only object of bound[i]
        taken = set(bound)
        placed = [self._add(t, c) for c, t in bound]
        for color, kind in bound:  # a same-type and a same-colour object, so half a binding is not enough
            if not any(o.type == kind and o.color != color for o in placed):
                placed.append(self._add(kind, self._rand_elem([c for c in COLOR_NAMES if (c, kind) not in taken])))
            if not any(o.color == color and o.type != kind for o in placed):
                placed.append(self._add(self._rand_elem([t for t in OBJECT_TYPES if (color, t) not in taken]), color))
        self._fill(placed, [p for p in pairs if p not in taken])
        if skill == "putnext":
            used = self._rand_subset(range(len(words)), 2)
            instrs = self._instruction(skill, bound[used[0]], bound[used[1]])
        else:
            used = [self._rand_int(0, len(words))]
            instrs = self._instruction(skill, bound[used[0]])
        facts = [Fact("role", words[i], bound[i][0], bound[i][1], used=i in used)
                 for i in self._shuffled(list(range(len(words))))]
        aliases = {(t, c): ObjectAlias(noun=word, color=False, article="definite") for word, (c, t) in zip(words, bound)}
        return instrs, facts, aliases, ()

    def _gen_words(self, skill: str):
        words = self._episode_words()
        meaning = dict(zip(words, self._rand_subset(OBJECT_TYPES, len(words))))
        count = 2 if skill == "putnext" else 1
        named = [self._rand_elem(words) for _ in range(count)]
        targets = [(self._rand_color(), meaning[word]) for word in named]
        if len(set(targets)) != len(targets):
            raise RejectSampling("put next to names the same object twice")
        placed = [self._add(t, c) for c, t in targets]
        for color, kind in targets:  # same colour, every other type: the colour alone is not enough
            for other in OBJECT_TYPES:
                if other != kind and not any(o.color == color and o.type == other for o in placed):
                    placed.append(self._add(other, color))
        self._fill(placed, [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES if (c, t) not in targets])
        instrs = self._instruction(skill, *targets)
        facts = [Fact("word", word, None, meaning[word], used=word in named) for word in self._shuffled(list(words))]
        aliases = {(kind, None): ObjectAlias(noun=word) for word, kind in meaning.items()}
        return instrs, facts, aliases, ()

    def _gen_hazards(self, skill: str):
        kind = self._rand_elem(OBJECT_TYPES)
        color, *hazard_colors = self._rand_subset(COLOR_NAMES, 1 + self.rules.hazards)
        placed = [self._add(kind, color)] + [self._add(kind, c) for c in hazard_colors]
        others = [(c, t) for t in OBJECT_TYPES if t != kind for c in COLOR_NAMES]
        self._fill(placed, others)
        if skill == "putnext":
            fixed = self._rand_elem([o for o in placed if o.type != kind])
            instrs = self._instruction(skill, (color, kind), (fixed.color, fixed.type))
        else:
            instrs = self._instruction(skill, (color, kind))
        facts = [Fact("hazard", None, c, kind, used=True) for c in hazard_colors]
        return instrs, facts, {(kind, color): ObjectAlias(color=False)}, [(c, kind) for c in hazard_colors]

    def _named(self, skill: str) -> tuple[bool, ...]:
        """Which of the mission's objects are named through the rule: the one object of go to /
        pick up; for put next to each of the two, at least one."""
        if skill != "putnext":
            return (True,)
        return self._rand_elem([(True, False), (False, True), (True, True)])

    def _put_unique(self, placed: list, targets: list[tuple[str, str]]) -> None:
        for color, kind in targets:
            if any((o.color, o.type) == (color, kind) for o in placed):
                raise RejectSampling("put next to names the same object twice")
            placed.append(self._add(kind, color))

    def _gen_colors(self, skill: str):
        words = self._episode_words()
        named = self._named(skill)
        targets = [(self._rand_color(), self._rand_elem(OBJECT_TYPES)) for _ in named]
        colors = list(dict.fromkeys(c for (c, _), by_word in zip(targets, named) if by_word))
        placed: list = []
        self._put_unique(placed, targets)
        for (color, kind), by_word in zip(targets, named):
            if not by_word:
                continue
            # Another of its type in another colour, another of its colour of another type: neither
            # the colour word nor the type alone picks the target out.
            if not any(o.type == kind and o.color != color for o in placed):
                placed.append(self._add(kind, self._rand_elem([c for c in COLOR_NAMES if c != color])))
            if not any(o.color == color and o.type != kind for o in placed):
                placed.append(self._add(self._rand_elem([t for t in OBJECT_TYPES if t != kind]), color))
        self._fill(placed, [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES if (c, t) not in targets])
        # The other words are distractors, bound first to colours that are in the room.
        present = self._shuffled(list(dict.fromkeys(o.color for o in placed if o.color not in colors)))
        absent = self._shuffled([c for c in COLOR_NAMES if c not in colors and c not in present])
        meaning = dict(zip(words, (colors + present + absent)[:len(words)]))
        word_of = {color: word for word, color in meaning.items()}
        instrs = self._instruction(skill, *targets)
        facts = [Fact("color", word, meaning[word], None, used=meaning[word] in colors)
                 for word in self._shuffled(list(words))]
        aliases = {(kind, color): ObjectAlias(color_word=word_of[color])
                   for (color, kind), by_word in zip(targets, named) if by_word}
        return instrs, facts, aliases, ()

    def _gen_categories(self, skill: str):
        words = self._episode_words()
        pairs = self._rand_subset(CATEGORY_PAIRS, len(words))
        meaning = {word: tuple(self._shuffled(list(pair))) for word, pair in zip(words, pairs)}  # either order
        chosen = [self._rand_elem(words) if by_word else None for by_word in self._named(skill)]
        targets = [(self._rand_color(), self._rand_elem(meaning[w] if w else OBJECT_TYPES)) for w in chosen]
        # A target named "the red dobel" is the only red object of the dobel's types: no other
        # object may take those (colour, type) pairs, the other target included.
        banned = {(c, t) for (c, kind), w in zip(targets, chosen) if w for t in meaning[w] if t != kind}
        if banned & set(targets):
            raise RejectSampling("put next to's other object has the colour and category of the first")
        placed: list = []
        self._put_unique(placed, targets)
        free = [(c, t) for t in OBJECT_TYPES for c in COLOR_NAMES if (c, t) not in banned and (c, t) not in targets]
        for (color, kind), word in zip(targets, chosen):
            if word is None:
                continue
            outside = next(t for t in OBJECT_TYPES if t not in meaning[word])
            if not any((o.color, o.type) == (color, outside) for o in placed):  # the colour alone is not enough
                if (color, outside) in banned:
                    raise RejectSampling("the colour's object outside one category is inside the other's")
                placed.append(self._add(outside, color))
            for covered in meaning[word]:  # the noun alone is not enough
                if not any(o.type == covered and o.color != color for o in placed):
                    placed.append(self._add(covered, self._rand_elem([c for c, t in free if t == covered and c != color])))
        self._fill(placed, free)
        instrs = self._instruction(skill, *targets)
        facts = [Fact("category", word, None, meaning[word][0], used=word in chosen, type2=meaning[word][1])
                 for word in self._shuffled(list(words))]
        aliases = {(kind, color): ObjectAlias(noun=word) for (color, kind), word in zip(targets, chosen) if word}
        return instrs, facts, aliases, ()

    # ---- dynamics --------------------------------------------------------------------
    def touches_hazard(self, action) -> bool:
        """Whether ``action`` would touch a hazard: move into, pick up or toggle the object in front."""
        if not self.hazards or action not in (self.actions.forward, self.actions.pickup, self.actions.toggle):
            return False
        front = self.grid.get(*self.front_pos)
        return front is not None and (front.color, front.type) in self.hazards

    def step(self, action):
        touched = self.touches_hazard(action)
        obs, reward, terminated, truncated, info = super().step(action)
        if touched:  # the rule the description states: the game ends, as a failure
            return obs, 0, True, truncated, dict(info, hazard=True)
        return obs, reward, terminated, truncated, info
