"""The pointer reader: an instruction word the description defines is rewritten as the words it
is bound to there, before the policy reads the instruction.

"bring the tadostos to the teskule" with "The red key is the tadostos. ... The grey ball is the
teskule." becomes "bring the red key to the grey ball", which the skills policy was trained on.

How it reads (a copy mechanism, as in pointer networks):

1. **Match by identity.** Every instruction word that also occurs in the description (the same
   surface word: an invented word has no learned meaning to match by) is a query.
2. **Point.** For each query, a small transformer runs over the description's encoder features,
   each token attending within its own sentence, with one learned "this word" vector added to
   the matched word's tokens. It scores every word of the sentences that hold the matched word,
   by where it stands and by what it is: copy it or not.
3. **Copy.** The query word is replaced by the words scored above one half, in the description's
   order; with none, it stays as it is (a real word the description merely mentions, "the
   green ball" in "It holds a green ball.", is kept).

What to copy is learned, from the env's own answer (:func:`pointer_labels`: the mission phrased
with every object's colour and type). No rule here knows about roles, colours or categories:
a family never trained tests what the scorer learned, not a parser.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from instructed_rl.reader import SentenceContext
from instructed_rl.text.encoders import TextFeatures, Word, text_words

COPY_THRESHOLD = 0.5
FILLER_SHARE = 0.5  # of training descriptions that get filler words
MAX_FILLERS = 3
Unit = tuple[int, int]  # (sentence index, word key): one word of the description that can be copied


@dataclass(frozen=True)
class Query:
    """One instruction word the description mentions: copy candidates are the other words of the
    sentences that hold it."""

    row: int  # which (instruction, description) pair
    key: int
    units: tuple[Unit, ...]


class PointerReader(nn.Module):
    """Scores, for each query, every description token: copy it into the query word or not."""

    def __init__(self, dim: int, *, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        self.this_word = nn.Parameter(torch.randn(dim) * 0.02)
        self.context = SentenceContext(dim, heads, layers)
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, 1)
        # What a word is, apart from where it stands: in training, articles and verbs are never
        # copied, colours and types always are; a sentence of a wording never seen still has them.
        self.own_norm = nn.LayerNorm(dim)
        self.own_score = nn.Linear(dim, 1)

    def forward(self, description: TextFeatures, rows: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Copy logits (N, S) of each description token for queries (``rows``, ``keys``) (N,)."""
        if description.words is None or description.sentences is None:
            raise ValueError("the pointer reader needs word identities and sentence indices from the text encoder "
                             "(the pretrained encoder gives them)")
        tokens = description.tokens[rows].detach()  # the policy's training must not move what the pointer reads
        words, mask = description.words[rows], description.mask[rows]
        marked = (words == keys.unsqueeze(1)) & mask
        hidden = self.context(tokens + marked.unsqueeze(-1) * self.this_word, mask, description.sentences[rows])
        return (self.score(self.norm(hidden)) + self.own_score(self.own_norm(tokens))).squeeze(-1)


def find_queries(instructions: Sequence[str], descriptions: Sequence[str]) -> list[Query]:
    """Each distinct instruction word that occurs in its description, with its copy candidates."""
    queries = []
    for row, (instruction, description) in enumerate(zip(instructions, descriptions)):
        described = text_words(description)
        sentences_of: dict[int, set[int]] = {}
        for word in described:
            sentences_of.setdefault(word.key, set()).add(word.sentence)
        for key in dict.fromkeys(w.key for w in text_words(instruction)):
            if key not in sentences_of:
                continue
            units = tuple(dict.fromkeys((w.sentence, w.key) for w in described
                                        if w.sentence in sentences_of[key] and w.key != key))
            if units:
                queries.append(Query(row, key, units))
    return queries


def unit_logits(logits: torch.Tensor, description: TextFeatures, queries: list[Query]) -> list[torch.Tensor]:
    """Per query, one logit per candidate unit: the mean of its tokens' logits."""
    out = []
    for index, query in enumerate(queries):
        words, sentences = description.words[query.row], description.sentences[query.row]
        values = []
        for sentence, key in query.units:
            tokens = (words == key) & (sentences == sentence) & description.mask[query.row]
            values.append(logits[index][tokens].mean() if tokens.any() else logits.new_tensor(-1e4))
        out.append(torch.stack(values))
    return out


def score_queries(pointer: PointerReader, description: TextFeatures,
                  queries: list[Query]) -> list[torch.Tensor]:
    """Copy logits per query and candidate unit."""
    if not queries:
        return []
    device = description.tokens.device
    rows = torch.tensor([q.row for q in queries], dtype=torch.long, device=device)
    keys = torch.tensor([q.key for q in queries], dtype=torch.long, device=device)
    return unit_logits(pointer(description, rows, keys), description, queries)


