"""Training speed, side by side in one run: raw env step rate, our trainers, torch-ac's PPO.

    python benchmarks/bench_train.py                 # all rows (needs `pip install torch-ac` for its row)
    python benchmarks/bench_train.py --seconds 60    # longer measurement per row

Each row runs in its own subprocess (so its peak memory is its own) for about ``--seconds``
of work after warm-up, and reports frames/s; our trainers' rates leave out their first
iteration (spawning the rollout process, the first rollout that nothing overlaps), as torch-ac's
row leaves out its first. Ratios are against torch-ac PPO (the trainer behind rl-starter-files,
16 processes, its ACModel with instruction GRU + LSTM memory), against the raw single-env
random-action step rate of minigrid's env for the game, and against our game env over the
same level (which encodes the agent's view directly, bit-identical to minigrid's, and so steps
faster than minigrid's own env), all measured in this run. This machine is noisy: compare
ratios from one run, not numbers across runs.

Measured on 2 CPU cores, 2026-11-26 (``--seconds 30 --skip imitation default.yaml``; the raw
env rates drift by a factor of two from run to run, ratios much less):

| row | frames/s | x raw env | x our game env | x torch-ac | peak RSS MB |
|---|---:|---:|---:|---:|---:|
| raw env (1 env, random actions) | 6,100 | 1.000 | 0.593 | 6.70 | 243 |
| raw env, our game wrapper (1 env, random actions) | 10,288 | 1.686 | 1.000 | 11.30 | 246 |
| torch-ac PPO (16 procs, rl-starter-files model) | 911 | 0.149 | 0.089 | 1.00 | 365 |
| ours: PPO, network of torch-ac's cost, envs in this process | 2,064 | 0.338 | 0.201 | 2.27 | 427 |
| ours: PPO, network of torch-ac's cost, overlapped rollouts | 3,195 | 0.524 | 0.311 | 3.51 | 430 |

The shipped network's rows, one run on 2 quiet cores, 2026-12-03 (``--seconds 30 --skip cost``,
bf16 convolutions and the fused recurrence in learning steps): torch-ac PPO 1,350 frames/s;
ours, PPO with the 64-channel network 377 (0.28x, 826 MB); imitation 201 (0.15x, 1,018 MB).

Runs vary by about 30% on a shared machine; earlier measurements are in docs/history.md.

One run, 2026-12-06 (``--seconds 30 --skip "torch-ac's cost" "last stage"``), each row started on
a quiet machine; configs/default.yaml's trunk is 32 channels wide; peak RSS is this process plus
its largest child (an upper bound). torch-ac's rate moves between runs more than ours (1,365
frames/s here, 2,233 in a run earlier that day, when the two 64-channel imitation rows gave 284
and 431, 0.13x and 0.19x):

| row | frames/s | x torch-ac | peak RSS MB | threads |
|---|---:|---:|---:|---:|
| raw env, our game wrapper (1 env, random actions) | 15,156 | 11.10 | 251 | 2 |
| torch-ac PPO (16 procs, rl-starter-files model) | 1,365 | 1.00 | 371 | 2 |
| ours: PPO, configs/default.yaml network | 1,191 | 0.87 | 1,481 | 2 |
| ours: imitation (bot-labelled), configs/default.yaml | 578 | 0.42 | 1,744 | 2 |
| ours: imitation, configs/default.yaml, overlapped collection | 786 | 0.58 | 1,614 | 2 |
| ours: imitation, configs/default.yaml with 64 channels | 392 | 0.29 | 1,823 | 2 |
| ours: imitation, configs/default.yaml with 64 channels, overlapped | 446 | 0.33 | 1,672 | 2 |

Again later that day (``--skip "torch-ac's cost" "last stage" "64 channels"``, quiet machine), after
the learning step stopped paying for padded steps (block sizes of the view attention, heads and
memory on the real steps; the same learning steps 1.13-1.16x cheaper in one room, 1.37x in mazes):
torch-ac PPO 1,813 frames/s; PPO with configs/default.yaml's network 961 (0.53x); imitation 465
(0.26x), overlapped 758 (0.42x). The imitation rows did not move against the code before, run
alternately (532 / 521 and 698 / 714 frames/s): on GoToLocal's 5-step bot episodes, collection
(MiniLM on each new description above all) bounds them, not learning.

An earlier run of all rows: the shipped agent's network under PPO 368 frames/s (0.39x
torch-ac), imitation with bot labels 198 frames/s (0.21x): that network's 64-channel FiLM
trunk at full 7x7 resolution costs ~20x torch-ac's convs per frame.
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
    """This process's peak resident memory plus its largest finished child's (an overlapped
    trainer's collection process; one of torch-ac's env processes): an upper bound, since a child
    forked from this process counts the pages it shares with it."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


