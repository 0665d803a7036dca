"""Mission and description as fixed-length token ids, for trainers that take only arrays.

    import gymnasium, instructed_rl
    from instructed_rl.interop import TokenIds

    env = TokenIds(gymnasium.make("InstructedRL/GoToRoom-v0", split="train"))          # the default agent's vocabulary
    env = TokenIds(gymnasium.make("InstructedRL/GoToRoom-v0"), agent="runs/x/agent")   # another agent's
    env = TokenIds(gymnasium.make("InstructedRL/GoToRoom-v0"), corpus="zorblax")       # a corpus's own

The observation keeps minigrid's ``image`` and ``direction`` and turns ``mission`` and
``description`` into int64 arrays of ``mission_length`` and ``description_length`` ids:
``[bos, ..., eos, pad, pad, ...]`` with pad 0, from a frozen SentencePiece vocabulary (an unseen
word is split into known pieces, never given a new id). A text longer than its array is cut,
keeping the eos at the end; ``truncated_texts`` counts how often that happened.
"""

from __future__ import annotations

import gymnasium
import numpy as np
from gymnasium import spaces

from instructed_rl.model.text.tokenizer import EOS_ID, PAD_ID, Tokenizer, train_tokenizer

MISSION_LENGTH = 64  # the longest shipped mission is 28 ids, the longest description 134
DESCRIPTION_LENGTH = 192
_UNLIMITED = 1 << 20  # the wrapper cuts texts itself, so the tokenizer must not refuse long ones


def agent_vocabulary(agent: str = "default") -> Tokenizer:
    """The frozen vocabulary of a saved agent: a directory, a shipped name or a Hub repo id."""
    from instructed_rl.errors import UserError
    from instructed_rl.model.hub import resolve_agent

    path = resolve_agent(agent) / "tokenizer.model"
    if not path.is_file():
        raise UserError(f"agent {agent!r}: no tokenizer.model at {path}. Fix: name a saved agent (a directory written "
                        "by 'instructed-rl train', default or reader, or a Hub repo id)")
    return Tokenizer.from_bytes(path.read_bytes(), max_length=_UNLIMITED)


def corpus_vocabulary(corpus: str, *, games: tuple[str, ...] = ("SkillRoom",), vocab_size: int = 400,
                      seed: int = 0) -> Tokenizer:
    """A vocabulary built as training builds an agent's: the corpus's training instructions plus
    the descriptions of the games' training worlds (never held-out text)."""
    from instructed_rl.games.env import InstructedEnv
    from instructed_rl.language.corpus import load_corpus, sample_instructions

    loaded = load_corpus(corpus)
    texts = sample_instructions(loaded, count=4000, seed=seed)
    for game in games:
        env = InstructedEnv(game, split="train", corpus=loaded)
        texts.extend(env.reset(seed=10_000 + s)[0]["description"] for s in range(50))
        env.close()
    return Tokenizer.from_bytes(train_tokenizer(texts, vocab_size=vocab_size).to_bytes(), max_length=_UNLIMITED)


class TokenIds(gymnasium.ObservationWrapper):
    """``mission`` and ``description`` as fixed-length token id arrays (see the module docstring)."""

    def __init__(self, env: gymnasium.Env, tokenizer: Tokenizer | None = None, *, agent: str | None = None,
                 corpus: str | None = None, mission_length: int = MISSION_LENGTH,
                 description_length: int = DESCRIPTION_LENGTH):
        super().__init__(env)
        if sum(x is not None for x in (tokenizer, agent, corpus)) > 1:
            raise ValueError("give one of tokenizer, agent or corpus")
        if min(mission_length, description_length) < 2:
            raise ValueError("mission_length and description_length must leave room for bos and eos (>= 2)")
        if tokenizer is None:
            tokenizer = corpus_vocabulary(corpus) if corpus is not None else agent_vocabulary(agent or "default")
        self.tokenizer = Tokenizer.from_bytes(tokenizer.to_bytes(), max_length=_UNLIMITED)
        self.lengths = {"mission": mission_length, "description": description_length}
        self.truncated_texts = 0
        self._cache: dict[tuple[str, str], np.ndarray] = {}  # texts stay fixed within an episode
        high = self.tokenizer.vocab_size - 1
        inner = env.observation_space
        self.observation_space = spaces.Dict({
            "image": inner["image"],
            "direction": inner["direction"],
            "mission": spaces.Box(0, high, shape=(mission_length,), dtype=np.int64),
            "description": spaces.Box(0, high, shape=(description_length,), dtype=np.int64),
        })

    def ids(self, key: str, text: str) -> np.ndarray:
        """The id array of one text (``key``: mission or description)."""
        cached = self._cache.get((key, text))
        if cached is not None:
            return cached
        length = self.lengths[key]
        ids = self.tokenizer.encode(text, allow_empty=True)
        if len(ids) > length:
            ids = ids[:length - 1] + [EOS_ID]
            self.truncated_texts += 1
        array = np.full(length, PAD_ID, dtype=np.int64)
        array[:len(ids)] = ids
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[(key, text)] = array
        return array

    def observation(self, observation):
        return {
            "image": observation["image"],
            "direction": observation["direction"],
            "mission": self.ids("mission", observation["mission"]),
            "description": self.ids("description", observation["description"]),
        }
