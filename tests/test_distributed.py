"""Data-parallel training: the helpers on two gloo processes, and `instructed-rl train` under torchrun
keeps both ranks' weights identical while only rank 0 writes the run directory."""

from __future__ import annotations

import pytest

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing

from instructed_rl.train.tracking import MetricsLog

pytestmark = pytest.mark.integration  # every test here runs the real thing end to end

GAME = "BabyAI-GoToLocalS5N2-v0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _helpers_on_one_rank(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from instructed_rl.train import distributed

    ctx = distributed.init_distributed()
    everywhere, rank0_only, nowhere = (torch.nn.Parameter(torch.zeros(3)) for _ in range(3))
    everywhere.grad = torch.full((3,), float(rank + 1))
    if rank == 0:
        rank0_only.grad = torch.full((3,), 4.0)
    distributed.average_gradients([everywhere, rank0_only, nowhere], ctx)
    sums = distributed.all_reduce_sum([rank + 1, 0.25], ctx)
    merged = distributed.gather_arrays({"lengths": np.array([rank, rank])}, ctx)
    mine = distributed.rank_arrays(merged if merged is not None else {"rank1.lengths": np.array([1, 1])}, ctx)

    def make():
        from tests.test_ppo import _tiny_agent

        return _tiny_agent()

    agent = distributed.share_agent(make, ctx)
    distributed.broadcast_parameters(agent, ctx)
    result = {
        "everywhere": everywhere.grad.tolist(), "rank0_only": rank0_only.grad.tolist(),
        "nowhere": nowhere.grad is None, "sums": sums, "sum_types": [type(v).__name__ for v in sums],
        "any": distributed.any_rank(rank == 1, ctx), "mine": mine["lengths"].tolist(),
        "merged_keys": sorted(merged) if merged is not None else None,
        "digest": distributed.parameter_digest(agent), "tokenizer": agent.tokenizer.to_bytes().hex()[:64],
        "in_sync": distributed.check_in_sync(agent, ctx),
    }
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    distributed.shutdown(ctx)


def test_helpers_average_gather_and_share_across_two_processes(tmp_path):
    torch.multiprocessing.spawn(_helpers_on_one_rank, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    for result in (rank0, rank1):
        assert result["everywhere"] == [1.5] * 3  # (1 + 2) / 2
        assert result["rank0_only"] == [2.0] * 3  # (4 + 0) / 2
        assert result["nowhere"]  # no rank had a gradient: Adam must leave it alone
        assert result["sums"] == [3, 0.5] and result["sum_types"] == ["int", "float"]
        assert result["any"]
    assert rank0["merged_keys"] == ["lengths", "rank1.lengths"] and rank1["merged_keys"] is None
    assert rank0["mine"] == [0, 0] and rank1["mine"] == [1, 1]
    assert rank0["digest"] == rank1["digest"] and rank0["tokenizer"] == rank1["tokenizer"]
    assert rank0["in_sync"] == [rank0["digest"]] * 2 and rank1["in_sync"] == []


def _torchrun(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "instructed_rl.cli", "train", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def _check_rank0_wrote_one_run(out: Path, stdout: str) -> dict:
    record = json.loads((out / "training_record.json").read_text())
    digests = record["distributed"]["parameter_digests"]
    assert record["distributed"]["world_size"] == 2 and len(digests) == 2 and digests[0] == digests[1]
    rows = MetricsLog.read(out / "metrics.jsonl")
    assert [r["iteration"] for r in rows] == list(range(1, len(rows) + 1))  # one writer: no duplicate rows
    assert stdout.count("done:") == 1  # rank 0 alone logs
    assert (out / "checkpoint" / "state.json").exists() and (out / "agent" / "config.json").exists()
    assert not list(out.glob(".checkpoint*"))
    return record


def test_imitation_under_torchrun_keeps_ranks_identical(tmp_path):
    out = tmp_path / "run"
    args = ["--config", "configs/tiny.yaml", "--games", GAME, "--threads", "1", "--out", str(out)]
    result = _torchrun(*args, "--frames", "600")
    assert result.returncode == 0, result.stderr[-3000:]
    _check_rank0_wrote_one_run(out, result.stdout)
    rows = MetricsLog.read(out / "metrics.jsonl")
    assert [r["episodes"] for r in rows] == [64 * (i + 1) for i in range(len(rows))]  # 32 per rank per iteration
    with np.load(out / "checkpoint" / "arrays.npz") as arrays:  # both ranks' replay buffers
        assert {"lengths", "rank1.lengths"} <= set(arrays.files)
        assert arrays["lengths"].sum() > 0 and arrays["rank1.lengths"].sum() > 0

    resumed = _torchrun(*args, "--frames", "900")  # a larger budget: both ranks resume, each its own buffer
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("resuming") == 1
    _check_rank0_wrote_one_run(out, resumed.stdout)


def test_ppo_under_torchrun_keeps_ranks_identical(tmp_path):
    out = tmp_path / "run"
    result = _torchrun("--config", "configs/ppo_tiny.yaml", "--frames", "2048", "--envs", "8", "--threads", "1",
                       "--eval-episodes", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    record = _check_rank0_wrote_one_run(out, result.stdout)
    rows = MetricsLog.read(out / "metrics.jsonl")
    assert [r["frames"] for r in rows] == [512 * (i + 1) for i in range(4)]  # 2 ranks x 8 envs x 32 steps
    assert record["frames"] == 2048


def test_offline_cloning_under_torchrun_keeps_ranks_identical(tmp_path):
    from instructed_rl.demos import DemosConfig, generate_demos

    generate_demos(DemosConfig(game=GAME, corpus="babyai", out=str(tmp_path / "demos"), episodes=200, progress=False))
    out = tmp_path / "run"
    result = _torchrun("--config", "configs/tiny.yaml", "--games", GAME, "--threads", "1", "--out", str(out),
                       "--demos", str(tmp_path / "demos"), "--frames", "600")
    assert result.returncode == 0, result.stderr[-3000:]
    record = _check_rank0_wrote_one_run(out, result.stdout)
    rows = MetricsLog.read(out / "metrics.jsonl")
    assert [r["episodes"] for r in rows] == [4 * 2 * 32 * (i + 1) for i in range(len(rows))]  # 32 a rank a step
    assert record["demonstration_episodes"] == 200
