"""The agent: tokenizer + text encoder + policy, saved as a readable directory (:mod:`.io`), and the acting API.

Acting, step by step (eval, play, demo)::

    agent = Agent.from_pretrained("default")   # or a directory, or a Hub repo id
    obs, _ = env.reset(seed=0)
    agent.reset(obs["mission"], greedy=True)   # or greedy=None: the agent's own mode
    result = agent.act(obs)          # ActResult(action, done_prob, value)
    agent.set_instruction("open the grey door")   # next instruction, memory kept

Trainers use the functional pieces instead: ``agent.encode_goal(instructions, descriptions)``
once per episode, then ``agent(image, direction, goal, memory)`` every step.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from minigrid.core.actions import Actions
from minigrid.core.constants import OBJECT_TO_IDX
from torch import nn

from instructed_rl.language.corpus import load_corpus
from instructed_rl.language.description_form import usual_form
from instructed_rl.model.card import write_card
from instructed_rl.errors import UserError
from instructed_rl.model.hub import resolve_agent
from instructed_rl.model.io import (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, AgentLoadError, check_agent_directory,
                                    load_weights, package_version, read_config_document, read_tokenizer_bytes, read_weights, write_agent)
from instructed_rl.model.places import Placed, off_place_cells, start_room, without_places
from instructed_rl.model.pointer import (find_queries, names_joined, names_restored, pointer_text, rewrite,
                                         score_queries)
from instructed_rl.model.loops import LoopGuard
from instructed_rl.model.policy import GoalFeatures, Policy, PolicyConfig, PolicyOutput, choose_actions, preprocess_obs
from instructed_rl.model.text.encoders import PretrainedTextEncoder, TextConfig, TextFeatures, build_encoder
from instructed_rl.language.parse import parser_for
from instructed_rl.language.rephrase import Rephraser, Rephrasing
from instructed_rl.model.text.tokenizer import Tokenizer, train_tokenizer
from instructed_rl.model.done_check import DoneCheck, believed
from instructed_rl.model.implicit import ImplicitSteps, cell_ahead



def _dataclass_from_dict(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping of settings, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known keys: {', '.join(sorted(known))}"
        raise ValueError(f"unknown {where} key(s) {unknown}{hint}")
    return cls(**data)


ACTION_MODES = ("greedy", "sampled")


@dataclass
class AgentConfig:
    """Everything needed to rebuild an agent's networks, plus what it was trained on."""

    text: TextConfig = field(default_factory=TextConfig)
    """Tokenizer size and text encoder (transformer, gru or pretrained)."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """Policy network shape."""
    corpus: str = ""
    """Name of the instruction corpus the agent was trained with (metadata)."""
    games: list[str] = field(default_factory=list)
    """Games the agent was trained on (metadata)."""
    rephrase: bool = False
    """When acting, read an instruction worded in ways ``corpus`` never trained on as its nearest
    trained wording (:mod:`instructed_rl.language.rephrase`; needs the pretrained extra). Training
    instructions are unaffected."""
    actions: str = "greedy"
    """How the agent acts unless a command is told otherwise (``eval``, ``play``, ``demo``, ``serve``:
    ``--greedy`` / ``--no-greedy``): ``greedy`` (the argmax, as BabyAI evaluates) or ``sampled``
    (for an agent measured better when it samples; its reports name the mode)."""
    escape_loops: bool = False
    """When acting greedily, escape loops: back at a cell, heading and view held before in the same
    part, take the best of the actions taken least often there (:mod:`instructed_rl.model.loops`);
    reports name the mode."""
    read_places: bool = False
    """When acting, read where an instruction places its object ("the box on your left") as BabyAI's
    verifier does: from where the instruction was given, in that room (:mod:`instructed_rl.model.places`).
    The planner's table counts only the objects the place allows (needs ``policy.map_planner``), and
    a later part of a sequence goes to the policy without its place words."""
    implicit_steps: bool = False
    """When acting, take the steps an instruction needs but does not say: put down what is in hand
    before picking something else up, open a locked door it must pass (fetching its key first), look
    where it has not looked when a search stalls, and move an object that blocks the way
    (:mod:`instructed_rl.model.implicit`; scripted on the map of what it has seen, so it needs
    ``policy.map_memory``)."""
    check_done: bool = False
    """When acting, check a sequence's part its termination head calls done on the map of what it has
    seen before moving on, and stay on the part where the map says not done
    (:mod:`instructed_rl.model.done_check`; needs ``policy.map_memory``)."""
    instructed_rl_version: str = field(default_factory=package_version)
    """instructed-rl version that built the agent, or that wrote it when loaded from disk."""

    def __post_init__(self) -> None:
        if not isinstance(self.text, TextConfig):
            raise ValueError("AgentConfig.text must be a TextConfig; use AgentConfig.from_dict for plain dicts")
        if not isinstance(self.policy, PolicyConfig):
            raise ValueError("AgentConfig.policy must be a PolicyConfig; use AgentConfig.from_dict for plain dicts")
        if not isinstance(self.corpus, str):
            raise ValueError(f"AgentConfig.corpus={self.corpus!r} must be a string")
        if not isinstance(self.rephrase, bool):
            raise ValueError(f"AgentConfig.rephrase={self.rephrase!r} must be true or false")
        if not isinstance(self.escape_loops, bool):
            raise ValueError(f"AgentConfig.escape_loops={self.escape_loops!r} must be true or false")
        if not isinstance(self.read_places, bool):
            raise ValueError(f"AgentConfig.read_places={self.read_places!r} must be true or false")
        if self.read_places and not self.policy.map_planner:
            raise ValueError("AgentConfig.read_places needs policy.map_planner: true (the places narrow its table)")
        if not isinstance(self.implicit_steps, bool):
            raise ValueError(f"AgentConfig.implicit_steps={self.implicit_steps!r} must be true or false")
        if self.implicit_steps and not self.policy.map_memory:
            raise ValueError("AgentConfig.implicit_steps needs policy.map_memory: true (it reads the map of what it has seen)")
        if not isinstance(self.check_done, bool):
            raise ValueError(f"AgentConfig.check_done={self.check_done!r} must be true or false")
        if self.check_done and not self.policy.map_memory:
            raise ValueError("AgentConfig.check_done needs policy.map_memory: true "
                             "(it reads the map of what it has seen)")
        if self.actions not in ACTION_MODES:
            raise ValueError(f"AgentConfig.actions={self.actions!r} must be one of {', '.join(ACTION_MODES)}")
        if isinstance(self.games, str) or not all(isinstance(g, str) for g in self.games):
            raise ValueError(f"AgentConfig.games={self.games!r} must be a list of game ids")
        self.games = list(self.games)
        if not isinstance(self.instructed_rl_version, str):
            raise ValueError(f"AgentConfig.instructed_rl_version={self.instructed_rl_version!r} must be a string")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentConfig:
        """Build from plain data (JSON/YAML); an unknown key anywhere is an error, not ignored."""
        if not isinstance(data, Mapping):
            raise ValueError(f"agent config must be a mapping, got {type(data).__name__}")
        values = dict(data)
        if "text" in values:
            values["text"] = _dataclass_from_dict(TextConfig, values["text"], "text")
        if "policy" in values:
            values["policy"] = _dataclass_from_dict(PolicyConfig, values["policy"], "policy")
        return _dataclass_from_dict(cls, values, "agent config")


class ActResult(NamedTuple):
    """One decision: the action, P(current instruction already done), and the critic's value."""

    action: int
    done_prob: float
    value: float


