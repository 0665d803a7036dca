"""Policy network: config validation, shapes for every memory kind, obs preprocessing, a tiny learning test."""

from __future__ import annotations

import gymnasium
import minigrid  # noqa: F401  (registers the BabyAI envs)
import numpy as np
import pytest
import torch

from instructed_rl.model.agent import Agent, AgentConfig
from instructed_rl.model.policy import GoalFeatures, Policy, PolicyConfig, preprocess_obs
from instructed_rl.model.text import TextConfig, TextFeatures

torch.set_num_threads(1)

SMALL = dict(embed_dim=16, channels=16, memory_dim=16, head_dim=16, direction_dim=4, attention_heads=2)


def _goal(batch: int, dim: int, *, description: bool, tokens: int = 5) -> GoalFeatures:
    gen = torch.Generator().manual_seed(0)

    def features() -> TextFeatures:
        mask = torch.ones(batch, tokens, dtype=torch.bool)
        mask[0, -2:] = False
        return TextFeatures(torch.randn(batch, dim, generator=gen), torch.randn(batch, tokens, dim, generator=gen), mask)

    return GoalFeatures(features(), features() if description else None)


def _view(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    image = torch.stack(
        [torch.randint(0, 11, (batch, 7, 7), generator=gen), torch.randint(0, 6, (batch, 7, 7), generator=gen),
         torch.randint(0, 3, (batch, 7, 7), generator=gen)],
        dim=-1,
    )
    return image, torch.randint(0, 4, (batch,), generator=gen)


def test_config_rejects_bad_choices() -> None:
    with pytest.raises(ValueError, match="memory='rnn'"):
        PolicyConfig(memory="rnn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="true or false"):
        PolicyConfig(goal_attention="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="divisible"):
        PolicyConfig(channels=10, attention_heads=4)
    with pytest.raises(ValueError, match="positive"):
        PolicyConfig(memory_dim=0)


@pytest.mark.parametrize(
    "memory,attention,description", [("lstm", True, True), ("gru", False, True), ("none", True, False)]
)
def test_forward_shapes(memory: str, attention: bool, description: bool) -> None:
    config = PolicyConfig(memory=memory, goal_attention=attention, use_description=description, **SMALL)
    policy = Policy(config, goal_dim=8)
    assert config.memory_size == {"lstm": 32, "gru": 16, "none": 0}[memory]
    image, direction = _view(3)
    out = policy(image, direction, _goal(3, 8, description=description), policy.initial_memory(3))
    assert out.logits.shape == (3, 7) and out.value.shape == (3,) and out.done_logit.shape == (3,)
    assert out.memory.shape == (3, config.memory_size)
    assert torch.isfinite(out.logits).all()


def test_description_required_when_configured() -> None:
    policy = Policy(PolicyConfig(**SMALL), goal_dim=8)
    image, direction = _view(2)
    with pytest.raises(ValueError, match="description"):
        policy(image, direction, _goal(2, 8, description=False), policy.initial_memory(2))


def test_rgb_pixels_are_refused() -> None:
    policy = Policy(PolicyConfig(**SMALL), goal_dim=8)
    image = torch.full((1, 7, 7, 3), 200)
    with pytest.raises(ValueError, match="symbolic"):
        policy(image, torch.zeros(1, dtype=torch.long), _goal(1, 8, description=True), policy.initial_memory(1))


def test_preprocess_real_minigrid_obs() -> None:
    env = gymnasium.make("BabyAI-GoToLocal-v0")
    obs, _ = env.reset(seed=0)
    image, direction = preprocess_obs(obs)
    assert image.shape == (1, 7, 7, 3) and image.dtype == torch.long and direction.shape == (1,)
    stacked = {"image": np.stack([obs["image"]] * 4), "direction": np.array([obs["direction"]] * 4)}
    image, direction = preprocess_obs(stacked)
    assert image.shape == (4, 7, 7, 3) and direction.shape == (4,)
    env.close()


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_learns_colour_to_action(kind: str) -> None:
    """End to end (encoder + policy): the action must be read from the instruction's colour word alone."""
    colours = ["red", "green", "blue", "purple", "yellow", "grey"]
    texts = [f"go to the {c} ball" for c in colours]
    config = AgentConfig(
        text=TextConfig(encoder=kind, dim=32, heads=4, ff_dim=64, layers=1),
        policy=PolicyConfig(film_layers=1, **SMALL),
    )
    agent = Agent.create(config, texts=texts, seed=0)
    image, direction = _view(len(colours))
    image = image[:1].expand(len(colours), -1, -1, -1)  # same view for all: only the text differs
    direction = direction[:1].expand(len(colours))
    target = torch.arange(len(colours))
    optimizer = torch.optim.Adam(agent.parameters(), lr=3e-3)
    for _ in range(80):
        out = agent(image, direction, agent.encode_goal(texts), agent.initial_memory(len(colours)))
        loss = torch.nn.functional.cross_entropy(out.logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        out = agent(image, direction, agent.encode_goal(texts), agent.initial_memory(len(colours)))
    assert (out.logits.argmax(-1) == target).all(), f"final loss {loss.item():.3f}"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in agent.encoder.parameters())


@pytest.mark.parametrize("memory", ["lstm", "gru", "none"])
def test_forward_sequence_equals_step_by_step(memory):
    """The batched training path (trunk over all views, the fused recurrence) computes what acting
    step by step computes, with gradients on as in training."""
    from instructed_rl.model.agent import Agent, AgentConfig

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 32, "film_layers": 1, "memory": memory}})
    agent = Agent.create(config, texts=["go to the red ball", "pick up a key", "a room"])
    image, direction = _sequence_views()
    goal = agent.encode_goal(["go to the red ball", "pick up a key"], ["a room", ""])
    whole = agent.forward_sequence(image, direction, goal, agent.initial_memory(2))
    assert whole.logits.requires_grad
    with torch.no_grad():
        memory_now = agent.initial_memory(2)
        for t in range(5):
            step = agent(image[:, t], direction[:, t], goal, memory_now)
            memory_now = step.memory
            assert torch.allclose(step.logits, whole.logits[:, t], atol=1e-5)
            assert torch.allclose(step.done_logit, whole.done_logit[:, t], atol=1e-5)
        assert torch.allclose(memory_now, whole.memory, atol=1e-5)


