"""The transfer matrix: agents (rows) on games outside their training set (columns), and how much
each one owes to the environment description.

    instructed-rl transfer --agent runs/reader/agent --suite configs/eval/transfer.yaml --out runs/transfer
    instructed-rl transfer --agent bot --suite configs/eval/transfer.yaml --episodes 20

Suite file::

    name: transfer
    episodes: 100              # default per cell
    seed: 1000000
    rows:                      # agents; --agent replaces them with that one agent
      - {label: "reader agent", agent: runs/reader/agent}                  # source games read from its config.json
      - {label: "skills agent", agent: runs/default/agent, games: [SkillRoom]}
    columns:                   # target games and splits (corpus, episodes, seed, sequences optional)
      - {label: "RoleRoom: unseen rules", game: RoleRoom, split: unseen_rules}

Every cell runs the same seeded episodes three times, through :func:`run_cell`: with the true
description, with none (``description=none``) and with another episode's (``shuffled``). The gap
true - none is how much success the agent owes to reading the description. Since the three runs
play the very same worlds, each gap's 95% interval is a paired one, built from the per-seed outcomes
that every cell keeps (Newcombe 1998, method 10 for paired proportions:
:func:`~instructed_rl.eval.stats.paired_difference_interval`). An agent that ignores text (the
BabyAI bot) has gaps of 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instructed_rl.model.loops import ESCAPE_RULE, action_mode
from instructed_rl.config import option
from instructed_rl.errors import UserError
from instructed_rl.eval.cell import DEFAULT_EVAL_SEED, CellResult, EvalConfig, resolve_mode, run_cell
from instructed_rl.eval.stats import paired_difference_interval, paired_table, wilson_interval
from instructed_rl.eval.suite import (
    MEASURED,
    TransferSuite,
    _cell_key,
    _measured_cells,
    agent_fingerprint,
    keep_measured,
    load_transfer_suite,
)
from instructed_rl.games.spec import find_game

ABLATIONS = ("true", "none", "shuffled")
SUMMARY_START = "<!-- transfer summary: written by instructed-rl transfer --readme -->"
SUMMARY_END = "<!-- end of transfer summary -->"


@dataclass
class TransferConfig:
    suite: str = option("configs/eval/transfer.yaml", "YAML file listing the rows (agents) and columns (games, splits)")
    agent: str | None = option(None, "one agent for every row: a saved agent directory, 'bot' or 'random' "
                                     "(default: the suite's rows)")
    out: str | None = option(None, "directory for report.json / report.md / report.png (default runs/transfer/SUITE)")
    episodes: int | None = option(None, "episodes per cell and ablation, overriding the suite's")
    seed: int | None = option(None, "seed of the first episode, overriding the suite's; episode i uses seed + i")
    workers: int = option(1, "worker processes per cell (each runs a slice of the seeds)")
    greedy: bool | None = option(None, "greedy actions, or --no-greedy: sampled, seeded per episode (default: each "
                                       "agent's own mode)")
    escape_loops: bool | None = option(None, f"greedy actions that escape loops ({ESCAPE_RULE}), or --no-escape-loops: "
                                             "the plain argmax (default: each agent's own config.json 'escape_loops')")
    readme: str | None = option(None, "also write the summary into this Markdown file, between the lines "
                                      f"'{SUMMARY_START}' and '{SUMMARY_END}' (e.g. README.md)")

    def __post_init__(self):
        if not self.suite:
            raise ValueError("give --suite FILE, e.g. configs/eval/transfer.yaml")
        if self.episodes is not None and self.episodes <= 0:
            raise ValueError(f"--episodes must be positive, got {self.episodes}: a cell with no episodes has no success rate")
        if self.workers <= 0:
            raise ValueError("--workers must be at least 1")


@dataclass
class TransferCell:
    row: str
    column: str
    in_training: bool
    results: dict[str, CellResult]  # ablation -> result, same seeds, per-seed outcomes kept

    def __post_init__(self):
        where = f"transfer cell {self.row!r} on {self.column!r}"
        for ablation, result in self.results.items():
            if result.seeds is None or result.outcomes is None:
                raise UserError(f"{where}: the {ablation!r} run has no per-seed outcomes (a result saved before "
                                f"they were kept), so its gaps cannot get a paired interval. Fix: run the cell again")
            if len(result.seeds) != len(result.outcomes) or len(result.outcomes) != result.episodes:
                raise ValueError(f"{where}: the {ablation!r} run has {len(result.seeds)} seeds and "
                                 f"{len(result.outcomes)} outcomes for {result.episodes} episodes")
        seeds = {ablation: result.seeds for ablation, result in self.results.items()}
        first = next(iter(seeds))
        for ablation, these in seeds.items():
            if these != seeds[first]:
                raise ValueError(f"{where}: the {first!r} and {ablation!r} runs played different seeds, so their "
                                 f"gap would not be paired")

    @property
    def seeds(self) -> list[int]:
        return list(self.results["true"].seeds)

    def pairs(self, ablation: str) -> tuple[int, int, int, int]:
        """The seeds on which (both, only true, only ``ablation``, neither) succeeded."""
        true, other = self.results["true"], self.results[ablation]
        return paired_table(true.outcomes, other.outcomes, seeds_a=true.seeds, seeds_b=other.seeds)

    def gap(self, ablation: str) -> tuple[float, tuple[float, float]]:
        """Success with the true description minus with ``ablation``, and its paired 95% interval."""
        return paired_difference_interval(*self.pairs(ablation))

    def to_json(self) -> dict[str, Any]:
        true = self.results["true"]
        data: dict[str, Any] = {"row": self.row, "column": self.column, "agent": true.agent, "game": true.game,
                                "split": true.split, "corpus": true.corpus, "in_training": self.in_training,
                                "seeds": self.seeds}
        for ablation, result in self.results.items():  # each run's "outcomes" follow "seeds" above
            data[ablation] = {k: v for k, v in result.to_json().items() if k != "seeds"}
        for ablation in ABLATIONS[1:]:
            value, (low, high) = self.gap(ablation)
            both, only_true, only_other, neither = self.pairs(ablation)
            data[f"gap_{ablation}"] = {"value": value, "ci95": [low, high], "interval": "newcombe-paired",
                                       "pairs": {"both": both, "only_true": only_true, f"only_{ablation}": only_other,
                                                 "neither": neither}}
        return data


def difference_interval(successes_a: int, episodes_a: int, successes_b: int, episodes_b: int) -> tuple[float, tuple[float, float]]:
    """``p_a - p_b`` and Newcombe's (1998, method 10) 95% interval built from the two Wilson intervals,
    for two independent samples. The transfer gaps are paired (the same seeds), so they use
    :func:`~instructed_rl.eval.stats.paired_difference_interval` instead, which counts the seed-by-seed
    agreement of the two runs (and so is narrower when they mostly agree).

    Newcombe's own worked example, 56/70 vs 48/80 (his Table II gives 0.0524 to 0.3339):

    >>> value, (low, high) = difference_interval(56, 70, 48, 80)
    >>> round(value, 4), round(low, 4), round(high, 4)
    (0.2, 0.0524, 0.3339)
    >>> difference_interval(20, 20, 20, 20)[1][0] < 0 < difference_interval(20, 20, 20, 20)[1][1]
    True
    """
    p_a, p_b = successes_a / episodes_a, successes_b / episodes_b
    low_a, high_a = wilson_interval(successes_a, episodes_a)
    low_b, high_b = wilson_interval(successes_b, episodes_b)
    value = p_a - p_b
    low = value - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = value + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return value, (max(-1.0, low), min(1.0, high))


# ---- running -------------------------------------------------------------------------

def _canonical(game: str) -> str:
    return find_game(game).id


def run_transfer(config: TransferConfig, *, out: Path | None = None,
                 log=print) -> tuple[TransferSuite, list[TransferCell]]:
    """Every row on every column, each cell under the three description ablations (same seeds).

    With ``out``, each finished run is appended to ``out/cells.jsonl`` (as ``eval --suite``
    does), and a rerun of the same command reuses the runs measured for the same agent files
    and settings: a stopped matrix continues where it stopped. Once every run is in, the file
    keeps only this matrix's runs."""
    suite = load_transfer_suite(config.suite, agent=config.agent)
    measured = _measured_cells(out)
    fingerprints = {row.agent: agent_fingerprint(row.agent) for row in suite.rows}
    cells = []
    keys = []
    for row in suite.rows:
        trained = {_canonical(g) for g in row.games if _safe_game(g)}
        for column in suite.columns:
            values: dict[str, Any] = {"seed": DEFAULT_EVAL_SEED, **suite.defaults, **column.overrides}
            if config.episodes is not None:
                values["episodes"] = config.episodes
            if config.seed is not None:
                values["seed"] = config.seed
            results = {}
            for ablation in ABLATIONS:
                cell_config = resolve_mode(EvalConfig(
                    agent=row.agent, game=column.game, split=column.split, workers=config.workers,
                    greedy=config.greedy, escape_loops=config.escape_loops, description=ablation, **values))
                key = _cell_key(f"{row.label} / {column.label}", cell_config, fingerprints[row.agent])
                keys.append(key)
                if key in measured:
                    results[ablation] = measured[key]
                    continue
                results[ablation] = run_cell(cell_config)
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    with (out / MEASURED).open("a") as f:
                        f.write(json.dumps({"key": key, "result": results[ablation].to_json()}) + "\n")
            cell = TransferCell(row=row.label, column=column.label, in_training=_canonical(column.game) in trained,
                                results=results)
            cells.append(cell)
            log(format_transfer_cell(cell))
    keep_measured(out, keys)
    return suite, cells


