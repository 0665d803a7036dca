"""Experience collection for both trainers, in one place.

- :mod:`.envs`: the envs of a run, stepped in this process or in worker processes, each
  episode seeded from (run seed, iteration, env, episode); the BabyAI bot labels visited states.
- :mod:`.goals`: the goal features of the episodes in flight; a text is encoded when its
  episode starts, never again while it runs.
- :mod:`.episodes`: whole labelled episodes (imitation's training data) and their buffer's
  round trip through plain arrays (for checkpoints).
- :mod:`.dagger`: imitation's collection: whole episodes, the bot's or the agent's action.
- :mod:`.steps`: PPO's collection: a fixed number of steps per env, with values and log-probabilities.

It imports the model, acting (the bot) and games; training imports it, never the reverse.
"""
