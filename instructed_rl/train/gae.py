"""Generalised advantage estimation (Schulman et al. 2016) over a ``(steps, envs)`` rollout.

Episodes end inside a rollout (``ended``: success or minigrid's time limit, both treated as
terminal, as BabyAI and torch-ac do: the observation carries no clock, so a value bootstrapped
past a time limit would have to guess it), and episodes still running when the rollout stops
are cut there and bootstrapped with the value of the observation that follows the last step.

    >>> import numpy as np
    >>> adv, ret = compute_gae(np.array([[0.0], [1.0]]), np.array([[0.5], [0.5]]), np.array([[False], [True]]),
    ...                        np.array([9.0]), gamma=0.5, lam=1.0)
    >>> ret[:, 0].tolist()   # 0 + 0.5 * 1 ;  1 (terminal: the 9.0 bootstrap is not used)
    [0.5, 1.0]
"""

from __future__ import annotations

import numpy as np


def compute_gae(rewards: np.ndarray, values: np.ndarray, ended: np.ndarray, bootstrap: np.ndarray, *,
                gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Advantages and returns (``advantages + values``), both ``(T, N)`` float32.

    ``rewards``, ``values``: ``(T, N)``; ``values[t]`` is V(s_t) as estimated while acting.
    ``ended``: ``(T, N)`` bool, True where the episode ended with step ``t`` (nothing is
    bootstrapped across it; the env's next observation belongs to a new episode).
    ``bootstrap``: ``(N,)`` V of the observation after step ``T - 1``, used only where that
    step did not end its episode (the rollout cut it).
    """
    rewards = np.asarray(rewards, np.float64)
    values = np.asarray(values, np.float64)
    ended = np.asarray(ended, bool)
    if not (rewards.shape == values.shape == ended.shape) or rewards.ndim != 2:
        raise ValueError(f"rewards, values and ended must share one (T, N) shape, got {rewards.shape}, "
                         f"{values.shape}, {ended.shape}")
    steps = rewards.shape[0]
    advantages = np.zeros_like(rewards)
    next_value = np.asarray(bootstrap, np.float64).reshape(-1)
    running = np.zeros_like(next_value)
    for t in reversed(range(steps)):
        alive = 1.0 - ended[t]
        delta = rewards[t] + gamma * next_value * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
        next_value = values[t]
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)
