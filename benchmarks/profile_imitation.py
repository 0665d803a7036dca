"""Where a frame of imitation goes: the shipped network's trainer, taken apart.

    python benchmarks/profile_imitation.py                       # configs/default.yaml, 4 iterations
    python benchmarks/profile_imitation.py --config configs/default.yaml --iterations 6 --threads 2
    python benchmarks/profile_imitation.py --config configs/generalist.yaml --map-memory   # + the seen-map stream

Runs the real pieces of ``train_imitation`` (``collect_episodes`` with the BabyAI bot labelling
every state, then ``updates_per_iteration`` gradient steps of ``imitation_loss``) on a new agent
of the config's network, and times each part by wrapping the methods that do it:

- env steps and resets (our game env: minigrid's level plus the view encoder),
- bot labels (``Bot.next_action``: the BabyAI bot replans),
- text encoding (``Agent.encode_goal`` when acting; the frozen MiniLM backbone and the trainable head),
- the policy's forward when acting (batched over the episodes in flight),
- learning: ``imitation_loss`` (unroll forward) and ``backward``, and the optimizer step,
- what is left of the wall time (Python bookkeeping, episode assembly, overheads).

The first iteration is left out of the table (lazy env creation, first-use costs). Numbers are
per collected frame. This machine is noisy: say whether it was quiet when quoting them.

Measured on 2 quiet CPU cores, 2026-12-03 (``--iterations 4 --threads 2``, a 64-channel trunk, one run
each, side by side): with ``--conv-precision fp32`` 355 frames/s, 2.82 ms a frame, learning 64.8% (backward
41.6%, loss forward 22.6%), text encoding when acting 13.9%, the acting forward 8.6%, bot labels
6.2%, env steps and resets 4.5%; with bf16 convolutions (this CPU has AMX) 440 frames/s, 2.27 ms a
frame, learning 59.7% (backward 0.90 ms, loss forward 0.44 ms a frame). Peak RSS 1.2 GB.

The eleven-stage default's last stage (``--config`` a copy of configs/generalist_planner_blockers.yaml
with ``init_agent: data/agents/default``, ``--iterations 3 --beta 0.1``), 2 quiet cores, 2026-12-06:
483 frames/s, 2.07 ms a frame: learning 0.85 (loss forward 0.35, backward 0.50), the acting forward
0.33, bot labels 0.18, and 0.51 ms outside the timed parts, most of it the planner's distance
table, computed with each view.

2 quiet cores, 2026-12-06 (``--iterations 6 --threads 2``, a 64-channel trunk, one run each, one after
the other):
568 frames/s (1.76 ms a frame, learning 1.16 ms) before the view attention read each goal's
keys once (:mod:`instructed_rl.model.view_attention`), 670 frames/s (1.49 ms, learning 0.91 ms)
after. Collection is then 0.58 ms a frame: env steps and resets 0.11, bot labels 0.13, MiniLM
on each new description 0.16, the acting forward 0.15.

configs/default.yaml (32 channels) with ``games: [BabyAI-GoToLocal-v0]``, ``--iterations 6 --threads 2
--beta 1.0`` (bench_train's game, bot episodes of about 5 steps), 2 quiet cores, 2026-12-06: 512 frames/s,
1.95 ms a frame; collection 1.12 ms (MiniLM on each new description 0.55, env resets 0.21, bot labels
0.13, the acting forward 0.11, env steps 0.08), learning 0.83 ms (loss forward 0.36, backward 0.43).

Side-by-side measurements before and after changes: docs/history.md.
"""

from __future__ import annotations

import argparse
import collections
import functools
import resource
import time

import numpy as np
import torch

TIMERS: dict[str, float] = collections.defaultdict(float)