def test_forward_sequence_takes_the_valid_steps_views_alone():
    """Trainers may hand over only the real steps' views, stacked (no padded batch): the same outputs
    on those steps as the padded batch gives; a count that does not match ``valid`` is refused."""
    from instructed_rl.model.agent import Agent, AgentConfig

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 32, "film_layers": 1}})
    agent = Agent.create(config, texts=["go to the red ball", "pick up a key", "a room"])
    image, direction = _sequence_views()
    valid = torch.tensor([[True] * 5, [True, True, True, False, False]])
    goal = agent.encode_goal(["go to the red ball", "pick up a key"], ["a room", ""])
    with torch.no_grad():
        padded = agent.forward_sequence(image, direction, goal, agent.initial_memory(2), valid)
        stacked = agent.forward_sequence(image[valid].to(torch.uint8), direction, goal, agent.initial_memory(2), valid)
    assert torch.allclose(padded.logits[valid], stacked.logits[valid], atol=1e-6)
    with pytest.raises(ValueError, match="image of 7 steps for 8 valid ones"):
        agent.forward_sequence(image[valid][:7], direction, goal, agent.initial_memory(2), valid)


def _sequence_views() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    image = torch.stack([torch.randint(0, 6, (2, 5, 7, 7), generator=generator),
                         torch.randint(0, 6, (2, 5, 7, 7), generator=generator),
                         torch.randint(0, 3, (2, 5, 7, 7), generator=generator)], dim=-1)
    return image, torch.randint(0, 4, (2, 5), generator=generator)


