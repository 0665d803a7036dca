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
with Ctrl-C (which writes a partial report) continues where it stopped. Once every cell is in,
the file keeps only the report's cells (another agent's, measured there before, go).

The transfer matrix's suite files (rows of agents, columns of games; :mod:`instructed_rl.eval.transfer`)
are read here too, by :func:`load_transfer_suite`. Both kinds are checked through
:mod:`instructed_rl.yaml_check`: a mistake is one line, ``FILE:LINE: KEY: problem. Fix: ...``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from instructed_rl.model.loops import action_mode
from instructed_rl.config import from_mapping
from instructed_rl.language.corpus import load_corpus
from instructed_rl.errors import UserError
from instructed_rl.eval.cell import CellResult, EvalConfig, default_split, format_cell, resolve_mode, run_cell
from instructed_rl.games.spec import find_game_at
from instructed_rl.yaml_check import Where, dotted, read_yaml_mapping

SUITE_KEYS = ("name", "description", "episodes", "seed", "greedy", "rephrase", "cells")
CELL_KEYS = ("label", "game", "split", "corpus", "episodes", "seed", "greedy", "rephrase", "description", "instruction",
             "sequences")
TRANSFER_KEYS = ("name", "description", "episodes", "seed", "rows", "columns")
ROW_KEYS = ("label", "agent", "games")
COLUMN_KEYS = ("label", "game", "split", "corpus", "episodes", "seed", "sequences")


@dataclasses.dataclass(frozen=True)
class SuiteCell:
    label: str
    overrides: dict[str, Any]
    where: dict[str, Where] = dataclasses.field(default_factory=dict, compare=False)  # key -> FILE:LINE


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    cells: tuple[SuiteCell, ...]
    defaults: dict[str, Any]
    where: dict[str, Where] = dataclasses.field(default_factory=dict, compare=False)  # top-level key -> FILE:LINE


def load_suite(path: str | Path) -> Suite:
    file = read_yaml_mapping(path, what="suite", example="configs/eval/zero_shot.yaml")
    file.known((), SUITE_KEYS)
    parsed = []
    cells = file.items("cells", needs="game", allowed=CELL_KEYS, required=True,
                       fix="list cells like '- {game: SkillRoom, split: test}'")
    for at, cell in cells:
        overrides = {k: v for k, v in cell.items() if k != "label"}
        label = str(cell.get("label") or f"{cell['game']} {cell.get('split', '')}".strip())
        parsed.append(SuiteCell(label=label, overrides=overrides, where=file.located(at)))
    for key in ("greedy", "rephrase"):
        for at in [()] + [at for at, _ in cells]:
            file.of_type(at + (key,), bool, problem="must be true or false, got "
                         f"{file.get(at + (key,))!r}", fix=f"write '{key}: false'")
    defaults = {k: file.data[k] for k in ("episodes", "seed", "greedy", "rephrase") if k in file.data}
    return Suite(name=str(file.data.get("name") or Path(path).stem), cells=tuple(parsed), defaults=defaults,
                 where=file.located())


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    agent: str
    games: tuple[str, ...]  # the games it was trained on (empty for the reference agents)


@dataclasses.dataclass(frozen=True)
class Column:
    label: str
    game: str
    split: str
    overrides: dict[str, Any]  # corpus / episodes / seed / sequences, passed to EvalConfig


@dataclasses.dataclass(frozen=True)
class TransferSuite:
    """A transfer matrix's suite file (:mod:`instructed_rl.eval.transfer`): rows of agents, columns of games."""

    name: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    defaults: dict[str, Any]


def _training_games(agent: str) -> tuple[str, ...]:
    """The games a saved agent was trained on, from its config.json (none for bot / random)."""
    from instructed_rl.acting.actors import REFERENCE_AGENTS
    from instructed_rl.model.hub import resolve_agent

    if agent in REFERENCE_AGENTS:
        return ()
    path = resolve_agent(agent) / "config.json"  # a shipped name or Hub id, too
    try:
        return tuple(json.loads(path.read_text(encoding="utf-8")).get("games") or ())
    except (OSError, ValueError):
        return ()