def timed(owner, name: str, label: str) -> None:
    """Wrap ``owner.name`` so its calls add their wall time to TIMERS[label] (outermost call only)."""
    original = getattr(owner, name)
    depth = {"n": 0}

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if depth["n"]:
            return original(*args, **kwargs)
        depth["n"] += 1
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMERS[label] += time.perf_counter() - start
            depth["n"] -= 1

    setattr(owner, name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--iterations", type=int, default=4, help="timed iterations (after one warm-up iteration)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--conv-precision", choices=("auto", "bf16", "fp32"), default="auto",
                        help="the trainer's conv_precision (auto: bf16 on CPUs with native bf16)")
    parser.add_argument("--text-precision", choices=("auto", "bf16", "fp32"), default="auto",
                        help="the trainer's text_precision (auto: MiniLM in bf16 on CPUs with native bf16)")
    parser.add_argument("--beta", type=float, default=0.5, help="share of bot actions taken (DAgger mix)")
    parser.add_argument("--map-memory", action="store_true",
                        help="give the config's agent the seen-map stream (policy.map_memory) to measure its cost")
    args = parser.parse_args()

    from instructed_rl.acting.bot import Bot
    from instructed_rl.model.agent import Agent
    from instructed_rl.commands.train import algorithms, load_yaml
    from instructed_rl.config import from_mapping
    from instructed_rl.games.env import InstructedEnv
    from instructed_rl.rollout import envs as rollout_envs
    from instructed_rl.rollout.dagger import collect_episodes
    from instructed_rl.train.imitation import imitation_loss
    from instructed_rl.train.optim import make_adam
    from instructed_rl.train import distributed
    from instructed_rl.train.runs import make_agent

    torch.set_num_threads(args.threads)
    data = load_yaml(args.config)
    data.pop("algorithm", None)
    data["conv_precision"] = args.conv_precision
    data["text_precision"] = args.text_precision
    config = from_mapping(algorithms()["imitation"], data, source=args.config)
    agent = make_agent(config, None, distributed.init_distributed(), resumed=False)
    if args.map_memory and not agent.config.policy.map_memory:
        agent = agent.with_policy(map_memory=True)
    parameters = [p for p in agent.parameters() if p.requires_grad]
    optimizer = make_adam(parameters, lr=config.lr)

    timed(InstructedEnv, "step", "env step")
    timed(InstructedEnv, "reset", "env reset")
    timed(Bot, "next_action", "bot label")
    timed(Bot, "__init__", "bot setup")
    timed(rollout_envs, "optimal_moves", "bot action sets")
    timed(Agent, "encode_goal", "text encoding (acting)")
    timed(type(agent.policy), "forward", "policy forward (acting)")

    envs = rollout_envs.EnvVector(games=config.games, corpus=config.corpus, seed=0, first=0, count=config.envs,
                                   workers=config.env_workers, map_memory=agent.config.policy.map_memory,
                                   planner=agent.config.policy.planner)
    buffer: list = []
    totals: dict[str, float] = collections.defaultdict(float)
    frames = wall = 0
    for iteration in range(args.iterations + 1):
        TIMERS.clear()
        rng = np.random.default_rng([0, iteration])
        generator = torch.Generator().manual_seed(iteration)
        started = time.perf_counter()
        agent.eval()
        episodes, stats = collect_episodes(agent, envs, iteration=iteration, episodes=config.episodes_per_iteration,
                                           beta=args.beta, rng=rng, generator=generator,
                                           sample=config.agent_actions == "sampled", action_sets=config.action_sets)
        collected = time.perf_counter()
        acting = dict(TIMERS)  # the acting-side wrappers also fire inside the loss below: keep collection's only
        buffer.extend(episodes)
        agent.train()
        learn = {"loss forward (unroll)": 0.0, "backward": 0.0, "optimizer": 0.0}
        for _ in range(config.updates_per_iteration):
            picks = rng.choice(len(buffer), size=min(config.batch_episodes, len(buffer)), replace=False)
            t0 = time.perf_counter()
            loss, _ = imitation_loss(agent, [buffer[i] for i in sorted(picks)], done_coef=config.done_coef,
                                     reading_coef=config.reading_coef, grounding_coef=config.grounding_coef)
            t1 = time.perf_counter()
            optimizer.zero_grad()
            loss.backward()
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
            optimizer.step()
            t3 = time.perf_counter()
            learn["loss forward (unroll)"] += t1 - t0
            learn["backward"] += t2 - t1
            learn["optimizer"] += t3 - t2
        ended = time.perf_counter()
        if iteration == 0:
            continue  # warm-up: lazy env creation and first-use costs
        for name, seconds in acting.items():
            totals[name] += seconds
        for name, seconds in learn.items():
            totals[name] += seconds
        totals["_collect"] += collected - started
        totals["_learn"] += ended - collected
        frames += stats.frames
        wall += ended - started

    acting_parts = ["env step", "env reset", "bot setup", "bot label", "bot action sets", "text encoding (acting)",
                    "policy forward (acting)"]
    rows = []
    collect_known = 0.0
    for name in acting_parts:
        seconds = totals.get(name, 0.0)
        rows.append((name, seconds))
        collect_known += seconds
    rows.append(("collection: the rest (episode assembly, bookkeeping)", totals["_collect"] - collect_known))
    for name in ("loss forward (unroll)", "backward", "optimizer"):
        rows.append((name, totals[name]))
    rows.append(("learning: the rest (batch assembly)",
                 totals["_learn"] - sum(totals[n] for n in ("loss forward (unroll)", "backward", "optimizer"))))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.config}: {args.iterations} iterations after one warm-up, {frames:,} frames, "
          f"{frames / wall:,.0f} frames/s, {args.threads} torch threads, "
          f"{'bf16' if config.bf16_convolutions else 'fp32'} convolutions when learning, "
          f"{'bf16' if config.bf16_text else 'fp32'} text model, peak RSS {peak:,.0f} MiB\n")
    print("| part | ms per frame | share of wall |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {1000 * seconds / max(1, frames):.3f} | {100 * seconds / wall:.1f}% |")
    print(f"| **total** | {1000 * wall / max(1, frames):.3f} | 100% |")


if __name__ == "__main__":
    main()
