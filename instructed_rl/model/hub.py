"""Agents by name: a shipped agent, a directory, or a Hugging Face Hub repo; and uploads.

    resolve_agent("default")                 # the shipped agent (data/agents/default, or the wheel's copy)
    resolve_agent("data/agents/default")     # the same, from any folder
    resolve_agent("runs/tiny/agent")         # a directory written by save_pretrained
    resolve_agent("someone/instructed-agent")       # a Hub repo, through huggingface_hub's cache
    resolve_agent("someone/instructed-agent@v1")    # ... at a branch, tag or commit

A directory that exists always wins over the other two readings. A Hub repo is fetched with
``huggingface_hub.snapshot_download`` (only an agent's own files, never a pickle) and read from
its cache afterwards; with no network, or ``HF_HUB_OFFLINE=1``, a cached copy is used.
"""

from __future__ import annotations

import re
from pathlib import Path

from instructed_rl.errors import UserError
from instructed_rl.resources import SHIPPED_AGENTS, shipped_agent

# What a Hub repo of an agent holds and what we fetch: no *.bin/*.pt, whatever the repo has.
AGENT_FILES = ("config.json", "model.safetensors", "tokenizer.model", "README.md", "training_record.json")
SHIPPED_PREFIX = "data/agents/"
_HUB_ID = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?$")


def hub_id(spec: str) -> tuple[str, str | None] | None:
    """``(repo_id, revision)`` when ``spec`` reads as a Hub repo id (``owner/name[@revision]``)."""
    match = _HUB_ID.match(spec.strip())
    if not match or ".." in match.group("repo"):
        return None
    return match.group("repo"), match.group("revision")


def resolve_agent(spec: str | Path, *, flag: str = "--agent") -> Path:
    """The directory of the agent ``spec`` names (see the module docstring). A spec that is none
    of the three comes back unchanged, so the loader's own message says what is wrong with it;
    a Hub id that cannot be fetched is a one-line UserError."""
    path = Path(spec)
    if path.exists():
        return path
    text = str(spec).strip()
    # The checkout's path of a shipped agent (play's default) names it from any folder, and in a wheel.
    shipped = shipped_agent(text.removeprefix(SHIPPED_PREFIX))
    if shipped is not None:
        return shipped
    parsed = hub_id(text)
    if parsed is None:
        return path
    return download_agent(*parsed, flag=flag)


def download_agent(repo_id: str, revision: str | None = None, *, flag: str = "--agent") -> Path:
    """A Hub repo's agent files, from huggingface_hub's cache (fetched first when the Hub answers)."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        raise UserError(f"{flag} {repo_id}: reading an agent from the Hugging Face Hub needs huggingface_hub. "
                        "Fix: pip install huggingface_hub") from None
    named = f"{repo_id}@{revision}" if revision else repo_id
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(AGENT_FILES),
                                        library_name="instructed-rl"))
    except LocalEntryNotFoundError:
        raise UserError(f"{flag} {named}: no such directory, not a shipped agent ({', '.join(SHIPPED_AGENTS)}), "
                        "and not in the Hugging Face Hub cache (the Hub could not be reached). Fix: pass a saved "
                        "agent directory or a shipped name, or fetch the repo once while online") from None
    except Exception as error:  # HfHubHTTPError, a proxy's refusal, a bad revision: all the Hub's answer
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise UserError(f"{flag} {named}: no such directory, not a shipped agent ({', '.join(SHIPPED_AGENTS)}), "
                        f"and the Hugging Face Hub refused it ({reason}). Fix: check the repo id (owner/name), "
                        "or log in with 'hf auth login' for a private repo") from None
    if not (folder / "config.json").is_file():
        raise UserError(f"{flag} {named}: the Hub repo holds no config.json, so it is not an instructed-rl agent. "
                        "Fix: name a repo uploaded with 'instructed-rl push'")
    return folder
