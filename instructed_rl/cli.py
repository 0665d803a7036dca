"""The ``instructed-rl`` command. Each sub-command lives in ``instructed_rl/commands/``.

Errors a user can fix print as one line on stderr (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from instructed_rl.config import add_arguments, from_args
from instructed_rl.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    from instructed_rl.commands.envs import EnvsShowConfig

    parser = argparse.ArgumentParser(prog="instructed-rl", description="Language-instructed, zero-shot agents for MiniGrid/BabyAI.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    envs = commands.add_parser("envs", help="list the games, or show one world")
    envs_commands = envs.add_subparsers(dest="envs_command", metavar="show")
    show = envs_commands.add_parser("show", help="draw a world, its mission, description and structured instruction")
    add_arguments(show, EnvsShowConfig, positional=("game",))

    from instructed_rl.eval.cell import EvalConfig

    evaluate = commands.add_parser("eval", help="evaluate an agent (or the bot / random) on a game split or a suite")
    add_arguments(evaluate, EvalConfig)

    from instructed_rl.eval.transfer import TransferConfig

    transfer = commands.add_parser("transfer", help="transfer matrix: agents x games outside their training set, "
                                                    "each cell also without / with a shuffled description")
    add_arguments(transfer, TransferConfig)

    from instructed_rl.train.demos import DemosConfig

    demos = commands.add_parser("demos", help="BabyAI-bot demonstrations into a directory of shards (resumable, parallel)")
    add_arguments(demos, DemosConfig)

    from instructed_rl.commands.play import add_play_arguments

    play = commands.add_parser("play", help="type instructions and watch an agent act in a world that persists",
                               conflict_handler="resolve")  # resolve: --instruction is re-added as repeatable
    add_play_arguments(play)

    from instructed_rl.commands.demo import DemoConfig

    demo = commands.add_parser("demo", help="the shipped agent on a few fresh worlds: watch, table, GIF (< 1 min)")
    add_arguments(demo, DemoConfig)

    train = commands.add_parser("train", help="train an agent from a YAML config (+ --key value overrides); resumes")
    train.add_argument("--config", required=True, help="YAML preset, e.g. configs/default.yaml")
    train.add_argument("--out", help="run directory (default runs/<config name>); reruns resume from it")
    return parser


def run(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "train":
        from instructed_rl.commands import train

        train.run(args.config, args.out, extra)
    elif args.command == "demo":
        from instructed_rl.commands import demo

        return demo.run(from_args(demo.DemoConfig, args))
    elif args.command == "envs":
        from instructed_rl.commands import envs

        if args.envs_command == "show":
            print(envs.show_game(from_args(envs.EnvsShowConfig, args)))
        else:
            print(envs.list_games())
    elif args.command == "eval":
        from instructed_rl.commands import eval as evaluate
        from instructed_rl.eval.cell import EvalConfig

        evaluate.run(from_args(EvalConfig, args))
    elif args.command == "transfer":
        from instructed_rl.commands import transfer
        from instructed_rl.eval.transfer import TransferConfig

        transfer.run(from_args(TransferConfig, args))
    elif args.command == "demos":
        from instructed_rl.commands import demos

        demos.run(from_args(demos.DemosConfig, args))
    elif args.command == "play":
        from instructed_rl.commands import play
        from instructed_rl.play import PlayConfig

        return play.run(from_args(PlayConfig, args))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except UserError as error:
        print(f"instructed-rl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("instructed-rl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
