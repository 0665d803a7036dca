"""Collect whole episodes in which the BabyAI bot labels every state the learner visits.

With probability ``beta`` a step executes the bot's action, otherwise the agent's own: at
``beta = 1`` this is behaviour cloning on bot trajectories, below it DAgger (the bot replans
from wherever the agent's mistakes lead, so the agent learns to recover from them).

With ``action_sets`` every movement label also records which other movement actions are
just as good: the bot is rolled out (on a copy of the world and of its own plan) after each
of left / right / forward, and every action whose rollout finishes in the fewest steps counts
as optimal. The bot breaks ties between equally short paths by search order in absolute
coordinates; a policy cloned on one tie-break may half-learn it and dither (turn left, turn
right, ...): our greedy failures are such loops. Trained on the set it may pick any optimal
action, and each optimal action shortens the bot's remaining path by one step. (A measurable
gain in success is not shown yet: see benchmarks/bench_clone.py.)

Episodes run to the end inside one call, so the trainer's state between calls is just
counters and a buffer: that is what makes resuming exact.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from minigrid.core.actions import Actions
from minigrid.utils.baby_ai_bot import BabyAIBot

from instructed_rl.acting.bot import Bot
from instructed_rl.games.env import InstructedEnv
from instructed_rl.language.instructions import NO_TARGET, TARGET_CLASSES, instruction_targets
from instructed_rl.policy import preprocess_obs


@dataclass
class Episode:
    """One episode as training data. The last row is the post-success view (no action label,
    termination target 1), so the termination head sees what "done" looks like."""

    game: str
    instruction: str
    description: str
    image: np.ndarray  # (L, 7, 7, 3) uint8
    direction: np.ndarray  # (L,) uint8
    action: np.ndarray  # (L,) int16 bot label, -1 where none
    done: np.ndarray  # (L,) uint8 termination target
    success: bool
    optimal: np.ndarray  # (L,) uint8 bitmask of the actions counted right (bit a = action a): the label, or its set
    target: tuple[int, ...] = (NO_TARGET,) * len(TARGET_CLASSES)  # what the instruction names (reader's aux loss)
    plain: str = ""  # the mission with objects named by colour and type (reader's aux loss); "" = the instruction

    def __len__(self) -> int:
        return len(self.action)


@dataclass
class CollectStats:
    episodes: int = 0
    successes: int = 0
    frames: int = 0
    agree: int = 0  # steps where the agent's action equalled the bot's
    bot_failures: int = 0
    per_game: dict[str, list[int]] = field(default_factory=dict)  # game -> [successes, episodes]


@dataclass
class _Slot:
    env: InstructedEnv
    bot: Bot
    episode_id: int
    obs: dict
    instruction: str
    description: str
    target: tuple[int, ...]
    plain: str
    rows: list = field(default_factory=list)
    last_action: int | None = None


MOVES = (Actions.left, Actions.right, Actions.forward)  # the actions whose ties the bot breaks arbitrarily
ROLLOUT_LIMIT = 64


def _rollout_steps(bot: BabyAIBot, level, first: int) -> int:
    """Steps to success if ``first`` is taken and the bot drives from there (on copies)."""
    bot, level = copy.deepcopy((bot, level))  # together, so the copied bot plans on the copied world
    try:
        _, reward, terminated, truncated, _ = level.step(first)
        steps, last = 1, first
        while not (terminated or truncated) and steps < ROLLOUT_LIMIT:
            last = int(bot.replan(last))
            _, reward, terminated, truncated, _ = level.step(last)
            steps += 1
    except Exception:  # the bot cannot finish from there: not an optimal action
        return ROLLOUT_LIMIT + 1
    return steps if terminated and reward > 0 else ROLLOUT_LIMIT + 1


def label_masks(actions: np.ndarray) -> np.ndarray:
    """Bitmasks holding just each row's label (0 where a row has none): a set of one."""
    return np.where(actions >= 0, np.left_shift(1, np.maximum(actions, 0)), 0).astype(np.uint8)