class BatchActResult(NamedTuple):
    """Decisions for a batch of envs: ``actions`` int64 (N,), ``done_probs`` (N,), ``values`` (N,)."""

    actions: np.ndarray
    done_probs: np.ndarray
    values: np.ndarray


@dataclass
class ActState:
    """The acting state of a batch of episodes: texts, goal, memory, how to choose actions.
    :meth:`Agent.reset_batch` returns one (and keeps it as the agent's own, for :meth:`Agent.act`);
    a caller that passes its own to :meth:`Agent.act_batch` shares the agent with other callers."""

    instructions: list[str]
    descriptions: list[str]
    goal: GoalFeatures
    memory: torch.Tensor
    greedy: bool
    generator: torch.Generator
    loops: LoopGuard | None = None  # greedy actions that leave loops, where the agent escapes them
    placed: list[tuple[Placed, ...]] = field(default_factory=list)  # per env: the objects its instruction names, if it places one
    anchors: list[tuple[int, int, int] | None] = field(default_factory=list)  # per env: pose when it was given (first act)
    implicit: list[ImplicitSteps | None] = field(default_factory=list)  # per env, with config.implicit_steps
    checks: list[DoneCheck | None] = field(default_factory=list)  # per env, with config.check_done


READINGS_HELD = 50_000  # pointer readings kept (more than a trainer's replay buffer holds episodes)