def _safe_game(game: str) -> bool:
    try:
        find_game(game)
    except UserError:
        return False
    return True


# ---- reports -------------------------------------------------------------------------

def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _gap_text(cell: TransferCell, ablation: str) -> str:
    value, (low, high) = cell.gap(ablation)
    return f"{100 * value:+.1f} ({100 * low:+.1f} to {100 * high:+.1f})"


def format_transfer_cell(cell: TransferCell) -> str:
    r = {a: cell.results[a] for a in ABLATIONS}
    mark = " (in training)" if cell.in_training else ""
    return (f"{cell.row} on {cell.column}{mark}: success {_pct(r['true'].success_rate)}% "
            f"(none {_pct(r['none'].success_rate)}%, shuffled {_pct(r['shuffled'].success_rate)}%), "
            f"gap true-none {_gap_text(cell, 'none')} points over {r['true'].episodes} episodes")


def summary_markdown(suite: TransferSuite, cells: list[TransferCell]) -> str:
    """Per agent: one line per target (success with the true description, with none, with another
    episode's, the paired gap), then plainly what does not transfer."""
    by = _matrix(suite, cells)
    lines: list[str] = []
    for row in suite.rows:
        row_cells = [by[(row.label, c.label)] for c in suite.columns]
        first = row_cells[0].results["true"]
        mode = action_mode(first.greedy, first.escape_loops)
        lines += [f"**{row.label}** ({first.episodes} episodes per cell and arm; actions: {mode}; seeds "
                  f"{first.seed:,}+; **bold**: a game in its training set; gap: paired 95% interval)", "",
                  "| target | true description | none | another episode's | gap true-none |",
                  "|---|---:|---:|---:|---|"]
        for column, cell in zip(suite.columns, row_cells):
            r = cell.results
            label = f"**{column.label}**" if cell.in_training else column.label
            lines.append(f"| {label} | {_pct(r['true'].success_rate)} | {_pct(r['none'].success_rate)} | "
                         f"{_pct(r['shuffled'].success_rate)} | {_gap_text(cell, 'none')} |")
        weak = [(column.label, cell) for column, cell in zip(suite.columns, row_cells) if cell.gap("none")[1][0] <= 0]
        lines += ["", "Does not transfer (the gap's interval reaches 0 or below: no sign that the description is read): "
                  + ("; ".join(f"{label} ({_gap_text(cell, 'none')})" for label, cell in weak) if weak else "none") + ".",
                  ""]
    return "\n".join(lines).rstrip() + "\n"


