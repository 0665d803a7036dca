"""Every command and every option, given a bad value: a one-line error with a fix, never a traceback.

The table is walked through the CLI's own entry point (``instructed_rl.cli.main``) in this
process, so two hundred cases take seconds; a traceback would escape ``main`` and fail the
case. A few cases also run through the installed ``instructed-rl`` binary. Cases whose
mistake is an output path ask for so much work (a million episodes) that the test would hang
if the path were checked after the work instead of before it.

``test_the_table_covers_every_option`` keeps the table whole: a new flag or config key without
a bad-input case fails it.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest

from instructed_rl.cli import build_parser, main
from tests.conftest import run_cli

UNWRITABLE = "/sys/instructed-rl-test"  # /sys refuses new files, even to root (a chmod'ed folder does not)
NEEDS_SYS = pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a folder nobody may write in")

EVAL = ["eval", "--agent", "bot", "--game", "GoToRoom", "--episodes", "1"]
SUITE = ["eval", "--agent", "bot", "--suite", "configs/eval/zero_shot.yaml", "--episodes", "1000000"]
TRANSFER = ["transfer", "--agent", "bot", "--episodes", "1000000"]
DEMOS = ["make-demos", "--game", "GoToRoom", "--out", "{tmp}/demos", "--episodes", "2"]
SERVE = ["serve", "--agent", "bot", "--port", "0"]
PLAY = ["play", "--agent", "bot", "--game", "GoToRoom", "--fps", "0", "--instruction", "go to the grey box"]
DEMO = ["demo", "--agent", "bot", "--fps", "0", "--record", "{tmp}/demo.gif"]
TRAIN = ["train", "--config", "configs/tiny.yaml", "--out", "{tmp}/run"]

# (what is wrong, argv, a phrase the one-line error must hold)
CASES = [
    # envs
    ("envs: a stray word", ["envs", "GoToRoom"], "invalid choice"),
    ("envs show: no game", ["envs", "show"], "required: game"),
    ("envs show: misspelt game", ["envs", "show", "GoToRom"], "did you mean GoToRoom"),
    ("envs show: negative seed", ["envs", "show", "SkillRoom", "--seed", "-1"], "--seed must be 0 or more"),
    ("envs show: seed not a number", ["envs", "show", "SkillRoom", "--seed", "abc"], "invalid int value"),
    ("envs show: unknown split", ["envs", "show", "SkillRoom", "--split", "bogus"], "unknown split 'bogus'"),
    ("envs show: missing corpus", ["envs", "show", "SkillRoom", "--corpus", "nope.yaml"], "no such corpus file"),
    ("envs show: unknown colour mode", ["envs", "show", "SkillRoom", "--color", "pink"], "invalid choice"),
    # eval, one cell
    ("eval: empty agent", ["eval", "--agent", "", "--game", "GoToRoom"], "--agent is required"),
    ("eval: missing agent", ["eval", "--agent", "/no/such/agent", "--game", "GoToRoom"], "not a saved agent directory"),
    ("eval: no game", ["eval", "--agent", "bot"], "give --game"),
    ("eval: unknown game", EVAL[:3] + ["--game", "Nope"], "unknown game"),
    ("eval: unknown split", EVAL + ["--split", "bogus"], "has no split 'bogus'"),
    ("eval: missing corpus", EVAL + ["--corpus", "nope.yaml"], "no such corpus file"),
    ("eval: zero episodes", EVAL + ["--episodes", "0"], "--episodes must be positive"),
    ("eval: episodes not a number", EVAL + ["--episodes", "abc"], "invalid int value"),
    ("eval: a typo's worth of episodes", EVAL + ["--episodes", "100000000"], "at most 1,000,000"),
    ("eval: negative seed", EVAL + ["--seed", "-1"], "--seed must be from 0"),
    ("eval: huge seed", EVAL + ["--seed", "99999999999999999999"], "--seed must be from 0"),
    ("eval: seed in e-notation", EVAL + ["--seed", "1e6"], "invalid int value"),
    ("eval: zero workers", EVAL + ["--workers", "0"], "--workers must be at least 1"),
    ("eval: --greedy with a value", EVAL + ["--greedy=no"], "ignored explicit argument"),
    ("eval: --escape-loops with a value", EVAL + ["--escape-loops=0"], "ignored explicit argument"),
    ("eval: unknown description ablation", EVAL + ["--description", "bogus"], "invalid choice"),
    ("eval: unknown instruction ablation", EVAL + ["--instruction", "bogus"], "invalid choice"),
    ("eval: unknown sequences mode", EVAL + ["--sequences", "bogus"], "invalid choice"),
    ("eval: --rephrase with a value", EVAL + ["--rephrase=no"], "ignored explicit argument"),
    ("eval: --json is a directory", EVAL[:5] + ["--episodes", "1000000", "--json", "{tmp}"], "is a directory, not a file"),
    ("eval: --json in a file", EVAL[:5] + ["--episodes", "1000000", "--json", "{file}/cell.json"], "is a file"),
    ("eval: --json unwritable", EVAL[:5] + ["--episodes", "1000000", "--json", UNWRITABLE + "/cell.json"],
     "cannot write in"),
    ("eval: --out without a suite", EVAL + ["--out", "{tmp}/report"], "--out is the directory of a suite"),
    # eval, suites
    ("eval: missing suite", ["eval", "--agent", "bot", "--suite", "nope.yaml"], "no such suite file"),
    ("eval: suite not YAML", ["eval", "--agent", "bot", "--suite", "{bad_yaml}"], "line 2, column"),
    ("eval: suite cell of the wrong type", ["eval", "--agent", "bot", "--suite", "{bad_cell}"],
     "cells[1].episodes: must be a whole number"),
    ("eval: suite cell with a split its game lacks", ["eval", "--agent", "bot", "--suite", "{bad_split}"],
     "cells[1].split: game GoToRoom has no split 'unseen_sequences'"),
    ("eval: suite and --json", SUITE + ["--json", "{tmp}/x.json"], "--json writes one cell"),
    ("eval: suite --out is a file", SUITE + ["--out", "{file}"], "is a file, not a directory"),
    ("eval: suite --out unwritable", SUITE + ["--out", UNWRITABLE], "cannot write in"),
    # transfer
    ("transfer: missing suite", ["transfer", "--suite", "nope.yaml"], "nope.yaml"),
    ("transfer: empty suite", ["transfer", "--suite", ""], "give --suite"),
    ("transfer: missing agent", ["transfer", "--agent", "/no/such/agent"], "/no/such/agent"),
    ("transfer: zero episodes", ["transfer", "--episodes", "0"], "--episodes must be positive"),
    ("transfer: negative seed", ["transfer", "--seed", "-1"], "--seed must be from 0"),
    ("transfer: zero workers", ["transfer", "--workers", "0"], "--workers must be at least 1"),
    ("transfer: --greedy with a value", ["transfer", "--greedy=1"], "ignored explicit argument"),
    ("transfer: --escape-loops with a value", ["transfer", "--escape-loops=yes"], "ignored explicit argument"),
    ("transfer: --out is a file", TRANSFER + ["--out", "{file}"], "is a file, not a directory"),
    ("transfer: --out unwritable", TRANSFER + ["--out", UNWRITABLE], "cannot write in"),
    ("transfer: --readme missing", TRANSFER + ["--readme", "{tmp}/NOPE.md"], "no such file"),
    ("transfer: --readme without its block", TRANSFER + ["--readme", "{file}"], "block"),
    # make-demos (and its old name)
    ("demos: the old name", ["demos", "--game", "GoToRoom"], "it is called 'make-demos'"),
    ("make-demos: no game", ["make-demos", "--out", "{tmp}/d"], "give --game"),
    ("make-demos: unknown game", ["make-demos", "--game", "Nope", "--out", "{tmp}/d"], "unknown game"),
    ("make-demos: no out", ["make-demos", "--game", "GoToRoom"], "give --out"),
    ("make-demos: --out is a file", ["make-demos", "--game", "GoToRoom", "--out", "{file}", "--episodes", "1000000"],
     "is a file, not a directory"),
    ("make-demos: --out unwritable", ["make-demos", "--game", "GoToRoom", "--out", UNWRITABLE, "--episodes", "1000000"],
     "cannot write in"),
    ("make-demos: unknown split", DEMOS + ["--split", "bogus"], "unknown split"),
    ("make-demos: missing corpus", DEMOS + ["--corpus", "nope.yaml"], "no such corpus file"),
    ("make-demos: zero episodes", DEMOS + ["--episodes", "0"], "--episodes must be positive"),
    ("make-demos: negative seed", DEMOS + ["--seed", "-1"], "--seed must be non-negative"),
    ("make-demos: huge seed", DEMOS + ["--seed", "3000000000"], "--seed must be from 0"),
    ("make-demos: zero shard size", DEMOS + ["--shard-size", "0"], "--shard-size must be positive"),
    ("make-demos: zero workers", DEMOS + ["--workers", "0"], "--workers must be at least 1"),
    ("make-demos: --progress with a value", DEMOS + ["--progress=yes"], "ignored explicit argument"),
    # play
    ("play: missing agent", PLAY + ["--agent", "/no/such/agent"], "not a saved agent directory"),
    ("play: empty agent", PLAY + ["--agent", ""], "--agent is empty"),
    ("play: Hub id not in the cache (offline)", PLAY + ["--agent", "nobody/no-such-agent"],
     "not in the Hugging Face Hub cache"),
    ("play: misspelt game", PLAY + ["--game", "GoToRom"], "did you mean GoToRoom"),
    ("play: negative seed", PLAY + ["--seed", "-3"], "--seed must be from 0"),
    ("play: unknown split", PLAY + ["--split", "bogus"], "unknown split 'bogus'"),
    ("play: missing corpus", PLAY + ["--corpus", "nope.yaml"], "no such corpus file"),
    ("play: unknown view", PLAY + ["--view", "tv"], "invalid choice"),
    ("play: unknown colour mode", PLAY + ["--color", "pink"], "invalid choice"),
    ("play: unknown video type", PLAY + ["--record", "{tmp}/x.avi"], "end the name in .gif or .mp4"),
    ("play: record into a missing folder", PLAY + ["--record", "{tmp}/no/x.gif"], "no such directory"),
    ("play: record unwritable", PLAY + ["--record", UNWRITABLE + ".gif"], "cannot write in"),
    ("play: negative fps", PLAY + ["--fps", "-1"], "--fps must be 0"),
    ("play: fps not a number", PLAY + ["--fps", "nan"], "fps must be a number"),
    ("play: --instruction without text", PLAY + ["--instruction"], "expected one argument"),
    ("play: zero max steps", PLAY + ["--max-steps", "0"], "--max-steps must be positive"),
    ("play: --greedy with a value", PLAY + ["--greedy=no"], "ignored explicit argument"),
    ("play: --anyway with a value", PLAY + ["--anyway=yes"], "ignored explicit argument"),
    # serve: every check runs before the server listens
    ("serve: missing agent", SERVE + ["--agent", "/no/such/agent"], "not a saved agent directory"),
    ("serve: empty agent", SERVE + ["--agent", ""], "--agent is empty"),
    ("serve: misspelt game", SERVE + ["--game", "GoToRom"], "did you mean GoToRoom"),
    ("serve: negative seed", SERVE + ["--seed", "-1"], "--seed must be from 0"),
    ("serve: unknown split", SERVE + ["--split", "bogus"], "unknown split 'bogus'"),
    ("serve: missing corpus", SERVE + ["--corpus", "nope.yaml"], "unknown corpus 'nope.yaml'"),
    ("serve: port out of range", SERVE + ["--port", "70000"], "--port must be from 0 to 65535"),
    ("serve: port not a number", SERVE + ["--port", "abc"], "invalid int value"),
    ("serve: empty host", SERVE + ["--host", ""], "--host is empty"),
    ("serve: zero max steps", SERVE + ["--max-steps", "0"], "--max-steps must be positive"),
    ("serve: --greedy with a value", SERVE + ["--greedy=no"], "ignored explicit argument"),
    ("serve: --anyway with a value", SERVE + ["--anyway=yes"], "ignored explicit argument"),
    # demo
    ("demo: missing agent", DEMO + ["--agent", "/no/such/agent"], "not a saved agent directory"),
    ("demo: negative seed", DEMO + ["--seed", "-1"], "--seed must be from 0"),
    ("demo: negative fps", DEMO + ["--fps", "-2"], "--fps must be 0"),
    ("demo: --greedy with a value", DEMO + ["--greedy=no"], "ignored explicit argument"),
    ("demo: unknown video type", DEMO + ["--record", "{tmp}/demo.avi"], "end the name in .gif or .mp4"),
    ("demo: record unwritable", DEMO + ["--record", UNWRITABLE + "/demo.gif"], "cannot write in"),
    ("demo: free-text colour", DEMO + ["--color", "pink"], "invalid choice"),
    # eval: the other forms of --agent (shipped name, Hub id, python:MODULE:FACTORY)
    ("eval: Hub id not in the cache (offline)", EVAL[:1] + ["--agent", "nobody/no-such-agent"] + EVAL[3:],
     "not in the Hugging Face Hub cache"),
    ("eval: python agent without a factory", EVAL[:1] + ["--agent", "python:json"] + EVAL[3:],
     "needs a module and a factory"),
    ("eval: python agent module missing", EVAL[:1] + ["--agent", "python:no_such_module_xyz:make"] + EVAL[3:],
     "cannot import no_such_module_xyz"),
    ("eval: python agent file missing", EVAL[:1] + ["--agent", "python:{tmp}/nope.py:make"] + EVAL[3:],
     "no such file"),
    ("eval: python agent factory missing", EVAL[:1] + ["--agent", "python:json:no_such_factory"] + EVAL[3:],
     "has no callable no_such_factory"),
    ("eval: python agent's object cannot act", EVAL[:1] + ["--agent", "python:json:JSONDecoder"] + EVAL[3:],
     "has no start() method"),
    ("eval: python agent's bad action", EVAL[:1] + ["--agent", "python:{bad_policy}:make"] + EVAL[3:],
     "act() returned 'left'"),
    # push: every check runs before anything is uploaded
    ("push: no agent", ["push", "--repo", "someone/agent"], "required: agent"),
    ("push: empty agent", ["push", "", "--repo", "someone/agent"], "the agent is empty"),
    ("push: missing agent", ["push", "/no/such/agent", "--repo", "someone/agent"], "not a saved agent directory"),
    ("push: a folder that is no agent", ["push", "{tmp}", "--repo", "someone/agent"], "not a saved agent"),
    ("push: no repo", ["push", "default"], "required: --repo"),
    ("push: repo not owner/name", ["push", "default", "--repo", "just-a-name"], "not a Hub repo id"),
    ("push: repo with a revision", ["push", "default", "--repo", "someone/agent@v1"], "not a Hub repo id"),
    ("push: report missing", ["push", "default", "--repo", "someone/agent", "--report", "{tmp}/nope.json"],
     "no such file"),
    ("push: report of the wrong kind", ["push", "default", "--repo", "someone/agent", "--report", "{list_yaml}"],
     "not valid JSON"),
    ("push: --private with a value", ["push", "default", "--repo", "someone/agent", "--private=yes"],
     "ignored explicit argument"),
    ("push: empty message", ["push", "default", "--repo", "someone/agent", "--message", ""], "--message is empty"),
    ("push: --out is a file", ["push", "default", "--repo", "someone/agent", "--out", "{file}"],
     "is a file, not a directory"),
    ("push: --out unwritable", ["push", "default", "--repo", "someone/agent", "--out", UNWRITABLE], "cannot write in"),
    # train: the command's own flags and the shape of its overrides
    ("train: no config", ["train"], "required: --config"),
    ("train: missing config", ["train", "--config", "nope.yaml"], "no such training config file"),
    ("train: config not YAML", ["train", "--config", "{bad_yaml}"], "line 2, column"),
    ("train: config not a mapping", ["train", "--config", "{list_yaml}"], "must be a mapping"),
    ("train: config value of the wrong type", ["train", "--config", "{frames_abc}", "--out", "{tmp}/run"],
     "frames: must be a whole number, not 'abc'"),
    ("train: config with an unknown algorithm", ["train", "--config", "{bad_algorithm}"], "is not available"),
    ("train: config agent setting of the wrong type", ["train", "--config", "{bad_agent}", "--out", "{tmp}/run"],
     "agent: PolicyConfig.channels"),
    ("train: --out is a file", TRAIN[:3] + ["--out", "{file}"], "is a file, not a directory"),
    ("train: --out unwritable", TRAIN[:3] + ["--out", UNWRITABLE], "cannot write in"),
    ("train: a bare word", TRAIN + ["frames"], "write overrides as --key value"),
    ("train: an override without its value", TRAIN + ["--frames"], "--frames needs a value"),
    ("train: an unknown key", TRAIN + ["--lrr", "0.1"], "did you mean lr"),
    ("train: zero frames", TRAIN + ["--frames", "0"], "frames must be positive"),
    ("train: negative seed", TRAIN + ["--seed", "-1"], "seed must be from 0"),
    ("train: zero eval episodes", TRAIN + ["--eval-episodes", "0"], "eval_episodes must be positive"),
    ("train: zero threads", TRAIN + ["--threads", "0"], "threads must be positive"),
    ("train: beta above 1", TRAIN + ["--beta-end", "2"], "must lie in [0, 1]"),
    ("ppo: gamma above 1", ["train", "--config", "configs/ppo_tiny.yaml", "--out", "{tmp}/run", "--gamma", "2"],
     "gamma must lie in [0, 1]"),
    ("kickstart: negative distillation", ["train", "--config", "configs/kickstart_tiny.yaml", "--out", "{tmp}/run",
                                          "--distill-coef", "-1"], "distill_coef must be >= 0"),
]

TRAINER_CONFIGS = {"imitation": "configs/tiny.yaml", "ppo": "configs/ppo_tiny.yaml",
                   "kickstart": "configs/kickstart_tiny.yaml"}
# str keys whose bad value is a thing that does not exist
MISSING_THINGS = {"corpus": ("no/such/corpus.yaml", "no such corpus file"),
                  "init_agent": ("/no/such/agent", "not a saved agent directory"),
                  "teacher": ("/no/such/agent", "neither 'bot' nor a saved agent directory"),
                  "games": ("NoSuchGame", "unknown game"),
                  "demos": ("/no/such/demos", "no such demos directory")}


def bad_override(key: str, kind) -> tuple[str, str]:
    """A bad ``--key value`` for a trainer config field, from its type, and the phrase its error holds."""
    if key in MISSING_THINGS:
        return MISSING_THINGS[key]
    args = [a for a in get_args(kind) if a is not type(None)]
    if get_origin(kind) is not Literal and len(args) == 1 and get_origin(kind) is not list:
        kind = args[0]  # X | None
    if get_origin(kind) is Literal:
        return "bogus", "must be one of"
    if kind is bool:
        return "maybe", "expected true or false"
    if kind in (int, float):
        return "abc", "expected a number"
    if kind is dict or get_origin(kind) is dict:
        return "[1, 2]", "expected a mapping"
    raise AssertionError(f"no bad value for {key}: {kind}")


def override_cases() -> list[tuple[str, list[str], str]]:
    from instructed_rl.commands.train import algorithms

    cases = []
    for algorithm, cls in algorithms().items():
        types = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            value, phrase = bad_override(field.name, types[field.name])
            flag = "--" + field.name.replace("_", "-")
            cases.append((f"{algorithm}: {flag} {value}",
                          ["train", "--config", TRAINER_CONFIGS[algorithm], "--out", "{tmp}/run", flag, value], phrase))
    return cases


ALL_CASES = CASES + override_cases()


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """A Hub id is looked up in an empty cache with the network off: no case may reach the Hub."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


