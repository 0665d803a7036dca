"""``instructed-rl transfer``: agents on games outside their training set, with and without the description.

    instructed-rl transfer --agent runs/rules/agent --suite configs/eval/transfer.yaml --out runs/transfer/rules
    instructed-rl transfer --agent bot --suite configs/eval/transfer.yaml --episodes 20
"""

from __future__ import annotations

from pathlib import Path

from instructed_rl.eval.transfer import TransferConfig, load_transfer_suite, run_transfer, write_transfer_report


def run(config: TransferConfig) -> None:
    suite = load_transfer_suite(config.suite, agent=config.agent)  # fail fast, before any episode runs
    out = Path(config.out or Path("runs") / "transfer" / suite.name)
    suite, cells = run_transfer(config)
    print(write_transfer_report(suite, cells, out=out))
    print(f"wrote {out / 'report.json'}, {out / 'report.md'}, {out / 'report.png'}")
