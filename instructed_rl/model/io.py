"""A saved agent on disk: a directory that loads with nothing but itself (and installed packages).

    NAME/config.json        readable config: format marker, format_version, versions, corpus, games
    NAME/model.safetensors  trainable weights only (a frozen pretrained backbone comes from its package)
    NAME/tokenizer.model    raw SentencePiece bytes (frozen vocabulary)

Nothing is ever unpickled: a ``torch.save`` file, a truncated or foreign file, or a newer
format is refused with :class:`AgentLoadError`, a one-line message naming the fix. This module
knows the files; :class:`instructed_rl.model.agent.Agent` builds the networks from them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from instructed_rl.errors import UserError

FORMAT_NAME = "instructed-rl-agent"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.model"
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")
LOAD_HINT = "pass a directory written by Agent.save_pretrained"


class AgentLoadError(UserError):
    """A saved agent cannot be loaded; the message is one line that names the problem and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def package_version() -> str:
    """Version of the running instructed-rl code."""
    import instructed_rl

    version = getattr(instructed_rl, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version("instructed-rl")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def write_agent(directory: str | os.PathLike[str], *, config: dict[str, Any], weights: dict[str, torch.Tensor],
                tokenizer: bytes) -> Path:
    """Write config.json, model.safetensors and tokenizer.model into ``directory``.

    Files are written to a temporary directory beside it, then renamed: a new directory
    appears whole; in an existing one each file is replaced atomically (config.json last)
    and any other files (e.g. a trainer's resume state) are left alone.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise UserError(f"cannot save the agent to {target}: it is a file; pass a directory path")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in weights.items()}
        metadata = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION)}
        safetensors.torch.save_file(tensors, str(tmp / WEIGHTS_FILE), metadata=metadata)
        (tmp / TOKENIZER_FILE).write_bytes(tokenizer)
        document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **config,
                    "instructed_rl_version": package_version()}
        (tmp / CONFIG_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if not target.exists():
            os.rename(tmp, target)
        else:
            for name in (WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE):
                os.replace(tmp / name, target / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def check_agent_directory(root: Path) -> None:
    """Refuse, in one line, a path that is not a saved agent's directory."""
    if not root.exists():
        raise AgentLoadError(f"no agent at {root}: the path does not exist; {LOAD_HINT}")
    if not root.is_dir():
        if _looks_pickled(root):
            raise AgentLoadError(
                f"{root} is a pickle/torch.save file; instructed-rl never unpickles "
                f"(it can run arbitrary code); {LOAD_HINT}"
            )
        raise AgentLoadError(f"{root} is a file, not an agent directory; {LOAD_HINT}")
    for name in (CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE):
        if not (root / name).is_file():
            pickles = sorted(p.name for p in root.iterdir() if p.suffix in _PICKLE_SUFFIXES)
            if pickles:
                raise AgentLoadError(
                    f"{root} holds {pickles[0]} (a pickle/torch.save checkpoint) but no {name}; "
                    f"instructed-rl never unpickles; {LOAD_HINT}"
                )
            raise AgentLoadError(f"{root} has no {name}, so it is not a saved agent; {LOAD_HINT}")


def read_tokenizer_bytes(root: Path) -> bytes:
    path = root / TOKENIZER_FILE
    if _looks_pickled(path):
        raise AgentLoadError(f"{path} is a pickle file, not a SentencePiece model; re-save the agent")
    return path.read_bytes()


def _looks_pickled(path: Path) -> bool:
    """True for pickle streams and torch.save zip archives (the two ways a .pt file looks)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError:
        return False
    return head[:1] == b"\x80" or head == b"PK\x03\x04"


def read_config_document(path: Path) -> dict[str, Any]:
    """config.json's settings (format checked and removed), for ``AgentConfig.from_dict``."""
    if _looks_pickled(path):
        raise AgentLoadError(f"{path} is a pickle file, not JSON; instructed-rl never unpickles; re-save the agent")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AgentLoadError(f"{path} is not valid JSON ({error}); the file is corrupt: re-save the agent") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        kind = document.get("model_type") or document.get("architectures") if isinstance(document, dict) else None
        seen = f" (it looks like a {kind} config)" if kind else ""
        raise AgentLoadError(
            f"{path} is not an instructed-rl agent config{seen}: it lacks \"format\": \"{FORMAT_NAME}\"; "
            "pass a directory written by Agent.save_pretrained"
        )
    version = document.pop("format_version", None)
    document.pop("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise AgentLoadError(f"{path} has format_version={version!r}, expected an integer >= 1; re-save the agent")
    if version > FORMAT_VERSION:
        raise AgentLoadError(
            f"{path} uses agent format_version {version}, newer than the {FORMAT_VERSION} this instructed-rl "
            f"({package_version()}) reads; upgrade: pip install -U instructed-rl"
        )
    return document


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if _looks_pickled(path):
        raise AgentLoadError(
            f"{path} is a pickle/torch.save file, not safetensors; instructed-rl never unpickles; "
            "save the agent with Agent.save_pretrained"
        )
    try:
        return safetensors.torch.load_file(str(path), device="cpu")
    except Exception as error:  # SafetensorError (truncated/bad header), OSError
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise AgentLoadError(
            f"{path} is truncated or corrupt ({reason}); re-save the agent or copy the file again"
        ) from error


def load_weights(module: torch.nn.Module, expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor],
                 path: Path) -> None:
    """Load ``weights`` into ``module`` if they are exactly the ``expected`` tensors' names and shapes."""
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    mismatched = sorted(k for k in set(expected) & set(weights) if expected[k].shape != weights[k].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensor(s) e.g. {missing[0]!r}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensor(s) e.g. {unexpected[0]!r}")
    if mismatched:
        key = mismatched[0]
        problems.append(
            f"{len(mismatched)} shape mismatch(es) e.g. {key!r} "
            f"{tuple(weights[key].shape)} vs {tuple(expected[key].shape)}"
        )
    if problems:
        raise AgentLoadError(
            f"{path} does not match config.json ({'; '.join(problems)}); "
            "the files come from different agents: re-save it"
        )
    module.load_state_dict(weights, strict=False)