def _random_steps(env, seconds: float) -> dict:
    """Step ``env`` with uniformly random actions for ``seconds``, resetting at episode ends."""
    import numpy as np

    rng = np.random.default_rng(0)
    env.reset(seed=0)
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        _, _, terminated, truncated, _ = env.step(int(rng.integers(7)))
        steps += 1
        if terminated or truncated:
            env.reset()
    return {"frames": steps, "seconds": time.perf_counter() - started}


def row_raw_env(seconds: float, game: str) -> dict:
    """minigrid's own env for the game, as ``gymnasium.make`` gives it."""
    import gymnasium
    import minigrid  # noqa: F401

    return _random_steps(gymnasium.make(game), seconds)


def row_raw_game(seconds: float, game: str) -> dict:
    """Our game env over the same level (phrasing, subtask info, the direct view encoder)."""
    from instructed_rl.games.env import InstructedEnv

    return _random_steps(InstructedEnv(game), seconds)


def _timed_run(values: dict, seconds: float, *, probe_frames: int) -> dict:
    """Train for about ``seconds``: a short probe run measures frames/s, then the timed run, whose
    steady rate (after its first iteration) is the row's."""
    import tempfile
    from pathlib import Path

    from instructed_rl.commands.train import algorithms
    from instructed_rl.config import from_mapping

    cls = algorithms()[values["algorithm"]]
    if values["algorithm"] == "imitation":
        from instructed_rl.train.imitation import train_imitation as train
    else:
        from instructed_rl.train.ppo import train_ppo as train
    quiet = lambda *_: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        train(from_mapping(cls, {**values, "frames": probe_frames}), Path(tmp) / "probe", log=quiet)
        probe = json.loads((Path(tmp) / "probe" / "training_record.json").read_text())
        fps = probe["frames"] / max(1e-9, probe["wall_seconds"])
        train(from_mapping(cls, {**values, "frames": max(probe_frames, int(fps * seconds))}), Path(tmp) / "run", log=quiet)
        return steady_rate(Path(tmp) / "run" / "metrics.jsonl")


