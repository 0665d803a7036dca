"""The ``instructed-rl`` command. Each sub-command lives in ``instructed_rl/commands/``.

Errors a user can fix print as one line on stderr (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import sys

from instructed_rl.config import add_arguments, from_args
from instructed_rl.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line with the fix (not the whole usage block), and an
    epilog may be made only when help is shown (``train``'s lists every key: that imports torch)."""

    def __init__(self, *args, epilog_factory=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.epilog_factory = epilog_factory

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}. Fix: see '{self.prog} --help'\n")

    def format_help(self) -> str:
        if self.epilog_factory is not None:
            self.epilog = "\n\n".join(part for part in (self.epilog, self.epilog_factory()) if part)
            self.epilog_factory = None
        return super().format_help()


def examples(module: str) -> str:
    """The ``instructed-rl ...`` lines of a command module's docstring, as a help page's epilog."""
    import importlib

    doc = importlib.import_module(module).__doc__ or ""
    lines = [line.strip() for line in doc.splitlines() if line.strip().startswith("instructed-rl ")]
    return "examples:\n" + "\n".join(f"  {line}" for line in lines) if lines else ""


def _command(commands, name: str, module: str, **kwargs) -> argparse.ArgumentParser:
    return commands.add_parser(name, epilog=examples(module), formatter_class=argparse.RawDescriptionHelpFormatter,
                               **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from instructed_rl.commands.envs import EnvsShowConfig

    parser = Parser(prog="instructed-rl", description="Language-instructed, zero-shot agents for MiniGrid/BabyAI.",
                    epilog="'instructed-rl COMMAND --help' shows a command's options, defaults and examples.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    envs = _command(commands, "envs", "instructed_rl.commands.envs", help="list the games, or show one world")
    envs_commands = envs.add_subparsers(dest="envs_command", metavar="show")
    show = _command(envs_commands, "show", "instructed_rl.commands.envs",
                    help="draw a world, its mission, description and structured instruction")
    add_arguments(show, EnvsShowConfig, positional=("game",))

    from instructed_rl.eval.cell import EvalConfig

    evaluate = _command(commands, "eval", "instructed_rl.commands.eval",
                        help="evaluate an agent (or the bot / random) on a game split or a suite")
    add_arguments(evaluate, EvalConfig)

    from instructed_rl.eval.transfer import TransferConfig

    transfer = _command(commands, "transfer", "instructed_rl.commands.transfer",
                        help="transfer matrix: agents x games outside their training set, "
                             "each cell also without / with a shuffled description")
    add_arguments(transfer, TransferConfig)

    from instructed_rl.demos import DemosConfig

    make_demos = _command(commands, "make-demos", "instructed_rl.commands.make_demos",
                          help="BabyAI-bot demonstrations into a directory of shards (resumable, parallel), "
                               "for 'train --demos'")
    add_arguments(make_demos, DemosConfig)

    from instructed_rl.commands.play import add_play_arguments

    play = _command(commands, "play", "instructed_rl.commands.play",
                    help="type instructions and watch an agent act in a world that persists",
                    conflict_handler="resolve")  # resolve: --instruction is re-added as repeatable
    add_play_arguments(play)

    from instructed_rl.commands.serve import ServeConfig

    serve = _command(commands, "serve", "instructed_rl.commands.serve",
                     help="a local web page: type an instruction and watch the agent carry it out")
    add_arguments(serve, ServeConfig)

    from instructed_rl.commands.demo import DemoConfig

    demo = _command(commands, "demo", "instructed_rl.commands.demo",
                    help="the shipped agent on a few fresh worlds: watch, table, GIF (< 1 min)")
    add_arguments(demo, DemoConfig)

    from instructed_rl.commands.push import PushConfig

    push = _command(commands, "push", "instructed_rl.commands.push",
                    help="upload a saved agent and its model card to the Hugging Face Hub")
    add_arguments(push, PushConfig, positional=("agent",))

    from instructed_rl.commands.train import TrainCommandConfig, overrides_help

    train = _command(commands, "train", "instructed_rl.commands.train", epilog_factory=overrides_help,
                     help="train an agent from a YAML config (+ --key value overrides); resumes")
    add_arguments(train, TrainCommandConfig)
    return parser


RENAMED = {"demos": "make-demos"}  # old command names: an error that names the new one, not "invalid choice"


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in RENAMED:
        new = RENAMED[argv[0]]
        raise UserError(f"there is no command '{argv[0]}' any more: it is called '{new}'. "
                        f"Fix: instructed-rl {' '.join([new, *argv[1:]])}")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "train":
        from instructed_rl.commands import train

        command = from_args(train.TrainCommandConfig, args)
        train.run(command.config, command.out, extra)
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

        evaluate.run(from_args(EvalConfig, args), given=frozenset(vars(args)))
    elif args.command == "transfer":
        from instructed_rl.commands import transfer
        from instructed_rl.eval.transfer import TransferConfig

        transfer.run(from_args(TransferConfig, args))
    elif args.command == "make-demos":
        from instructed_rl.commands import make_demos

        make_demos.run(from_args(make_demos.DemosConfig, args))
    elif args.command == "play":
        from instructed_rl.commands import play
        from instructed_rl.interactive.config import PlayConfig

        return play.run(from_args(PlayConfig, args))
    elif args.command == "push":
        from instructed_rl.commands import push

        return push.run(from_args(push.PushConfig, args))
    elif args.command == "serve":
        from instructed_rl.commands import serve

        return serve.run(from_args(serve.ServeConfig, args))
    return 0


def main(argv: list[str] | None = None) -> int:
    # Line by line even into a file or a pipe, so a log shows the work as it goes.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    try:
        return run(argv)
    except UserError as error:
        print(f"instructed-rl: error: {one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("instructed-rl: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        if error.filename is None and error.strerror is None:
            raise  # not about a file or the system: a bug, which a traceback reports best
        # A disk that filled up, a folder that went read-only mid-run: the system's words, and where.
        where = f"{error.filename}: " if error.filename else ""
        print(f"instructed-rl: error: {where}{error.strerror or error} (system error {error.errno}). "
              "Fix: check that path, its permissions and the free disk space, then run the same command again",
              file=sys.stderr)
        return 1


def one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
