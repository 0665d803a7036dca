"""How a pointer-reader agent reads, text only: for every column of the transfer suite, the share
of fresh missions it rewrites into the env's plain mission (every object named by its
colour and type; articles aside), and a few examples. No env steps, so it runs in a minute or two.

Run::

    .venv/bin/python benchmarks/reading_text.py --agent data/agents/reader --worlds 200
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from instructed_rl.model.agent import Agent
from instructed_rl.eval.transfer import load_transfer_suite
from instructed_rl.model.pointer import same_reading
from instructed_rl.train.reading import reading_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="data/agents/reader")
    parser.add_argument("--suite", default="configs/eval/transfer.yaml")
    parser.add_argument("--worlds", type=int, default=200, help="fresh worlds per column")
    parser.add_argument("--seed", type=int, default=3_000_000)
    parser.add_argument("--examples", type=int, default=0, help="print this many misread missions per column")
    parser.add_argument("--only", default="", help="only the columns whose label contains this text")
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent = Agent.from_pretrained(args.agent)
    if agent.config.policy.reader != "pointer":
        raise SystemExit(f"{args.agent} has no pointer reader (reader: {agent.config.policy.reader})")
    suite = load_transfer_suite(args.suite)
    start = time.perf_counter()
    print(f"| column | read exactly as the plain mission (of {args.worlds}) |")
    print("|---|---:|")
    for column in [c for c in suite.columns if args.only in c.label]:
        examples = reading_examples([column.game], corpus=agent.config.corpus, split=column.split,
                                    worlds_per_game=args.worlds, seed=args.seed)
        read = agent.read([e.instruction for e in examples], [e.description for e in examples])
        right = [same_reading(r, e.plain) for r, e in zip(read, examples)]
        print(f"| {column.label} | {100 * sum(right) / len(right):.1f}% |")
        wrong = [(e, r) for e, r, ok in zip(examples, read, right) if not ok][:args.examples]
        for example, reading in wrong:
            print(f"|   {example.instruction!r} -> {reading!r} (plain {example.plain!r}) | |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{time.perf_counter() - start:.0f} s, peak RSS {peak:.0f} MiB, 1 thread")


if __name__ == "__main__":
    main()
