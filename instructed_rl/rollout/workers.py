"""The request loop of a spawned helper process (env slices, the overlapped rollout process)."""

from __future__ import annotations

import signal
import traceback
from typing import Any, Callable

import torch

Handlers = dict[str, Callable[[Any], Any]]


def serve(conn, setup: Callable[[], Handlers]) -> None:
    """Build the handlers, then answer ``(command, argument)`` with ``("ok", result)`` until a
    command without a handler (``"close"``) or the pipe ends. Any failure, setup included, goes
    back as ``("error", traceback)`` so the trainer can show it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the trainer handles it
    torch.set_num_threads(1)
    try:
        handlers = setup()
        while True:
            command, argument = conn.recv()
            if command not in handlers:
                break
            conn.send(("ok", handlers[command](argument)))
    except (EOFError, BrokenPipeError):
        pass
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def reply(conn, who: str):
    """The answer to a request sent to a process running :func:`serve`, or a one-line RuntimeError."""
    try:
        status, value = conn.recv()
    except EOFError:
        raise RuntimeError(f"{who} died; see its error above") from None
    if status != "ok":
        raise RuntimeError(f"{who} failed:\n{value}")
    return value
