"""The policy network: one net for every skill and game.

(One module of about 580 lines on purpose: the config's checks, the blocks and the two forwards,
step by step and whole sequences, must agree on every shape; they are read and changed together.)

Egocentric symbolic view + goal features -> action logits, value, "done?" logit, memory.

- The three symbolic channels (object, colour, state) are embedded as a BabyAI 1.1
  "bag of words": each channel value gets its own learned vector (offset per channel
  into one table) and the three are summed per cell. Treating the small integers as
  numbers (raw ints into a conv) learns far worse, because "key"=5 is not between
  "box"=7 and "door"=4 in any useful sense.
- A conv stem, optional token attention (each of the 7x7 cells queries the goal tokens;
  pooled text vectors blur colour words, see :mod:`instructed_rl.model.text.encoders`; over a
  sequence, each goal's keys are computed once: :mod:`instructed_rl.model.view_attention`), then
  residual FiLM blocks conditioned on the instruction's pooled vector concatenated with
  the environment description's, then a max-pool over the view (BabyAI 1.1 "endpool").
- Optionally (``map_memory``) a second, coarser stream reads the map of what the agent has seen
  this episode around it (:class:`instructed_rl.games.view.SeenMap`, 21x21 cells): two strided
  convolutions with a FiLM block between, added to the memory cell's input through a layer
  that starts at zero (an agent grown with it acts as before). The cell's memory alone does not
  keep a map; the bot that labels it plans on one.
- A recurrent cell (LSTM or GRU) carries memory; the heads see the memory output and
  the current goal vector, so replacing the instruction mid-episode changes what "done"
  means at once, without waiting for memory to catch up.
- Heads: actor (7 minigrid actions), critic, and termination: one logit for "is the
  current instruction already accomplished?", used to step through instruction sequences.
- Optionally (``read_description``) a reader runs first: each instruction token attends over
  the description's tokens and adds what it reads, so "the treasure" can come to mean what
  "The treasure is the green ball." says before the view or FiLM sees it. A target head
  names the resolved object(s) from the read instruction; trainers supervise it with the
  env's structured instruction (an auxiliary loss: see :func:`instruction_targets`).

The forward is batched and functional (memory in, memory out) so PPO and imitation
trainers use it directly; goal features are computed once per instruction by the text
encoder and reused every step.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from instructed_rl.language.instructions import TARGET_CLASSES
from instructed_rl.model.planner import (FAR, ORIGINS, PLAN_CLASSES, PLAN_FEATURES, TABLE_ROWS, PlannerSettings,
                                         distance_tables, plan_features, unfold_table)
from instructed_rl.model.pointer import PointerReader
from instructed_rl.model.ragged import recur_ragged
from instructed_rl.model.reader import IdentityReader
from instructed_rl.model.view_attention import attend_goal_tokens
from instructed_rl.model.text.encoders import TextFeatures

MemoryKind = Literal["lstm", "gru", "none"]
MEMORY_KINDS: tuple[str, ...] = ("lstm", "gru", "none")
NUM_MINIGRID_ACTIONS = 7
VIEW_SIZE = 7
# Table rows per symbolic channel: minigrid has 11 object types, 6 colours, 3 door states.
# Headroom so a world with a few extra types does not need a new format.
CHANNEL_SIZES = (16, 8, 4)
NUM_DIRECTIONS = 4
# The seen map travels with the view, folded into its 7x7 cells (3x3 map cells each: space to
# depth), so rollouts and batches keep one view array: (7, 7, 3 + MAP_FOLDED) with the map.
MAP_SIZE = 21  # cells of the env's seen map a side (games.view.MAP_SIZE: a test keeps them equal)
MAP_FOLD = MAP_SIZE // VIEW_SIZE
MAP_FOLDED = 3 * MAP_FOLD * MAP_FOLD
MAP_CHANNELS = 32
TABLE_FOLDED = -(-TABLE_ROWS * ORIGINS // (VIEW_SIZE * VIEW_SIZE))  # channels a view cell gives the distance table


def view_channels(map_memory: bool, planner: PlannerSettings | bool | None = None) -> int:
    """Channels per view cell a policy reads: object, colour, state (+ the folded seen map, + the
    folded distance table)."""
    return 3 + (MAP_FOLDED if map_memory else 0) + (TABLE_FOLDED if planner else 0)
READER_HEADS = 2
MATCH_DIM = 32  # width of the match map's per-cell keys and per-slot queries
TARGET_SLOTS = len(TARGET_CLASSES) // 2  # (colour, type) of the instruction's object, and of put next to's fixed one


@dataclass
class PolicyConfig:
    """Shape of the policy network; the goal width comes from the text encoder."""

    embed_dim: int = 128
    """Width of each cell's bag-of-words embedding of (object, colour, state)."""
    channels: int = 64
    """Conv channels in the visual trunk. BabyAI 1.1 used 128; on CPU that makes a batch-64
    train step ~2.4x dearer (about 90 vs 37 ms on 2 threads), and the convs are most of the cost."""
    film_layers: int = 2
    """Residual FiLM blocks conditioned on the goal vector."""
    goal_attention: bool = True
    """Let each view cell attend over goal tokens (keeps colour/object words sharp)."""
    attention_heads: int = 2
    """Heads of the token attention; must divide ``channels``. Two let colour and object words be
    read separately; on CPU four heads cost ~1.5x more (many tiny matmuls, softmax over ~10 tokens)."""
    use_description: bool = True
    """Condition on the environment description's features as well as the instruction's."""
    read_description: bool = False
    """Resolve instruction words through the description first (a token-level reader over the
    description, plus a target head for an auxiliary loss). Needs ``use_description``. For games
    whose rules live in the description; an agent saved without it loads unchanged."""
    reader: Literal["attention", "identity", "pointer"] = "attention"
    """How ``read_description`` reads: ``attention`` (instruction tokens attend over the
    description's by learned content only) or ``identity`` (:class:`instructed_rl.model.reader.IdentityReader`:
    a bonus for the same surface word, and description tokens contextualised within their
    sentence first; for invented words, whose embeddings mean nothing) or ``pointer`` (:mod:`instructed_rl.model.pointer`: such a word is rewritten, as text, into the words
    bound to it, before the instruction is encoded; the rest of the policy is unchanged)."""
    reader_context_layers: int = 1
    """Identity and pointer readers: transformer layers that contextualise description tokens within their sentence."""
    reader_cross_layers: int = 0
    """Pointer reader: layers after those in which each description token also attends to its own
    word in the other sentences (a list of objects learns what another sentence says of one)."""
    pointer_projection: bool = False
    """Pointer reader: read the frozen text model's tokens through a projection of its own (needs
    the pretrained encoder) instead of the encoder's, which the policy's training moves. With it,
    a pointer left as trained (``reading_coef: 0``) keeps reading as trained; grown onto a saved
    agent it starts as a copy of the encoder's projection, so the agent reads as before."""
    description_direct: bool = True
    """Feed the description's pooled vector to FiLM and its tokens to the view's attention. False:
    the description reaches the policy only through what the instruction reads from it, so its
    wording and sentence order cannot matter except through reading (its FiLM inputs are zeros)."""
    target_map: bool = False
    """Add a map of where the instruction's object(s) are: a 1x1 conv on the goal-conditioned trunk
    scores each view cell (one channel per object slot: the object, put next to's fixed one),
    and the map goes to the memory cell beside the pooled view. Max-pooling keeps *what* is in
    view but blurs *where*; this keeps where. Trained with an auxiliary loss (trainers'
    ``grounding_coef``) from the env's structured instruction."""
    target_map_head: Literal["trunk", "match"] = "trunk"
    """How the target map scores a cell: ``trunk`` (the 1x1 conv above) or ``match``: a query per
    slot read from the goal, dotted with a key computed from the cell's own object, colour and
    state. "The red ball, not the blue one" is then one threshold on a sum of two matches; through
    the trunk it must be learnt via FiLM, and a PutNext map learnt that way marked every object of
    the named type."""
    map_memory: bool = False
    """Read the observation's ``map`` (the cells the agent has seen this episode, 10 each way
    around it) through a second, strided stream whose output starts at zero. Views without a map
    (foreign envs, demos) read as a map of nothing seen."""
    map_planner: bool = False
    """Hand the memory cell shortest-path features over the whole world seen so far
    (:mod:`instructed_rl.model.planner`): which cells around the agent lead nearer the object it
    reads its instruction to name, put next to's second object, and the unexplored. Needs
    ``map_memory``; added through a layer that starts at zero (an agent grown with it acts as before)."""
    planner_object_cost: int = 0
    """With ``map_planner``: the steps the table charges for passing a ball, box or key (moving it
    aside, as the bot does); 0, objects block paths like walls."""
    memory: MemoryKind = "lstm"
    """Recurrent memory cell, or ``"none"`` for a reactive policy."""
    memory_dim: int = 128
    """Hidden width of the memory cell (and of the reactive layer when memory is ``"none"``)."""
    direction_dim: int = 16
    """Width of the agent-direction embedding fed to the memory."""
    head_dim: int = 64
    """Hidden width of the actor, critic and termination heads."""
    num_actions: int = NUM_MINIGRID_ACTIONS
    """Discrete actions (minigrid has 7)."""

    def __post_init__(self) -> None:
        if self.memory not in MEMORY_KINDS:
            raise ValueError(f"PolicyConfig.memory={self.memory!r} is not one of {', '.join(MEMORY_KINDS)}")
        if self.target_map_head not in ("trunk", "match"):
            raise ValueError(f"PolicyConfig.target_map_head={self.target_map_head!r} is not one of trunk, match")
        if self.reader not in ("attention", "identity", "pointer"):
            raise ValueError(f"PolicyConfig.reader={self.reader!r} is not one of attention, identity, pointer")
        for name in ("reader_context_layers", "reader_cross_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"PolicyConfig.{name}={value!r} must be a non-negative integer")
        if self.reader_cross_layers and self.reader != "pointer":
            raise ValueError("PolicyConfig.reader_cross_layers is for reader: pointer only")
        if self.pointer_projection and not (self.read_description and self.reader == "pointer"):
            raise ValueError("PolicyConfig.pointer_projection is for read_description with reader: pointer only")
        if not self.description_direct and not self.read_description:
            raise ValueError("PolicyConfig.description_direct: false needs read_description: true "
                             "(otherwise the description would reach the policy nowhere)")
        for name in ("goal_attention", "use_description", "read_description", "target_map", "description_direct",
                     "map_memory", "map_planner"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"PolicyConfig.{name}={getattr(self, name)!r} must be true or false")
        positive = ("embed_dim", "channels", "attention_heads", "memory_dim", "direction_dim", "head_dim", "num_actions")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PolicyConfig.{name}={value!r} must be a positive integer")
        if not isinstance(self.film_layers, int) or isinstance(self.film_layers, bool) or self.film_layers < 0:
            raise ValueError(f"PolicyConfig.film_layers={self.film_layers!r} must be a non-negative integer")
        if not isinstance(self.planner_object_cost, int) or isinstance(self.planner_object_cost, bool) \
                or not 0 <= self.planner_object_cost <= 20:
            raise ValueError(f"PolicyConfig.planner_object_cost={self.planner_object_cost!r} must be an integer "
                             "from 0 (objects block) to 20")
        if self.map_planner and not self.map_memory:
            raise ValueError("PolicyConfig.map_planner needs map_memory: true (its table travels after the map)")
        if self.read_description and not self.use_description:
            raise ValueError("PolicyConfig.read_description needs use_description: true (it reads the description)")
        if self.goal_attention and self.channels % self.attention_heads:
            raise ValueError(
                f"PolicyConfig.channels={self.channels} is not divisible by attention_heads={self.attention_heads}"
            )

    @property
    def planner(self) -> PlannerSettings | None:
        """What :func:`policy_view` needs to compute the table; None without ``map_planner``."""
        return PlannerSettings(self.planner_object_cost) if self.map_planner else None

    @property
    def view_channels(self) -> int:
        """Channels per view cell the policy reads (:func:`view_channels`)."""
        return view_channels(self.map_memory, self.map_planner)

    @property
    def memory_size(self) -> int:
        """Width M of the memory tensor: LSTM keeps (h, c) side by side, GRU keeps h, none keeps nothing."""
        return {"lstm": 2 * self.memory_dim, "gru": self.memory_dim, "none": 0}[self.memory]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GoalFeatures:
    """What the policy is conditioned on: the instruction's features and (optionally) the description's."""

    instruction: TextFeatures
    description: TextFeatures | None = None

    def index(self, idx: torch.Tensor | list[int]) -> GoalFeatures:
        """Rows ``idx``: e.g. expand one row per episode to one row per (step, env) for a PPO minibatch."""
        description = None if self.description is None else self.description.index(idx)
        return GoalFeatures(self.instruction.index(idx), description)

    @property
    def batch_size(self) -> int:
        return self.instruction.batch_size


class PolicyOutput(NamedTuple):
    """One step for a batch: ``logits`` (B, A), ``value`` (B,), ``done_logit`` (B,), ``memory`` (B, M),
    and with ``target_map`` its logits (B, TARGET_SLOTS, 7, 7) (None without)."""

    logits: torch.Tensor
    value: torch.Tensor
    done_logit: torch.Tensor
    memory: torch.Tensor
    target_map: torch.Tensor | None = None


def policy_view(obs: dict[str, Any], *, map_memory: bool, planner: PlannerSettings | bool | None = None) -> np.ndarray:
    """The view a policy reads from an observation (one env or stacked): ``image`` (..., 7, 7, 3),
    and with ``map_memory`` the observation's ``map`` (..., 21, 21, 3) folded into it as 27 more
    channels per view cell (zeros, "nothing seen", where the observation has no map); with
    ``planner`` (``PolicyConfig.planner``; True: the default settings) also the distance table of its
    ``world`` and ``pose`` (:mod:`instructed_rl.model.planner`), 3 more channels (all "no path" where
    the observation has no world); objects on the cells of its optional ``skip`` count for no row
    (:mod:`instructed_rl.model.places`)."""
    image = np.asarray(obs["image"])
    if not map_memory or image.shape[-1] != 3:
        return image
    seen = obs.get("map")
    if seen is None:
        folded = np.zeros((*image.shape[:-1], MAP_FOLDED), image.dtype)
    else:
        seen = np.asarray(seen, dtype=image.dtype)
        lead = seen.shape[:-3]
        folded = seen.reshape(*lead, VIEW_SIZE, MAP_FOLD, VIEW_SIZE, MAP_FOLD, 3)
        folded = np.moveaxis(folded, -4, -3).reshape(*lead, VIEW_SIZE, VIEW_SIZE, MAP_FOLDED)  # [i, j, (a, b, c)]
    parts = [image, folded]
    if planner:
        settings = planner if isinstance(planner, PlannerSettings) else PlannerSettings()
        parts.append(_folded_tables(obs, image.shape[:-3], settings).astype(image.dtype))
    return np.concatenate(parts, axis=-1)


def _folded_tables(obs: dict[str, Any], lead: tuple[int, ...], settings: PlannerSettings) -> np.ndarray:
    """The observation's distance table(s) as (..., 7, 7, TABLE_FOLDED) uint8, read back by
    :func:`instructed_rl.model.planner.unfold_table`."""
    world, pose, skip = obs.get("world"), obs.get("pose"), obs.get("skip")
    cells = VIEW_SIZE * VIEW_SIZE * TABLE_FOLDED
    if world is None or pose is None:
        return np.full((*lead, VIEW_SIZE, VIEW_SIZE, TABLE_FOLDED), FAR, np.uint8)
    worlds = [world] if not lead else list(world)
    skips = [skip] if not lead else list(skip) if skip is not None else [None] * len(worlds)
    poses = np.asarray(pose).reshape(-1, 3)
    flat = np.full((len(worlds), cells), FAR, np.uint8)
    flat[:, :TABLE_ROWS * ORIGINS] = distance_tables(worlds, poses, object_cost=settings.object_cost,
                                                     skips=skips).reshape(len(worlds), -1)
    return flat.reshape(*lead, VIEW_SIZE, VIEW_SIZE, TABLE_FOLDED)


def unfold_map(view: torch.Tensor) -> torch.Tensor:
    """(B, 7, 7, 3 + 27) policy views -> the seen maps (B, 21, 21, 3): :func:`policy_view` undone."""
    batch = view.shape[0]
    folded = view[..., 3:3 + MAP_FOLDED].reshape(batch, VIEW_SIZE, VIEW_SIZE, MAP_FOLD, MAP_FOLD, 3)
    return folded.permute(0, 1, 3, 2, 4, 5).reshape(batch, MAP_SIZE, MAP_SIZE, 3)


def preprocess_obs(obs: dict[str, Any], *, device: torch.device | str = "cpu",
                   map_memory: bool = False, planner: PlannerSettings | bool | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Minigrid observation dict (one env or stacked) -> ``image`` LongTensor (B,7,7,C) (C = 3, or
    30 with ``map_memory``: :func:`policy_view`), ``direction`` (B,).

    Text keys (``mission``, ``description``) are ignored: text goes through the encoder once per
    instruction, not every step.
    """
    image = torch.as_tensor(policy_view(obs, map_memory=map_memory, planner=planner), dtype=torch.long,
                            device=device)
    direction = torch.as_tensor(np.asarray(obs["direction"]), dtype=torch.long, device=device)
    if image.dim() == 3:
        image = image.unsqueeze(0)
    direction = direction.reshape(-1)
    channels_ok = image.shape[-1] in (view_channels(False), view_channels(True), view_channels(True, True))
    if image.dim() != 4 or not channels_ok or direction.shape[0] != image.shape[0]:
        raise ValueError(
            f"expected obs image (7,7,3) or (B,7,7,3) and one direction per image, got image "
            f"{tuple(image.shape)} and direction {tuple(direction.shape)}; pass minigrid's symbolic observation"
        )
    return image, direction


def choose_actions(logits: torch.Tensor, *, greedy: bool = False,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Actions (B,) from logits (B, A): the argmax, or sampled with ``generator``; and their
    log-probabilities (B,). Computed in float32 on the CPU, so every caller draws the same action."""
    logits = logits.float().cpu()
    if greedy:
        action = logits.argmax(dim=-1)
    else:
        action = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]
    logp_all = torch.log_softmax(logits, dim=-1)
    return action, logp_all.gather(1, action[:, None])[:, 0]


class FiLMBlock(nn.Module):
    """Residual block: conv -> ReLU -> conv -> FiLM(goal) -> ReLU, added to its input (BabyAI 1.1)."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.film = nn.Linear(cond_dim, 2 * channels)
        # Start as identity modulation (scale 1, shift 0) so an untrained goal does not scramble the trunk.
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        out = self.conv2(torch.relu(self.conv1(x)))
        scale, shift = self.film(cond).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return x + torch.relu(out * (1.0 + scale) + shift)


class Policy(nn.Module):
    """Goal-conditioned actor-critic with a termination head; see the module docstring for the layout."""

    def __init__(self, config: PolicyConfig, *, goal_dim: int, pointer_input_dim: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.goal_dim = goal_dim
        self.bf16_training = False  # trainers switch it on (see :meth:`_convolution_precision`)
        offsets = torch.tensor([0, CHANNEL_SIZES[0], CHANNEL_SIZES[0] + CHANNEL_SIZES[1]])
        self.register_buffer("channel_offsets", offsets, persistent=False)
        self.register_buffer("channel_limits", torch.tensor(CHANNEL_SIZES), persistent=False)
        self.cell_embed = nn.Embedding(sum(CHANNEL_SIZES), config.embed_dim)
        self.stem = nn.Conv2d(config.embed_dim, config.channels, kernel_size=3, padding=1)
        if config.goal_attention:
            self.attention = nn.MultiheadAttention(
                config.channels, config.attention_heads, kdim=goal_dim, vdim=goal_dim, batch_first=True
            )
            self.attention_norm = nn.LayerNorm(config.channels)
        if config.read_description and config.reader == "identity":
            self.identity_reader = IdentityReader(goal_dim, heads=READER_HEADS, context_layers=config.reader_context_layers)
            self.read_pool = nn.Linear(goal_dim, goal_dim)
            nn.init.zeros_(self.read_pool.bias)
            self.target_head = nn.Linear(goal_dim, sum(TARGET_CLASSES))
        elif config.read_description and config.reader == "pointer":
            if config.pointer_projection and not pointer_input_dim:
                raise ValueError("PolicyConfig.pointer_projection needs the pretrained text encoder (text: {encoder: pretrained})")
            self.pointer_reader = PointerReader(goal_dim, heads=READER_HEADS, layers=max(1, config.reader_context_layers),
                                                cross_layers=config.reader_cross_layers,
                                                input_dim=pointer_input_dim if config.pointer_projection else None)
            self.target_head = nn.Linear(goal_dim, sum(TARGET_CLASSES))
        elif config.read_description:
            self.reader_norm = nn.LayerNorm(goal_dim)
            self.reader = nn.MultiheadAttention(goal_dim, READER_HEADS, batch_first=True)
            # Reads nothing at first, so a trained agent given a reader behaves as before.
            nn.init.zeros_(self.reader.out_proj.weight)
            nn.init.zeros_(self.reader.out_proj.bias)
            self.read_pool = nn.Linear(goal_dim, goal_dim)
            nn.init.zeros_(self.read_pool.bias)
            self.target_head = nn.Linear(goal_dim, sum(TARGET_CLASSES))
        self.film = nn.ModuleList(FiLMBlock(config.channels, self.cond_dim) for _ in range(config.film_layers))
        self.direction_embed = nn.Embedding(NUM_DIRECTIONS, config.direction_dim)
        core_in = config.channels + config.direction_dim
        if config.target_map and config.target_map_head == "match":
            self.map_keys = nn.Sequential(nn.Conv2d(config.embed_dim, MATCH_DIM, kernel_size=1), nn.ReLU(),
                                          nn.Conv2d(MATCH_DIM, MATCH_DIM, kernel_size=1))
            self.map_queries = nn.Linear(self.cond_dim, TARGET_SLOTS * MATCH_DIM)
            self.map_bias = nn.Parameter(torch.zeros(TARGET_SLOTS))
        elif config.target_map:
            self.target_map_head = nn.Conv2d(config.channels, TARGET_SLOTS, kernel_size=1)
        if config.target_map:
            core_in += TARGET_SLOTS * VIEW_SIZE * VIEW_SIZE
        if config.map_memory:
            self.map_stem = nn.Conv2d(config.embed_dim, MAP_CHANNELS, kernel_size=3, stride=2, padding=1)  # 21 -> 11
            self.map_film = FiLMBlock(MAP_CHANNELS, self.cond_dim)
            self.map_down = nn.Conv2d(MAP_CHANNELS, MAP_CHANNELS, kernel_size=3, stride=2, padding=1)  # 11 -> 6
            side = (MAP_SIZE + 3) // 4
            self.map_out = nn.Linear(MAP_CHANNELS * side * side, core_in)
            nn.init.zeros_(self.map_out.weight)  # reads nothing at first: a grown agent acts as before
            nn.init.zeros_(self.map_out.bias)
        if config.map_planner:
            self.plan_slots = nn.Parameter(torch.randn(2, goal_dim) * 0.02)
            self.plan_reader = nn.MultiheadAttention(goal_dim, READER_HEADS, batch_first=True)
            self.plan_classes = nn.Linear(goal_dim, PLAN_CLASSES)
            self.plan_out = nn.Linear(PLAN_FEATURES, core_in)
            nn.init.zeros_(self.plan_out.weight)  # reads nothing at first: a grown agent acts as before
            nn.init.zeros_(self.plan_out.bias)
        if config.memory == "lstm":
            self.memory_cell: nn.Module = nn.LSTMCell(core_in, config.memory_dim)
        elif config.memory == "gru":
            self.memory_cell = nn.GRUCell(core_in, config.memory_dim)
        else:
            self.memory_cell = nn.Sequential(nn.Linear(core_in, config.memory_dim), nn.ReLU())
        head_in = config.memory_dim + self.cond_dim
        self.actor = self._head(head_in, config.num_actions)
        self.critic = self._head(head_in, 1)
        self.termination = self._head(head_in, 1)

    def _head(self, in_dim: int, out_dim: int) -> nn.Sequential:
        hidden = self.config.head_dim
        return nn.Sequential(nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, out_dim))

    @property
    def cond_dim(self) -> int:
        """Width of the FiLM conditioning vector: instruction pooled (+ description pooled)."""
        return self.goal_dim * (2 if self.config.use_description else 1)

    @property
    def memory_size(self) -> int:
        return self.config.memory_size

    def initial_memory(self, batch_size: int, *, device: torch.device | str | None = None) -> torch.Tensor:
        """Zero memory (B, M) for the start of episodes."""
        device = self.cell_embed.weight.device if device is None else device
        return torch.zeros(batch_size, self.memory_size, device=device)

    def read_instruction(self, goal: GoalFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        """The instruction as the policy uses it: pooled (B, D) and tokens (B, T, D), each plus
        what the reader took from the description (unchanged without ``read_description``)."""
        pooled, tokens = goal.instruction.pooled, goal.instruction.tokens
        if not self.config.read_description:
            return pooled, tokens
        self._require_description(goal)
        description = goal.description
        if self.config.reader == "pointer":  # the agent rewrote the instruction before encoding it
            return pooled, tokens
        if self.config.reader == "identity":
            read = self.identity_reader(goal.instruction, description)
        else:
            read, _ = self.reader(self.reader_norm(tokens), description.tokens, description.tokens,
                                  key_padding_mask=~description.mask, need_weights=False)
        weights = goal.instruction.mask.unsqueeze(-1).to(read.dtype)
        mean_read = (read * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return pooled + self.read_pool(mean_read), tokens + read

    def target_logits(self, goal: GoalFeatures) -> list[torch.Tensor]:
        """Logits naming the instruction's object(s), one tensor (B, classes) per slot of
        :data:`TARGET_CLASSES`, from the read instruction (needs ``read_description``)."""
        if not self.config.read_description:
            raise ValueError("target_logits needs a policy built with read_description: true")
        pooled, _ = self.read_instruction(goal)
        return list(self.target_head(pooled).split(TARGET_CLASSES, dim=-1))

    def _require_description(self, goal: GoalFeatures) -> None:
        if goal.description is None:
            raise ValueError(
                "this policy is conditioned on the environment description but goal.description is None; "
                "encode the description too (an empty one is fine)"
            )

    def _conditioning(self, goal: GoalFeatures) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """FiLM vector (B, cond_dim), the goal tokens + mask the view attends over, and the
        planner's row weights (:meth:`plan_weights`; None without ``map_planner``).

        When acting (no gradients), the result for the goal of the previous call is reused while
        the weights are unchanged: actors keep one goal object for many steps, and reading the
        description every step would cost more than the rest of the step."""
        if torch.is_grad_enabled():
            return (*self._compute_conditioning(goal), self.plan_weights(goal))
        versions = tuple(p._version for p in self.parameters())
        cached = self.__dict__.get("_conditioning_cache")
        if cached is not None and cached[0] is goal and cached[1] == versions:
            return cached[2]
        result = (*self._compute_conditioning(goal), self.plan_weights(goal))
        self.__dict__["_conditioning_cache"] = (goal, versions, result)
        return result

    def _compute_conditioning(self, goal: GoalFeatures) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pooled, tokens = self.read_instruction(goal)
        if not self.config.use_description:
            return pooled, tokens, goal.instruction.mask
        self._require_description(goal)
        if not self.config.description_direct:
            return torch.cat([pooled, torch.zeros_like(pooled)], dim=-1), tokens, goal.instruction.mask
        cond = torch.cat([pooled, goal.description.pooled], dim=-1)
        tokens = torch.cat([tokens, goal.description.tokens], dim=1)
        mask = torch.cat([goal.instruction.mask, goal.description.mask], dim=1)
        return cond, tokens, mask

    def _table_rows(self, symbols: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) symbols (object, colour, state) -> their rows of the embedding table."""
        if symbols.dim() != 4 or symbols.shape[-1] != 3:
            raise ValueError(f"image must be (B,7,7,3), got {tuple(symbols.shape)}")
        if bool((symbols < 0).any()) or bool((symbols >= self.channel_limits).any()):
            raise ValueError(
                f"image has symbolic values outside {CHANNEL_SIZES} per channel; pass minigrid's symbolic view "
                "(object, colour, state), not RGB pixels"
            )
        return symbols.long() + self.channel_offsets

    def _multi_hot(self, rows: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) table rows -> (B, H, W, table size) with a one at each."""
        codes = torch.zeros(*rows.shape[:3], self.cell_embed.num_embeddings, device=rows.device)
        return codes.scatter_(-1, rows, 1.0)

    def _embed_view(self, image: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) symbols (object, colour, state) -> (B, E, H, W): the sum of their vectors."""
        rows = self._table_rows(image)
        if torch.is_grad_enabled():
            # The same sum of three rows, as a multi-hot matmul: its backward is a matmul, 2.5-3x
            # faster than the embedding's scatter-add backward on CPU (batch 256).
            cells = self._multi_hot(rows) @ self.cell_embed.weight
        else:
            cells = self.cell_embed(rows).sum(dim=3)  # (B, H, W, E)
        return cells.permute(0, 3, 1, 2)

    def _convolution_precision(self, device: torch.device) -> contextlib.AbstractContextManager:
        """bfloat16 autocast for the trunk's convolutions in training mode when ``bf16_training`` is
        on: on a CPU with native bf16 (AMX) their forward and backward cost about a third. Weights,
        the view attention (its bf16 backward is ~9x slower on CPU), the memory and every forward
        in eval mode (acting, evaluation) stay float32."""
        if not (self.bf16_training and self.training):
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def encode_view(self, image: torch.Tensor, direction: torch.Tensor, cond: torch.Tensor,
                    tokens: torch.Tensor, mask: torch.Tensor,
                    plan_weights: torch.Tensor | None = None,
                    goal_rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The memory-free part: view + goal -> the recurrent cell's input (B, core_in), and the
        target map's logits (B, TARGET_SLOTS, 7, 7) or None. ``plan_weights`` (B, 2, PLAN_CLASSES):
        :meth:`plan_weights` per row, needed with ``map_planner``. ``tokens`` and ``mask`` are one row
        per view, or with ``goal_rows`` (B,) one per goal, ``goal_rows`` naming each view's
        (consecutive views per goal: :func:`instructed_rl.model.view_attention.attend_goal_tokens`)."""
        if image.shape[-1] < self.config.view_channels:
            raise ValueError(f"image must have {self.config.view_channels} channels per cell (policy_view with "
                             f"map_memory={self.config.map_memory}), got {tuple(image.shape)}")
        embedded = self._embed_view(image[..., :3])
        with self._convolution_precision(embedded.device):
            x = torch.relu(self.stem(embedded)).float()
        if self.config.goal_attention:
            batch, channels, height, width = x.shape
            cells = x.flatten(2).transpose(1, 2)  # (B, H*W, C)
            attended = attend_goal_tokens(self.attention, self.attention_norm(cells), tokens, mask, goal_rows)
            x = (cells + attended).transpose(1, 2).reshape(batch, channels, height, width)
        map_logits = None
        map_head = self.config.target_map_head if self.config.target_map else None
        with self._convolution_precision(x.device):
            for block in self.film:
                x = block(x, cond)
            if map_head == "trunk":
                map_logits = self.target_map_head(x).float()
            x = x.float()
        if map_head == "match":
            map_logits = self._match_map(embedded, cond)
        parts = [x.amax(dim=(2, 3)), self.direction_embed(direction.long())]
        if map_logits is not None:
            parts.append(torch.sigmoid(map_logits).flatten(1))
        core_in = torch.cat(parts, dim=-1)
        if self.config.map_memory:
            core_in = core_in + self._read_map(unfold_map(image), cond)
            if self.config.map_planner:
                if plan_weights is None:
                    raise ValueError("a policy with map_planner needs plan_weights (Policy.plan_weights)")
                table = unfold_table(image, 3 + MAP_FOLDED)
                core_in = core_in + self.plan_out(plan_features(table, plan_weights))
        return core_in, map_logits

    def plan_class_logits(self, goal: GoalFeatures) -> torch.Tensor:
        """(B, 2, PLAN_CLASSES): which row of the distance table the instruction's object is, and
        put next to's second object (or nothing), read by two learned queries over its tokens."""
        pooled, tokens = self.read_instruction(goal)
        queries = self.plan_slots.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        read, _ = self.plan_reader(queries, tokens, tokens, key_padding_mask=~goal.instruction.mask,
                                   need_weights=False)
        return self.plan_classes(read + pooled.unsqueeze(1))

    def plan_weights(self, goal: GoalFeatures) -> torch.Tensor | None:
        """(B, 2, PLAN_CLASSES) probabilities of :meth:`plan_class_logits`; None without ``map_planner``."""
        if not self.config.map_planner:
            return None
        return torch.softmax(self.plan_class_logits(goal), dim=-1)

    def _match_map(self, cells: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, E, 7, 7) cell embeddings, (B, cond_dim) goal -> map logits (B, TARGET_SLOTS, 7, 7)."""
        keys = self.map_keys(cells)  # (B, D, 7, 7): each cell from its own symbols only
        queries = self.map_queries(cond).view(cond.shape[0], TARGET_SLOTS, MATCH_DIM)
        scores = torch.einsum("bsd,bdhw->bshw", queries, keys) / MATCH_DIM ** 0.5
        return scores + self.map_bias[:, None, None]

    def _read_map(self, seen: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, 21, 21, 3) seen maps -> what they add to the memory cell's input (B, core_in).

        The stem convolves the cells' embeddings; that equals convolving their multi-hot codes
        (28 channels) with the stem's weights folded into the embedding table, which never
        builds the 64-channel embedding of 441 cells a frame (about half the stream's cost)."""
        codes = self._multi_hot(self._table_rows(seen)).permute(0, 3, 1, 2)  # (B, 28, 21, 21)
        folded = torch.einsum("oekl,re->orkl", self.map_stem.weight, self.cell_embed.weight)
        with self._convolution_precision(codes.device):
            x = torch.relu(F.conv2d(codes, folded, self.map_stem.bias, stride=2, padding=1))
            x = self.map_film(x, cond)
            x = torch.relu(self.map_down(x)).float()
        return self.map_out(x.flatten(1))

    def _recur(self, core_in: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.memory == "lstm":
            h, c = self.memory_cell(core_in, memory.chunk(2, dim=-1))
            return h, torch.cat([h, c], dim=-1)
        if self.config.memory == "gru":
            hidden = self.memory_cell(core_in, memory)
            return hidden, hidden
        return self.memory_cell(core_in), memory

    def _recur_sequence(self, core_in: torch.Tensor, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`_recur` over (B, L, core_in) steps at once: the hidden outputs (B, L, H) and the
        memory after the last step. The cell's own weights go to torch's fused recurrence (its time
        loop in C++, the input projections as one matmul): about 3x faster with its backward than
        a Python loop of cell calls, and equal to it up to float rounding."""
        cell = self.memory_cell
        if self.config.memory == "none":
            return cell(core_in), memory
        weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
        if self.config.memory == "lstm":
            h, c = (part.unsqueeze(0).contiguous() for part in memory.chunk(2, dim=-1))
            hidden, h, c = torch.lstm(core_in, (h, c), weights, True, 1, 0.0, self.training, False, True)
            return hidden, torch.cat([h[0], c[0]], dim=-1)
        hidden, h = torch.gru(core_in, memory.unsqueeze(0).contiguous(), weights, True, 1, 0.0, self.training,
                              False, True)
        return hidden, h[0]

    def _heads(self, hidden: torch.Tensor, cond: torch.Tensor, memory: torch.Tensor,
               target_map: torch.Tensor | None = None) -> PolicyOutput:
        head_in = torch.cat([hidden, cond], dim=-1)
        return PolicyOutput(
            logits=self.actor(head_in),
            value=self.critic(head_in).squeeze(-1),
            done_logit=self.termination(head_in).squeeze(-1),
            memory=memory,
            target_map=target_map,
        )

    def forward(
        self,
        image: torch.Tensor,
        direction: torch.Tensor,
        goal: GoalFeatures,
        memory: torch.Tensor,
    ) -> PolicyOutput:
        """One step for a batch. Zero (or mask) ``memory`` rows yourself where episodes restart."""
        cond, tokens, mask, weights = self._conditioning(goal)
        core_in, map_logits = self.encode_view(image, direction, cond, tokens, mask, weights)
        hidden, new_memory = self._recur(core_in, memory)
        return self._heads(hidden, cond, new_memory, map_logits)

    def forward_sequence(
        self,
        image: torch.Tensor,
        direction: torch.Tensor,
        goal: GoalFeatures,
        memory: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> PolicyOutput:
        """B sequences of L steps at once: image (B,L,7,7,C), direction (B,L), one goal per sequence.
        ``image`` may also be the valid steps' views alone, (N,7,7,C) in row-major order of ``valid``.

        Equal to L calls of :meth:`forward`, but the convolutional trunk sees all views in one
        batch and only the recurrent cell runs step by step: the cheap way to train on episodes.
        ``valid`` (B,L) marks real steps of padded sequences: the trunk and the heads skip the
        padding, the memory most of it (the outputs there are meaningless). Outputs are (B, L, ...);
        ``memory`` is after the last step (a padded row's after some of its padding).
        """
        batch, length = direction.shape
        cond, tokens, mask, weights = self._conditioning(goal)
        if valid is None:
            valid = torch.ones(batch, length, dtype=torch.bool, device=direction.device)
        flat_valid = valid.reshape(-1)
        rows = torch.arange(batch, device=direction.device).repeat_interleave(length)[flat_valid]
        if image.dim() == 5:
            image = image.reshape(batch * length, *image.shape[2:])[flat_valid]
        elif image.shape[0] != int(flat_valid.sum()):
            raise ValueError(f"image of {image.shape[0]} steps for {int(flat_valid.sum())} valid ones")
        views, map_logits = self.encode_view(image, direction.reshape(-1)[flat_valid], cond[rows], tokens, mask,
                                             None if weights is None else weights[rows], goal_rows=rows)

        def padded(values: torch.Tensor) -> torch.Tensor:  # valid rows -> (B, L, ...), zeros at the padding
            full = values.new_zeros(batch * length, *values.shape[1:])
            full[flat_valid] = values
            return full.reshape(batch, length, *values.shape[1:])

        ends = (valid * torch.arange(1, length + 1, device=valid.device)).amax(1)  # each row's last real step
        hidden_all, memory = recur_ragged(self._recur_sequence, padded(views), memory, ends)
        # The heads read the real steps only: padded one-room batches are mostly padding.
        out = self._heads(hidden_all.reshape(batch * length, -1)[flat_valid], cond[rows], memory)
        target_map = None if map_logits is None else padded(map_logits)
        return PolicyOutput(padded(out.logits), padded(out.value), padded(out.done_logit), memory, target_map)
