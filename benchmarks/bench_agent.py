"""Cost of the agent per encoder: step-by-step ``act`` latency and a batched train step.

Each encoder runs in its own subprocess so the peak RSS column (``resource.getrusage``)
belongs to that encoder alone. Observations come from a real BabyAI-GoToLocal-v0 env and
are collected before timing, so env cost is excluded. Prints a markdown table.

Run::

    .venv/bin/python benchmarks/bench_agent.py            # all encoders, 2 threads
    .venv/bin/python benchmarks/bench_agent.py --threads 1 --batch 32
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

ENCODERS = ("transformer", "gru", "pretrained")
COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
OBJECTS = ("ball", "box", "key")


def _instructions() -> list[str]:
    return [f"{verb} the {c} {o}" for verb in ("go to", "pick up") for c in COLORS for o in OBJECTS]


def _time_ms(fn: Callable[[], object], *, repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn`` in ms (median: the machine is shared, outliers are other processes)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(samples)


def measure(kind: str, *, threads: int, batch: int, steps: int) -> dict[str, float | str]:
    """All numbers for one encoder, measured in this process."""
    import gymnasium
    import minigrid  # noqa: F401  (registers BabyAI envs)
    import numpy as np
    import torch

    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.model.text import TextConfig

    torch.set_num_threads(threads)
    texts = _instructions()
    start = time.perf_counter()
    agent = Agent.create(AgentConfig(text=TextConfig(encoder=kind)), texts=texts + ["a room with objects"], seed=0)
    build_s = time.perf_counter() - start
    trainable = sum(t.numel() for t in agent.saved_state_dict().values())

    env = gymnasium.make("BabyAI-GoToLocal-v0")
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    observations = []
    for _ in range(max(steps, batch)):
        observations.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(0, 3)))
        if terminated or truncated:
            obs, _ = env.reset()

    # -- step-by-step acting (eval / play): one env, memory carried, instruction encoded at reset --
    agent.reset(observations[0]["mission"], "a room with objects", greedy=True)
    cursor = iter(range(10**9))
    act_ms = _time_ms(lambda: agent.act(observations[next(cursor) % steps]), repeats=steps)
    reset_ms = _time_ms(lambda: agent.reset("go to the red ball", "a room with objects"), repeats=20)

    # -- batched step: B envs, one step with memory (inference and train) --
    image = torch.as_tensor(np.stack([o["image"] for o in observations[:batch]]), dtype=torch.long)
    direction = torch.as_tensor([o["direction"] for o in observations[:batch]], dtype=torch.long)
    missions = [texts[i % len(texts)] for i in range(batch)]
    memory = agent.initial_memory(batch) + 0.1
    actions = torch.randint(0, 7, (batch,), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam([p for p in agent.parameters() if p.requires_grad], lr=1e-4)

    def infer() -> None:
        with torch.inference_mode():
            agent(image, direction, agent.encode_goal(missions), memory)

    def train_step() -> None:
        out = agent(image, direction, agent.encode_goal(missions), memory)
        loss = (
            torch.nn.functional.cross_entropy(out.logits, actions)
            + out.value.pow(2).mean()
            + torch.nn.functional.binary_cross_entropy_with_logits(out.done_logit, torch.zeros(batch))
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    infer_ms = _time_ms(infer, repeats=20)
    train_ms = _time_ms(train_step, repeats=20)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB
    env.close()
    return {
        "encoder": kind,
        "trainable_params": trainable,
        "build_s": build_s,
        "act_ms": act_ms,
        "reset_ms": reset_ms,
        "infer_ms": infer_ms,
        "train_ms": train_ms,
        "peak_rss_mb": peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the reference machine has 2 cores)")
    parser.add_argument("--batch", type=int, default=64, help="envs per batched step")
    parser.add_argument("--steps", type=int, default=200, help="act() calls timed per encoder")
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=ENCODERS)
    parser.add_argument("--only", choices=ENCODERS, help=argparse.SUPPRESS)  # child mode: one encoder, JSON out
    args = parser.parse_args()

    if args.only:
        print(json.dumps(measure(args.only, threads=args.threads, batch=args.batch, steps=args.steps)))
        return

    rows = []
    for kind in args.encoders:
        child = [sys.executable, __file__, "--only", kind, "--threads", str(args.threads),
                 "--batch", str(args.batch), "--steps", str(args.steps)]
        done = subprocess.run(child, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{kind}: failed ({last})", file=sys.stderr)
            continue
        rows.append(json.loads(lines[-1]))

    b = args.batch
    print(f"torch threads={args.threads}, batch B={b}, T=1 step with memory; medians; env cost excluded\n")
    print(f"| encoder | trainable params | act ms/step | reset ms | B={b} inference ms | B={b} train step ms "
          "| peak RSS MB | build s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['encoder']} | {r['trainable_params'] / 1e6:.2f} M | {r['act_ms']:.2f} | {r['reset_ms']:.2f} "
            f"| {r['infer_ms']:.1f} | {r['train_ms']:.1f} | {r['peak_rss_mb']:.0f} | {r['build_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
