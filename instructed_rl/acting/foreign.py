"""Anyone's policy as an actor: ``--agent python:MODULE:FACTORY`` (or ``python:path/to/file.py:FACTORY``).

    instructed-rl eval --agent python:examples/wall_follower.py:make_policy --game GoToRoom --episodes 100

``FACTORY()`` is called with no arguments, once per process, and returns an object with

    start(env, *, instruction: str, description: str, seed: int, corpus=None) -> None
        a new episode: the instruction and the environment description, as text (they may be
        ablated by eval's --description / --instruction), and the world seed
    act(obs) -> int | Decision
        one action (0-6, minigrid's actions) for the observation: a dict with ``image``
        (7x7x3 symbolic view), ``direction``, ``mission`` and ``description``

the same protocol as our own actors (:mod:`instructed_rl.acting.actors`), so a peer's agent gets
the same games, splits, seeds and intervals. ``env`` is there for bookkeeping; reading its
hidden state (as the bot does) makes a reference, not a peer. The episode ends when the world
says so (success, failure or the step limit); minigrid's ``done`` action (6) changes nothing in
the world, so a policy that believes it is finished can say so with it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from pathlib import Path

from instructed_rl.acting.actors import Decision
from instructed_rl.errors import UserError

PREFIX = "python:"
NUM_ACTIONS = 7
_FIX = "Fix: write --agent python:MODULE:FACTORY (e.g. python:examples/wall_follower.py:make_policy)"


def is_python_agent(spec: str) -> bool:
    return spec.startswith(PREFIX)


def _split(spec: str) -> tuple[str, str]:
    body = spec[len(PREFIX):]
    module, sep, factory = body.rpartition(":")
    if not sep or not module or not factory.isidentifier():
        raise UserError(f"--agent {spec!r}: needs a module and a factory after 'python:'. {_FIX}")
    return module, factory


def _import(spec: str, module: str):
    try:
        if module.endswith(".py"):
            path = Path(module)
            if not path.is_file():
                raise UserError(f"--agent {spec!r}: no such file {module}. {_FIX}")
            loaded = importlib.util.spec_from_file_location(f"_instructed_rl_policy_{path.stem}", path)
            code = importlib.util.module_from_spec(loaded)
            sys.modules[loaded.name] = code  # dataclasses and pickling look the module up by name
            loaded.loader.exec_module(code)
            return code
        # The console script's sys.path lacks the working directory; a user's module usually sits there.
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.append(str(Path.cwd()))
        return importlib.import_module(module)
    except UserError:
        raise
    except Exception as error:  # the user's code: any import error is theirs to fix
        raise UserError(f"--agent {spec!r}: cannot import {module} ({type(error).__name__}: "
                        f"{' '.join(str(error).split())[:160]}). {_FIX}") from None


@functools.lru_cache(maxsize=None)  # eval checks the spec before it runs it: import a file once
def load_factory(spec: str):
    """The factory ``python:MODULE:FACTORY`` names; a one-line UserError if it cannot be had."""
    module, name = _split(spec)
    factory = getattr(_import(spec, module), name, None)
    if not callable(factory):
        raise UserError(f"--agent {spec!r}: {module} has no callable {name}. {_FIX}")
    return factory


class ForeignActor:
    """A user's policy behind our actor protocol: its answers are checked, an int becomes a Decision."""

    def __init__(self, spec: str, policy) -> None:
        self.name = spec
        self.policy = policy
        for method in ("start", "act"):
            if not callable(getattr(policy, method, None)):
                raise UserError(f"--agent {spec!r}: the factory's object has no {method}() method. "
                                "Fix: return an object with start(env, *, instruction, description, seed, corpus=None) "
                                "and act(obs)")

    def start(self, env, *, instruction: str, description: str, seed: int, corpus=None) -> None:
        self.policy.start(env, instruction=instruction, description=description, seed=seed, corpus=corpus)

    def act(self, obs) -> Decision:
        answer = self.policy.act(obs)
        action = _action(answer.action if isinstance(answer, Decision) else answer)
        if action is None:
            raise UserError(f"--agent {self.name!r}: act() returned {answer!r}. "
                            f"Fix: return an action from 0 to {NUM_ACTIONS - 1} (or a Decision)")
        return answer if isinstance(answer, Decision) else Decision(action)


def _action(value) -> int | None:
    """The action ``value`` names (an int, numpy's too, from 0 to 6), or None."""
    try:
        action = int(value)
    except (TypeError, ValueError):
        return None
    return action if action == value and 0 <= action < NUM_ACTIONS else None


def make_python_actor(spec: str) -> ForeignActor:
    return ForeignActor(spec, load_factory(spec)())
