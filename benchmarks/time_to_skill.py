"""Time to a skill: wall-clock from nothing to a greedy success target, with the real trainer.

    python benchmarks/time_to_skill.py                                   # configs/default.yaml, SkillRoom, 95%
    python benchmarks/time_to_skill.py --config configs/default.yaml --set updates_per_iteration=4
    python benchmarks/time_to_skill.py --game SkillRoom --target 0.95 --episodes 200 --max-minutes 30

``instructed-rl train`` runs in a subprocess with a checkpoint every ``--every`` iterations.
At each new checkpoint the trainer is paused (SIGSTOP), the checkpoint's agent plays
``--episodes`` greedy episodes of ``--game`` (test split, fresh seeds), and the trainer goes on
(SIGCONT); the paused time is not counted. The config's own frame budget (and so its learning
rate and DAgger schedules) is kept. The first checkpoint at or above ``--target`` ends the run (Ctrl-C to the trainer: it saves and exits) and the table gives the trainer's own wall
time to it, its frames, and the curve. A run that never gets there says so at ``--max-minutes``.
Use 2 quiet cores and say whether they were quiet; the trainer's peak memory is in the table.

configs/default.yaml as it is (a 32-channel trunk), 2 quiet cores, 2026-12-06 (``[--set seed=1]
--every 25 --episodes 200 --max-minutes 12``): 95% reached at 3.64 min (132,149 frames, 96.5%) and
with seed 1 at 6.29 min (250,460 frames, 96.0%); trainer peak RSS 2.0 and 2.9 GB. With
``--set agent_actions=greedy`` too: 3.45 min (130,065 frames) and 4.81 min (174,450 frames).

With 64 channels (``--set 'agent={policy: {channels: 64}}'``, the default curriculum's stage 1),
measured on 2 idle cores, 2026-12-02 (``--set agent_actions=greedy --every 25 --episodes 200
--max-minutes 35``): greedy SkillRoom 15.5% at 2.1 min (12k frames), 35.5% at 8.6 min, 72.5%
at 21.2 min (108k), 91.0% at 24.6 min (122k), 94.0% at 28.4 min (136k), then 88.0 and 91.0%
to 35.6 min (165k frames): 95% not reached; trainer peak RSS 1,963 MB.

Measured on 2 quiet cores, 2026-12-03 (bf16 convolutions and the fused recurrence in learning
steps, training's evaluation in lockstep; ``--set agent_actions=greedy --every 25 --episodes 200``):
95% reached at 8.49 min (156,637 frames, 96.0%), and with ``--set seed=1`` at 5.41 min (117,079
frames, 96.5%); trainer peak RSS 2.7 and 2.3 GB.

Later measurements: docs/history.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkpoint_state(run: Path) -> dict | None:
    try:
        return json.loads((run / "checkpoint" / "state.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def greedy_success(agent_dir: Path, game: str, corpus: str, episodes: int, seed: int) -> float:
    from instructed_rl.model.agent import Agent
    from instructed_rl.train.runs import evaluate

    agent = Agent.from_pretrained(agent_dir).eval()
    return evaluate(agent, [game], corpus=corpus, episodes=episodes, seed=seed)[f"eval/{game}"]


def wait_for_quiet(load: float, seconds: float) -> None:
    """Start only once the 1-minute load is below ``load`` (up to ``seconds``): the trainer picks
    its torch threads from the free cores it sees at start, so a run started right after other
    work would train on one thread and time the wrong thing."""
    started = time.monotonic()
    while os.getloadavg()[0] >= load and time.monotonic() - started < seconds:
        print(f"waiting for a quiet machine: load {os.getloadavg()[0]:.2f} (starting below {load})", flush=True)
        time.sleep(15)
    if os.getloadavg()[0] >= load:
        print(f"warning: the load is still {os.getloadavg()[0]:.2f}; the trainer may take fewer threads and "
              "the time is not a quiet machine's", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override passed to train as --KEY VALUE (repeatable)")
    parser.add_argument("--game", default="SkillRoom")
    parser.add_argument("--corpus", default=None, help="the corpus to judge in (default: the agent's)")
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--episodes", type=int, default=200, help="greedy episodes per check")
    parser.add_argument("--every", type=int, default=10, help="iterations between checks")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="training minutes before giving up")
    parser.add_argument("--out", default=None, help="run directory (default: a temporary one)")
    parser.add_argument("--quiet-load", type=float, default=0.45, help="start once the 1-minute load is below this")
    parser.add_argument("--quiet-wait", type=float, default=300.0, help="seconds to wait for that before starting anyway")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(2)
    wait_for_quiet(args.quiet_load, args.quiet_wait)
    run = Path(args.out or tempfile.mkdtemp(prefix="time_to_skill-"))
    overrides = []
    for item in args.set:
        key, _, value = item.partition("=")
        overrides += [f"--{key.replace('_', '-')}", value]
    command = [sys.executable, "-m", "instructed_rl.cli", "train", "--config", args.config, "--out", str(run),
               "--checkpoint-every", str(args.every), "--eval-every", "0", *overrides]
    log = open(run.parent / f"{run.name}.log", "w") if args.out else subprocess.DEVNULL
    trainer = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    curve, seen, reached = [], -1, None
    paused = 0.0  # seconds the trainer stood still while we evaluated: its own clock kept running
    try:
        while trainer.poll() is None:
            time.sleep(2)
            state = checkpoint_state(run)
            if state is None or state["iteration"] == seen:
                continue
            os.killpg(trainer.pid, signal.SIGSTOP)
            stopped = time.perf_counter()
            try:
                state = checkpoint_state(run)
                seen = state["iteration"]
                agent_dir = run / "checkpoint" / "agent"
                corpus = args.corpus or json.loads((agent_dir / "config.json").read_text())["corpus"]
                success = greedy_success(agent_dir, args.game, corpus, args.episodes, seed=5_000_000 + 1000 * seen)
            finally:
                os.killpg(trainer.pid, signal.SIGCONT)
            minutes = (state["wall_seconds"] - paused) / 60
            paused += time.perf_counter() - stopped
            curve.append((state["iteration"], state["frames"], minutes, success))
            print(f"iteration {state['iteration']:5d}  {state['frames']:9,d} frames  {minutes:6.2f} min  "
                  f"greedy {args.game} {100 * success:5.1f}%", flush=True)
            if success >= args.target:
                reached = curve[-1]
                break
            if minutes >= args.max_minutes:
                break
    finally:
        if trainer.poll() is None:
            os.killpg(trainer.pid, signal.SIGINT)
            try:
                trainer.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(trainer.pid, signal.SIGKILL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print()
    print(f"config {args.config} {' '.join(args.set)}; greedy {args.game}, {args.episodes} episodes per check")
    print("| result | minutes of training | frames | greedy success | trainer peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    if reached:
        print(f"| reached {100 * args.target:.0f}% | {reached[2]:.2f} | {reached[1]:,} | {100 * reached[3]:.1f}% | {peak:.0f} |")
    else:
        last = curve[-1] if curve else (0, 0, 0.0, 0.0)
        print(f"| not reached | {last[2]:.2f} | {last[1]:,} | {100 * last[3]:.1f}% | {peak:.0f} |")


if __name__ == "__main__":
    main()
