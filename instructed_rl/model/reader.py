"""The identity reader: each instruction word reads what the description says about that same word.

An invented word ("the tapomi", "the red gelkur") has no learned meaning, and in training it is
drawn afresh every episode (:mod:`instructed_rl.games.fresh_words`), so a reader that matches
words by their learned embeddings has nothing to match. This one adds a pointer by identity, as
copy mechanisms do: the attention score of instruction token i on description token j gets a
learned bonus when both tokens belong to the same surface word.

    score(i, j) = q_i . k_j / sqrt(d)  +  w_h * [word(i) == word(j)]

The description's tokens are first contextualised within their own sentence (a small
transformer whose attention is limited to the sentence a token is in), so the token of
"tapomi" in "The tapomi is the green ball." can carry "green ball" before it is read. A learned
null slot lets a token read nothing. What a matched word means, and how a stated rule bears on
acting, is learned: nothing here knows about roles, colours or hazards.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from instructed_rl.model.text.encoders import TextFeatures

IDENTITY_BONUS_INIT = 3.0


class SentenceContext(nn.Module):
    """Pre-norm transformer layers over one text's tokens, each token attending within its sentence."""

    def __init__(self, dim: int, heads: int, layers: int) -> None:
        super().__init__()
        self.heads = heads
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
            for _ in range(layers))

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, sentences: torch.Tensor | None) -> torch.Tensor:
        allowed = mask.unsqueeze(1) & mask.unsqueeze(2)  # (B, T, T)
        if sentences is not None:
            allowed = allowed & (sentences.unsqueeze(1) == sentences.unsqueeze(2))
        eye = torch.eye(tokens.shape[1], dtype=torch.bool, device=tokens.device)
        allowed = allowed | eye  # padding attends to itself: no empty rows
        blocked = (~allowed).repeat_interleave(self.heads, dim=0)
        for layer in self.layers:
            tokens = layer(tokens, src_mask=blocked)
        return tokens


class IdentityReader(nn.Module):
    """Instruction tokens attend over description tokens, with a bonus for the same word."""

    def __init__(self, dim: int, *, heads: int = 2, context_layers: int = 1) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"reader width {dim} is not divisible by its {heads} heads")
        self.heads, self.head_dim = heads, dim // heads
        self.context = SentenceContext(dim, heads, context_layers) if context_layers else None
        self.query_norm = nn.LayerNorm(dim)
        self.key_norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.null_key = nn.Parameter(torch.zeros(dim))
        self.identity_bonus = nn.Parameter(torch.full((heads,), IDENTITY_BONUS_INIT))
        self.out = nn.Linear(dim, dim)
        # Reads nothing at first, so an agent given a reader behaves as before.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, instruction: TextFeatures, description: TextFeatures) -> torch.Tensor:
        """What each instruction token reads from the description: (B, T, D)."""
        desc = description.tokens
        if self.context is not None:
            desc = self.context(desc, description.mask, description.sentences)
        batch, length, _ = instruction.tokens.shape
        q = self._split(self.query(self.query_norm(instruction.tokens)))  # (B, H, T, d)
        desc_n = self.key_norm(desc)
        k = self._split(self.key(desc_n))  # (B, H, S, d)
        v = self._split(self.value(desc_n))
        null = self._split(self.key(self.null_key).expand(batch, 1, -1))  # (B, H, 1, d)
        scores = torch.cat([q @ null.transpose(-1, -2), q @ k.transpose(-1, -2)], dim=-1) / math.sqrt(self.head_dim)
        if instruction.words is not None and description.words is not None:
            same = (instruction.words.unsqueeze(2) == description.words.unsqueeze(1)) & (instruction.words > 0).unsqueeze(2)
            bonus = self.identity_bonus.view(1, -1, 1, 1) * same.unsqueeze(1).to(scores.dtype)  # (B, H, T, S)
            scores = torch.cat([scores[..., :1], scores[..., 1:] + bonus], dim=-1)
        keep = torch.cat([torch.ones(batch, 1, dtype=torch.bool, device=desc.device), description.mask], dim=1)
        scores = scores.masked_fill(~keep.view(batch, 1, 1, -1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)[..., 1:]  # the null slot's share reads nothing
        read = (weights @ v).transpose(1, 2).reshape(batch, length, -1)
        return self.out(read)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_dim).transpose(1, 2)

