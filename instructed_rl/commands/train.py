"""``instructed-rl train``: one command for every trainer, configured by YAML + overrides.

    instructed-rl train --config configs/default.yaml --out runs/default
    instructed-rl train --config configs/default.yaml --frames 20000 --corpus data/corpora/mine.yaml
    instructed-rl train --config configs/tiny.yaml --out runs/tiny --threads 1

The YAML names the ``algorithm``; every other key belongs to that algorithm's config
dataclass, and so does every ``--key value`` on the command line (unknown keys are errors).
Running the same command again resumes from the run directory's last checkpoint. A YAML whose
only key is ``curriculum`` lists configs run in order, each stage from the agent the stage before
made (:mod:`instructed_rl.commands.curriculum`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml

from instructed_rl.config import COMMAND_LINE, from_mapping, option
from instructed_rl.errors import UserError
from instructed_rl.paths import check_output_dir
from instructed_rl.yaml_check import Where, YamlFile, read_yaml_mapping


@dataclasses.dataclass
class TrainCommandConfig:
    """The train command's own flags; every other ``--key value`` is an override of the preset."""

    config: str = option("", "YAML preset, e.g. configs/default.yaml", required=True)
    out: str | None = option(None, "run directory (default runs/<config name>); reruns resume from it, and only "
                                   "one run may use it at a time")


def algorithms() -> dict[str, type]:
    from instructed_rl.train.imitation import ImitationConfig
    from instructed_rl.train.ppo import KickstartConfig, PPOConfig

    return {"imitation": ImitationConfig, "ppo": PPOConfig, "kickstart": KickstartConfig}


def load_yaml_file(path: str) -> YamlFile:
    """A preset with the line of each key."""
    return read_yaml_mapping(path, what="training config", example="configs/default.yaml")


def load_yaml(path: str) -> dict[str, Any]:
    return load_yaml_file(path).data


def _convert(value: str, kind, key: str):
    key = key.replace("_", "-")  # as the user typed it
    origin = get_origin(kind)
    args = [a for a in get_args(kind) if a is not type(None)]
    if origin in (list, tuple) or kind is list:
        return [item.strip() for item in value.split(",") if item.strip()]
    if kind is dict or origin is dict:
        parsed = yaml.safe_load(value)
        if not isinstance(parsed, dict):
            raise UserError(f"--{key}: expected a mapping, got {value!r}. Fix: write it in YAML's inline form, "
                            f"e.g. --{key} '{{policy: {{channels: 64}}}}'")
        return parsed
    if args and origin is not typing.Literal:
        kind = args[0]
    if kind is bool:
        words = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
        if value.lower() not in words:
            raise UserError(f"--{key}: expected true or false, got {value!r}. Fix: --{key} true, --{key} false, "
                            f"or --no-{key}")
        return words[value.lower()]
    if kind in (int, float):
        text = value.strip().replace("_", "")
        try:
            number = int(text) if kind is int and text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise UserError(f"--{key}: expected a number, got {value!r}. Fix: --{key} 1000 (1e-3 and 200_000 "
                            "are numbers too)") from None
        if kind is int and isinstance(number, float):  # 2e5 frames is a whole number; 2.5 is not
            if not number.is_integer():
                raise UserError(f"--{key}: expected a whole number, got {value!r}. Fix: round it")
            number = int(number)
        return number
    return value