def optimal_moves(bot: BabyAIBot, level, label: int) -> int:
    """Bitmask of the actions as good as the bot's ``label``; call after ``bot.replan``."""
    if label not in MOVES:
        return 1 << label
    cost = {move: _rollout_steps(bot, level, move) for move in MOVES}
    best = min(cost.values())
    mask = 1 << label
    for move, steps in cost.items():
        if steps == best:
            mask |= 1 << move
    return mask


class EnvPool:
    """One env per (slot, game), created on first use."""

    def __init__(self, corpus: str, split: str = "train"):
        self.corpus = corpus
        self.split = split
        self._envs: dict[tuple[int, str], InstructedEnv] = {}

    def get(self, slot: int, game: str) -> InstructedEnv:
        key = (slot, game)
        if key not in self._envs:
            self._envs[key] = InstructedEnv(game, split=self.split, corpus=self.corpus)
        return self._envs[key]


def episode_seed(base_seed: int, episode_id: int) -> int:
    return base_seed * 1_000_003 + episode_id


def collect_episodes(agent, episode_ids: list[int], *, games: list[str], pool: EnvPool, base_seed: int,
                     beta: float, slots: int, rng: np.random.Generator, generator: torch.Generator,
                     sample: bool = True, action_sets: bool = False) -> tuple[list[Episode], CollectStats]:
    """Run the given episodes (game ``games[id % len]``, seed from id) with ``slots`` in flight."""
    stats = CollectStats()
    queue = list(episode_ids)
    active: list[_Slot | None] = [None] * slots
    finished: dict[int, Episode] = {}
    memory = agent.initial_memory(slots)
    goal = None
    dirty = True

    def start(index: int) -> _Slot | None:
        while queue:
            episode_id = queue.pop(0)
            game = games[episode_id % len(games)]
            env = pool.get(index, game)
            obs, _ = env.reset(seed=episode_seed(base_seed, episode_id))
            return _Slot(env=env, bot=Bot(env.level), episode_id=episode_id, obs=obs,
                         instruction=obs["mission"], description=obs["description"],
                         target=instruction_targets(env.level.instrs), plain=env.plain_mission)
        return None

    for index in range(slots):
        active[index] = start(index)

    with torch.inference_mode():
        while any(active):
            live = [i for i, s in enumerate(active) if s is not None]
            if dirty:  # new instructions since the last step: re-encode once for all slots
                texts = [(active[i].instruction if active[i] else "go") for i in range(slots)]
                descriptions = [(active[i].description if active[i] else "") for i in range(slots)]
                goal = agent.encode_goal(texts, descriptions)
                dirty = False
            image, direction = preprocess_obs({
                "image": np.stack([active[i].obs["image"] if active[i] else np.zeros((7, 7, 3), np.uint8)
                                   for i in range(slots)]),
                "direction": np.array([active[i].obs["direction"] if active[i] else 0 for i in range(slots)]),
            }, device=agent.device)
            out = agent(image, direction, goal, memory)
            memory = out.memory
            if sample:
                agent_actions = torch.multinomial(torch.softmax(out.logits.float(), -1), 1, generator=generator)[:, 0]
            else:
                agent_actions = out.logits.argmax(-1)
            agent_actions = agent_actions.tolist()
            for i in live:
                slot = active[i]
                label = slot.bot.next_action(slot.last_action)
                if label is None:  # the bot cannot solve this world from here: drop the episode
                    stats.bot_failures += 1
                    active[i] = _reset_slot(memory, i, start)
                    dirty = True
                    continue
                optimal = optimal_moves(slot.bot.bot, slot.env.level, label) if action_sets else 1 << label
                taken = label if rng.random() < beta else int(agent_actions[i])
                stats.agree += int(agent_actions[i] == label)
                slot.rows.append((slot.obs["image"], slot.obs["direction"], label, 0, optimal))
                slot.last_action = taken
                obs, _, terminated, truncated, info = slot.env.step(taken)
                stats.frames += 1
                slot.obs = obs
                if terminated or truncated:
                    success = bool(info["success"])
                    if success:
                        slot.rows.append((obs["image"], obs["direction"], -1, 1, 0))
                    finished[slot.episode_id] = _episode(slot, success)
                    game = slot.env.spec_game.id
                    record = stats.per_game.setdefault(game, [0, 0])
                    record[0] += success
                    record[1] += 1
                    stats.episodes += 1
                    stats.successes += success
                    active[i] = _reset_slot(memory, i, start)
                    dirty = True
    return [finished[k] for k in sorted(finished)], stats