def rewrite(instructions: Sequence[str], descriptions: Sequence[str], queries: list[Query],
            scores: list[torch.Tensor]) -> list[str]:
    """The instructions with each query word replaced by the units it copies (if any)."""
    copies: dict[tuple[int, int], list[Unit]] = {}
    for query, logits in zip(queries, scores):
        chosen = [unit for unit, p in zip(query.units, torch.sigmoid(logits).tolist()) if p > COPY_THRESHOLD]
        if chosen:
            copies[(query.row, query.key)] = chosen
    out = []
    for row, (instruction, description) in enumerate(zip(instructions, descriptions)):
        first: dict[Unit, Word] = {}
        for word in text_words(description):
            first.setdefault((word.sentence, word.key), word)
        text = instruction
        for word in reversed(text_words(instruction)):
            chosen = copies.get((row, word.key))
            if chosen:
                surfaces = " ".join(w.text.lower() for w in sorted((first[u] for u in chosen), key=lambda w: w.start))
                text = text[:word.start] + surfaces + text[word.end:]
        out.append(text)
    return out


def pointer_labels(instruction: str, description: str, plain: str, query: Query) -> list[float]:
    """1 for the candidate units the query word should be replaced by, from ``plain`` (the same
    mission with every object named by colour and type): where one instruction word became
    several plain words that all stand in one sentence holding it, those are its copy; a word
    that stays, or whose replacement no sentence holds, copies nothing."""
    said, meant = text_words(instruction), text_words(plain)
    matcher = difflib.SequenceMatcher(a=[w.key for w in said], b=[w.key for w in meant], autojunk=False)
    wanted: set[Unit] = set()
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op != "replace" or a1 - a0 != 1 or said[a0].key != query.key:
            continue
        replacement = {w.key for w in meant[b0:b1]}
        for sentence in dict.fromkeys(s for s, _ in query.units):
            if all((sentence, key) in query.units for key in replacement):
                wanted = {(sentence, key) for key in replacement}
                break
    return [1.0 if unit in wanted else 0.0 for unit in query.units]


def pointer_loss(pointer: PointerReader, description: TextFeatures, instructions: Sequence[str],
                 descriptions: Sequence[str], plains: Sequence[str]) -> tuple[torch.Tensor, float]:
    """Binary cross-entropy of every copy decision against :func:`pointer_labels`, and the
    fraction of examples whose rewritten instruction equals the plain one (case aside)."""
    queries = find_queries(instructions, descriptions)
    scores = score_queries(pointer, description, queries)
    if not scores:
        return description.tokens.sum() * 0.0, float(all(i.lower() == p.lower() for i, p in zip(instructions, plains)))
    labels = [torch.tensor(pointer_labels(instructions[q.row], descriptions[q.row], plains[q.row], q),
                           device=s.device) for q, s in zip(queries, scores)]
    loss = F.binary_cross_entropy_with_logits(torch.cat(scores), torch.cat(labels))
    with torch.no_grad():
        read = rewrite(instructions, descriptions, queries, [s.detach() for s in scores])
    exact = sum(r.lower() == p.lower() for r, p in zip(read, plains)) / max(1, len(plains))
    return loss, exact


@functools.lru_cache(maxsize=1)
def filler_words() -> tuple[str, ...]:
    """Ordinary English words to scatter through training descriptions: the whole-word entries
    of MiniLM's vocabulary (about 21,000). Empty without the pretrained extra."""
    try:
        from transformers import AutoTokenizer

        from instructed_rl.text.encoders import pretrained_model_dir
        vocabulary = AutoTokenizer.from_pretrained(pretrained_model_dir(), local_files_only=True).vocab
    except Exception:  # noqa: BLE001 - no pretrained package: train without fillers
        return ()
    return tuple(sorted(w for w in vocabulary if re.fullmatch(r"[a-z]{3,12}", w)))


def add_fillers(description: str, rng: np.random.Generator, *, keep_out: set[str]) -> str:
    """``description`` with one to three random ordinary words put before random words of it.

    A wording never seen holds words never seen ("Whenever you hear X, think of the blue box");
    training descriptions use a few templates, so without this the pointer learns to copy
    whatever stands in a defining sentence's object slot. A filler is never the answer (it
    is not in the plain mission: ``keep_out``), so the pointer learns that a word it does not
    know is not copied for being there."""
    words, fillers = text_words(description), filler_words()
    if not words or not fillers or rng.random() >= FILLER_SHARE:
        return description
    for _ in range(int(rng.integers(1, MAX_FILLERS + 1))):
        filler = fillers[int(rng.integers(len(fillers)))]
        if filler in keep_out:
            continue
        at = words[int(rng.integers(len(words)))].start
        description = description[:at] + filler + " " + description[at:]
        words = text_words(description)
    return description
