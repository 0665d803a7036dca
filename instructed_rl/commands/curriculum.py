"""A curriculum: training configs run one after another, each stage starting from the agent the
stage before it made. One file reproduces a staged agent:

    # configs/default_curriculum.yaml
    curriculum:
      - configs/default.yaml
      - {config: configs/reader.yaml, frames: 53113}   # a stage's own overrides, as on the command line
      - ...

    instructed-rl train --config configs/default_curriculum.yaml --out runs/default_curriculum

Stage i trains into ``OUT/NN-<config name>`` (``runs/default_curriculum/01-default``). From the
second stage on, its ``init_agent`` is the previous stage's agent, whatever its own file says.
A finished stage (its ``training_record.json`` written) is skipped on a rerun and an unfinished one
resumes from its checkpoint, so the same command continues after any stop. Overrides on the command
line (``--threads 1``) apply to every stage; a stage's own (``frames: 53113`` beside its ``config``)
to it alone, and win.

At the end, ``OUT/agent`` is the last stage's agent with every stage's record beside it
(``training_record_stageN.json``, metrics and curve; the last stage's record as
``training_record.json``), the layout of a shipped staged agent, and ``OUT/curriculum_record.json``
sums frames, bot-labelled episodes and CPU-hours (wall time x threads) over the stages.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from instructed_rl.errors import UserError
from instructed_rl.yaml_check import YamlFile

RECORD = "training_record.json"


@dataclass(frozen=True)
class Stage:
    number: int  # from 1
    config: str  # the stage's training config file
    out: Path  # its run directory
    overrides: tuple[tuple[str, object], ...] = ()  # keys of its trainer's config, for this stage only

    def flags(self) -> list[str]:
        """The stage's overrides as command-line flags (checked by the trainer like any others)."""
        flags = []
        for key, value in self.overrides:
            if isinstance(value, (list, tuple)):
                value = ",".join(map(str, value))
            elif isinstance(value, dict):
                value = yaml.safe_dump(value, default_flow_style=True).strip()
            elif isinstance(value, bool):
                value = "true" if value else "false"
            flags += [f"--{key}", str(value)]
        return flags

    @property
    def finished(self) -> bool:
        return (self.out / RECORD).is_file() and (self.out / "agent").is_dir()


def is_curriculum(file: YamlFile) -> bool:
    return isinstance(file.data, dict) and "curriculum" in file.data


def read_stages(file: YamlFile, out: Path) -> list[Stage]:
    """The stages a curriculum file lists, checked: a non-empty list of training config files, none
    of them a curriculum itself. Relative paths are read from the working directory, as ``--config`` is."""
    from instructed_rl.commands.train import load_yaml_file

    file.known((), ("curriculum",), fix="a curriculum file has only 'curriculum: [config files, in order]'")
    listed = file.get("curriculum")
    fix = "list training config files in order, e.g. curriculum: [configs/default.yaml, configs/reader.yaml]"
    if not isinstance(listed, list) or not listed:
        raise file.fail("curriculum", "must be a non-empty list of training config files", fix)
    stages = []
    for index, item in enumerate(listed):
        at = ("curriculum", index)
        overrides = {}
        if isinstance(item, dict):
            overrides = {key: value for key, value in item.items() if key != "config"}
            item = item.get("config")
            at = at + ("config",)
            if "init_agent" in overrides:
                raise file.fail(("curriculum", index, "init_agent"), "a stage starts from the stage before it",
                                "set init_agent in the first stage's config file")
        if not isinstance(item, str) or not item.strip():
            raise file.fail(at, f"{item!r} is not a file name", fix + " (a stage with overrides: {config: FILE, "
                                                                    "frames: 1000})")
        if not Path(item).is_file():
            raise file.fail(at, f"no such file {item!r}", "name a training config that exists, e.g. configs/tiny.yaml")
        if is_curriculum(load_yaml_file(item)):
            raise file.fail(at, f"{item} is a curriculum itself", "list its stages here instead")
        stages.append(Stage(index + 1, item, out / f"{index + 1:02d}-{Path(item).stem}", tuple(overrides.items())))
    return stages