def test_bf16_training_changes_learning_steps_only():
    """bf16 convolutions apply in training mode: close to float32 there, and acting is exactly float32."""
    from instructed_rl.model.agent import Agent, AgentConfig

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 32, "film_layers": 2, "target_map": True}})
    agent = Agent.create(config, texts=["go to the red ball", "pick up a key", "a room"])
    image, direction = _sequence_views()
    goal = agent.encode_goal(["go to the red ball", "pick up a key"], ["a room", ""])
    agent.train()
    full = agent.forward_sequence(image, direction, goal, agent.initial_memory(2))
    agent.policy.bf16_training = True
    low = agent.forward_sequence(image, direction, goal, agent.initial_memory(2))
    assert low.logits.dtype == torch.float32 and low.target_map.dtype == torch.float32
    assert not torch.equal(low.logits, full.logits)  # the convolutions really ran in bf16
    assert torch.allclose(low.logits, full.logits, atol=0.05)
    low.logits.sum().backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in agent.parameters())
    agent.eval()
    with torch.no_grad():
        acting = agent.forward_sequence(image, direction, goal, agent.initial_memory(2))
    agent.policy.bf16_training = False
    with torch.no_grad():
        reference = agent.forward_sequence(image, direction, goal, agent.initial_memory(2))
    assert torch.equal(acting.logits, reference.logits)


def test_view_embedding_is_the_same_with_and_without_gradients():
    # Training takes a multi-hot matmul (faster backward), acting the embedding lookup.
    policy = Policy(PolicyConfig(embed_dim=16, channels=32), goal_dim=8)
    image = torch.randint(0, 4, (5, 7, 7, 3))
    with torch.no_grad():
        looked_up = policy._embed_view(image)
    multi_hot = policy._embed_view(image)
    assert multi_hot.requires_grad and torch.allclose(looked_up, multi_hot, atol=1e-6)


def test_seen_map_folds_into_the_view_and_back():
    from instructed_rl.games import view as games_view
    from instructed_rl.games.env import InstructedEnv
    from instructed_rl.model import policy
    from instructed_rl.model.policy import policy_view, unfold_map

    assert policy.MAP_SIZE == games_view.MAP_SIZE  # the model may not import games: two constants kept equal

    env = InstructedEnv("SkillMaze")
    obs, _ = env.reset(seed=2)
    for _ in range(8):
        obs, *_ = env.step(0)
    view = policy_view(obs, map_memory=True)
    assert view.shape == (7, 7, 30) and np.array_equal(view[..., :3], obs["image"])
    assert np.array_equal(unfold_map(torch.as_tensor(view[None]))[0].numpy(), obs["map"])
    assert np.array_equal(policy_view(obs, map_memory=False), obs["image"])
    blank = policy_view({"image": obs["image"]}, map_memory=True)  # a foreign env: nothing seen
    assert not blank[..., 3:].any()


def test_map_memory_grows_an_agent_that_acts_as_before_and_then_learns_from_the_map():
    """A trained agent given the map stream acts exactly as before (its output starts at zero);
    gradients reach the stream, and once it is non-zero the map changes the memory's input."""
    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.model.policy import MAP_FOLDED

    config = AgentConfig.from_dict({"text": {"encoder": "gru", "dim": 32},
                                    "policy": {"embed_dim": 16, "channels": 32, "film_layers": 1}})
    agent = Agent.create(config, texts=["go to the red ball", "pick up a key", "a room"])
    grown = agent.with_policy(map_memory=True)
    image, direction = _sequence_views()
    seen = torch.randint(0, 6, (2, 5, 7, 7, MAP_FOLDED))
    seen[..., 2::3] = seen[..., 2::3].clamp(max=2)  # door states
    with_map = torch.cat([image, seen], dim=-1)
    goal = agent.encode_goal(["go to the red ball", "pick up a key"], ["a room", ""])
    before = agent.forward_sequence(image, direction, goal, agent.initial_memory(2))
    after = grown.forward_sequence(with_map, direction, goal, grown.initial_memory(2))
    assert torch.allclose(before.logits, after.logits, atol=1e-6)
    after.logits.sum().backward()
    assert grown.policy.map_out.weight.grad.abs().sum() > 0
    with torch.no_grad():
        grown.policy.map_out.weight.normal_(std=0.1)
        blank = torch.cat([image, torch.zeros_like(seen)], dim=-1)
        a = grown.forward_sequence(with_map, direction, goal, grown.initial_memory(2)).logits
        b = grown.forward_sequence(blank, direction, goal, grown.initial_memory(2)).logits
    assert not torch.allclose(a, b, atol=1e-4)
    with pytest.raises(ValueError, match="30 channels"):
        grown.forward_sequence(image, direction, goal, grown.initial_memory(2))