@pytest.fixture
def paths(tmp_path):
    file = tmp_path / "a-file"
    file.write_text("not a directory\n")
    yamls = {
        "bad_yaml": "name: broken\ncells: [x]: y\n",
        "list_yaml": "- frames: 10\n",
        "frames_abc": "games: [GoToRoom]\nframes: abc\n",
        "bad_algorithm": "algorithm: magic\ngames: [GoToRoom]\n",
        "bad_agent": "games: [GoToRoom]\nencoder: gru\nagent: {policy: {channels: lots}}\n",
        "bad_cell": "name: s\ncells:\n  - {game: GoToRoom, episodes: 1}\n  - {game: GoToRoom, episodes: many}\n",
        "bad_split": "name: s\ncells:\n  - {game: GoToRoom, episodes: 1}\n  - {game: GoToRoom, split: unseen_sequences}\n",
    }
    (tmp_path / "bad_policy.py").write_text("class P:\n    def start(self, env, **kw): pass\n"
                                            "    def act(self, obs): return 'left'\n\ndef make(): return P()\n")
    values = {"tmp": str(tmp_path), "file": str(file), "bad_policy": str(tmp_path / "bad_policy.py")}
    for name, text in yamls.items():
        (tmp_path / f"{name}.yaml").write_text(text)
        values[name] = str(tmp_path / f"{name}.yaml")
    return values


