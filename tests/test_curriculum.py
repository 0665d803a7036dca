"""A curriculum file trains its stages in order, each from the agent the stage before made, and a
rerun continues instead of starting over."""

from __future__ import annotations

import json

import pytest
import yaml

from instructed_rl.commands.train import run as train_run
from instructed_rl.errors import UserError

from tests.conftest import success_rate

GAME = "BabyAI-GoToLocalS5N2-v0"  # random policy: ~28% success


def _stage(tmp_path, name: str, **changes) -> str:
    config = yaml.safe_load(open("configs/tiny.yaml"))
    config.update(games=[GAME], threads=1, **changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.integration
def test_a_curriculum_chains_its_stages_and_a_rerun_skips_finished_ones(tmp_path):
    first = _stage(tmp_path, "first", frames=4000)
    second = _stage(tmp_path, "second", frames=2000, seed=1, lr=0.0005)
    curriculum = tmp_path / "curriculum.yaml"
    curriculum.write_text(yaml.safe_dump({"curriculum": [first, second]}))
    out = tmp_path / "run"
    logs: list[str] = []

    final = train_run(str(curriculum), str(out), [])
    assert final == out / "agent"
    records = [json.loads((out / stage / "training_record.json").read_text()) for stage in ("01-first", "02-second")]
    assert records[0]["config"]["init_agent"] is None
    assert records[1]["config"]["init_agent"] == str(out / "01-first" / "agent")  # not its file's (none)
    # The assembled agent carries both stages' records, as a shipped staged agent does.
    assert json.loads((final / "training_record_stage1.json").read_text()) == records[0]
    assert json.loads((final / "training_record.json").read_text()) == records[1]
    assert (final / "metrics_stage2.jsonl").is_file() and "stage1" in (final / "README.md").read_text()
    total = json.loads((out / "curriculum_record.json").read_text())
    assert total["frames"] == records[0]["frames"] + records[1]["frames"] >= 6000
    assert [r["hardware"]["cores"] for r in records] == [1, 1]  # one torch thread, nothing beside it
    assert total["cpu_hours"] == round(sum(r["wall_seconds"] for r in records) / 3600, 3) > 0
    # 6k frames in two stages learn what 6k frames in one do (tests/test_train.py's threshold).
    sampled = success_rate(final, GAME, 100, greedy=False)
    assert sampled >= 0.7, f"sampled success {sampled:.2f} after two stages (random is ~0.28)"

    # A rerun trains nothing again: both stages are finished.
    stamp = (out / "02-second" / "training_record.json").stat().st_mtime_ns
    from instructed_rl.commands.curriculum import run_curriculum
    from instructed_rl.commands.train import load_yaml_file

    run_curriculum(load_yaml_file(str(curriculum)), out, [], log=logs.append)
    assert sum("finished before" in line for line in logs) == 2
    assert (out / "02-second" / "training_record.json").stat().st_mtime_ns == stamp


def test_a_bad_curriculum_is_one_line_with_its_line_and_a_fix(tmp_path):
    missing = tmp_path / "missing.yaml"
    missing.write_text("curriculum:\n  - configs/tiny.yaml\n  - configs/no_such_stage.yaml\n")
    with pytest.raises(UserError, match=r"missing.yaml:3: curriculum\[1\]: no such file.*Fix:"):
        train_run(str(missing), str(tmp_path / "run"), [])
    extra_key = tmp_path / "extra.yaml"
    extra_key.write_text("curriculum: [configs/tiny.yaml]\nframes: 10\n")
    with pytest.raises(UserError, match=r"extra.yaml:2: frames: unknown key.*Fix:"):
        train_run(str(extra_key), str(tmp_path / "run"), [])
    empty = tmp_path / "empty.yaml"
    empty.write_text("curriculum: []\n")
    with pytest.raises(UserError, match="must be a non-empty list"):
        train_run(str(empty), str(tmp_path / "run"), [])
    nested = tmp_path / "nested.yaml"
    nested.write_text(f"curriculum: [{empty}]\n")
    with pytest.raises(UserError, match="is a curriculum itself"):
        train_run(str(nested), str(tmp_path / "run"), [])
    chained = tmp_path / "chained.yaml"
    chained.write_text("curriculum: [configs/tiny.yaml]\n")
    with pytest.raises(UserError, match="--init-agent.*Fix:"):
        train_run(str(chained), str(tmp_path / "run"), ["--init-agent", "data/agents/default"])


def test_the_shipped_default_curriculum_lists_valid_stages_in_the_records_order():
    from pathlib import Path

    from instructed_rl.commands.train import algorithms, load_yaml_file, overlay
    from instructed_rl.config import from_mapping
    from instructed_rl.commands.curriculum import read_stages

    stages = read_stages(load_yaml_file("configs/default_curriculum.yaml"), Path("runs/unused"))
    shipped = Path("data/agents/default")
    records = [json.loads((shipped / f"training_record_stage{n}.json").read_text()) for n in range(1, len(stages))]
    records.append(json.loads((shipped / "training_record.json").read_text()))
    assert len(stages) == len(records)
    for stage, record in zip(stages, records):
        values = overlay(load_yaml_file(stage.config).data, dict(stage.overrides))
        config = from_mapping(algorithms()[values.get("algorithm", "imitation")], values, source=stage.config)
        # each stage is the recipe its record trained: same games, frames, seed and trunk width
        assert (config.games, config.frames, config.seed) == (record["config"]["games"], record["config"]["frames"],
                                                               record["config"]["seed"]), stage.config
        channels = [(v.get("agent") or {}).get("policy", {}).get("channels") for v in (values, record["config"])]
        assert channels[0] == channels[1], stage.config


def test_a_stage_override_with_a_typo_fails_before_any_stage_trains(tmp_path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("curriculum:\n  - configs/tiny.yaml\n  - {config: configs/tiny.yaml, frmes: 100}\n")
    with pytest.raises(UserError, match=r"typo.yaml:3.*frmes.*frames"):
        train_run(str(typo), str(tmp_path / "run"), [])
    assert not (tmp_path / "run" / "01-tiny").exists()


@pytest.mark.parametrize("curriculum", ["configs/default_curriculum.yaml", "configs/default_curriculum_long.yaml",
                                        "configs/default_curriculum_narrow.yaml"])
def test_each_curriculum_file_builds_every_stage_and_hands_each_the_parts_the_next_needs(curriculum):
    """Every stage's config builds with its overrides, and no stage drops a policy part the stage
    before grew (a saved agent may gain parts, never lose them)."""
    from pathlib import Path

    from instructed_rl.commands.curriculum import check_stage, read_stages
    from instructed_rl.commands.train import load_yaml_file, overlay

    file = load_yaml_file(curriculum)
    grown: dict[str, object] = {}
    for stage in read_stages(file, Path("runs/unused")):
        check_stage(stage, file)
        values = overlay(load_yaml_file(stage.config).data, dict(stage.overrides))
        policy = (values.get("agent") or {}).get("policy") or {}
        assert all(policy.get(part, True) for part, on in grown.items() if on), stage.config
        grown.update({part: on for part, on in policy.items() if part in ("map_memory", "map_planner")})
    assert grown == {"map_memory": True, "map_planner": True}
