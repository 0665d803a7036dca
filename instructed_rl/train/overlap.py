"""Collect the next rollout (PPO) or the next episodes (imitation) in another process while the
trainer updates on the ones it has.

Synchronous PPO leaves a core idle: the envs step while the learner waits, then the learner
updates while the envs wait. With ``overlap: true`` a spawned process owns the envs and a
copy of the agent; while the trainer runs the update on rollout k, it collects rollout k+1
with the weights from *before* that update. The behaviour policy therefore lags the learner
by one update; PPO's probability ratio is taken against the behaviour policy's own
log-probabilities, which the rollout stores, so the clipped objective stays what it is
(asynchronous PPO, as in Sample Factory's APPO, with a lag of exactly one).

Imitation (``overlap: true`` there) does the same with whole bot-labelled episodes: the bot's
labels do not depend on who acts, so the lag only makes DAgger's own actions one update older.
The process keeps its own copy of the frozen text encoder (each process encodes the texts it
needs: the collector to act, the trainer to learn).

The schedule is fixed (collection k+1 always uses the weights before update k), so a run is
deterministic, and a checkpoint holds those behaviour weights beside the learner's: a
resumed run retraces an uninterrupted one exactly.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np
import torch

from instructed_rl.rollout.workers import reply, serve
from instructed_rl.train.memory import release_freed_memory

BEHAVIOUR_PREFIX = "behaviour/"  # checkpoint arrays holding the in-flight rollout's weights


def weights_of(agent) -> dict[str, torch.Tensor]:
    """The agent's trainable weights (a frozen backbone comes from its package in either process)."""
    return {name: tensor.detach().cpu().clone() for name, tensor in agent.saved_state_dict().items()}


