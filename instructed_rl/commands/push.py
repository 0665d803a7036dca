"""``instructed-rl push``: upload a saved agent, with its model card, to the Hugging Face Hub.

    instructed-rl push runs/default/agent --repo you/instructed-default --report runs/eval/zero_shot/report.json
    instructed-rl push default --repo you/instructed-default --out staged   # write the files, upload nothing

Everything is checked before the first byte leaves: the agent must load, the repo id must be
``owner/name``, every report must be a suite's report.json. Only the agent's own files go up
(config.json, model.safetensors, tokenizer.model, training_record.json) and its model card
(README.md): the agent's own card as it is, or, with ``--report``, a card made afresh for the
repo with those numbers (a card a person wrote is never replaced). Log in first with
``hf auth login`` (or set HF_TOKEN).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from instructed_rl.config import option
from instructed_rl.errors import UserError

UPLOADED = ("config.json", "model.safetensors", "tokenizer.model", "training_record.json")


@dataclass
class PushConfig:
    agent: str = option("", "the agent: a saved agent directory or a shipped name (default, reader)")
    repo: str = option("", "Hub repo to create or update, owner/name", required=True)
    report: list[str] = option([], "an 'eval --suite' report.json whose numbers the card shows (repeatable)")
    private: bool = option(False, "create the repo private (default: public)")
    message: str = option("Upload an instructed-rl agent", "the commit message")
    out: str | None = option(None, "write the files that would be uploaded into this directory and stop "
                                   "(nothing is uploaded)")


def stage(agent_dir: Path, target: Path, *, repo: str, reports: list[dict]) -> list[str]:
    """Copy what goes up into ``target`` and write its card there; the names, in order."""
    from instructed_rl.model.card import CARD_FILE, is_generated, write_card

    target.mkdir(parents=True, exist_ok=True)
    names = []
    for name in UPLOADED:
        source = agent_dir / name
        if name == "training_record.json" and not source.is_file():
            source = agent_dir.parent / name  # a run directory keeps it beside agent/
        if source.is_file():
            shutil.copyfile(source, target / name)
            names.append(name)
    card = agent_dir / CARD_FILE
    if card.is_file() and (not is_generated(card) or not reports):  # a person's card, or ours with its numbers
        shutil.copyfile(card, target / CARD_FILE)
    else:
        (target / CARD_FILE).unlink(missing_ok=True)
        write_card(target, name=repo, reports=reports)
    names.append(CARD_FILE)
    return names


def run(args: PushConfig) -> int:
    from instructed_rl.model.card import load_report
    from instructed_rl.model.hub import hub_id, resolve_agent
    from instructed_rl.paths import check_output_dir

    parsed = hub_id(args.repo)
    if parsed is None or parsed[1] is not None:
        raise UserError(f"--repo {args.repo!r}: not a Hub repo id. Fix: write owner/name, e.g. --repo you/instructed-agent")
    if not args.message.strip():
        raise UserError("--message is empty. Fix: give the commit a message, or leave --message out")
    out = check_output_dir(args.out, "--out") if args.out else None
    reports = [load_report(path) for path in args.report]
    if not args.agent.strip():
        raise UserError("the agent is empty. Fix: name a saved agent directory or a shipped agent (default)")
    agent_dir = resolve_agent(args.agent, flag="push")
    if not agent_dir.is_dir():
        raise UserError(f"push {args.agent!r}: not a saved agent directory. Fix: pass a directory written by "
                        "'instructed-rl train' (e.g. runs/default/agent) or a shipped agent (default, reader)")
    from instructed_rl.model.agent import Agent

    try:
        Agent.from_pretrained(agent_dir)  # what goes up must load
    except UserError as error:
        raise UserError(f"push {args.agent!r}: not a saved agent that loads ({error}). Fix: push a directory "
                        "written by 'instructed-rl train' (e.g. runs/default/agent) or a shipped agent") from None
    if out is not None:
        names = stage(agent_dir, out, repo=args.repo, reports=reports)
        print(f"wrote {', '.join(names)} into {out}; nothing was uploaded")
        return 0
    with tempfile.TemporaryDirectory(prefix="instructed-rl-push-") as folder:
        stage(agent_dir, Path(folder), repo=args.repo, reports=reports)
        url = upload(Path(folder), repo=args.repo, private=args.private, message=args.message)
    print(f"uploaded {agent_dir} to {url}")
    return 0


def upload(folder: Path, *, repo: str, private: bool, message: str) -> str:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(library_name="instructed-rl")
    try:
        api.create_repo(repo, private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo, commit_message=message)
    except HfHubHTTPError as error:
        reason = " ".join(str(error).split())[:160]
        raise UserError(f"push --repo {repo}: the Hub refused it ({reason}). Fix: log in with 'hf auth login' "
                        "(a token that may write to that owner), then run the same command again") from None
    except Exception as error:  # no network: the HTTP client's own errors, which are not OSErrors
        raise UserError(f"push --repo {repo}: cannot reach the Hub ({type(error).__name__}: "
                        f"{' '.join(str(error).split())[:100]}). "
                        "Fix: check the network, or stage the files with --out DIR and upload them later") from None
    return getattr(commit, "commit_url", None) or f"https://huggingface.co/{repo}"
