"""Trainers: imitation of the BabyAI bot (collected live, or cloned offline from ``instructed_rl.demos``),
PPO and kickstarting, with their checkpoints, tracking and distributed helpers."""
