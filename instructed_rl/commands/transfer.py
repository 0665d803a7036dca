"""``instructed-rl transfer``: agents on games outside their training set, with and without the description.

    instructed-rl transfer --agent runs/reader/agent --suite configs/eval/transfer.yaml --out runs/transfer/reader
    instructed-rl transfer --agent bot --suite configs/eval/transfer.yaml --episodes 20
"""

from __future__ import annotations

from pathlib import Path

from instructed_rl.errors import UserError
from instructed_rl.eval.cell import MAX_SEED
from instructed_rl.eval.suite import load_transfer_suite
from instructed_rl.eval.transfer import (
    TransferConfig,
    run_transfer,
    summary_markdown,
    write_summary_into,
    write_transfer_report,
)
from instructed_rl.paths import check_output_dir


def run(config: TransferConfig) -> None:
    import torch

    torch.set_num_threads(1)  # one observation at a time: a second thread only waits (workers add cores)
    if config.seed is not None and not 0 <= config.seed <= MAX_SEED:
        raise UserError(f"--seed must be from 0 to {MAX_SEED:,}, got {config.seed}. Fix: --seed 1000000")
    suite = load_transfer_suite(config.suite, agent=config.agent)  # fail fast, before any episode runs
    out = check_output_dir(config.out or Path("runs") / "transfer" / suite.name, "--out")  # before, not after, the work
    if config.readme:  # the file and its markers are checked before the work too
        _check_readme(Path(config.readme))
    suite, cells = run_transfer(config, out=out)  # out/cells.jsonl: a rerun continues where this one stopped
    print(write_transfer_report(suite, cells, out=out))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'summary.md'}, {out / 'report.png'}")
    if config.readme:
        write_summary_into(Path(config.readme), summary_markdown(suite, cells))
        print(f"wrote the summary into {config.readme}")


def _check_readme(path: Path) -> None:
    from instructed_rl.eval.transfer import SUMMARY_END, SUMMARY_START

    if not path.is_file():
        raise UserError(f"--readme {path}: no such file. Fix: pass an existing Markdown file such as README.md")
    text = path.read_text(encoding="utf-8")
    if SUMMARY_START not in text or SUMMARY_END not in text:
        raise UserError(f"--readme {path} has no '{SUMMARY_START}' ... '{SUMMARY_END}' block. "
                        "Fix: add those two lines where the summary should go")

