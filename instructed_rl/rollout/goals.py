"""The goal features of the episodes in flight, encoded once per episode.

A batch of envs shares one :class:`GoalFeatures`; when some envs start new episodes only their
rows are encoded and written in (the token axis grows to the longest text). Encoding all rows
whenever any episode started cost about an eighth of imitation's time per frame.
"""

from __future__ import annotations

import torch

from instructed_rl.model.policy import GoalFeatures
from instructed_rl.model.text.encoders import TextFeatures


def _write_rows(old: TextFeatures, rows: torch.Tensor, new: TextFeatures) -> TextFeatures:
    """``old`` with ``rows`` replaced by ``new``'s rows (a fresh object: the policy caches by identity)."""
    width = max(old.tokens.shape[1], new.tokens.shape[1])

    def widen(values: torch.Tensor) -> torch.Tensor:
        if values.shape[1] == width:
            return values
        pad = values.new_zeros(values.shape[0], width - values.shape[1], *values.shape[2:])
        return torch.cat([values, pad], dim=1)

    def merged(name: str, wide: bool) -> torch.Tensor | None:
        base, part = getattr(old, name), getattr(new, name)
        if base is None or part is None:
            return None
        if wide:
            base, part = widen(base), widen(part)
        base = base.clone()
        base[rows] = part.to(base.dtype)
        return base

    return TextFeatures(merged("pooled", False), merged("tokens", True), merged("mask", True),
                        merged("words", True), merged("sentences", True))


IDLE_GOAL = ("go", "")


class GoalBatch:
    """Goal features of ``count`` envs: :meth:`update` with the new episodes' texts, then read :attr:`features`."""

    def __init__(self, agent, count: int):
        self.agent = agent
        self.count = count
        self.features: GoalFeatures | None = None

    @torch.inference_mode()
    def update(self, texts: dict[int, tuple[str, str]]) -> None:
        """Encode the (mission, description) of the envs in ``texts`` and write them in (for acting: no gradients)."""
        if not texts:
            return
        if self.features is None:  # envs without an episode get a stand-in goal nobody acts on
            texts = {i: texts.get(i, IDLE_GOAL) for i in range(self.count)}
        envs = sorted(texts)
        encoded = self.agent.encode_goal([texts[i][0] for i in envs], [texts[i][1] for i in envs])
        if self.features is None:
            self.features = encoded
            return
        rows = torch.as_tensor(envs, dtype=torch.long, device=encoded.instruction.pooled.device)
        old = self.features
        description = None
        if old.description is not None and encoded.description is not None:
            description = _write_rows(old.description, rows, encoded.description)
        self.features = GoalFeatures(_write_rows(old.instruction, rows, encoded.instruction), description)