def check_stage(stage: Stage, file: YamlFile) -> None:
    """The stage's config with its overrides builds (known keys, right types), as its trainer will build it."""
    from instructed_rl.commands.train import algorithms, load_yaml_file, overlay
    from instructed_rl.config import from_mapping

    stage_file = load_yaml_file(stage.config)
    values = overlay(stage_file.data, dict(stage.overrides))
    known = algorithms()
    algorithm = values.get("algorithm", "imitation")
    if algorithm not in known:
        raise stage_file.fail("algorithm", f"{algorithm!r} is not available", f"use one of {', '.join(known)}")
    lines = {**stage_file.located(), **{key: file.where(("curriculum", stage.number - 1, key))
                                        for key, _ in stage.overrides}}
    from_mapping(known[algorithm], values, source=stage.config, lines=lines)


def run_curriculum(file: YamlFile, out: Path, extra: list[str], *, log=print) -> Path:
    """Every stage in order (finished ones skipped), then the assembled agent: ``out/agent``."""
    from instructed_rl.commands.train import run as run_stage
    from instructed_rl.train.memory import release_freed_memory

    stages = read_stages(file, out)
    for stage in stages:  # a mistake in stage 7 is found now, not hours in
        check_stage(stage, file)
    if any(flag.split("=", 1)[0] in ("--init-agent", "--init_agent") for flag in extra):
        raise UserError("--init-agent: a curriculum's stages start from the stage before them. Fix: set "
                        "init_agent in the first stage's config file")
    previous: Stage | None = None
    for stage in stages:
        if stage.finished:
            log(f"stage {stage.number}/{len(stages)} {stage.config}: finished before, in {stage.out}")
        else:
            log(f"stage {stage.number}/{len(stages)} {stage.config} into {stage.out}")
            start = ["--init-agent", str(previous.out / "agent")] if previous is not None else []
            run_stage(stage.config, str(stage.out), [*extra, *stage.flags(), *start])
            release_freed_memory()  # the next stage's heap starts from what is in use, not this one's peak
        previous = stage
    final = assemble(stages, out / "agent")
    record = curriculum_record(stages)
    (out / "curriculum_record.json").write_text(json.dumps(record, indent=2) + "\n")
    log(f"curriculum done: {len(stages)} stages, {record['frames']:,} frames, "
        f"{record['demonstration_episodes']:,} bot-labelled episodes, {record['cpu_hours']:.2f} CPU-hours; "
        f"agent in {final}")
    return final


def assemble(stages: list[Stage], final: Path) -> Path:
    """The last stage's agent with each stage's record, metrics and curve beside it (a staged agent)."""
    from instructed_rl.model.card import write_card

    if final.exists():
        shutil.rmtree(final)
    shutil.copytree(stages[-1].out / "agent", final)
    for stage in stages:
        last = stage is stages[-1]
        shutil.copy2(stage.out / RECORD, final / (RECORD if last else f"training_record_stage{stage.number}.json"))
        for name, kept in (("metrics.jsonl", f"metrics_stage{stage.number}.jsonl"),
                           ("curve.png", f"curve_stage{stage.number}.png")):
            if (stage.out / name).is_file():
                shutil.copy2(stage.out / name, final / kept)
    write_card(final)
    return final


def curriculum_record(stages: list[Stage]) -> dict:
    """Totals over the stages' records: what the whole agent cost."""
    from instructed_rl.model.card import core_count, stage_totals

    records = [json.loads((stage.out / RECORD).read_text()) for stage in stages]
    return {
        "stages": [{"config": stage.config, "out": str(stage.out), "frames": r.get("frames", 0),
                    "demonstration_episodes": r.get("demonstration_episodes", 0),
                    "wall_seconds": r.get("wall_seconds", 0), "cores": core_count(r.get("hardware", {}))}
                   for stage, r in zip(stages, records)],
        **stage_totals(records),
    }
