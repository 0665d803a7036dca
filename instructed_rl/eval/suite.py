"""A suite: a table of evaluation cells from a YAML file, written as JSON, Markdown and a PNG chart.

    instructed-rl eval --agent data/agents/default --suite configs/eval/zero_shot.yaml --out runs/eval

Suite file::

    name: zero_shot
    episodes: 200            # default per cell
    seed: 1000000
    greedy: false            # default per cell: sample actions (seeded per episode)
    cells:
      - {label: training instructions, game: SkillRoom, split: test}
      - {label: unseen phrasings, game: SkillRoom, split: unseen_phrasings, corpus: paraphrase}

Each finished cell is appended to ``cells.jsonl`` in the output directory, keyed by its full
settings and a fingerprint of the agent's files. Rerunning the same command reuses the cells
measured for the same agent and settings and runs only the rest, so a long suite stopped
with Ctrl-C (which writes a partial report) continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from instructed_rl.config import from_mapping, read_yaml_mapping
from instructed_rl.language.corpus import load_corpus
from instructed_rl.errors import UserError
from instructed_rl.eval.cell import CellResult, EvalConfig, default_split, format_cell, run_cell
from instructed_rl.games.spec import find_game

SUITE_KEYS = ("name", "description", "episodes", "seed", "greedy", "rephrase", "cells")
CELL_KEYS = ("label", "game", "split", "corpus", "episodes", "seed", "greedy", "rephrase", "description", "instruction",
             "sequences")


@dataclasses.dataclass(frozen=True)
class SuiteCell:
    label: str
    overrides: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    cells: tuple[SuiteCell, ...]
    defaults: dict[str, Any]


def load_suite(path: str | Path) -> Suite:
    path = Path(path)
    data = read_yaml_mapping(path, what="suite", example="configs/eval/zero_shot.yaml")
    unknown = sorted(set(data) - set(SUITE_KEYS))
    if unknown:
        raise UserError(f"{path}: {unknown[0]}: unknown key. Fix: use only {', '.join(SUITE_KEYS)}")
    cells = data.get("cells")
    if not isinstance(cells, list) or not cells:
        raise UserError(f"{path}: cells: missing or empty. Fix: list cells like '- {{game: SkillRoom, split: test}}'")
    parsed = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or "game" not in cell:
            raise UserError(f"{path}: cells[{index}]: needs at least 'game'. Fix: write '- {{game: SkillRoom, split: test}}'")
        bad = sorted(set(cell) - set(CELL_KEYS))
        if bad:
            raise UserError(f"{path}: cells[{index}].{bad[0]}: unknown key. Fix: use only {', '.join(CELL_KEYS)}")
        overrides = {k: v for k, v in cell.items() if k != "label"}
        label = str(cell.get("label") or f"{cell['game']} {cell.get('split', '')}".strip())
        parsed.append(SuiteCell(label=label, overrides=overrides))
    for key in ("greedy", "rephrase"):
        for where, value in [("", data.get(key, True))] + [(f"cells[{i}].", c.get(key, True)) for i, c in enumerate(cells)]:
            if not isinstance(value, bool):
                raise UserError(f"{path}: {where}{key}: must be true or false, got {value!r}. Fix: write '{key}: false'")
    defaults = {k: data[k] for k in ("episodes", "seed", "greedy", "rephrase") if k in data}
    return Suite(name=str(data.get("name") or path.stem), cells=tuple(parsed), defaults=defaults)


MEASURED = "cells.jsonl"
# Settings that do not change what a cell measures.
NOT_MEASURED = ("workers", "suite", "json", "out")


def agent_fingerprint(agent: str) -> str:
    """sha256 over a saved agent's files (its name for the reference agents 'bot' and 'random')."""
    from instructed_rl.acting.foreign import is_python_agent
    from instructed_rl.hub import resolve_agent

    path = agent if agent in ("bot", "random") or is_python_agent(agent) else resolve_agent(agent)
    if not Path(path).is_dir():  # a reference agent or anyone's policy: its name
        return agent
    path = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.name in ("config.json", "model.safetensors",
                                                                                  "tokenizer.model")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _cell_key(label: str, cell_config: EvalConfig, fingerprint: str) -> str:
    values = {k: v for k, v in dataclasses.asdict(cell_config).items() if k not in NOT_MEASURED}
    return json.dumps({"label": label, "agent_sha256": fingerprint, **values}, sort_keys=True)


def _measured_cells(out: Path | None) -> dict[str, CellResult]:
    if out is None or not (out / MEASURED).exists():
        return {}
    measured = {}
    for line in (out / MEASURED).read_text().splitlines():
        try:
            row = json.loads(line)
            result = dict(row["result"], ci95=tuple(row["result"]["ci95"]))
            measured[row["key"]] = CellResult(**result)
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by an interruption: that cell runs again
    return measured