def write_summary_into(path: Path, summary: str) -> None:
    """Replace the block between the summary markers of a Markdown file (e.g. the README)."""
    text = path.read_text(encoding="utf-8")
    if SUMMARY_START not in text or SUMMARY_END not in text:
        raise UserError(f"{path} has no '{SUMMARY_START}' ... '{SUMMARY_END}' block. Fix: add those two lines "
                        "where the transfer summary should go")
    head, rest = text.split(SUMMARY_START, 1)
    _, tail = rest.split(SUMMARY_END, 1)
    path.write_text(f"{head}{SUMMARY_START}\n{summary}{SUMMARY_END}{tail}", encoding="utf-8")


def _matrix(suite: TransferSuite, cells: list[TransferCell]) -> dict[tuple[str, str], TransferCell]:
    return {(c.row, c.column): c for c in cells}


def markdown_report(suite: TransferSuite, cells: list[TransferCell]) -> str:
    by = _matrix(suite, cells)
    header = "| agent \\ target | " + " | ".join(c.label for c in suite.columns) + " |"
    rule = "|---|" + "---:|" * len(suite.columns)

    def table(fill) -> list[str]:
        lines = [header, rule]
        for row in suite.rows:
            lines.append(f"| {row.label} | " + " | ".join(fill(by[(row.label, c.label)]) for c in suite.columns) + " |")
        return lines

    def success(cell: TransferCell) -> str:
        r = cell.results["true"]
        return f"{'**' if cell.in_training else ''}{_pct(r.success_rate)}{'**' if cell.in_training else ''} " \
               f"({_pct(r.ci95[0])}-{_pct(r.ci95[1])})"

    modes = sorted({action_mode(cell.results["true"].greedy, cell.results["true"].escape_loops) for cell in cells})
    lines = [f"# Transfer matrix: {suite.name}", "", f"Actions: {', '.join(modes)}.", "",
             "Success % with the true description (95% Wilson CI). **Bold**: the target game is in the "
             "row's training set; every other cell is transfer.", ""]
    lines += table(success)
    lines += ["", "## Summary", "", summary_markdown(suite, cells).rstrip()]
    lines += ["", "## Description gap: success with the true description minus with none",
              "", "Percentage points, with a paired 95% interval: both runs play the same seeds, so the interval "
              "is Newcombe's (1998) method 10 for paired proportions, from the per-seed outcomes in report.json. "
              "Near 0: the agent does not use the description.", ""]
    lines += table(lambda cell: _gap_text(cell, "none"))
    lines += ["", "## Every cell", "",
              "Gaps in percentage points with their paired 95% intervals (the three runs of a cell play the same "
              "seeds; report.json lists them and each run's per-seed outcomes).", "",
              "| agent | target | game | split | episodes | true % | none % | shuffled % | gap true-none | "
              "gap true-shuffled | path ratio |",
              "|---|---|---|---|---:|---:|---:|---:|---|---|---:|"]
    for cell in cells:
        r = cell.results
        ratio = "n/a" if r["true"].path_ratio is None else f"{r['true'].path_ratio:.2f}"
        lines.append(f"| {cell.row} | {cell.column}{' (trained)' if cell.in_training else ''} | {r['true'].game} | "
                     f"{r['true'].split} | {r['true'].episodes} | {_pct(r['true'].success_rate)} | "
                     f"{_pct(r['none'].success_rate)} | {_pct(r['shuffled'].success_rate)} | "
                     f"{_gap_text(cell, 'none')} | {_gap_text(cell, 'shuffled')} | {ratio} |")
    return "\n".join(lines)


