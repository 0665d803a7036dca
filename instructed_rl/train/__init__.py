"""Trainers and their data: BabyAI-bot demonstrations (``demos``); imitation, PPO and friends join here.

Keep this file light: importing ``instructed_rl.train`` must not pull in torch, because demo
worker processes import it.
"""

from instructed_rl.train.demos import DemoDataset, DemoEpisode, DemosConfig, generate_demos, load_demos

__all__ = ["DemoDataset", "DemoEpisode", "DemosConfig", "generate_demos", "load_demos"]
