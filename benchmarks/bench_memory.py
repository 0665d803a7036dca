"""Peak memory of training, with and without giving freed memory back to the system.

    python benchmarks/bench_memory.py                      # every row, from data/agents/default
    python benchmarks/bench_memory.py --only warm-up       # rows whose name holds the text
    python benchmarks/bench_memory.py --frames 20000 --warmup-steps 200

Trainers call ``malloc_trim`` once an iteration (``instructed_rl.train.memory``). Each row runs
twice in a subprocess of its own: as the trainer runs, and with the trainer's process keeping
what it frees (its ``release_freed_memory`` does nothing; an overlapped run's collection process
still trims). The rows are the parts of the default curriculum that hold the most: a reading
warm-up (``configs/default_reading.yaml``), an overlapped maze stage
(``configs/generalist_map_long.yaml``), and the two as a two-stage curriculum in one process.
Peak memory is each process's own high-water mark (``VmHWM``), read while it runs: the trainer's,
and its largest child's (the collection process). Linux only. Memory does not depend on a quiet
machine; the seconds column does.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNNER = """
import runpy, sys
if sys.argv[1] == "keep":
    import instructed_rl.train.memory as memory
    memory._malloc_trim = lambda: None  # the trainer's process keeps what it frees
sys.argv = ["instructed-rl", *sys.argv[2:]]
runpy.run_module("instructed_rl.cli", run_name="__main__")
"""


def high_water_mb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return int(status.split("VmHWM:")[1].split()[0]) // 1024 if "VmHWM:" in status else 0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_row(mode: str, args: list[str]) -> dict:
    """``instructed-rl ARGS`` in a subprocess; its peak and its largest child's, in MB."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", RUNNER, mode, *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    trainer, child = 0, 0
    while process.poll() is None:
        trainer = max(trainer, high_water_mb(process.pid))
        child = max([child, *(high_water_mb(c) for c in children(process.pid))])
        time.sleep(0.5)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{process.stderr.read()[-2000:]}")
    return {"trainer_mb": trainer, "child_mb": child, "seconds": time.perf_counter() - started}


def rows(agent: str, frames: int, warmup_steps: int, tmp: Path) -> dict[str, list[str]]:
    """Row name -> ``instructed-rl`` arguments (``agent``: an absolute path, as the rows run from the checkout)."""
    warm_up = ["--reading-warmup", str(warmup_steps)]
    maze = ["--frames", str(frames), "--overlap", "true", "--eval-every", "0", "--checkpoint-every", "1000"]
    # The curriculum's first stage starts from the agent: a copy of its file that says so.
    reading = yaml.safe_load((ROOT / "configs/default_reading.yaml").read_text())
    first = tmp / "default_reading.yaml"
    first.write_text(yaml.safe_dump({**reading, "init_agent": agent, "reading_warmup": warmup_steps}))
    curriculum = tmp / "curriculum.yaml"
    curriculum.write_text(yaml.safe_dump({"curriculum": [
        str(first),
        {"config": str(ROOT / "configs/generalist_map_long.yaml"), "frames": frames, "overlap": True,
         "eval_every": 0, "checkpoint_every": 1000},
    ]}))
    return {
        f"reading warm-up, {warmup_steps} steps (configs/default_reading.yaml)":
            ["train", "--config", "configs/default_reading.yaml", "--init-agent", agent, *warm_up],
        f"maze stage overlapped, {frames:,} frames (configs/generalist_map_long.yaml)":
            ["train", "--config", "configs/generalist_map_long.yaml", "--init-agent", agent, *maze],
        "the two as a two-stage curriculum, one process":
            ["train", "--config", str(curriculum)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default="data/agents/default", help="the agent each row starts from")
    parser.add_argument("--frames", type=int, default=30_000, help="frames of the maze stage")
    parser.add_argument("--warmup-steps", type=int, default=300, help="steps of the reading warm-up")
    parser.add_argument("--only", default="", help="run only rows whose name holds this text")
    args = parser.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("bench_memory reads /proc: run it on Linux")
    print("| row | trainer's peak MB, trims | ..., keeps what it frees | largest child's MB, trims / keeps "
          "| seconds, trims / keeps |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        agent = str(Path(args.agent).resolve())
        for index, (name, command) in enumerate(rows(agent, args.frames, args.warmup_steps, Path(tmp)).items()):
            if args.only not in name:
                continue
            trims, keeps = (run_row(mode, [*command, "--out", str(Path(tmp) / f"{index}-{mode}")])
                            for mode in ("trims", "keep"))
            print(f"| {name} | {trims['trainer_mb']:,} | {keeps['trainer_mb']:,} | "
                  f"{trims['child_mb']:,} / {keeps['child_mb']:,} | {trims['seconds']:.0f} / {keeps['seconds']:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
