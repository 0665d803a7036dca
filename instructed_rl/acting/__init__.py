"""Who acts in an episode, behind one protocol (:class:`~instructed_rl.acting.actors.Actor`):

    actor.start(env, instruction=..., description=..., seed=...)   # UserError: cannot act on it
    decision = actor.act(obs)                                       # Decision(action, done_prob, part, ...)

A saved agent, minigrid's BabyAI bot (whole missions, or part by part) and a random policy
implement it; eval, play, serve and training's evaluation drive them all the same way. An
actor owns its acting state (goal, memory, random generator), so one loaded agent can drive
any number of actors at once. The bot, and its give-ups, live in :mod:`.bot`; instruction
sequences are run one part at a time by :mod:`.executor`.
"""