def weights_to_arrays(weights: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {BEHAVIOUR_PREFIX + name: tensor.numpy() for name, tensor in weights.items()}


def weights_from_arrays(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor] | None:
    found = {name[len(BEHAVIOUR_PREFIX):]: torch.from_numpy(np.array(value))
             for name, value in arrays.items() if name.startswith(BEHAVIOUR_PREFIX)}
    return found or None


def learner_threads(threads: int, overlap: bool) -> int:
    """Torch threads of a trainer's gradient steps: overlapped, the collection process takes one core."""
    return max(1, threads - 1) if overlap else threads


def _agent_parts(agent) -> tuple[dict, bytes, bool]:
    """What a collection process rebuilds the trainer's agent from (:func:`_agent_copy`)."""
    return agent.config.to_dict(), agent.tokenizer.to_bytes(), agent.encoder.bf16_backbone


def _agent_copy(parts: tuple[dict, bytes, bool]):
    """The trainer's agent rebuilt in a collection process, reading text at the trainer's precision
    (its weights arrive with each request)."""
    from instructed_rl.model.agent import Agent, AgentConfig
    from instructed_rl.model.text.tokenizer import Tokenizer

    agent_config, tokenizer, bf16_text = parts
    config = AgentConfig.from_dict(agent_config)
    agent = Agent(config, Tokenizer.from_bytes(tokenizer, max_length=config.text.max_length)).eval()
    agent.encoder.bf16_backbone = bf16_text
    return agent


def _worker(conn, agent_parts: tuple, envs: dict, teacher: str | None, seed_rank: tuple) -> None:
    def setup():
        from instructed_rl.model.agent import Agent
        from instructed_rl.rollout.envs import EnvVector
        from instructed_rl.rollout.steps import collect_rollout, rollout_generator

        agent = _agent_copy(agent_parts)
        teacher_agent = Agent.from_pretrained(teacher).eval() if teacher else None
        vector = EnvVector(**envs)
        seed, rank = seed_rank

        def collect(argument):
            iteration, weights, steps, labels, use_teacher, achievements = argument
            agent.load_state_dict(weights, strict=False)
            return collect_rollout(agent, vector, iteration=iteration, steps=steps,
                                   generator=rollout_generator(seed, iteration, rank),
                                   labels=labels, teacher=teacher_agent if use_teacher else None,
                                   achievements=achievements)

        return {"collect": collect}

    serve(conn, setup)


def frozen_outputs_from_arrays(outputs: dict[str, tuple[np.ndarray, ...]]) -> dict[str, tuple[torch.Tensor, ...]]:
    """The collection's text outputs as the encoder holds them (``TextEncoder.keep_frozen_outputs``)."""
    return {text: tuple(torch.from_numpy(part) for part in entry) for text, entry in outputs.items()}


def collection_randomness(seed: int, iteration: int, seed_key: tuple[int, ...]) -> np.random.Generator:
    """DAgger's coin in an overlapped imitation run's collection: a stream of its own, apart from
    the one the trainer draws its minibatches from in the same iteration."""
    return np.random.default_rng([seed, iteration, *seed_key, 1])


def _episode_worker(conn, agent_parts: tuple, envs: dict, seed_key: tuple, rank: int) -> None:
    def setup():
        from instructed_rl.rollout.dagger import collect_episodes
        from instructed_rl.rollout.envs import EnvVector
        from instructed_rl.rollout.steps import rollout_generator

        agent = _agent_copy(agent_parts)
        vector = EnvVector(**envs)
        seed = envs["seed"]

        def collect(argument):
            iteration, weights, options = argument
            agent.load_state_dict(weights, strict=False)
            episodes, stats = collect_episodes(agent, vector, iteration=iteration,
                                               rng=collection_randomness(seed, iteration, seed_key),
                                               generator=rollout_generator(seed, iteration, rank), **options)
            # The frozen text model's outputs for these episodes go along: the trainer would otherwise
            # run MiniLM on every new description again (~15 ms each on one core).
            instructions, descriptions = [e.instruction for e in episodes], [e.description for e in episodes]
            texts = instructions + descriptions + agent.read(instructions, descriptions)
            # As numpy arrays: torch would pass each tensor through a shared-memory file descriptor,
            # and a few hundred texts an iteration exhaust the process's limit on open files.
            outputs = {text: tuple(part.numpy() for part in entry)
                       for text, entry in agent.encoder.frozen_outputs(texts).items()}
            release_freed_memory()
            return episodes, stats, outputs

        return {"collect": collect}

    serve(conn, setup)


class _CollectorProcess:
    """A spawned process that collects on request: ``submit`` returns at once, ``result`` waits."""

    what = "collection"

    def __init__(self, target, args: tuple):
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=target, daemon=True, args=(child, *args))
        self._process.start()
        child.close()

    def _submit(self, argument) -> None:
        self._pipe.send(("collect", argument))

    def result(self):
        while not self._pipe.poll(1.0):  # a process that died before it could answer must not hang us
            if not self._process.is_alive():
                raise RuntimeError(f"the {self.what} process exited (code {self._process.exitcode}) without a "
                                   f"{self.what}; see its error above")
        return reply(self._pipe, f"the {self.what} process")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._pipe.send(("close", None))
        except (BrokenPipeError, OSError):
            pass
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()


class RolloutProcess(_CollectorProcess):
    """PPO's: a rollout of ``steps`` steps per env with the weights it is given."""

    what = "rollout"

    def __init__(self, agent, *, envs: dict[str, Any], teacher: str | None, seed: int, rank: int):
        super().__init__(_worker, (_agent_parts(agent), envs, teacher, (seed, rank)))

    def submit(self, *, iteration: int, weights: dict[str, torch.Tensor], steps: int, labels: bool,
               use_teacher: bool, achievements: bool = False) -> None:
        self._submit((iteration, weights, steps, labels, use_teacher, achievements))


class EpisodeProcess(_CollectorProcess):
    """Imitation's: whole bot-labelled episodes (:func:`instructed_rl.rollout.dagger.collect_episodes`
    with ``options``) acted by the weights it is given; ``result`` is (episodes, stats, the frozen
    text model's outputs for their texts as numpy arrays: :func:`frozen_outputs_from_arrays`)."""

    what = "episode collection"

    def __init__(self, agent, *, envs: dict[str, Any], seed_key: tuple[int, ...], rank: int):
        super().__init__(_episode_worker, (_agent_parts(agent), envs, seed_key, rank))

    def submit(self, *, iteration: int, weights: dict[str, torch.Tensor], options: dict[str, Any]) -> None:
        self._submit((iteration, weights, options))