def overlay(values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` over a config's ``values``, a mapping into the mapping it overrides:
    ``--agent '{policy: {channels: 32}}'`` changes the channels and keeps the file's other agent keys."""
    merged = dict(values)
    for key, value in overrides.items():
        inner = merged.get(key)
        merged[key] = overlay(inner, value) if isinstance(value, dict) and isinstance(inner, dict) else value
    return merged


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
                flag = key.replace("_", "-")
                raise UserError(f"--{flag} needs a value. Fix: --{flag} VALUE (or drop it)")
            inline = extra[index + 1]
            index += 1
        values[key] = _convert(inline, types[key], key)
        index += 1
    return values


def overrides_help() -> str:
    """The ``--key value`` overrides, for ``train --help``: every key of the imitation trainer."""
    from instructed_rl.train.imitation import ImitationConfig

    lines = ["overrides: any key of the config's trainer, as --key value (--no-key for false), e.g.",
             "  --frames 20000 --lr 3e-4 --games SkillRoom,GoToRoom --agent '{policy: {channels: 64}}' --no-track",
             "keys of 'algorithm: imitation' (ppo / kickstart configs list theirs in an error for an unknown key):"]
    for field in dataclasses.fields(ImitationConfig):
        default = "" if field.default in (None, dataclasses.MISSING) else f" (default: {field.default})"
        lines.append(f"  --{field.name.replace('_', '-'):<24} {field.metadata.get('help', '')}{default}")
    return "\n".join(lines)


def check_before_training(config, config_path: str, lines: dict[str, Where] | None = None) -> None:
    """What would otherwise fail minutes in (after a vocabulary is built): games, corpus, agent settings.
    ``lines``: where the preset wrote each key, for the errors."""
    from instructed_rl.language.corpus import load_corpus
    from instructed_rl.games.spec import find_game_at

    lines = lines or {}

    def where(key: str) -> str:
        return str(lines[key]) if key in lines else f"{config_path}: {key}"

    for game in config.games:
        find_game_at(game, lines.get("games"))
    load_corpus(config.corpus)
    if getattr(config, "demos", None):
        from instructed_rl.demos import check_for_training

        check_for_training(config.demos, games=config.games, corpus=config.corpus)
    teacher = getattr(config, "teacher", "bot")
    from instructed_rl.model.hub import resolve_agent

    if teacher != "bot" and not resolve_agent(teacher).is_dir():
        raise UserError(f"{where('teacher')}: {teacher!r} is neither 'bot' nor a saved agent directory. "
                        "Fix: teacher: bot, or a directory written by 'instructed-rl train'")
    if config.init_agent:
        if not resolve_agent(config.init_agent).is_dir():
            raise UserError(f"{where('init_agent')}: {config.init_agent!r} is not a saved agent directory. "
                            "Fix: pass a directory written by 'instructed-rl train' (e.g. data/agents/default)")
        return
    try:
        config.agent_config()
    except (TypeError, ValueError, KeyError) as error:
        if isinstance(error, UserError):
            raise
        raise UserError(f"{where('agent')}: {error}. Fix: correct that setting under 'agent:'") from None


def start_line(config, algorithm: str, run_dir: Path, asked) -> str:
    """What is about to run, printed at once: the first minute of a run builds a vocabulary and shows nothing else."""
    from instructed_rl.train.runs import DEFAULT_THREADS, free_cores

    wanted = int(float(asked)) if asked is not None else DEFAULT_THREADS  # as written (a YAML string, even)
    fewer = ""
    if config.threads < wanted:  # only then say why: reading the load may sample what runs now
        cores, load, _ = free_cores()
        fewer = f" (of {wanted} asked: load {load:.1f} on {cores} cores)"
    demos = f" (cloned from {config.demos})" if getattr(config, "demos", None) else ""
    return (f"train ({algorithm}): {config.frames:,} frames on {', '.join(config.games)}{demos} into {run_dir}; "
            f"{config.threads} torch thread{'s' if config.threads > 1 else ''}{fewer}")


def run(config_path: str, out: str | None, extra: list[str]) -> Path:
    file = load_yaml_file(config_path)
    from instructed_rl.commands.curriculum import is_curriculum, run_curriculum

    if is_curriculum(file):  # stages in order, each from the agent the stage before made
        return run_curriculum(file, check_output_dir(Path(out) if out else Path("runs") / Path(config_path).stem,
                                                     "--out"), extra)
    values = dict(file.data)
    algorithm = values.get("algorithm", "imitation")
    known = algorithms()
    if algorithm not in known:
        raise file.fail("algorithm", f"{algorithm!r} is not available", f"use one of {', '.join(known)}")
    cls = known[algorithm]
    overrides = parse_overrides(cls, extra)
    values = overlay(values, overrides)
    asked = values.get("threads")
    lines = {**file.located(), **{k: Where(COMMAND_LINE, "--" + k.replace("_", "-")) for k in overrides}}
    config = from_mapping(cls, values, source=config_path, lines=lines)
    run_dir = check_output_dir(Path(out) if out else Path("runs") / Path(config_path).stem, "--out")
    check_before_training(config, config_path, lines)
    from instructed_rl.train.runs import RunLock

    rank = int(os.environ.get("RANK", "0"))  # under torchrun, rank 0 holds the lock for every rank
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir) if rank == 0 else contextlib.nullcontext():
        if rank == 0:
            print(start_line(config, algorithm, run_dir, asked))
        if algorithm in ("ppo", "kickstart"):
            from instructed_rl.train.ppo import train_ppo

            return train_ppo(config, run_dir)
        from instructed_rl.train.imitation import train_imitation

        return train_imitation(config, run_dir)