def run_suite(config: EvalConfig, *, out: Path | None = None, log=print,
              given: frozenset[str] | None = None) -> list[tuple[str, CellResult]]:
    """Every cell of ``config.suite``; with ``out``, cells already in ``out/cells.jsonl`` for the
    same agent files and settings are reused, and each new cell is appended as it finishes.
    On Ctrl-C the cells finished so far are returned in ``KeyboardInterrupt.args[0]``."""
    suite = load_suite(config.suite)
    # Flags given on the command line win over the file, even one that equals its default
    # (--episodes 100 on a 500-episode suite); without ``given``, those that differ from it.
    defaults = {f.name: f.default for f in dataclasses.fields(EvalConfig)}
    explicit = {k: v for k, v in dataclasses.asdict(config).items() if k in ("episodes", "seed")
                and (k in given if given is not None else v != defaults[k])}
    cell_configs = [_cell_config(config, suite, index, explicit) for index in range(len(suite.cells))]
    fingerprint = agent_fingerprint(config.agent)
    measured = _measured_cells(out)
    results = []
    for index, (cell, cell_config) in enumerate(zip(suite.cells, cell_configs)):
        key = _cell_key(cell.label, cell_config, fingerprint)
        if key in measured:
            result = measured[key]
            log(f"{cell.label}: {format_cell(result)} (measured before, from {out / MEASURED})")
        else:
            try:
                result = run_cell(cell_config, label=f"cell {index + 1}/{len(suite.cells)} {cell.label}")
            except KeyboardInterrupt:
                raise KeyboardInterrupt(results) from None
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                with (out / MEASURED).open("a") as f:
                    f.write(json.dumps({"key": key, "result": result.to_json()}) + "\n")
            log(f"{cell.label}: {format_cell(result)}")
        results.append((cell.label, result))
    return results


def _cell_config(config: EvalConfig, suite: Suite, index: int, explicit: dict[str, Any]) -> EvalConfig:
    """Cell ``index``'s settings, checked (types, game, split, corpus) before any cell runs:
    a mistake in the last cell must not wait for the others to finish."""
    cell = suite.cells[index]
    values = {**suite.defaults, **cell.overrides, **explicit, "suite": None, "json": None, "out": None}
    base = {k: v for k, v in dataclasses.asdict(config).items() if k not in values}
    where = f"{config.suite}: cells[{index}]"
    cell_config = from_mapping(EvalConfig, {**base, **values}, source=where)
    split = cell_config.split or default_split(cell_config.game)
    spec = find_game(cell_config.game)
    if split not in spec.splits:
        raise UserError(f"{where}: game {spec.id} has no split {split!r}. Fix: use one of {', '.join(spec.splits)}")
    if cell_config.corpus is not None:
        load_corpus(cell_config.corpus)
    return cell_config


def markdown_table(results: list[tuple[str, CellResult]]) -> str:
    lines = ["| cell | game | split | corpus | success % | 95% CI | episodes | mean steps | path ratio |",
             "|---|---|---|---|---:|---|---:|---:|---:|"]
    for label, r in results:
        ratio = "n/a" if r.path_ratio is None else f"{r.path_ratio:.2f}"
        ablation = "" if r.description == "true" and r.instruction == "true" else \
            f" (description {r.description}, instruction {r.instruction})"
        ablation += "" if r.rephrase else " (raw words, no rephrasing)"
        lines.append(f"| {label}{ablation} | {r.game} | {r.split} | {r.corpus} | {100 * r.success_rate:.1f} | "
                     f"{100 * r.ci95[0]:.1f}-{100 * r.ci95[1]:.1f} | {r.episodes} | {r.mean_steps:.1f} | {ratio} |")
    return "\n".join(lines)


def bar_chart(results: list[tuple[str, CellResult]], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in results]
    rates = [100 * r.success_rate for _, r in results]
    low = [100 * (r.success_rate - r.ci95[0]) for _, r in results]
    high = [100 * (r.ci95[1] - r.success_rate) for _, r in results]
    figure, axes = plt.subplots(figsize=(max(6, 1.2 * len(labels)), 4.5))
    axes.bar(range(len(labels)), rates, yerr=[low, high], capsize=4, color="#4c72b0")
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_ylim(0, 105)
    axes.set_ylabel("success % (95% Wilson CI)")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_report(results: list[tuple[str, CellResult]], *, config: EvalConfig, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    suite = load_suite(config.suite)
    partial = len(results) < len(suite.cells)
    report = {"suite": suite.name, "agent": config.agent, "complete": not partial,
              "cells": [dict(label=label, **r.to_json()) for label, r in results]}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown_table(results)
    note = (f"\n**Partial**: {len(results)} of the suite's {len(suite.cells)} cells (stopped); run the same "
            "command again to measure the rest.\n" if partial else "")
    modes = sorted({"greedy" if r.greedy else "sampled (seeded per episode)" for _, r in results})
    (out / "report.md").write_text(f"# {suite.name}: {config.agent}\n{note}\nActions: {', '.join(modes)}.\n\n{table}\n")
    bar_chart(results, out / "report.png", title=f"{suite.name}: {Path(config.agent).name}")
    return table