def load_transfer_suite(path: str | Path, *, agent: str | None = None) -> TransferSuite:
    """Read and check a transfer suite; ``agent`` replaces its rows with one row for that agent."""
    from instructed_rl.acting.actors import REFERENCE_AGENTS
    from instructed_rl.acting.foreign import is_python_agent
    from instructed_rl.model.hub import resolve_agent

    file = read_yaml_mapping(path, what="transfer suite", example="configs/eval/transfer.yaml")
    file.known((), TRANSFER_KEYS)
    defaults = {k: file.data[k] for k in ("episodes", "seed") if k in file.data}
    columns = []
    for at, item in file.items("columns", needs="game", allowed=COLUMN_KEYS, required=True,
                               fix="list target games like '- {game: RoleRoom, split: unseen_rules}'"):
        lines = {**file.located(), **file.located(at)}
        spec = find_game_at(str(item["game"]), lines["game"])
        split = item.get("split") or default_split(spec.id)
        if split not in spec.splits:
            raise file.fail(at + ("split",), f"game {spec.id} has no split {split!r}",
                            f"use one of {', '.join(spec.splits)}")
        overrides = {k: v for k, v in item.items() if k not in ("label", "game", "split")}
        from_mapping(EvalConfig, {"agent": "bot", "game": spec.id, "split": split, **defaults, **overrides},
                     source=f"{path}: {dotted(at)}", lines=lines)  # the values' types, before any episode runs
        label = str(item.get("label") or f"{spec.id} {split}")
        columns.append(Column(label=label, game=str(item["game"]), split=split, overrides=overrides))

    def missing(name: str, flag: str = "--agent") -> bool:
        return (name not in REFERENCE_AGENTS and not is_python_agent(name)
                and not resolve_agent(name, flag=flag).is_dir())

    train = ("train it (e.g. instructed-rl train --config configs/reader.yaml --out runs/reader) "
             "or pass --agent DIR|bot|random")
    rows = []
    if agent is not None:
        if missing(agent):
            raise UserError(f"--agent {agent!r}: not a saved agent directory. Fix: {train}")
        rows.append(Row(label=agent, agent=agent, games=_training_games(agent)))
    else:
        for at, item in file.items("rows", needs="agent", allowed=ROW_KEYS, required=True,
                                   fix="list agents like '- {label: mine, agent: runs/reader/agent}', or pass --agent"):
            games = file.of_type(at + ("games",), list, problem="must be a list of game ids",
                                 fix="write 'games: [RoleRoom, WordRoom]'")
            if games is not None and not all(isinstance(g, str) for g in games):
                raise file.fail(at + ("games",), "must be a list of game ids", "write 'games: [RoleRoom, WordRoom]'")
            name = str(item["agent"])
            if missing(name, flag=f"{file.where(at + ('agent',))}:"):
                raise file.fail(at + ("agent",), f"{name!r} is not a saved agent directory", train)
            rows.append(Row(label=str(item.get("label") or name), agent=name,
                            games=tuple(games) if games is not None else _training_games(name)))
    labels = [r.label for r in rows]
    if len(set(labels)) != len(labels):
        raise file.fail("rows", "two rows share a label", "give each row its own 'label'")
    return TransferSuite(name=str(file.data.get("name") or Path(path).stem), rows=tuple(rows), columns=tuple(columns),
                         defaults=defaults)


MEASURED = "cells.jsonl"
# Settings that do not change what a cell measures.
NOT_MEASURED = ("workers", "suite", "json", "out")


def agent_fingerprint(agent: str) -> str:
    """sha256 over a saved agent's files (its name for the reference agents 'bot' and 'random')."""
    from instructed_rl.acting.foreign import is_python_agent
    from instructed_rl.model.hub import resolve_agent

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
        row = _measured_row(line)
        if row is not None:  # None: a line cut short by an interruption: that cell runs again
            measured[row[0]] = row[1]
    return measured


def _measured_row(line: str) -> tuple[str, CellResult] | None:
    """One line of ``cells.jsonl`` as (key, result); None where it does not read as one."""
    try:
        row = json.loads(line)
        return row["key"], CellResult(**dict(row["result"], ci95=tuple(row["result"]["ci95"])))
    except (ValueError, KeyError, TypeError):
        return None


def keep_measured(out: Path | None, keys: list[str]) -> None:
    """Rewrite ``out/cells.jsonl`` with only the cells of ``keys``, once a report is complete: the
    file then records the runs behind that report, not every agent ever measured there."""
    if out is None or not (out / MEASURED).exists():
        return
    wanted = set(keys)
    lines = [line for line in (out / MEASURED).read_text().splitlines()
             if (row := _measured_row(line)) is not None and row[0] in wanted]
    partial = out / (MEASURED + ".partial")
    partial.write_text("".join(line + "\n" for line in lines))
    partial.replace(out / MEASURED)  # a stop mid-write leaves the old file whole


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
    keys = []
    for index, (cell, cell_config) in enumerate(zip(suite.cells, cell_configs)):
        key = _cell_key(cell.label, cell_config, fingerprint)
        keys.append(key)
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
    keep_measured(out, keys)
    return results


def _cell_config(config: EvalConfig, suite: Suite, index: int, explicit: dict[str, Any]) -> EvalConfig:
    """Cell ``index``'s settings, checked (types, game, split, corpus) before any cell runs:
    a mistake in the last cell must not wait for the others to finish."""
    cell = suite.cells[index]
    values = {**suite.defaults, **cell.overrides, **explicit, "suite": None, "json": None, "out": None}
    base = {k: v for k, v in dataclasses.asdict(config).items() if k not in values}
    where = f"{config.suite}: cells[{index}]"
    lines = {**{k: suite.where[k] for k in suite.defaults if k in suite.where}, **cell.where}
    cell_config = from_mapping(EvalConfig, {**base, **values}, source=where,
                               lines={k: v for k, v in lines.items() if k not in explicit})
    spec = find_game_at(cell_config.game, lines.get("game"))
    split = cell_config.split or default_split(spec.id)
    if split not in spec.splits:
        at = lines.get("split") if "split" in cell.overrides else where
        raise UserError(f"{at}: game {spec.id} has no split {split!r}. Fix: use one of {', '.join(spec.splits)}")
    if cell_config.corpus is not None:
        load_corpus(cell_config.corpus)
    # A cell that names no mode takes the agent's; resolved here so that a reused cell's key names it.
    return resolve_mode(cell_config)


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
    modes = sorted({action_mode(r.greedy, r.escape_loops) + ("" if r.greedy else " (seeded per episode)")
                    for _, r in results})
    (out / "report.md").write_text(f"# {suite.name}: {config.agent}\n{note}\nActions: {', '.join(modes)}.\n\n{table}\n")
    bar_chart(results, out / "report.png", title=f"{suite.name}: {Path(config.agent).name}")
    return table