def heatmap(suite: TransferSuite, cells: list[TransferCell], path: Path) -> None:
    """Two panels: success with the true description, and the gap true - none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    by = _matrix(suite, cells)
    rows, columns = suite.rows, suite.columns
    success = np.array([[100 * by[(r.label, c.label)].results["true"].success_rate for c in columns] for r in rows])
    gap = np.array([[100 * by[(r.label, c.label)].gap("none")[0] for c in columns] for r in rows])
    panel_height = 0.45 * len(rows) + 1.0
    figure, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.95 * len(columns) + 2.5), 2 * panel_height + 2.6),
                                squeeze=False, layout="constrained")
    panels = ((axes[0][0], success, "success % (true description)", "viridis", 0, 100, "{:.0f}"),
              (axes[1][0], gap, "gap true - none (points)", "RdBu", -100, 100, "{:+.0f}"))
    for ax, values, title, cmap, vmin, vmax, fmt in panels:
        image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        bottom = ax is panels[-1][0]
        ax.set_xticks(range(len(columns)), [c.label for c in columns] if bottom else [], rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=8)
        ax.set_title(title, fontsize=10)
        for i, row in enumerate(rows):
            for j, column in enumerate(columns):
                text = fmt.format(values[i, j]) + ("*" if by[(row.label, column.label)].in_training else "")
                shade = (values[i, j] - vmin) / (vmax - vmin)
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if (cmap == "viridis" and shade < 0.5) or (cmap == "RdBu" and abs(gap[i, j]) > 60)
                        else "black")
        figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    figure.suptitle(f"transfer: {suite.name}  (* = game in the agent's training set)", fontsize=10)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_transfer_report(suite: TransferSuite, cells: list[TransferCell], *, out: Path) -> str:
    """report.json, report.md and report.png in ``out``; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    by = _matrix(suite, cells)
    report = {
        "suite": suite.name,
        "ablations": list(ABLATIONS),
        "rows": [dataclasses.asdict(r) for r in suite.rows],
        "columns": [{"label": c.label, "game": c.game, "split": c.split, **c.overrides} for c in suite.columns],
        "matrix": {
            "success": [[by[(r.label, c.label)].results["true"].success_rate for c in suite.columns] for r in suite.rows],
            "gap_none": [[by[(r.label, c.label)].gap("none")[0] for c in suite.columns] for r in suite.rows],
        },
        "cells": [cell.to_json() for cell in cells],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = markdown_report(suite, cells)
    (out / "report.md").write_text(markdown + "\n")
    (out / "summary.md").write_text(summary_markdown(suite, cells))
    heatmap(suite, cells, out / "report.png")
    return markdown
