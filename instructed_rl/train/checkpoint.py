"""Resumable training state, written atomically, never pickled.

A run directory holds ``checkpoint/``: the agent (``agent/``, a normal saved agent), the
optimizer as safetensors + JSON, counters and RNG states as JSON, and any arrays a trainer
keeps (e.g. its replay buffer) as ``.npz`` of plain numbers. A new checkpoint is written
beside the old one and swapped in with renames, so a kill at any moment leaves one whole
checkpoint behind.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from instructed_rl.errors import UserError

CHECKPOINT = "checkpoint"


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (safetensors) and plain data (JSON)."""
    state = optimizer.state_dict()
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        plain["state"][str(index)] = {}
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(index)][name] = value
    return tensors, plain


def optimizer_from_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], plain: dict) -> None:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in plain["state"].items()}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": plain["param_groups"]})


def save_checkpoint(run_dir: Path, *, agent, optimizer: torch.optim.Optimizer, state: dict[str, Any],
                    arrays: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``run_dir/checkpoint`` atomically (new dir, then rename over the old one)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / CHECKPOINT
    tmp = run_dir / f".{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    agent.save_pretrained(tmp / "agent")
    tensors, plain = optimizer_to_tensors(optimizer)
    safetensors.torch.save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(plain))
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    if arrays:
        with open(tmp / "arrays.npz", "wb") as handle:
            np.savez(handle, **arrays)
    for path in tmp.rglob("*"):  # make the bytes durable before the rename publishes them
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    old = run_dir / f".{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def recover_interrupted(run_dir: Path) -> None:
    """A kill between the two renames leaves only ``.checkpoint.old``: put it back."""
    old, final = run_dir / f".{CHECKPOINT}.old", run_dir / CHECKPOINT
    if old.exists() and not final.exists():
        os.rename(old, final)


def load_checkpoint(run_dir: Path, *, optimizer: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Restore the optimizer; return the JSON state and the arrays (the agent loads separately)."""
    path = run_dir / CHECKPOINT
    try:
        state = json.loads((path / "state.json").read_text())
        plain = json.loads((path / "optimizer.json").read_text())
        tensors = safetensors.torch.load_file(str(path / "optimizer.safetensors"))
        optimizer_from_tensors(optimizer, tensors, plain)
        arrays: dict[str, np.ndarray] = {}
        if (path / "arrays.npz").exists():
            with np.load(path / "arrays.npz", allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: the training checkpoint is unreadable ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:100] if str(error) else ''}). "
                        f"Fix: delete {path} to start over, or use another --out") from None
    return state, arrays


def has_checkpoint(run_dir: Path) -> bool:
    recover_interrupted(run_dir)
    return (run_dir / CHECKPOINT / "state.json").exists()
