"""Doors for other libraries: observations that Stable-Baselines3, CleanRL and language-model
agents can take. Wrappers only: the games underneath are the same, splits and seeds included."""

from instructed_rl.interop.tokens import TokenIds, agent_vocabulary, corpus_vocabulary

__all__ = ["TokenIds", "agent_vocabulary", "corpus_vocabulary"]
