"""Throughput of ``instructed-rl make-demos``: demos/s and steps/s per game, with 1 and 2 workers.

Each (game, workers) case runs ``generate_demos`` in its own subprocess into a fresh temporary
directory, so the peak RSS columns (``resource.getrusage``) belong to that case alone: the main
process, and the largest worker process (W > 1). Wall time covers the whole run, worker start-up
and shard writes included. Four shards per case, so two workers have work to share. Prints a
markdown table.

Run::

    .venv/bin/python benchmarks/bench_demos.py                 # 200 episodes per local game, 40 for GoToSeq
    .venv/bin/python benchmarks/bench_demos.py --scale 0.5     # half as many
    .venv/bin/python benchmarks/bench_demos.py --games GoToRoom --scale 10   # where 2 workers start to pay
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

# (game, split, episodes): GoToSeq is evaluation-only, so it has no train split.
CASES = (("GoToRoom", "train", 200), ("PickupRoom", "train", 200), ("SkillRoom", "train", 200), ("GoToSeq", "test", 40))
WORKERS = (1, 2)


def measure(game: str, split: str, episodes: int, workers: int) -> dict:
    from instructed_rl.demos import DemosConfig, generate_demos

    with tempfile.TemporaryDirectory() as out:
        config = DemosConfig(game=game, split=split, episodes=episodes, workers=workers, out=str(Path(out) / "demos"),
                             shard_size=max(1, -(-episodes // 4)), progress=False)
        summary = generate_demos(config)
    return {
        "game": game, "split": split, "workers": workers, "episodes": episodes, "demos": summary.done,
        "failed": summary.failed, "steps": summary.steps, "seconds": summary.seconds,
        "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 if workers > 1 else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case's episode count")
    parser.add_argument("--games", nargs="*", default=None, help="only these games (default: all four)")
    parser.add_argument("--case", nargs=4, metavar=("GAME", "SPLIT", "EPISODES", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        game, split, episodes, workers = args.case
        print(json.dumps(measure(game, split, int(episodes), int(workers))))
        return
    rows = []
    for game, split, episodes in CASES:
        if args.games and game not in args.games:
            continue
        for workers in WORKERS:
            n = max(4, round(episodes * args.scale))
            result = subprocess.run([sys.executable, __file__, "--case", game, split, str(n), str(workers)],
                                    capture_output=True, text=True, check=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print("| game (split) | workers | episodes | demos | bot failures | steps | s | demos/s | steps/s "
          "| peak RSS main MB | peak RSS worker MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        worker = "-" if r["rss_worker_mb"] is None else f"{r['rss_worker_mb']:.0f}"
        print(f"| {r['game']} ({r['split']}) | {r['workers']} | {r['episodes']} | {r['demos']} | {r['failed']} "
              f"| {r['steps']} | {r['seconds']:.2f} | {r['demos'] / r['seconds']:.1f} | {r['steps'] / r['seconds']:.0f} "
              f"| {r['rss_main_mb']:.0f} | {worker} |")


if __name__ == "__main__":
    main()