def fill(argv: list[str], paths: dict[str, str]) -> list[str]:
    """``{tmp}/run`` -> the test's folder; ``{file}``, ``{bad_yaml}``: the fixture's files."""
    filled = []
    for arg in argv:
        for name, value in paths.items():
            arg = arg.replace("{" + name + "}", value)
        filled.append(arg)
    return filled


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("what,argv,phrase", ALL_CASES, ids=[case[0] for case in ALL_CASES])
def test_bad_input_is_one_line_with_a_fix(what, argv, phrase, paths, capsys):
    if any(UNWRITABLE in arg for arg in argv) and not Path("/sys").is_dir():
        pytest.skip("needs a folder nobody may write in")
    code, out, err = run_main(fill(argv, paths), capsys)  # a traceback escapes main() and fails the case
    lines = err.strip().splitlines()
    assert code == 2, f"{what}: exit {code}\n{out[-2000:]}\n{err}"
    assert len(lines) == 1, f"{what}: {len(lines)} lines on stderr:\n{err}"
    assert phrase in lines[0], f"{what}: {lines[0]!r} lacks {phrase!r}"
    assert "Fix:" in lines[0] or "invalid choice" in lines[0] or "--help" in lines[0], lines[0]
    assert "Traceback" not in err + out
    if argv[0] == "train":  # refused at start: nothing left behind that would block a corrected rerun
        assert not (Path(paths["tmp"]) / "run" / "config.json").exists(), f"{what}: left a config.json"


