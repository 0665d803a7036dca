"""BabyAI-bot demonstrations: a resumable directory of shards that the imitation trainer can clone from.

    instructed-rl make-demos --game GoToRoom --episodes 10000 --out data/demos/goto_room --workers 2
    instructed-rl train --config configs/tiny.yaml --games GoToRoom --corpus babyai --demos data/demos/goto_room

One job a module: :mod:`.record` lets the bot play a shard's worlds, :mod:`.shards` is the
file format, :mod:`.manifest` the directory's identity and finished shards, :mod:`.workers`
plays shards in parallel, :mod:`.generate` runs (and resumes) the whole job, :mod:`.dataset`
reads it back. No torch here: worker processes import this package.
"""

from instructed_rl.demos.dataset import DemoDataset, DemoEpisode, check_for_training, load_demos
from instructed_rl.demos.generate import DemosConfig, DemosSummary, generate_demos

__all__ = ["DemoDataset", "DemoEpisode", "DemosConfig", "DemosSummary", "check_for_training", "generate_demos",
           "load_demos"]