class Agent(nn.Module):
    """Tokenizer + text encoder + policy, built from one :class:`AgentConfig`.

    Construction is seeded (``seed``) without touching torch's global RNG.
    """

    def __init__(self, config: AgentConfig, tokenizer: Tokenizer, *, seed: int = 0) -> None:
        super().__init__()
        if tokenizer.max_length != config.text.max_length:
            raise ValueError(
                f"tokenizer max_length={tokenizer.max_length} differs from config.text.max_length="
                f"{config.text.max_length}; build both from the same config"
            )
        self.config = config
        self.tokenizer = tokenizer
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = build_encoder(config.text, tokenizer)
            self.policy = Policy(config.policy, goal_dim=self.encoder.out_dim,
                                 pointer_input_dim=getattr(self.encoder, "backbone_width", None))
        self._act_state: ActState | None = None
        self._rephraser: Rephraser | None = None
        self._readings: dict[tuple[str, str], str] = {}  # (instruction, description) -> how the pointer reads it
        self._readings_of: tuple = ()  # ... for these weights of what it reads with (see _point)

    @classmethod
    def create(cls, config: AgentConfig, *, texts: Iterable[str], seed: int = 0) -> Agent:
        """A fresh agent whose frozen vocabulary is trained on ``texts`` (instructions + descriptions)."""
        tokenizer = train_tokenizer(texts, vocab_size=config.text.vocab_size, max_length=config.text.max_length)
        return cls(config, tokenizer, seed=seed)

    def with_policy(self, **changes: Any) -> Agent:
        """A copy whose policy config has ``changes`` that only add parts (e.g. ``read_description=True``):
        every tensor of this agent carries over, the new parts start from their initialisation."""
        policy_config = PolicyConfig(**{**self.config.policy.to_dict(), **changes})
        config = dataclasses.replace(self.config, policy=policy_config)
        grown = type(self)(config, self.tokenizer)
        target, weights = grown.saved_state_dict(), self.saved_state_dict()
        lost = sorted(k for k in weights if k not in target or target[k].shape != weights[k].shape)
        if lost:
            raise ValueError(f"policy change {changes} would drop or reshape {len(lost)} trained tensor(s), e.g. "
                             f"{lost[0]!r}; with init_agent only add parts (read_description: true), or train a new agent")
        grown.load_state_dict(weights, strict=False)
        if policy_config.pointer_projection and not self.config.policy.pointer_projection:
            # the pointer goes on reading what it was reading: the encoder's projection as it stands
            grown.policy.pointer_reader.token_proj.load_state_dict(self.encoder.token_proj.state_dict())
        return grown.to(self.device)

    def with_text_length(self, max_length: int) -> Agent:
        """A copy that accepts texts up to ``max_length`` tokens. Only a frozen pretrained encoder
        can: none of its trained tensors depends on the length, only on the backbone's positions."""
        if not isinstance(self.encoder, PretrainedTextEncoder):
            raise ValueError(f"text max_length of a {self.config.text.encoder!r} encoder is the size of its trained "
                             "position table; train a new agent with the length you need")
        longest = self.encoder.backbone.config.max_position_embeddings
        if not 3 <= max_length <= longest:
            raise ValueError(f"text max_length={max_length} is outside 3..{longest} (what the pretrained backbone reads)")
        config = dataclasses.replace(self.config, text=dataclasses.replace(self.config.text, max_length=max_length))
        longer = type(self)(config, Tokenizer.from_bytes(self.tokenizer.to_bytes(), max_length=max_length))
        longer.load_state_dict(self.state_dict())
        return longer.to(self.device)

    # ---- functional API for trainers -------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.policy.cell_embed.weight.device

    @property
    def memory_size(self) -> int:
        return self.policy.memory_size

    def initial_memory(self, batch_size: int) -> torch.Tensor:
        return self.policy.initial_memory(batch_size, device=self.device)

    def encode_goal(self, instructions: Sequence[str], descriptions: Sequence[str] | None = None) -> GoalFeatures:
        """Goal features for a batch of episodes; each distinct text is encoded once.

        ``descriptions`` defaults to "" for every episode; it is ignored when the policy does
        not use descriptions. Differentiable (except a frozen pretrained backbone).
        """
        instructions = list(instructions)
        if not self.config.policy.use_description:
            return GoalFeatures(self._encode_unique(instructions, allow_empty=False), None)
        descriptions = [""] * len(instructions) if descriptions is None else list(descriptions)
        if len(descriptions) != len(instructions):
            raise ValueError(
                f"got {len(instructions)} instructions but {len(descriptions)} descriptions; pass one per episode"
            )
        descriptions = [usual_form(text) for text in descriptions]
        description = self._encode_unique(descriptions, allow_empty=True)
        if self._points:
            instructions = self._point(instructions, descriptions)
        return GoalFeatures(self._encode_unique(instructions, allow_empty=False), description)

    def read(self, instructions: Sequence[str], descriptions: Sequence[str]) -> list[str]:
        """The instructions as this agent reads them given their descriptions: with a pointer
        reader (:mod:`instructed_rl.model.pointer`), words the description defines are rewritten into
        the words bound to them; with any other agent, unchanged."""
        instructions, descriptions = list(instructions), [usual_form(text) for text in descriptions]
        if not self._points:
            return instructions
        return self._point(instructions, descriptions)

    @property
    def _points(self) -> bool:
        return self.config.policy.read_description and self.config.policy.reader == "pointer"

    def _point(self, instructions: list[str], descriptions: list[str]) -> list[str]:
        """The pointer's reading of each pair, each distinct pair read once for the weights it reads
        with: a trainer replays an episode several times, and while the pointer does not learn
        (``reading_coef: 0``) its reading of a pair cannot change. Reading a learning batch anew
        cost about a fifth of the gradient step."""
        weights = self._reading_weights()
        if weights != self._readings_of:
            self._readings, self._readings_of = {}, weights
        pairs = list(zip(instructions, descriptions))
        new = list(dict.fromkeys(pair for pair in pairs if pair not in self._readings))
        if new:
            joined = [names_joined(instruction, pointer_text(description)) for instruction, description in new]
            unread, described = [j[0] for j in joined], [j[1] for j in joined]
            read = [instruction for instruction, _ in new]
            queries = find_queries(unread, described)
            if queries:
                with torch.no_grad():
                    scores = score_queries(self.policy.pointer_reader, self.pointer_features(described), queries)
                rewritten = rewrite(unread, described, queries, scores, as_the_policy_reads=True)
                read = [names_restored(text, j[2]) for text, j in zip(rewritten, joined)]
            if len(self._readings) + len(new) > READINGS_HELD:
                self._readings.clear()
            self._readings.update(zip(new, read))
        return [self._readings[pair] for pair in pairs]

    def _reading_weights(self) -> tuple:
        """Where the weights the pointer's reading depends on live and how often each was changed in
        place (an optimizer step, a load): equal tuples, equal readings."""
        modules = [self.policy.pointer_reader]
        if not self.config.policy.pointer_projection:  # it reads the encoder's projected tokens
            modules.append(self.encoder)
        return tuple((p.data_ptr(), p._version) for module in modules for p in module.parameters())

    def pointer_features(self, descriptions: list[str]) -> TextFeatures:
        """What the pointer reader reads of ``descriptions``: the encoder's projected tokens, or with
        ``pointer_projection`` the frozen model's own (the pointer projects them itself)."""
        return self._encode_unique(descriptions, allow_empty=True, frozen=self.config.policy.pointer_projection)

    def _encode_unique(self, texts: list[str], *, allow_empty: bool, frozen: bool = False) -> TextFeatures:
        """Each distinct text encoded once (``frozen``: the pretrained backbone's own outputs)."""
        unique = list(dict.fromkeys(texts))
        encode = self.encoder.backbone_features if frozen else self.encoder.encode
        features = encode(unique, allow_empty=allow_empty)
        if len(unique) == len(texts):
            return features
        row = {text: i for i, text in enumerate(unique)}
        return features.index([row[t] for t in texts])

    def forward(
        self, image: torch.Tensor, direction: torch.Tensor, goal: GoalFeatures, memory: torch.Tensor
    ) -> PolicyOutput:
        """One batched policy step; see :meth:`Policy.forward`."""
        return self.policy(image, direction, goal, memory)

    def forward_sequence(
        self, image: torch.Tensor, direction: torch.Tensor, goal: GoalFeatures, memory: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> PolicyOutput:
        """B whole sequences (B, L, ...) in one call; see :meth:`Policy.forward_sequence`."""
        return self.policy.forward_sequence(image, direction, goal, memory, valid)

    # ---- acting API -----------------------------------------------------------------------

    def rephrase(self, instruction: str, description: str = "") -> Rephrasing:
        """What the policy will read for ``instruction``: itself, or with ``config.rephrase`` its
        nearest trained wording, colour and object words it does not know read as its own ones
        except where ``description`` uses them (see :mod:`instructed_rl.language.rephrase`)."""
        if not self.config.rephrase:
            return Rephrasing(instruction, instruction)
        return self._the_rephraser()(instruction, usual_form(description))

    def read_words(self, instruction: str, description: str = "") -> Rephrasing:
        """``instruction`` with colour and object words it does not know read as its own, with
        ``config.rephrase`` (:meth:`instructed_rl.language.rephrase.Rephraser.read_words`)."""
        if not self.config.rephrase:
            return Rephrasing(instruction, instruction)
        text, replaced = self._the_rephraser().read_words(instruction, usual_form(description))
        return Rephrasing(text, instruction, replaced=replaced)

    def split(self, instruction: str, description: str = "") -> list[str]:
        """The parts of a multi-part instruction in the order to do them, as this agent reads it:
        with ``config.rephrase`` by its trained connectives, else by sentence similarity
        (:meth:`instructed_rl.language.rephrase.Rephraser.split`); without, one part."""
        if not self.config.rephrase:
            return [instruction]
        return self._the_rephraser().split(instruction, usual_form(description))

    def _the_rephraser(self) -> Rephraser:
        if self._rephraser is None:
            self._rephraser = self._build_rephraser()
        return self._rephraser

    def _build_rephraser(self) -> Rephraser:
        try:
            corpus = load_corpus(self.config.corpus)
        except UserError as error:
            raise UserError(f"this agent rephrases onto its training corpus {self.config.corpus!r}, which cannot be "
                            f"loaded ({error}). Fix: install that corpus, or set \"rephrase\": false in the agent's "
                            "config.json") from None
        encoder = self.encoder if isinstance(self.encoder, PretrainedTextEncoder) else PretrainedTextEncoder(TextConfig())
        return Rephraser(corpus, lambda texts: encoder.backbone_features(list(texts)).pooled.detach().cpu().numpy())

    def reset(self, instruction: str, description: str = "", *, greedy: bool | None = None,
              seed: int | None = None) -> None:
        """Start an episode: encode the instruction once, zero the memory, seed sampling.
        ``greedy=None``: the agent's own mode (``config.actions``)."""
        self.reset_batch([instruction], [description], greedy=greedy, seed=seed)

    def reset_batch(
        self,
        instructions: Sequence[str],
        descriptions: Sequence[str] | None = None,
        *,
        greedy: bool | None = None,
        seed: int | None = None,
    ) -> ActState:
        """Start N episodes at once (vectorised eval); then call :meth:`act_batch`. Returns their
        state, also kept as the agent's own for calls that do not pass one. ``greedy=None``: the
        agent's own mode (``config.actions``)."""
        instructions = list(instructions)
        if not instructions:
            raise ValueError("reset_batch got no instructions; pass one per env")
        descriptions = [""] * len(instructions) if descriptions is None else list(descriptions)
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        greedy = self.config.actions == "greedy" if greedy is None else greedy
        instructions = [self.rephrase(text, description).text for text, description in zip(instructions, descriptions)]
        with torch.inference_mode():
            goal = self.encode_goal(instructions, descriptions)
        self._act_state = ActState(
            instructions=instructions,
            descriptions=descriptions,
            goal=goal,
            memory=self.initial_memory(len(instructions)),
            greedy=greedy,
            generator=generator,
            loops=LoopGuard(len(instructions)) if greedy and self.config.escape_loops else None,
            placed=[self.read_places(text)[1] for text in instructions],
            anchors=[None] * len(instructions),
            implicit=[self.implicit_steps(text) for text in instructions],
            checks=[self.done_check(text) for text in instructions],
        )
        return self._act_state

    def set_instruction(
        self, instruction: str, *, index: int = 0, description: str | None = None, reset_memory: bool = False
    ) -> None:
        """Replace env ``index``'s instruction mid-episode (memory kept unless ``reset_memory``).

        With ``reset_memory=True`` this also restarts that env's episode in vectorised eval.
        """
        state = self._require_state()
        if not 0 <= index < len(state.instructions):
            raise ValueError(f"index={index} is outside the {len(state.instructions)} envs given to reset")
        if description is not None:
            state.descriptions[index] = description
        state.instructions[index] = self.rephrase(instruction, state.descriptions[index]).text
        state.placed[index] = self.read_places(state.instructions[index])[1]
        state.anchors[index] = None  # given now: its places count from the next observation
        state.implicit[index] = self.implicit_steps(state.instructions[index])
        state.checks[index] = self.done_check(state.instructions[index])
        if state.loops is not None:
            state.loops.restart(index)
        with torch.inference_mode():
            state.goal = self.encode_goal(state.instructions, state.descriptions)
            if reset_memory:
                state.memory = state.memory.clone()
                state.memory[index] = 0.0

    def act(self, obs: Mapping[str, Any]) -> ActResult:
        """Next action for one env's observation dict (its text keys are ignored; see :meth:`reset`)."""
        state = self._require_state()
        if len(state.instructions) != 1:
            raise ValueError(f"act() is for one env but reset_batch started {len(state.instructions)}; use act_batch")
        result = self.act_batch(obs)
        return ActResult(int(result.actions[0]), float(result.done_probs[0]), float(result.values[0]))

    def act_batch(self, obs: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                  state: ActState | None = None) -> BatchActResult:
        """Next actions for N envs: a stacked observation dict (vector env) or a list of dicts;
        ``state`` from :meth:`reset_batch` (default: the agent's own, from its last reset)."""
        state = state or self._require_state()
        if not isinstance(obs, Mapping):
            obs = {
                "image": np.stack([np.asarray(o["image"]) for o in obs]),
                "direction": np.asarray([o["direction"] for o in obs]),
                **({"map": np.stack([np.asarray(o["map"]) for o in obs])} if all("map" in o for o in obs) else {}),
                **({"world": [np.asarray(o["world"]) for o in obs], "pose": np.stack([o["pose"] for o in obs])}
                   if all("world" in o and "pose" in o for o in obs) else {}),
            }
        if any(state.placed) and "world" in obs:
            obs = dict(obs, skip=self._ruled_out(state, obs))
        detours = self._detours(state, obs) if any(state.implicit) and "world" in obs else {}
        with torch.inference_mode():
            image, direction = preprocess_obs(obs, device=self.device, map_memory=self.config.policy.map_memory,
                                              planner=self.config.policy.planner)
            if image.shape[0] != len(state.instructions):
                raise ValueError(
                    f"got {image.shape[0]} observations for {len(state.instructions)} envs; "
                    "pass one observation per env given to reset"
                )
            out = self.policy(image, direction, state.goal, state.memory)
            state.memory = out.memory
            logits = self._doors_ruled_out_shut(out.logits, obs, state) if "skip" in obs else out.logits
            if state.loops is not None:
                actions = state.loops.choose(logits, obs["image"], obs["direction"])
            else:
                actions, _ = choose_actions(logits, greedy=state.greedy, generator=state.generator)
            done = torch.sigmoid(out.done_logit.float()).cpu()
            for index, action in detours.items():  # the instruction waits for a step it leaves implicit
                actions[index], done[index] = action, 0.0
                state.memory[index] = 0.0  # it resumes afresh, as a new part would
                if state.loops is not None:
                    state.loops.restart(index)  # it did not choose these steps: its dead reckoning starts again
            if any(state.checks) and "world" in obs:
                self._doubt_done(state, obs, done)
            return BatchActResult(actions.numpy().astype(np.int64), done.numpy(), out.value.float().cpu().numpy())

    def read_places(self, instruction: str) -> tuple[str, tuple[Placed, ...]]:
        """With ``config.read_places``: ``instruction`` without its place words and the objects it
        names, where it places one (:func:`instructed_rl.model.places.without_places`); else
        ``(instruction, ())``."""
        if not self.config.read_places:
            return instruction, ()
        return without_places(instruction, self._parser())

    def implicit_steps(self, instruction: str) -> ImplicitSteps | None:
        """With ``config.implicit_steps``: the steps ``instruction`` (a wording the corpus parses, e.g.
        a rephrased one) needs but does not say; else None."""
        if not self.config.implicit_steps:
            return None
        return ImplicitSteps.for_instruction(self._parser().parse_skill(instruction))

    def done_check(self, instruction: str) -> DoneCheck | None:
        """With ``config.check_done``: how the map of what it has seen tells that ``instruction`` (a
        wording the corpus parses) is done; else None."""
        if not self.config.check_done:
            return None
        return DoneCheck.for_instruction(self._parser().parse_skill(instruction))

    @classmethod
    def _doubt_done(cls, state: ActState, obs: Mapping[str, Any], done: torch.Tensor) -> None:
        """Zero ``done`` (N,) for each env whose head says done where its map shows otherwise
        (:mod:`instructed_rl.model.done_check`)."""
        _, images, worlds, poses = cls._views(obs)
        for index, check in enumerate(state.checks):
            if check is not None:
                view = {"image": images[index], "world": worlds[index], "pose": poses[index]}
                done[index] = believed(check, float(done[index]), view)

    def _parser(self):
        """The instruction parser of the agent's training corpus (its grammar: skills, objects, places)."""
        return parser_for(load_corpus(self.config.corpus))

    @staticmethod
    def _views(obs: Mapping[str, Any]) -> tuple[bool, np.ndarray, list, np.ndarray]:
        """(whether ``obs`` is one env's dict, views (N, 7, 7, 3), worlds, poses (N, 3)) of an
        observation that is one env's dict or stacked."""
        single = np.asarray(obs["image"]).ndim == 3
        images = np.asarray(obs["image"]).reshape(-1, *np.shape(obs["image"])[-3:])
        worlds = [obs["world"]] if single else list(obs["world"])
        return single, images, worlds, np.asarray(obs["pose"]).reshape(-1, 3)

    @classmethod
    def _ruled_out(cls, state: ActState, obs: Mapping[str, Any]) -> list[np.ndarray | None] | np.ndarray | None:
        """Per env, the cells whose objects its instruction's places rule out (None: it places
        nothing), shaped as ``obs`` is (one env's dict, or stacked); an env's first observation since
        its instruction sets where it was given."""
        single, _, worlds, poses = cls._views(obs)
        cells = []
        for index, (placed, world, pose) in enumerate(zip(state.placed, worlds, poses)):
            if state.anchors[index] is None:
                state.anchors[index] = tuple(int(v) for v in pose)
            cells.append(off_place_cells(np.asarray(world), state.anchors[index], placed) if placed else None)
        return cells[0] if single else cells

    @classmethod
    def _doors_ruled_out_shut(cls, logits: torch.Tensor, obs: Mapping[str, Any], state: ActState) -> torch.Tensor:
        """``logits`` without toggling where the cell ahead is a door the instruction's place rules
        out, while the agent stands in the room the instruction was given in and every object it
        names has a place (so all lie in that room, and no door of it is a way to them): a wasted
        step at best, and the end of the episode in BabyAI's strict levels (BabyAI-OpenDoorDebug-v0
        fails at the first wrong door). Doors never move, so where they lie says which they are;
        a ball, box or key may have been moved since, and is never held back."""
        single, _, worlds, poses = cls._views(obs)
        skips = [obs["skip"]] if single else obs["skip"]
        shut = []
        for index, (skip, world, pose) in enumerate(zip(skips, worlds, poses)):
            ahead = cell_ahead(pose)
            if skip is None or not skip[ahead] or not all(named.place for named in state.placed[index]):
                continue
            world = np.asarray(world)
            if world[ahead][0] == OBJECT_TO_IDX["door"] and \
                    start_room(world, *state.anchors[index][:2])[int(pose[0]), int(pose[1])]:
                shut.append(index)
        if not shut:
            return logits
        logits = logits.clone()
        logits[shut, int(Actions.toggle)] = float("-inf")
        return logits

    @classmethod
    def _detours(cls, state: ActState, obs: Mapping[str, Any]) -> dict[int, int]:
        """Per env taking a step its instruction leaves implicit (:mod:`instructed_rl.model.implicit`), its action."""
        _, images, worlds, poses = cls._views(obs)
        detours = {}
        for index, steps in enumerate(state.implicit):
            if steps is not None:
                action = steps.advise({"image": images[index], "world": worlds[index], "pose": poses[index]})
                if action is not None:
                    detours[index] = action
        return detours

    def _require_state(self) -> ActState:
        if self._act_state is None:
            raise ValueError("the agent has no instruction yet; call agent.reset(instruction) before act")
        return self._act_state

    # ---- save / load (the files: :mod:`instructed_rl.model.io`) ------------------------------

    def saved_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights ``save_pretrained`` writes: everything trainable, not a frozen pretrained backbone."""
        frozen = tuple(f"encoder.{prefix}" for prefix in self.encoder.frozen_prefixes)
        return {k: v for k, v in self.state_dict().items() if not k.startswith(frozen)}

    def save_pretrained(self, directory: str | os.PathLike[str]) -> Path:
        """Write the agent's directory (:func:`instructed_rl.model.io.write_agent`), then a model card
        (README.md, :mod:`instructed_rl.model.card`) unless a person wrote one there."""
        target = write_agent(directory, config=self.config.to_dict(), weights=self.saved_state_dict(),
                             tokenizer=self.tokenizer.to_bytes())
        write_card(target)
        return target

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike[str], *, device: torch.device | str = "cpu") -> Agent:
        """Load an agent written by :meth:`save_pretrained`: its directory, a shipped name (``default``)
        or a Hugging Face Hub repo id (:func:`instructed_rl.model.hub.resolve_agent`); refuses anything
        else with AgentLoadError."""
        root = resolve_agent(directory)
        check_agent_directory(root)
        path = root / CONFIG_FILE
        document = read_config_document(path)
        try:
            config = AgentConfig.from_dict(document)
        except (TypeError, ValueError) as error:
            raise AgentLoadError(
                f"{path} has an invalid agent config: {error}; fix the file or re-save the agent"
            ) from error
        tokenizer_bytes = read_tokenizer_bytes(root)
        try:
            tokenizer = Tokenizer.from_bytes(tokenizer_bytes, max_length=config.text.max_length)
        except Exception as error:  # sentencepiece raises RuntimeError/OSError on bad bytes
            raise AgentLoadError(
                f"{root / TOKENIZER_FILE} is not a valid SentencePiece model ({type(error).__name__}); "
                "the file is corrupt: re-save the agent or copy it again"
            ) from error
        weights = read_weights(root / WEIGHTS_FILE)
        try:
            agent = cls(config, tokenizer)
        except ImportError as error:
            raise AgentLoadError(f"agent {root} needs a missing package: {error}") from error
        load_weights(agent, agent.saved_state_dict(), weights, root / WEIGHTS_FILE)
        return agent.to(device)
