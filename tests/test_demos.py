"""Bot demonstrations: real bot, real worlds, tiny sizes. Shards round trip, resume, workers, errors."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from instructed_rl.commands.make_demos import ProgressLine
from instructed_rl.errors import UserError
from instructed_rl.games.env import InstructedEnv
from instructed_rl.demos import DemosConfig, generate_demos, load_demos
from instructed_rl.demos.manifest import MANIFEST
from instructed_rl.demos.record import bot_episode
from instructed_rl.demos.shards import EPISODE_ARRAYS, FORMAT_VERSION, STEP_ARRAYS

from tests.conftest import cli_command, run_cli  # noqa: E402


def make(out, **overrides) -> DemosConfig:
    values = dict(game="GoToRoom", out=str(out), episodes=16, shard_size=4, progress=False)
    return DemosConfig(**{**values, **overrides})


def shard_digests(out: Path) -> dict[int, dict]:
    manifest = json.loads((out / MANIFEST).read_text())
    return {s["index"]: (s["first_episode"], s["stop_episode"], s["sha256"]["npz"], s["sha256"]["json"])
            for s in manifest["shards"]}


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Fix:" in message
    return message


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """16 GoToRoom episodes in shards of 4, in one uninterrupted in-process run."""
    out = tmp_path_factory.mktemp("reference")
    generate_demos(make(out))
    return out


def test_round_trip_and_stored_actions_replay_to_success(tmp_path):
    summary = generate_demos(make(tmp_path, episodes=30, shard_size=8))
    demos = load_demos(tmp_path)
    manifest = demos.manifest
    assert manifest["complete"] and len(manifest["shards"]) == 4
    assert summary.done == len(demos) == manifest["episodes_done"]
    assert manifest["episodes_requested"] == 30 == manifest["episodes_done"] + manifest["episodes_failed"]
    assert sorted(demos.seeds.tolist() + [f["seed"] for f in manifest["bot_failures"]]) == list(range(30))
    for name, dtype in STEP_ARRAYS.items():
        assert demos.arrays[name].dtype == dtype and len(demos.arrays[name]) == demos.num_steps
    assert demos.arrays["image"].shape[1:] == (7, 7, 3)
    assert demos.num_steps == manifest["steps"] == sum(len(e) for e in demos)
    assert np.array_equal(demos.episode_index[demos.offsets[:-1]], np.arange(len(demos)))

    env = InstructedEnv("GoToRoom", split="train")
    for episode in demos:
        obs, info = env.reset(seed=episode.seed)
        assert (episode.mission, episode.description, episode.instruction) == (obs["mission"], obs["description"], info["instruction"])
        assert episode.subtasks == info["subtasks"] and episode.meta["length"] == len(episode)
        for t, action in enumerate(episode.action):
            assert np.array_equal(obs["image"], episode.image[t]) and obs["direction"] == episode.direction[t]
            obs, _, terminated, truncated, info = env.step(int(action))
            assert info["success"] == episode.done_after[t]
            assert sum(info["subtasks_done"]) == episode.subtasks_done_after[t]
        assert info["success"] and terminated  # the stored actions are the bot's: they finish the mission
        assert np.array_equal(obs["image"], episode.final_image) and obs["direction"] == episode.final_direction
        assert episode.meta["plain"] == env.plain_mission and len(episode.meta["target"]) == 4
        assert episode.done_after[-1] and not episode.done_after[:-1].any()
        assert episode.subtasks_done[0] == 0 and episode.subtasks_done_after[-1] == len(episode.subtasks)
        assert episode.active_subtask[0] == 0


def test_resume_after_lost_shard_and_damaged_shard_matches_uninterrupted_run(tmp_path, reference):
    generate_demos(make(tmp_path))
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    # a kill after shard 3 was written but before the manifest listed it, mid-write of another
    manifest["shards"] = [s for s in manifest["shards"] if s["index"] != 3]
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    (tmp_path / ".shard_00002.npz.999.tmp").write_bytes(b"half a shard")
    damaged = tmp_path / "shard_00001.npz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    with pytest.raises(UserError):
        load_demos(tmp_path)

    summary = generate_demos(make(tmp_path))
    assert summary.shards_written == 2 and summary.new_episodes == 8  # shards 1 and 3 only
    assert shard_digests(tmp_path) == shard_digests(reference)
    assert not list(tmp_path.glob(".*.tmp"))
    assert np.array_equal(load_demos(tmp_path).arrays["action"], load_demos(reference).arrays["action"])
    assert generate_demos(make(tmp_path)).shards_written == 0  # a finished directory: nothing to do


def test_shorter_then_longer_run_equals_one_run(tmp_path, reference):
    first = generate_demos(make(tmp_path, episodes=10))
    assert first.done + first.failed == 10
    generate_demos(make(tmp_path, episodes=16))  # shard 2 held episodes 8-9 only: played again as 8-11
    assert shard_digests(tmp_path) == shard_digests(reference)
    demos = load_demos(tmp_path)
    assert len(set(demos.seeds.tolist())) == len(demos)  # no duplicates
    with pytest.raises(UserError, match="already holds episodes up to 16") as error:
        generate_demos(make(tmp_path, episodes=12))
    one_line(error)


def test_two_workers_write_the_same_shards_as_one(tmp_path, reference):
    summary = generate_demos(make(tmp_path, workers=2))
    assert summary.shards_written == 4
    assert shard_digests(tmp_path) == shard_digests(reference)


@pytest.mark.parametrize("change,named", [
    (dict(seed=1), "seed=1"),
    (dict(split="test"), "split='test'"),
    (dict(corpus="paraphrase"), "corpus='paraphrase'"),
    (dict(game="PickupRoom"), "game='PickupRoom'"),
    (dict(shard_size=8), "shard_size=8"),
])
def test_rerun_with_other_settings_is_a_one_line_error(tmp_path, change, named):
    generate_demos(make(tmp_path, episodes=4))
    before = shard_digests(tmp_path)
    with pytest.raises(UserError) as error:
        generate_demos(make(tmp_path, episodes=4, **change))
    assert named in one_line(error)
    assert shard_digests(tmp_path) == before


def test_foreign_missing_and_corrupt_directories_are_one_line_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a demos directory") as error:
        generate_demos(make(tmp_path))
    one_line(error)
    assert not (tmp_path / ".lock").exists()
    for path, match in ((tmp_path, "no manifest.json"), (tmp_path / "nope", "no such demos directory")):
        with pytest.raises(UserError, match=match) as error:
            load_demos(path)
        one_line(error)
    (tmp_path / MANIFEST).write_text('{"format": "something-else"}')
    with pytest.raises(UserError, match="not an instructed-rl demos directory"):
        load_demos(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format": "instructed-rl-demos", "format_version": FORMAT_VERSION,
                                                 "shards": [{}]}))
    for action in (load_demos, lambda path: generate_demos(make(path))):
        with pytest.raises(UserError, match="malformed") as error:
            action(tmp_path)
        one_line(error)

    out = tmp_path / "demos"
    generate_demos(make(out, episodes=8))
    shard = out / "shard_00001.npz"
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(UserError, match="shard_00001.npz: corrupt demos") as error:
        load_demos(out)
    one_line(error)
    (out / "shard_00000.json").unlink()
    with pytest.raises(UserError, match="missing shard file"):
        load_demos(out)


def test_loader_refuses_pickled_arrays_even_with_a_matching_checksum(tmp_path):
    import hashlib

    generate_demos(make(tmp_path, episodes=4))
    with np.load(tmp_path / "shard_00000.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["episode_seed"] = np.array([{"evil": 1}] * len(arrays["episode_seed"]), dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (tmp_path / "shard_00000.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["shards"][0]["sha256"]["npz"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="allow_pickle=False") as error:
        load_demos(tmp_path)
    one_line(error)


def test_bot_failures_are_counted_by_seed_and_not_written(tmp_path):
    # In KeyInBox the bot opens the box that holds the key, the key vanishes with it, the bot asserts.
    summary = generate_demos(make(tmp_path / "keyinbox", game="BabyAI-KeyInBox-v0", episodes=5))
    manifest = json.loads((tmp_path / "keyinbox" / MANIFEST).read_text())
    assert (summary.done, summary.failed) == (0, 5) and manifest["complete"]
    assert [f["seed"] for f in manifest["bot_failures"]] == [0, 1, 2, 3, 4]
    assert all(f["reason"].startswith("AssertionError") for f in manifest["bot_failures"])
    demos = load_demos(tmp_path / "keyinbox")
    assert len(demos) == 0 and demos.num_steps == 0 and demos.arrays["image"].shape == (0, 7, 7, 3)
    assert manifest["game"] == "BabyAI-KeyInBox-v0"  # the name that finds the game again

    generate_demos(make(tmp_path / "boss", game="BossLevel", split="test", episodes=3, shard_size=2))
    manifest = json.loads((tmp_path / "boss" / MANIFEST).read_text())
    assert isinstance(manifest["bot_failures"], list)
    assert manifest["episodes_requested"] == 3 == manifest["episodes_done"] + manifest["episodes_failed"]
    assert manifest["episodes_failed"] == len(manifest["bot_failures"])

    env = InstructedEnv("GoToRoom", split="train")
    env.level.fixed_max_steps, env.level.max_steps = True, 1  # the step limit: no demo the bot cannot finish in time
    episode, reason = bot_episode(env, 0)
    assert episode is None and reason.startswith("no success in 1 steps")


def test_incomplete_directory_loads_only_when_asked(tmp_path):
    generate_demos(make(tmp_path, episodes=8))
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["shards"] = manifest["shards"][:1]
    manifest["complete"] = False
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="incomplete") as error:
        load_demos(tmp_path)
    one_line(error)
    assert len(load_demos(tmp_path, allow_incomplete=True)) == manifest["shards"][0]["episodes"]


def test_shard_files_hold_plain_arrays_only(reference):
    with np.load(reference / "shard_00000.npz", allow_pickle=False) as npz:
        assert set(npz.files) == set(STEP_ARRAYS) | set(EPISODE_ARRAYS)
        assert all(npz[name].dtype != object for name in npz.files)
    meta = json.loads((reference / "shard_00000.json").read_text())
    assert {"seed", "mission", "description", "instruction", "subtasks", "length", "success"} <= set(meta["episodes"][0])


def test_config_is_validated():
    with pytest.raises(ValueError, match="--episodes"):
        DemosConfig(game="GoToRoom", out="x", episodes=0)
    with pytest.raises(ValueError, match="--workers"):
        DemosConfig(game="GoToRoom", out="x", workers=0)
    with pytest.raises(ValueError, match="--out"):
        DemosConfig(game="GoToRoom")


def test_progress_line_reports_episodes_rate_and_failures():
    stream = io.StringIO()
    progress = ProgressLine("GoToRoom", 10, stream=stream, log_interval=0.0)
    progress(4, 0)  # what the directory held
    progress(7, 1)
    progress.close()
    last = stream.getvalue().strip().splitlines()[-1]
    assert last.startswith("demos GoToRoom: 7/10 episodes") and "ep/s" in last and last.endswith("1 failure")


def test_cli_writes_demos_and_prints_a_summary(tmp_path):
    result = run_cli("make-demos", "--game", "SkillRoom", "--episodes", "6", "--out", str(tmp_path / "tmp"))
    assert result.returncode == 0, result.stderr
    assert "6 demos, 0 bot failures, 6/6 episodes" in result.stdout
    assert len(load_demos(tmp_path / "tmp")) == 6
    again = run_cli("make-demos", "--game", "SkillRoom", "--episodes", "6", "--out", str(tmp_path / "tmp"), "--seed", "9")
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1 and "seed=9" in again.stderr


def test_the_old_command_name_is_a_one_line_error_naming_the_new_one():
    result = run_cli("demos", "--game", "GoToRoom", "--out", "x")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "instructed-rl make-demos --game GoToRoom --out x" in result.stderr


@pytest.mark.integration
def test_ctrl_c_keeps_finished_shards_and_the_same_command_resumes(tmp_path):
    args = ["make-demos", "--game", "GoToRoom", "--episodes", "400", "--shard-size", "20", "--out", str(tmp_path / "run")]
    process = subprocess.Popen(cli_command() + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest = tmp_path / "run" / MANIFEST
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if manifest.exists() and json.loads(manifest.read_text())["shards"]:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert 0 < len(json.loads(manifest.read_text())["shards"]) < 20

    assert run_cli(*args).returncode == 0
    generate_demos(make(tmp_path / "uninterrupted", episodes=400, shard_size=20))
    assert shard_digests(tmp_path / "run") == shard_digests(tmp_path / "uninterrupted")
