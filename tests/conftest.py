"""Shared fixtures. Tests use the real minigrid worlds, corpora and BabyAI bot; nothing is mocked."""

from __future__ import annotations

import os
import signal

import pytest

os.environ.setdefault("WANDB_MODE", "disabled")  # tracking is never on in tests

# A shell that starts the suite in the background (`pytest &`, nohup) ignores SIGINT, and an
# ignored signal stays ignored in every child it execs: the Ctrl-C tests would test nothing.
# A Python-level handler here is reset to the default in children, so they get Ctrl-C back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)  # CI has 2 cores; tests that want more ask for them


@pytest.fixture
def write_yaml(tmp_path):
    """Write a YAML document (given as text) to a file and return its path."""

    def write(text: str, name: str = "file.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
