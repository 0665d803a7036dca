"""The model: text in, goal features, one goal-conditioned policy, actions out.

- :mod:`.text`: the frozen SentencePiece tokenizer and the text encoders (transformer, GRU,
  frozen MiniLM) that turn instructions and descriptions into goal features.
- :mod:`.policy`: the network (view embedding, FiLM trunk with attention over the goal's
  tokens, target map, memory, actor/critic/termination heads) and :func:`~.policy.choose_actions`.
- :mod:`.reader`, :mod:`.pointer`: readers that resolve words a description defines.
- :mod:`.agent`: :class:`~.agent.Agent`, tokenizer + encoder + policy with their config; saved and
  loaded as a directory (``config.json``, safetensors, the tokenizer) by :mod:`.io`.
- :mod:`.hub`: agents by name (a directory, a shipped agent, a Hub id); :mod:`.card`: model cards.

It knows no game: it never imports games, acting, rollout, eval or train.
"""
