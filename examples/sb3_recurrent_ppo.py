"""sb3-contrib's RecurrentPPO on GoToRoom, through instructed-rl's token-id observations.

    pip install stable-baselines3 sb3-contrib
    python examples/sb3_recurrent_ppo.py                          # 50,000 steps: about 3-4 minutes on 2 CPU cores
    python examples/sb3_recurrent_ppo.py --timesteps 2000000     # what PPO usually needs to master GoToLocal
    python examples/sb3_recurrent_ppo.py --timesteps 128 --eval-episodes 1   # a smoke run, seconds

The game's mission and description reach the policy as token ids of the default agent's frozen
vocabulary (``instructed_rl.interop.TokenIds``), so the training split stays the training
split and the held-out ``unseen_compositions`` worlds stay unseen. After training it plays
``--eval-episodes`` episodes on that split, seeds 1,000,000 + i, greedy (as ``instructed-rl
eval`` does) and sampled, and prints both success rates with the last training episodes'.
"""

from __future__ import annotations

import argparse

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

import instructed_rl  # noqa: F401  (registers the games)
from instructed_rl.interop import TokenIds

EVAL_SEED = 1_000_000


class ViewAndWords(BaseFeaturesExtractor):
    """minigrid's symbolic view through a small MLP, plus the mean embedding of each text's tokens."""

    def __init__(self, observation_space: spaces.Dict, embed_dim: int = 32):
        super().__init__(observation_space, features_dim=128 + 2 * embed_dim)
        vocab = int(observation_space["mission"].high.max()) + 1
        self.view = nn.Sequential(nn.Flatten(), nn.Linear(7 * 7 * 3 + 4, 128), nn.ReLU())
        self.embed = nn.Embedding(vocab, embed_dim, padding_idx=0)

    def _text(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        mask = (ids != 0).float().unsqueeze(-1)
        return (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        image = obs["image"].flatten(1) / 10.0  # symbolic indices (0-10), not pixels: see normalize_images
        view = self.view(torch.cat([image, obs["direction"].float().flatten(1)], dim=1))  # direction: one-hot
        return torch.cat([view, self._text(obs["mission"]), self._text(obs["description"])], dim=1)


def make_env(game: str, split: str) -> gymnasium.Env:
    return TokenIds(gymnasium.make(f"InstructedRL/{game}-v0", split=split))


def evaluate(model: RecurrentPPO, game: str, split: str, episodes: int, *, greedy: bool = True) -> float:
    env = make_env(game, split)
    torch.manual_seed(EVAL_SEED)  # sampled actions come from torch's generator: the same run, the same numbers
    wins = 0
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        state, start = None, np.ones((1,), dtype=bool)
        while True:
            action, state = model.predict(obs, state=state, episode_start=start, deterministic=greedy)
            obs, _, terminated, truncated, info = env.step(int(action))
            start = np.zeros((1,), dtype=bool)
            if terminated or truncated:
                wins += bool(info["success"])
                break
    return wins / episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=50_000, help="environment steps to train for")
    parser.add_argument("--game", default="GoToRoom", help="a shipped game id, or your own game spec file")
    parser.add_argument("--eval-split", default="unseen_compositions", help="the split to score at the end")
    parser.add_argument("--eval-episodes", type=int, default=100, help="greedy episodes on --eval-split")
    parser.add_argument("--envs", type=int, default=8, help="worlds stepped together")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if min(args.timesteps, args.eval_episodes, args.envs) <= 0:
        parser.error("--timesteps, --eval-episodes and --envs must be positive")

    torch.set_num_threads(1)
    # Several worlds stepped together: one batched forward per step, and updates over more data.
    env = make_vec_env(lambda: make_env(args.game, "train"), n_envs=args.envs, seed=args.seed)
    n_steps = max(1, min(128, args.timesteps // args.envs))
    model = RecurrentPPO("MultiInputLstmPolicy", env, n_steps=n_steps, batch_size=min(256, n_steps * args.envs),
                         n_epochs=4, seed=args.seed, learning_rate=3e-4, ent_coef=0.01, verbose=0,
                         policy_kwargs={"features_extractor_class": ViewAndWords, "lstm_hidden_size": 128,
                                        "normalize_images": False})
    model.learn(total_timesteps=args.timesteps)
    trained = [info["r"] > 0 for info in model.ep_info_buffer]  # the last 100 training episodes (sampled)
    greedy = evaluate(model, args.game, args.eval_split, args.eval_episodes)
    sampled = evaluate(model, args.game, args.eval_split, args.eval_episodes, greedy=False)
    print(f"RecurrentPPO, {args.timesteps:,} steps on {args.game} [train]: success {100 * np.mean(trained or [0]):.1f}% "
          f"in its last {len(trained)} training episodes; on {args.eval_split} (seeds {EVAL_SEED:,}+, "
          f"{args.eval_episodes} episodes) {100 * greedy:.1f}% greedy, {100 * sampled:.1f}% sampled")


if __name__ == "__main__":
    main()