def steady_rate(metrics_path) -> dict:
    """Frames and seconds after the first iteration, which is warm-up (a spawned rollout process
    starting, the first rollout that nothing overlaps): torch-ac's row leaves its first out too."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines()]
    first, last = rows[0], rows[-1]
    return {"frames": last["frames"] - first["frames"], "seconds": last["wall_seconds"] - first["wall_seconds"]}


def _default_stage(game: str, *, overlap: bool = False, channels: int | None = None) -> dict:
    """configs/default.yaml on the benchmark's game; ``channels``: its trunk that wide instead
    (64: the default curriculum's stage 1, configs/default_curriculum.yaml)."""
    from instructed_rl.commands.train import load_yaml, overlay

    values = load_yaml("configs/default.yaml")
    if channels is not None:
        values = overlay(values, {"agent": {"policy": {"channels": channels}}})
    values.update(games=[game], eval_every=0, eval_episodes=1, checkpoint_every=10**6, overlap=overlap)
    return values


def row_ours_imitation(seconds: float, game: str) -> dict:
    return _timed_run(_default_stage(game), seconds, probe_frames=3000)


def row_ours_imitation_overlap(seconds: float, game: str) -> dict:
    """Same, the next iteration's episodes collected in a spawned process during the gradient steps."""
    return _timed_run(_default_stage(game, overlap=True), seconds, probe_frames=3000)


def row_ours_imitation_wide(seconds: float, game: str) -> dict:
    return _timed_run(_default_stage(game, channels=64), seconds, probe_frames=3000)


def row_ours_imitation_wide_overlap(seconds: float, game: str) -> dict:
    return _timed_run(_default_stage(game, overlap=True, channels=64), seconds, probe_frames=3000)


# The shipped agent's last stage: its network (the seen map, the distance table, the reader) and its
# recipe (greedy DAgger, loop takeover), continued from data/agents/default on the benchmark's game.
SHIPPED_STAGE = "configs/generalist_planner_direct.yaml"


def _shipped_stage(game: str, overlap: bool) -> dict:
    from instructed_rl.commands.train import load_yaml

    values = load_yaml(SHIPPED_STAGE)
    values.update(games=[game], init_agent="data/agents/default", eval_every=0, eval_episodes=1,
                  checkpoint_every=10**6, overlap=overlap)
    return values


def row_ours_imitation_shipped(seconds: float, game: str) -> dict:
    return _timed_run(_shipped_stage(game, False), seconds, probe_frames=3000)


def row_ours_imitation_shipped_overlap(seconds: float, game: str) -> dict:
    return _timed_run(_shipped_stage(game, True), seconds, probe_frames=3000)


# torch-ac's hyper-parameters (rl-starter-files): 16 envs x 128 steps, recurrence 4, 4 epochs, batch 256.
PPO_AS_TORCH_AC = {"algorithm": "ppo", "corpus": "babyai", "envs": 16, "steps": 128, "recurrence": 4, "epochs": 4,
                   "minibatches": 8, "lr": 0.001, "eval_every": 0, "eval_episodes": 1, "checkpoint_every": 10**6}


# torch-ac's model costs about 0.4M multiply-adds per frame: tiny 2x2 convs pooled down to 1x1
# (~23k), an LSTM cell (~33k), and its instruction GRU re-run on every frame (~0.3M). Ours at
# that budget: the conv stem alone (16 -> 32 channels, 3x3 on 7x7: ~0.23M), no FiLM blocks (the
# goal reaches the heads, as in torch-ac's model), the instruction encoded once per episode,
# no environment description (torch-ac's model reads none).
SMALL_AGENT = {"text": {"dim": 64}, "policy": {"embed_dim": 16, "channels": 32, "film_layers": 0,
                                               "goal_attention": False, "use_description": False,
                                               "memory_dim": 64, "head_dim": 64}}


def row_ours_ppo_small(seconds: float, game: str) -> dict:
    """Our PPO, network of torch-ac's cost per frame, envs stepped in this process."""
    return _timed_run({**PPO_AS_TORCH_AC, "games": [game], "encoder": "gru", "agent": SMALL_AGENT}, seconds,
                      probe_frames=4096)


def row_ours_ppo_small_overlap(seconds: float, game: str) -> dict:
    """Same, with the next rollout collected in another process during the update (``overlap: true``)."""
    return _timed_run({**PPO_AS_TORCH_AC, "games": [game], "encoder": "gru", "agent": SMALL_AGENT, "overlap": True},
                      seconds, probe_frames=4096)


def row_ours_ppo_default(seconds: float, game: str) -> dict:
    """Our PPO with configs/default.yaml's network."""
    from instructed_rl.commands.train import load_yaml

    default = load_yaml("configs/default.yaml")
    return _timed_run({**PPO_AS_TORCH_AC, "games": [game], "encoder": default["encoder"], "agent": default["agent"]},
                      seconds, probe_frames=4096)


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
    "raw env, our game wrapper (1 env, random actions)": row_raw_game,
    "torch-ac PPO (16 procs, rl-starter-files model)": row_torch_ac,
    "ours: PPO, network of torch-ac's cost, envs in this process": row_ours_ppo_small,
    "ours: PPO, network of torch-ac's cost, overlapped rollouts": row_ours_ppo_small_overlap,
    "ours: PPO, configs/default.yaml network": row_ours_ppo_default,
    "ours: imitation (bot-labelled), configs/default.yaml": row_ours_imitation,
    "ours: imitation, configs/default.yaml, overlapped collection": row_ours_imitation_overlap,
    "ours: imitation, configs/default.yaml with 64 channels (the default curriculum's stage 1)": row_ours_imitation_wide,
    "ours: imitation, configs/default.yaml with 64 channels, overlapped": row_ours_imitation_wide_overlap,
    "ours: imitation, the shipped agent's network and last stage": row_ours_imitation_shipped,
    "ours: imitation, the shipped agent's network and last stage, overlapped": row_ours_imitation_shipped_overlap,
}