def test_map_stem_on_multi_hot_codes_equals_the_convolution_of_embeddings():
    """The seen map's stem runs on the cells' multi-hot codes with the embedding folded into its
    weights: the same numbers as convolving the embedded cells, gradients included."""
    policy = Policy(PolicyConfig(**SMALL, map_memory=True), goal_dim=8)
    torch.nn.init.normal_(policy.map_out.weight, std=0.1)
    seen = torch.stack([torch.randint(0, 11, (3, 21, 21)), torch.randint(0, 6, (3, 21, 21)),
                        torch.randint(0, 3, (3, 21, 21))], dim=-1)
    cond = torch.randn(3, policy.cond_dim)
    folded = policy._read_map(seen, cond)
    x = torch.relu(policy.map_stem(policy._embed_view(seen)))
    x = torch.relu(policy.map_down(policy.map_film(x, cond)))
    direct = policy.map_out(x.flatten(1))
    assert torch.allclose(folded, direct, atol=1e-5)
    grads = torch.autograd.grad(folded.square().sum(), [policy.cell_embed.weight, policy.map_stem.weight])
    expected = torch.autograd.grad(direct.square().sum(), [policy.cell_embed.weight, policy.map_stem.weight])
    assert all(torch.allclose(g, e, atol=1e-4) for g, e in zip(grads, expected))


# Steps per goal, and the block size they make cheapest: goals of more steps than a block, of one step
# and of none; one room's short episodes; long episodes (the largest blocks: little padding).
GOAL_STEPS = {(19, 1, 0, 32): 4, (3, 5, 2, 6): 3, (48, 0, 64, 32): 16}


@pytest.mark.parametrize("counts", list(GOAL_STEPS))
@pytest.mark.parametrize("goal_dim", [32, 24])  # packed projections, and separate ones (kdim != channels)
def test_goal_token_attention_equals_the_module_it_reads(goal_dim, counts):
    """Keys once per goal and steps scored in blocks give the module's own outputs and gradients,
    whichever block size the batch's episode lengths make cheapest."""
    from instructed_rl.model.view_attention import MAX_BLOCK_STEPS, attend_goal_tokens, block_steps

    torch.manual_seed(0)
    # float64: gradients summed over a hundred views would differ by float32 rounding
    attention = torch.nn.MultiheadAttention(32, 2, kdim=goal_dim, vdim=goal_dim, batch_first=True).double()
    counts = torch.tensor(counts)
    assert block_steps(counts) == GOAL_STEPS[tuple(counts.tolist())] <= MAX_BLOCK_STEPS
    goal_rows = torch.repeat_interleave(torch.arange(4), counts)
    cells = torch.randn(len(goal_rows), 49, 32, dtype=torch.float64, requires_grad=True)
    tokens = torch.randn(4, 7, goal_dim, dtype=torch.float64, requires_grad=True)
    mask = torch.arange(7)[None] < torch.tensor([[3], [7], [1], [5]])
    ours = attend_goal_tokens(attention, cells, tokens, mask, goal_rows)
    ours_grads = torch.autograd.grad(ours.square().sum(), [cells, tokens, attention.out_proj.weight])
    theirs, _ = attention(cells, tokens[goal_rows], tokens[goal_rows], key_padding_mask=~mask[goal_rows],
                          need_weights=False)
    theirs_grads = torch.autograd.grad(theirs.square().sum(), [cells, tokens, attention.out_proj.weight])
    assert torch.allclose(ours, theirs, atol=1e-10)
    for mine, reference in zip(ours_grads, theirs_grads):
        assert torch.allclose(mine, reference, atol=1e-8)
    one_each, _ = attention(cells[:4], tokens, tokens, key_padding_mask=~mask, need_weights=False)
    assert torch.allclose(attend_goal_tokens(attention, cells[:4], tokens, mask), one_each, atol=1e-10)
    with pytest.raises(ValueError, match="sort goal_rows"):
        attend_goal_tokens(attention, cells, tokens, mask, goal_rows.flip(0))