def _flags(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], set[str]]:
    """Every command path (``('envs', 'show')``) and the options and positionals it takes."""
    found: dict[tuple[str, ...], set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(_flags(sub, prefix + (name,)))
        elif not isinstance(action, argparse._HelpAction):
            found.setdefault(prefix, set()).add(action.option_strings[0] if action.option_strings else action.dest)
    found.setdefault(prefix, set())
    return found


def test_the_table_covers_every_option():
    """Each command's every flag (and positional) has a case that gives it a bad value, and
    every key of every trainer config has an override case."""
    missing = []
    for command, flags in _flags(build_parser()).items():
        if not command:
            continue
        for flag in flags:
            used = any(tuple(argv[:len(command)]) == command and
                       any(arg == flag or arg.startswith(flag + "=") for arg in argv[len(command):]) or
                       (not flag.startswith("-") and tuple(argv[:len(command)]) == command)
                       for _, argv, _ in CASES)
            if not used:
                missing.append(f"{' '.join(command)} {flag}")
        if not any(tuple(argv[:len(command)]) == command for _, argv, _ in CASES):
            missing.append(" ".join(command))
    assert not missing, f"no bad-input case for: {', '.join(sorted(missing))}"
    from instructed_rl.commands.train import algorithms

    keys = {(a, f.name) for a, cls in algorithms().items() for f in dataclasses.fields(cls)}
    assert len(override_cases()) == len(keys)


@NEEDS_SYS
@pytest.mark.parametrize("argv,phrase", [
    (["eval", "--agent", "bot", "--game", "GoToRoom", "--seed", "-1", "--episodes", "1"], "--seed must be from 0"),
    (["envs", "show", "SkillRoom", "--seed", "-1"], "--seed must be 0 or more"),
    (["train", "--config", "configs/tiny.yaml", "--out", "{file}"], "is a file, not a directory"),
    (["train", "--config", "configs/tiny.yaml", "--out", UNWRITABLE], "cannot write in"),
    (["eval", "--agent", "bot", "--game", "GoToRoom", "--episodes", "1000000", "--json", "{tmp}"], "is a directory"),
    (["train", "--config", "{frames_abc}", "--out", "{tmp}/run"], "frames: must be a whole number"),
], ids=["eval seed", "envs show seed", "train out file", "train out read-only", "eval json dir", "yaml frames abc"])
@pytest.mark.integration
def test_the_issues_cases_through_the_installed_command(argv, phrase, paths):
    result = run_cli(*fill(argv, paths))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and phrase in lines[0], result.stderr
    assert "Traceback" not in result.stderr