def wait_for_quiet(load: float = 0.3, seconds: float = 240.0) -> float:
    """Wait (up to ``seconds``) until the 1-minute load is below ``load``; return the load then.
    Our trainers take fewer torch threads than asked under load (``train.runs.choose_threads``),
    so a row started right after the last one would time a one-thread trainer."""
    import os

    started = time.monotonic()
    while os.getloadavg()[0] >= load and time.monotonic() - started < seconds:
        time.sleep(5)
    return os.getloadavg()[0]


def rate(result: dict) -> float | None:
    """A row's frames/s, or None for a skipped row."""
    return result["frames"] / result["seconds"] if "frames" in result else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--game", default=GAME)
    parser.add_argument("--skip", nargs="*", default=[], help="leave out rows whose name contains any of these words")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:  # child process: one row, JSON on stdout
        import torch

        from instructed_rl.train.runs import choose_threads

        torch.set_num_threads(2)
        threads = choose_threads(2)  # what a trainer started now gets
        result = ROWS[args.row](args.seconds, args.game)
        result["threads"] = threads
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    results = {}
    for name in ROWS:
        if any(word in name for word in args.skip) and "raw env" not in name and "torch-ac PPO" not in name:
            continue  # the reference rows always run: every ratio is against them, in this run
        wait_for_quiet()
        out = subprocess.run([sys.executable, __file__, "--row", name, "--seconds", str(args.seconds),
                              "--game", args.game], capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        results[name] = json.loads(lines[-1]) if lines else {"skipped": out.stderr.strip().splitlines()[-1:]}
    raw_fps = rate(results["raw env (1 env, random actions)"])
    tac_fps = rate(results["torch-ac PPO (16 procs, rl-starter-files model)"])
    game_fps = rate(results["raw env, our game wrapper (1 env, random actions)"])
    print(f"game: {args.game}; about {args.seconds:.0f} s per row, each started on a quiet machine; torch threads "
          "as our trainers took them (overlapped: one in each process)\n")
    print("| row | frames/s | x raw env | x our game env | x torch-ac | peak RSS MB | threads |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        fps = rate(result)
        if fps is None:
            print(f"| {name} | skipped: {result.get('skipped')} | | | | | |")
            continue
        vs_tac = f"{fps / tac_fps:.2f}" if tac_fps else "n/a"
        vs_game = f"{fps / game_fps:.3f}" if game_fps else "n/a"
        print(f"| {name} | {fps:,.0f} | {fps / raw_fps:.3f} | {vs_game} | {vs_tac} | {result['peak_rss_mb']:.0f} "
              f"| {result.get('threads', '')} |")


if __name__ == "__main__":
    main()
