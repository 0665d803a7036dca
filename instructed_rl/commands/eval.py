"""``instructed-rl eval``: one cell, or a suite of cells, with honest numbers.

    instructed-rl eval --agent bot --game BabyAI-GoToLocal-v0 --episodes 500
    instructed-rl eval --agent data/agents/default --game SkillRoom --split unseen_compositions --json cell.json
    instructed-rl eval --agent data/agents/default --suite configs/eval/zero_shot.yaml --out runs/eval/zero_shot
"""

from __future__ import annotations

from pathlib import Path

from instructed_rl.eval.cell import EvalConfig, format_cell, run_cell, write_json


def run(config: EvalConfig) -> None:
    if config.suite:
        from instructed_rl.eval.suite import load_suite, run_suite, write_report

        suite = load_suite(config.suite)
        out = Path(config.out or Path("runs") / "eval" / f"{Path(config.agent).name}-{suite.name}")
        try:
            results = run_suite(config, out=out)
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
    result = run_cell(config)
    print(format_cell(result))
    if config.json:
        write_json(result, config.json)
        print(f"wrote {config.json}")
