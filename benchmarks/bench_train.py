"""Training speed, side by side in one run: raw env step rate, our trainers, torch-ac's PPO.

    python benchmarks/bench_train.py                 # all rows (needs `pip install torch-ac` for its row)
    python benchmarks/bench_train.py --seconds 60    # longer measurement per row

Each row runs in its own subprocess (so its peak memory is its own) for about ``--seconds``
of work after warm-up, and reports frames/s. Ratios are against torch-ac PPO (the trainer
behind rl-starter-files, 16 processes, its ACModel with instruction GRU + LSTM memory) and
against the raw single-env random-action step rate of the same game, measured in this run.
This machine is noisy: compare ratios from one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

GAME = "BabyAI-GoToLocal-v0"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row_raw_env(seconds: float, game: str) -> dict:
    import gymnasium
    import minigrid  # noqa: F401
    import numpy as np

    env = gymnasium.make(game)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(7)))
        steps += 1
        if terminated or truncated:
            env.reset()
    return {"frames": steps, "seconds": time.perf_counter() - started}


def row_ours_imitation(seconds: float, game: str) -> dict:
    import tempfile
    from pathlib import Path

    from instructed_rl.commands.train import load_yaml
    from instructed_rl.config import from_mapping
    from instructed_rl.train.imitation import ImitationConfig, train_imitation

    values = load_yaml("configs/default.yaml")
    values.update(games=[game], eval_every=0, eval_episodes=1, frames=10**9, checkpoint_every=10**6)
    config = from_mapping(ImitationConfig, values)
    # Run for a time budget: frames is set by a first timed pass.
    with tempfile.TemporaryDirectory() as tmp:
        probe = from_mapping(ImitationConfig, {**values, "frames": 3000})
        train_imitation(probe, Path(tmp) / "probe", log=lambda *_: None)
        rows = [json.loads(line) for line in (Path(tmp) / "probe" / "metrics.jsonl").read_text().splitlines()]
        fps = rows[-1]["fps"]
        config = from_mapping(ImitationConfig, {**values, "frames": max(3000, int(fps * seconds))})
        started = time.perf_counter()
        train_imitation(config, Path(tmp) / "run", log=lambda *_: None)
        record = json.loads((Path(tmp) / "run" / "training_record.json").read_text())
    return {"frames": record["frames"], "seconds": record["wall_seconds"],
            "total_seconds": time.perf_counter() - started}


def row_torch_ac(seconds: float, game: str, procs: int = 16) -> dict:
    try:
        import torch_ac
    except ImportError:
        return {"skipped": "pip install torch-ac"}
    import gymnasium
    import minigrid  # noqa: F401
    import numpy as np
    import torch
    from torch import nn

    class Vocabulary:
        def __init__(self):
            self.words: dict[str, int] = {}

        def __call__(self, text: str) -> list[int]:
            return [self.words.setdefault(w, len(self.words) + 1) for w in text.lower().replace(",", "").split()]

    vocab = Vocabulary()

    def preprocess(obss, device=None):
        image = torch.tensor(np.array([o["image"] for o in obss]), dtype=torch.float)
        ids = [vocab(o["mission"]) for o in obss]
        text = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
        for i, row in enumerate(ids):
            text[i, :len(row)] = torch.tensor(row)
        return torch_ac.DictList({"image": image, "text": text})

    class ACModel(nn.Module, torch_ac.RecurrentACModel):
        """The rl-starter-files model: 3 convs, LSTM memory, GRU instruction reader."""

        def __init__(self, actions: int = 7):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(3, 16, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 2), nn.ReLU(),
                                      nn.Conv2d(32, 64, 2), nn.ReLU())
            self.memory_rnn = nn.LSTMCell(64, 64)
            self.embed = nn.Embedding(100, 32)
            self.text_rnn = nn.GRU(32, 128, batch_first=True)
            self.actor = nn.Sequential(nn.Linear(192, 64), nn.Tanh(), nn.Linear(64, actions))
            self.critic = nn.Sequential(nn.Linear(192, 64), nn.Tanh(), nn.Linear(64, 1))

        @property
        def memory_size(self):
            return 128

        def forward(self, obs, memory):
            x = self.conv(obs.image.transpose(1, 3).transpose(2, 3)).reshape(obs.image.shape[0], -1)
            h, c = self.memory_rnn(x, (memory[:, :64], memory[:, 64:]))
            _, text = self.text_rnn(self.embed(obs.text))
            embedding = torch.cat([h, text[-1]], dim=1)
            dist = torch.distributions.Categorical(logits=self.actor(embedding))
            return dist, self.critic(embedding).squeeze(1), torch.cat([h, c], dim=1)

    envs = [gymnasium.make(game) for _ in range(procs)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
    algo = torch_ac.PPOAlgo(envs, ACModel(), num_frames_per_proc=128, discount=0.99, lr=0.001, gae_lambda=0.95,
                            entropy_coef=0.01, value_loss_coef=0.5, max_grad_norm=0.5, recurrence=4,
                            epochs=4, batch_size=256, preprocess_obss=preprocess)
    exps, _ = algo.collect_experiences()  # warm-up: workers started
    algo.update_parameters(exps)
    frames, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        exps, logs = algo.collect_experiences()
        algo.update_parameters(exps)
        frames += logs["num_frames"]
    return {"frames": frames, "seconds": time.perf_counter() - started}


ROWS = {
    "raw env (1 env, random actions)": row_raw_env,
    "torch-ac PPO (16 procs, rl-starter-files model)": row_torch_ac,
    "ours: imitation (bot-labelled, configs/default.yaml model)": row_ours_imitation,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--game", default=GAME)
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:  # child process: one row, JSON on stdout
        import torch

        torch.set_num_threads(2)
        result = ROWS[args.row](args.seconds, args.game)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    results = {}
    for name in ROWS:
        out = subprocess.run([sys.executable, __file__, "--row", name, "--seconds", str(args.seconds),
                              "--game", args.game], capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        results[name] = json.loads(lines[-1]) if lines else {"skipped": out.stderr.strip().splitlines()[-1:]}
    raw = results["raw env (1 env, random actions)"]
    raw_fps = raw["frames"] / raw["seconds"]
    tac = results["torch-ac PPO (16 procs, rl-starter-files model)"]
    tac_fps = tac["frames"] / tac["seconds"] if "frames" in tac else None
    print(f"game: {args.game}; about {args.seconds:.0f} s per row; 2 torch threads\n")
    print("| row | frames/s | x raw env | x torch-ac | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name, result in results.items():
        if "frames" not in result:
            print(f"| {name} | skipped: {result.get('skipped')} | | | |")
            continue
        fps = result["frames"] / result["seconds"]
        vs_tac = f"{fps / tac_fps:.2f}" if tac_fps else "n/a"
        print(f"| {name} | {fps:,.0f} | {fps / raw_fps:.3f} | {vs_tac} | {result['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
