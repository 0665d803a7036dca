"""Learning without a teacher: PPO from scratch with and without hindsight relabelling.

    python benchmarks/bench_hindsight.py                                   # PickupLoc and PutNextLocal, up to 2M frames
    python benchmarks/bench_hindsight.py --games BabyAI-PickupLoc-v0 --frames 500000

For each game, two runs of ``configs/hindsight.yaml`` from the same seed: ``relabelled``
(``hindsight: true``) and ``plain`` (``hindsight: false``, plain PPO on the level's sparse
reward). No bot takes part in either. Both are ordinary resumable training runs under ``--out``:
the benchmark grows them in chunks of ``--chunk`` frames (a resumed run retraces an
uninterrupted one), so it can stop anywhere and continue later. The relabelled run stops once
training's greedy check reaches ``--target``; the plain run is then trained to the same frames
(a plain run already past them is left as it is).
Success is training's own greedy check (test split, ``eval_episodes`` fresh worlds at each
check); the table and the PNG put both runs side by side per game.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "hindsight.yaml"
# Plain PPO: the same config without relabelling, and so without the losses on relabelled episodes.
CONDITIONS = {"relabelled": ["--hindsight", "true"], "plain": ["--hindsight", "false", "--grounding-coef", "0"]}


def checks(run: Path) -> list[tuple[int, float]]:
    """(frames, greedy success) of each of training's checks in ``run``."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(row["frames"], row["eval/mean"]) for row in rows if "eval/mean" in row]


def frames_done(run: Path) -> int:
    state = run / "checkpoint" / "state.json"
    return json.loads(state.read_text())["frames"] if state.exists() else 0


def grow(run: Path, game: str, condition: list[str], frames: int, args) -> None:
    """Train ``run`` (resuming it) up to ``frames``."""
    command = [sys.executable, "-m", "instructed_rl.cli", "train", "--config", str(CONFIG), "--out", str(run),
               "--games", game, *condition, "--frames", str(frames), "--seed", str(args.seed),
               "--eval-every", str(args.eval_every), "--eval-episodes", str(args.eval_episodes)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"training {run} failed (exit {os.waitstatus_to_exitcode(status)}); its error is above")
    peak = run / "peak_rss_mb.json"  # the learner's own peak (the rollout process is another ~0.4 GB)
    previous = json.loads(peak.read_text()) if peak.exists() else 0
    peak.write_text(json.dumps(max(previous, round(usage.ru_maxrss / 1024))))


def first_reaching(points: list[tuple[int, float]], target: float) -> int | None:
    return next((frames for frames, success in points if success >= target), None)


def run_game(game: str, args) -> dict:
    runs = {name: args.out / game / name for name in CONDITIONS}
    relabelled = runs["relabelled"]
    while (not args.as_they_are and first_reaching(checks(relabelled), args.target) is None
           and frames_done(relabelled) < args.frames):
        grow(relabelled, game, CONDITIONS["relabelled"], min(args.frames, frames_done(relabelled) + args.chunk), args)
        print(f"{game} relabelled: {frames_done(relabelled):,} frames, checks {checks(relabelled)[-1:]}", flush=True)
    budget = first_reaching(checks(relabelled), args.target) or frames_done(relabelled)
    if not args.as_they_are and frames_done(runs["plain"]) < budget:
        grow(runs["plain"], game, CONDITIONS["plain"], budget, args)
    return {"budget": budget, **{name: checks(run) for name, run in runs.items()},
            "peak_rss": {name: peak_rss(run) for name, run in runs.items()}}


def peak_rss(run: Path) -> str:
    path = run / "peak_rss_mb.json"
    return f"{json.loads(path.read_text()):,} MB" if path.exists() else "not measured"


def table(results: dict, target: float) -> str:
    lines = ["| game | frames | relabelled, greedy | plain PPO, greedy |", "|---|---:|---:|---:|"]
    for game, result in results.items():
        plain = dict(result["plain"])
        for frames, success in result["relabelled"]:
            if frames > result["budget"]:
                break
            other = plain.get(frames)
            lines.append(f"| {game} | {frames:,} | {100 * success:.0f}% | "
                         f"{'' if other is None else f'{100 * other:.0f}%'} |")
        reached = first_reaching(result["relabelled"], target)
        lines.append(f"| {game}: relabelled first at {100 * target:.0f}% | "
                     f"{'not within the budget' if reached is None else f'{reached:,}'} | | |")
        lines.append(f"| {game}: learner's peak RSS | | {result['peak_rss']['relabelled']} | "
                     f"{result['peak_rss']['plain']} |")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, (game, result) in zip(axes[0], results.items()):
        for name in CONDITIONS:
            points = result[name]
            if points:
                ax.plot([f for f, _ in points], [100 * s for _, s in points], marker=".", label=name)
        ax.set_title(game)
        ax.set_xlabel("frames")
        ax.set_ylabel("greedy success %")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=["BabyAI-PickupLoc-v0", "BabyAI-PutNextLocal-v0"])
    parser.add_argument("--frames", type=int, default=2_000_000, help="most frames per run")
    parser.add_argument("--chunk", type=int, default=102_400, help="frames a run grows by between looks")
    parser.add_argument("--target", type=float, default=0.9, help="greedy success the relabelled run stops at")
    parser.add_argument("--eval-every", type=int, default=25, help="iterations between greedy checks")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "hindsight", help="the runs")
    parser.add_argument("--as-they-are", action="store_true", help="train nothing: report on the runs under --out "
                                                                  "as far as they got")
    parser.add_argument("--report", type=Path, default=None, help="where report.md, curves.png and checks.json go "
                                                                  "(default: --out)")
    args = parser.parse_args()
    results = {game: run_game(game, args) for game in args.games}
    text = table(results, args.target)
    print(text)
    report = args.report or args.out
    report.mkdir(parents=True, exist_ok=True)
    (report / "report.md").write_text(
        "# PPO from scratch on BabyAI levels, with and without hindsight relabelling\n\n"
        f"`python benchmarks/bench_hindsight.py {' '.join(sys.argv[1:])}`: `configs/hindsight.yaml`, seed "
        f"{args.seed}, no bot anywhere. Success is training's own greedy check on {args.eval_episodes} fresh test "
        f"worlds every {args.eval_every} iterations; the relabelled run stops once a check reaches "
        f"{100 * args.target:.0f}%, the plain run is trained to the same frames. Curves: curves.png; "
        "every check: checks.json.\n\n" + text + "\n")
    (report / "checks.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, report / "curves.png")
    print(f"curves: {report / 'curves.png'}")


if __name__ == "__main__":
    main()