def _reset_slot(memory: torch.Tensor, index: int, start) -> _Slot | None:
    memory[index] = 0.0
    return start(index)


def _episode(slot: _Slot, success: bool) -> Episode:
    images, directions, actions, dones, optimal = zip(*slot.rows)
    return Episode(
        game=slot.env.spec_game.id, instruction=slot.instruction, description=slot.description,
        image=np.stack(images).astype(np.uint8), direction=np.asarray(directions, dtype=np.uint8),
        action=np.asarray(actions, dtype=np.int16), done=np.asarray(dones, dtype=np.uint8), success=success,
        optimal=np.asarray(optimal, dtype=np.uint8), target=slot.target, plain=slot.plain,
    )


# ---- a buffer that round-trips through plain arrays (for checkpoints) ---------------------

def episodes_to_arrays(episodes: list[Episode]) -> dict[str, np.ndarray]:
    if not episodes:
        return {}
    lengths = np.array([len(e) for e in episodes], dtype=np.int64)
    texts = ([e.instruction for e in episodes] + [e.description for e in episodes] + [e.game for e in episodes]
             + [e.plain for e in episodes])
    encoded = [t.encode("utf-8") for t in texts]
    return {
        "lengths": lengths,
        "image": np.concatenate([e.image for e in episodes]),
        "direction": np.concatenate([e.direction for e in episodes]),
        "action": np.concatenate([e.action for e in episodes]),
        "done": np.concatenate([e.done for e in episodes]),
        "optimal": np.concatenate([e.optimal for e in episodes]),
        "success": np.array([e.success for e in episodes], dtype=np.uint8),
        "target": np.array([e.target for e in episodes], dtype=np.int8),
        "text_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "text_lengths": np.array([len(b) for b in encoded], dtype=np.int64),
    }


def episodes_from_arrays(arrays: dict[str, np.ndarray]) -> list[Episode]:
    if not arrays:
        return []
    lengths = arrays["lengths"]
    count = len(lengths)
    raw = arrays["text_bytes"].tobytes()
    texts, offset = [], 0
    for size in arrays["text_lengths"]:
        texts.append(raw[offset:offset + int(size)].decode("utf-8"))
        offset += int(size)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    optimal = arrays["optimal"] if "optimal" in arrays else label_masks(arrays["action"])  # older checkpoints: labels only
    targets = arrays["target"] if "target" in arrays else np.full((count, len(TARGET_CLASSES)), NO_TARGET)
    plains = texts[3 * count:] if len(texts) == 4 * count else [""] * count  # older checkpoints: none
    return [
        Episode(game=texts[2 * count + i], instruction=texts[i], description=texts[count + i],
                image=arrays["image"][bounds[i]:bounds[i + 1]], direction=arrays["direction"][bounds[i]:bounds[i + 1]],
                action=arrays["action"][bounds[i]:bounds[i + 1]], done=arrays["done"][bounds[i]:bounds[i + 1]],
                success=bool(arrays["success"][i]),
                optimal=optimal[bounds[i]:bounds[i + 1]], target=tuple(int(t) for t in targets[i]),
                plain=plains[i])
        for i in range(count)
    ]
