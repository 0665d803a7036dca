"""``instructed-rl train``: one command for every trainer, configured by YAML + overrides.

    instructed-rl train --config configs/default.yaml --out runs/default
    instructed-rl train --config configs/default.yaml --frames 20000 --corpus data/corpora/mine.yaml

The YAML names the ``algorithm``; every other key belongs to that algorithm's config
dataclass, and so does every ``--key value`` on the command line (unknown keys are errors).
Running the same command again resumes from the run directory's last checkpoint.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml

from instructed_rl.config import from_mapping, read_yaml_mapping
from instructed_rl.errors import UserError


def algorithms() -> dict[str, type]:
    from instructed_rl.train.imitation import ImitationConfig
    from instructed_rl.train.ppo import KickstartConfig, PPOConfig

    return {"imitation": ImitationConfig, "ppo": PPOConfig, "kickstart": KickstartConfig}


def load_yaml(path: str) -> dict[str, Any]:
    return read_yaml_mapping(path, what="training config", example="configs/default.yaml")


def _convert(value: str, kind, key: str):
    origin = get_origin(kind)
    args = [a for a in get_args(kind) if a is not type(None)]
    if origin in (list, tuple) or kind is list:
        return [item.strip() for item in value.split(",") if item.strip()]
    if kind is dict or origin is dict:
        parsed = yaml.safe_load(value)
        if not isinstance(parsed, dict):
            raise UserError(f"--{key}: expected a mapping like '{{text: {{encoder: gru}}}}', got {value!r}")
        return parsed
    if args and origin is not typing.Literal:
        kind = args[0]
    if kind is bool:
        return value.lower() in ("1", "true", "yes", "on")
    if kind in (int, float):
        try:
            return kind(value.replace("_", ""))
        except ValueError:
            raise UserError(f"--{key}: expected a number, got {value!r}") from None
    return value


def parse_overrides(cls, extra: list[str]) -> dict[str, Any]:
    """``--key value``, ``--flag`` / ``--no-flag`` against the fields of ``cls``."""
    types = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    index = 0
    while index < len(extra):
        token = extra[index]
        if not token.startswith("--"):
            raise UserError(f"unexpected argument {token!r}. Fix: write overrides as --key value")
        key = token[2:].replace("-", "_")
        if "=" in key:
            key, inline = key.split("=", 1)
        else:
            inline = None
        if key.startswith("no_") and key[3:] in names and types[key[3:]] is bool:
            values[key[3:]] = False
            index += 1
            continue
        if key not in names:
            values[key] = inline  # from_mapping reports it with the closest names
            index += 1 if inline is not None or index + 1 == len(extra) or extra[index + 1].startswith("--") else 2
            continue
        if types[key] is bool and inline is None and (index + 1 == len(extra) or extra[index + 1].startswith("--")):
            values[key] = True
            index += 1
            continue
        if inline is None:
            if index + 1 >= len(extra):
                raise UserError(f"--{key} needs a value")
            inline = extra[index + 1]
            index += 1
        values[key] = _convert(inline, types[key], key)
        index += 1
    return values


def run(config_path: str, out: str | None, extra: list[str]) -> Path:
    values = load_yaml(config_path)
    algorithm = values.get("algorithm", "imitation")
    known = algorithms()
    if algorithm not in known:
        raise UserError(f"{config_path}: algorithm {algorithm!r} is not available. Fix: use one of {', '.join(known)}")
    cls = known[algorithm]
    values.update(parse_overrides(cls, extra))
    config = from_mapping(cls, values, source=config_path)
    run_dir = Path(out) if out else Path("runs") / Path(config_path).stem
    if algorithm in ("ppo", "kickstart"):
        from instructed_rl.train.ppo import train_ppo

        return train_ppo(config, run_dir)
    from instructed_rl.train.imitation import train_imitation

    return train_imitation(config, run_dir)
