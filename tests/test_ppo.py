"""PPO and kickstarting: GAE and the clipped losses against hand-computed values, rollout
bookkeeping, tiny learning runs with thresholds, exact resume, and config errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from instructed_rl.model.agent import Agent
from instructed_rl.commands.train import run as train_run
from instructed_rl.errors import UserError
from instructed_rl.train.gae import compute_gae
from instructed_rl.train.ppo_loss import clipped_policy_loss, clipped_value_loss, make_minibatch, segments
from instructed_rl.rollout.envs import EnvVector
from instructed_rl.rollout.steps import Rollout, collect_rollout
from instructed_rl.train.tracking import MetricsLog

from tests.conftest import cli_command, interrupt_after_first_checkpoint, same_weights, success_rate

PPO_TINY = "configs/ppo_tiny.yaml"
KICKSTART_TINY = "configs/kickstart_tiny.yaml"
GAME = "BabyAI-GoToLocalS5N2-v0"  # `instructed-rl eval --agent random`: 25.7% over 300 episodes


# ---- GAE and losses on hand-computed values -------------------------------------------------

def test_gae_matches_hand_computed_returns():
    # env 0: the episode ends with step 1 (reward 1); steps 2-3 start another, cut by the rollout
    #        and bootstrapped with V = 0.4. env 1: one episode ending with step 3 (the 100 is unused).
    rewards = np.array([[0, 0], [1, 0], [0, 0], [0, 0.5]], np.float32)
    values = np.array([[0.5, 1], [0.6, 1], [0.2, 1], [0.3, 1]], np.float32)
    ended = np.array([[0, 0], [1, 0], [0, 0], [0, 1]], bool)
    bootstrap = np.array([0.4, 100.0], np.float32)
    advantages, returns = compute_gae(rewards, values, ended, bootstrap, gamma=0.9, lam=0.8)
    # By hand, delta_t = r_t + 0.9 V_{t+1} (not across an end) - V_t,  A_t = delta_t + 0.72 A_{t+1}:
    # env 0: A3 = 0.36 - 0.3 = 0.06; A2 = (0.27 - 0.2) + 0.72 * 0.06 = 0.1132; A1 = 1 - 0.6 = 0.4 (end);
    #        A0 = (0.54 - 0.5) + 0.72 * 0.4 = 0.328
    # env 1: A3 = 0.5 - 1 = -0.5; A2 = -0.1 - 0.36 = -0.46; A1 = -0.1 - 0.3312 = -0.4312;
    #        A0 = -0.1 - 0.310464 = -0.410464
    expected = np.array([[0.328, -0.410464], [0.4, -0.4312], [0.1132, -0.46], [0.06, -0.5]])
    np.testing.assert_allclose(advantages, expected, atol=1e-6)
    np.testing.assert_allclose(returns, expected + values, atol=1e-6)
    # lambda = 1: discounted Monte-Carlo returns, bootstrapped only where the rollout cut the episode.
    _, mc = compute_gae(rewards, values, ended, bootstrap, gamma=0.9, lam=1.0)
    np.testing.assert_allclose(mc[:, 0], [0.9, 1.0, 0.9 * 0.9 * 0.4, 0.9 * 0.4], atol=1e-6)
    np.testing.assert_allclose(mc[:, 1], [0.5 * 0.9 ** 3, 0.5 * 0.9 ** 2, 0.5 * 0.9, 0.5], atol=1e-6)


def test_clipped_policy_loss_on_hand_values():
    ratio = torch.tensor([1.5, 0.5, 1.1, 0.7])
    old_logp = torch.log(torch.tensor([0.2, 0.4, 0.5, 0.1]))
    logp = (old_logp + torch.log(ratio)).requires_grad_()
    advantages = torch.tensor([1.0, 1.0, -1.0, -1.0])
    loss = clipped_policy_loss(logp, old_logp, advantages, clip=0.2)
    # min(r A, clip(r) A): min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5; min(-1.1, -1.1) = -1.1;
    # min(-0.7, -0.8) = -0.8  ->  loss = -(1.2 + 0.5 - 1.1 - 0.8) / 4 = 0.05
    assert loss.item() == pytest.approx(0.05, abs=1e-6)
    loss.backward()
    # The clipped terms (1 and 4) pass no gradient; the others d/dlogp = -r A / 4.
    np.testing.assert_allclose(logp.grad.numpy(), [0.0, -0.5 / 4, 1.1 / 4, 0.0], atol=1e-6)


def test_clipped_value_loss_on_hand_values():
    values, old, returns = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5]), torch.tensor([2.0, 0.0])
    # clipped values 0.7 and 0.3: max((1-2)^2, (0.7-2)^2) = 1.69, max(0, 0.3^2) = 0.09
    assert clipped_value_loss(values, old, returns, 0.2).item() == pytest.approx((1.69 + 0.09) / 2)
    assert clipped_value_loss(values, old, returns, None).item() == pytest.approx(0.5)


# ---- rollout bookkeeping --------------------------------------------------------------------

def test_segments_cut_at_episode_starts_and_every_recurrence_steps():
    start = np.zeros((7, 2), bool)
    start[0], start[4, 0] = True, True  # env 0: an episode ends with step 3 (successfully), the next starts at 4
    terminal = [(3, 0, np.zeros((7, 7, 3), np.uint8), 0)]
    assert segments(start, terminal, recurrence=3) == [
        (0, 0, 3, -1), (0, 3, 4, 0), (0, 4, 7, -1),
        (1, 0, 3, -1), (1, 3, 6, -1), (1, 6, 7, -1),
    ]


def _tiny_agent() -> Agent:
    from instructed_rl.model.agent import AgentConfig
    from instructed_rl.language.corpus import load_corpus, sample_instructions

    config = AgentConfig.from_dict({
        "text": {"encoder": "gru", "dim": 16},
        "policy": {"embed_dim": 16, "channels": 16, "film_layers": 1, "goal_attention": False, "memory": "gru",
                   "memory_dim": 16, "head_dim": 16}})
    texts = sample_instructions(load_corpus("babyai"), count=500, seed=0) + ["A BabyAI world. You see a red ball."]
    return Agent.create(config, texts=texts, seed=0).eval()


def _rollout(agent: Agent, *, workers: int = 1, labels: bool = False) -> Rollout:
    envs = EnvVector(games=[GAME, "BabyAI-GoToObjS4-v0"], corpus="babyai", seed=3, first=0, count=4, workers=workers)
    try:
        rollout, _ = collect_rollout(agent, envs, iteration=2, steps=40, generator=torch.Generator().manual_seed(1),
                                     labels=labels)
    finally:
        envs.close()
    return rollout


def test_rollout_bookkeeping_and_the_post_success_row():
    agent = _tiny_agent()
    rollout = _rollout(agent, labels=True)
    assert rollout.start[0].all()
    assert (rollout.memory[rollout.start] == 0).all() and not (rollout.memory[~rollout.start] == 0).all()
    np.testing.assert_array_equal(rollout.start[1:], rollout.ended[:-1])  # a new episode follows every end
    rewarded = rollout.reward > 0
    assert rewarded.any() and (rollout.ended[rewarded]).all()
    assert sorted((t, n) for t, n, _, _ in rollout.terminal) == sorted(zip(*np.nonzero(rewarded)))
    assert (rollout.label >= 0).mean() > 0.95  # the bot labelled the visited states
    games = {game for game, _, _ in rollout.texts}
    assert games == {GAME, "BabyAI-GoToObjS4-v0"}  # envs cycle through the games
    again = _rollout(agent, labels=True)
    for name in ("image", "action", "reward", "memory", "label", "logp"):
        np.testing.assert_array_equal(getattr(rollout, name), getattr(again, name))

    advantages, returns = compute_gae(rollout.reward, rollout.value, rollout.ended, rollout.bootstrap,
                                      gamma=0.99, lam=0.95)
    pieces = segments(rollout.start, rollout.terminal, recurrence=8)
    assert sum(t1 - t0 for _, t0, t1, _ in pieces) == rollout.action.size
    with_extra = [p for p in pieces if p[3] >= 0]
    mb = make_minibatch(rollout, advantages, returns, with_extra, torch.device("cpu"))
    lengths = torch.tensor([t1 - t0 for _, t0, t1, _ in with_extra])
    rows = torch.arange(len(with_extra))
    assert (mb.done[rows, lengths] == 1).all() and mb.done.sum() == len(with_extra)  # post-success view: done
    assert not mb.acted[rows, lengths].any() and mb.valid[rows, lengths].all()  # ... with no action
    assert (mb.advantage[~mb.acted] == 0).all()
    n, t0, t1, extra = with_extra[0]
    np.testing.assert_array_equal(mb.image[0, :t1 - t0].numpy(), rollout.image[t0:t1, n])
    np.testing.assert_array_equal(mb.image[0, t1 - t0].numpy(), rollout.terminal[extra][2])
    np.testing.assert_array_equal(mb.memory[0].numpy(), rollout.memory[t0, n])


@pytest.mark.integration
def test_worker_processes_step_the_same_episodes_as_one_process():
    agent = _tiny_agent()
    here, workers = _rollout(agent, labels=True), _rollout(agent, workers=2, labels=True)
    for name in ("image", "direction", "action", "reward", "ended", "label", "goal"):
        np.testing.assert_array_equal(getattr(here, name), getattr(workers, name))
    assert here.texts == workers.texts


# ---- learning -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory) -> Path:
    """PPO from scratch on GoToLocalS5N2 (12k frames, ~15-25 s on one thread)."""
    out = tmp_path_factory.mktemp("ppo") / "run"
    train_run(PPO_TINY, str(out), ["--threads", "1"])
    return out


@pytest.mark.integration
def test_tiny_ppo_run_learns(ppo_run):
    # Measured: sampled 0.945, greedy 0.535 after 12k frames (untrained: 0.36 / 0.14; random: 0.26).
    # A recurrent policy this young often loops when run greedily, so the threshold is on sampled actions.
    success = success_rate(ppo_run / "agent", GAME, 200, greedy=False)
    assert success >= 0.6, f"sampled success {success:.2f} after 12k PPO frames (random is ~0.26)"
    rows = MetricsLog.read(ppo_run / "metrics.jsonl")
    assert rows[-1]["collect/success"] > rows[0]["collect/success"] + 0.2
    assert rows[-1]["train/entropy"] < rows[0]["train/entropy"]
    record = json.loads((ppo_run / "training_record.json").read_text())
    assert record["algorithm"] == "ppo" and record["frames"] >= 12000 and "eval/mean" in record["final_eval"]
    assert record["final_eval_actions"] == "greedy"  # the mode of its own check, named beside it
    assert (ppo_run / "curve.png").exists()


@pytest.mark.integration
def test_overlapped_ppo_learns_and_resumes_to_the_same_curve(tmp_path):
    # The next rollout is collected in another process during the update (one update of policy lag).
    args = ["train", "--config", PPO_TINY, "--threads", "2", "--overlap", "true", "--checkpoint-every", "3",
            "--eval-episodes", "5"]
    straight = tmp_path / "straight"
    result = subprocess.run(cli_command() + args + ["--out", str(straight)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    success = success_rate(straight / "agent", GAME, 200, greedy=False)
    assert success >= 0.6, f"sampled success {success:.2f} after 12k overlapped PPO frames (random is ~0.26)"

    interrupted = tmp_path / "interrupted"
    code, stdout, stderr = interrupt_after_first_checkpoint(args + ["--out", str(interrupted)], interrupted)
    if code == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert code == 130 and "checkpoint saved" in stdout, stderr
    with np.load(interrupted / "checkpoint" / "arrays.npz") as saved:
        assert any(name.startswith("behaviour/") for name in saved.files)  # the in-flight rollout's weights
    result = subprocess.run(cli_command() + args + ["--out", str(interrupted)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "resuming" in result.stdout, result.stderr
    assert _train_rows(interrupted) == _train_rows(straight)


@pytest.mark.integration
def test_kickstarting_from_the_bot_learns_fast(tmp_path):
    final = train_run(KICKSTART_TINY, str(tmp_path / "run"), ["--threads", "1", "--frames", "6000"])
    success = success_rate(final, GAME, 200, greedy=True)
    assert success >= 0.6, f"greedy success {success:.2f} after 6k kickstarted frames (random is ~0.26)"
    rows = MetricsLog.read(tmp_path / "run" / "metrics.jsonl")
    assert rows[0]["distill_coef"] == 1.0 and 0 < rows[-1]["distill_coef"] < rows[0]["distill_coef"]
    assert rows[-1]["train/distill_loss"] < rows[0]["train/distill_loss"]


@pytest.mark.integration
def test_kickstarting_from_a_saved_agent_pulls_the_student_toward_it(tmp_path, ppo_run):
    args = ["--teacher", str(ppo_run / "agent"), "--distill-coef", "5", "--frames", "3000", "--threads", "1",
            "--seed", "1"]
    train_run(KICKSTART_TINY, str(tmp_path / "run"), args)
    rows = MetricsLog.read(tmp_path / "run" / "metrics.jsonl")
    assert rows[-1]["train/distill_loss"] < 0.7 * rows[0]["train/distill_loss"]


def test_fine_tuning_starts_from_the_saved_agent(tmp_path, ppo_run):
    final = train_run(PPO_TINY, str(tmp_path / "run"), ["--init-agent", str(ppo_run / "agent"), "--frames", "512",
                                                        "--threads", "1", "--lr", "1e-9"])
    before = Agent.from_pretrained(ppo_run / "agent")
    after = Agent.from_pretrained(final)
    assert after.tokenizer.to_bytes() == before.tokenizer.to_bytes()  # the frozen vocabulary is kept
    a, b = before.saved_state_dict(), after.saved_state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_a_saved_agent_may_change_how_it_reads_but_nothing_else(tmp_path, ppo_run):
    from instructed_rl.commands.train import load_yaml
    from instructed_rl.config import from_mapping
    from instructed_rl.train.ppo import PPOConfig
    from instructed_rl.train.runs import make_agent

    values = {**load_yaml(PPO_TINY), "init_agent": str(ppo_run / "agent")}
    agent = make_agent(from_mapping(PPOConfig, {**values, "agent": {"rephrase": True}}), tmp_path, None, resumed=False)
    assert agent.config.rephrase is True
    agent = make_agent(from_mapping(PPOConfig, {**values, "agent": {"escape_loops": True}}), tmp_path, None,
                       resumed=False)
    assert agent.config.escape_loops is True  # how it acts: a last stage may set it for the agent it saves
    with pytest.raises(UserError, match="agent.read_places needs a planner"):  # this one has no planner
        make_agent(from_mapping(PPOConfig, {**values, "agent": {"read_places": True}}), tmp_path, None, resumed=False)
    with pytest.raises(UserError, match="agent.implicit_steps reads the map of what the agent has seen"):
        make_agent(from_mapping(PPOConfig, {**values, "agent": {"implicit_steps": True}}), tmp_path, None, resumed=False)
    with pytest.raises(UserError, match="agent.escape_loops='yes' must be true or false"):
        make_agent(from_mapping(PPOConfig, {**values, "agent": {"escape_loops": "yes"}}), tmp_path, None, resumed=False)
    with pytest.raises(UserError, match="agent.games cannot change a saved agent"):
        make_agent(from_mapping(PPOConfig, {**values, "agent": {"games": ["OpenRoom"]}}), tmp_path, None, resumed=False)
    with pytest.raises(UserError, match="agent.text.max_length: .*position table"):  # its own encoder's length is trained
        make_agent(from_mapping(PPOConfig, {**values, "agent": {"text": {"max_length": 256}}}), tmp_path, None,
                   resumed=False)


# ---- resume and config errors ---------------------------------------------------------------

def _train_rows(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("fps", "wall_seconds") and not k.startswith("eval/")}
            for r in MetricsLog.read(run_dir / "metrics.jsonl")]


@pytest.mark.integration
def test_interrupted_ppo_run_resumes_to_the_same_curve(tmp_path):
    args = ["train", "--config", PPO_TINY, "--frames", "3000", "--envs", "8", "--threads", "1",
            "--checkpoint-every", "2", "--eval-episodes", "5"]
    straight = tmp_path / "straight"
    result = subprocess.run(cli_command() + args + ["--out", str(straight)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr

    # The interrupted run steps its envs in two worker processes: same numbers, and workers may change on resume.
    interrupted = tmp_path / "interrupted"
    code, stdout, stderr = interrupt_after_first_checkpoint(
        args + ["--out", str(interrupted), "--workers", "2"], interrupted)
    if code == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert code == 130, stderr
    assert "checkpoint saved" in stdout and "Traceback" not in stderr
    state = json.loads((interrupted / "checkpoint" / "state.json").read_text())
    assert 0 < state["frames"] < 3000

    result = subprocess.run(cli_command() + args + ["--out", str(interrupted)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout
    assert _train_rows(interrupted) == _train_rows(straight)
    assert same_weights(straight / "agent", interrupted / "agent")


def test_unknown_and_invalid_keys_are_one_line_errors(tmp_path, write_yaml):
    result = subprocess.run(cli_command() + ["train", "--config", PPO_TINY, "--entropy-coeff", "0.1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "unknown config key 'entropy_coeff' (did you mean entropy_coef?)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    with pytest.raises(UserError, match="unknown config key 'teacher'"):  # kickstarting's key, not PPO's
        train_run(PPO_TINY, str(tmp_path), ["--teacher", "bot"])
    config = write_yaml("algorithm: kickstart\ngames: [GoToRoom]\ndistil_coef: 2\n")
    with pytest.raises(UserError, match="did you mean distill_coef"):
        train_run(str(config), str(tmp_path), [])
    with pytest.raises(UserError, match="minibatches=32 exceeds envs=16"):
        train_run(PPO_TINY, str(tmp_path), ["--minibatches", "32"])
    with pytest.raises(UserError, match="overlap: true steps the envs in its own rollout process; set workers: 1"):
        train_run(PPO_TINY, str(tmp_path), ["--overlap", "true", "--workers", "2"])
    with pytest.raises(UserError, match="unknown game"):
        train_run(PPO_TINY, str(tmp_path / "x"), ["--games", "GoToRom"])


def test_rollouts_of_a_map_reading_agent_carry_the_seen_map():
    """Trainers ask the envs for the map when the policy reads it: views fold it in (30 channels),
    worker processes too, and the map grows within an episode."""
    from instructed_rl.model.policy import unfold_map

    agent = _tiny_agent().with_policy(map_memory=True).eval()
    envs = EnvVector(games=[GAME], corpus="babyai", seed=3, first=0, count=4, workers=2, map_memory=True)
    try:
        rollout, _ = collect_rollout(agent, envs, iteration=0, steps=20, generator=torch.Generator().manual_seed(1))
    finally:
        envs.close()
    assert rollout.image.shape == (20, 4, 7, 7, 30)
    maps = unfold_map(torch.as_tensor(rollout.image.reshape(-1, 7, 7, 30))).reshape(20, 4, 21, 21, 3)
    seen = (maps[..., 0] != 0).sum(dim=(2, 3))  # (T, N) cells seen; the world fits in the map
    within = ~torch.as_tensor(rollout.start[1:])  # steps that continue an episode
    growth = (seen[1:] - seen[:-1])[within]
    assert bool((growth >= 0).all()) and bool((growth > 0).any())
