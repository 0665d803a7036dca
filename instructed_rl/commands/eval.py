"""``instructed-rl eval``: one cell, or a suite of cells, with honest numbers.

    instructed-rl eval --agent bot --game BabyAI-GoToLocal-v0 --episodes 500
    instructed-rl eval --agent data/agents/default --game SkillRoom --split unseen_compositions --json cell.json
    instructed-rl eval --agent data/agents/default --suite configs/eval/zero_shot.yaml --out runs/eval/zero_shot
"""

from __future__ import annotations

from pathlib import Path

from instructed_rl.errors import UserError
from instructed_rl.eval.cell import EvalConfig, check_agent, format_cell, run_cell, write_json
from instructed_rl.paths import check_output_dir, check_output_file


def run(config: EvalConfig, *, given: frozenset[str] | None = None) -> None:
    """``given``: the flags typed on the command line (they win over a suite's own settings)."""
    import torch

    torch.set_num_threads(1)  # one observation at a time: a second thread only waits (workers add cores)
    check_agent(config.agent)
    if config.suite:
        from instructed_rl.eval.suite import load_suite, run_suite, write_report

        if config.json:
            raise UserError("--json writes one cell; a suite writes report.json into --out. Fix: drop --json "
                            "(or pass --out DIR)")
        suite = load_suite(config.suite)
        out = Path(config.out or Path("runs") / "eval" / f"{Path(config.agent).name}-{suite.name}")
        check_output_dir(out, "--out")  # before the first episode, not after the last
        try:
            results = run_suite(config, out=out, given=given)
        except KeyboardInterrupt as stop:
            finished = stop.args[0] if stop.args else []
            if finished:
                write_report(finished, config=config, out=out)
            print(f"stopped after {len(finished)} of {len(suite.cells)} cells; partial report in {out}. "
                  "Run the same command to measure the rest.")
            raise SystemExit(130) from None
        print(write_report(results, config=config, out=out))
        print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
        return
    if config.out:
        raise UserError("--out is the directory of a suite's report. Fix: for one cell write --json FILE, "
                        "or pass --suite FILE")
    if config.json:
        check_output_file(config.json, "--json", example="cell.json")  # before the first episode, not after the last
    result = run_cell(config)
    print(format_cell(result))
    if config.json:
        write_json(result, config.json)
        print(f"wrote {config.json}")
