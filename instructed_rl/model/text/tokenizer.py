"""A frozen SentencePiece tokenizer, trained in memory from the training texts.

Why SentencePiece and why frozen: BabyAI and rl-starter-files grow their vocabulary
as new words arrive, so a zero-shot test instruction silently gets fresh, untrained
ids and the zero-shot numbers are corrupted. Here the vocabulary is fixed when the
tokenizer is trained (instruction texts + environment descriptions) and an unseen
word is split into known pieces, or mapped to the unk id, never to a new id.

Why BPE by default: on the small, closed vocabularies of instruction corpora the
unigram trainer prunes down to single characters ("go" -> "g", "o"); BPE keeps
whole words ("▁go", "▁red") as pieces and falls back to sub-words for unseen ones.

Lowercasing is part of the model itself (the ``nmt_nfkc_cf`` case-folding
normaliser), so it travels with the saved ``tokenizer.model`` bytes.

Example::

    tok = train_tokenizer(["go to the red ball", "open the grey door"], vocab_size=400)
    ids, mask = tok.encode_batch(["Go to the RED ball"])
    Tokenizer.from_bytes(tok.to_bytes())  # identical tokenizer
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Literal

import sentencepiece as spm
import torch

from instructed_rl.errors import UserError

PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3
DEFAULT_MAX_LENGTH = 128


class Tokenizer:
    """Wraps a trained SentencePiece model; encodes text to ids with bos/eos and padding.

    The model never changes after construction: there is no method to add pieces.
    ``max_length`` counts every id of one text, bos and eos included.
    """

    def __init__(self, model_bytes: bytes, *, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 3:
            raise ValueError(f"max_length={max_length} leaves no room for text between bos and eos; use at least 3")
        self._model_bytes = bytes(model_bytes)
        self._sp = spm.SentencePieceProcessor(model_proto=self._model_bytes)
        self.max_length = max_length
        special = (self._sp.pad_id(), self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id())
        if special != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise ValueError(
                f"tokenizer model has special ids pad/unk/bos/eos={special}, expected "
                f"{(PAD_ID, UNK_ID, BOS_ID, EOS_ID)}; train it with train_tokenizer()"
            )

    @classmethod
    def from_bytes(cls, model_bytes: bytes, *, max_length: int = DEFAULT_MAX_LENGTH) -> Tokenizer:
        """Rebuild a tokenizer from the raw ``.model`` bytes written by :meth:`to_bytes`."""
        return cls(model_bytes, max_length=max_length)

    def to_bytes(self) -> bytes:
        """The raw SentencePiece ``.model`` bytes (what ``tokenizer.model`` holds)."""
        return self._model_bytes

    @property
    def vocab_size(self) -> int:
        """Number of ids; every id this tokenizer produces is below it."""
        return self._sp.get_piece_size()

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def bos_id(self) -> int:
        return BOS_ID

    @property
    def eos_id(self) -> int:
        return EOS_ID

    def pieces(self, text: str) -> list[str]:
        """The pieces of ``text`` (no bos/eos), for inspection and tests."""
        return self._sp.encode(text, out_type=str)

    def count(self, text: str) -> int:
        """How many ids ``encode`` gives ``text``, bos and eos included (unchecked)."""
        return len(self._sp.encode(text, out_type=int)) + 2

    def encode(self, text: str, *, allow_empty: bool = False) -> list[int]:
        """Ids of one text as ``[bos, ..., eos]``.

        Raises ``ValueError`` for empty text (unless ``allow_empty``, used for an absent
        environment description, which then encodes as ``[bos, eos]``) and for text longer
        than ``max_length`` ids, because silently truncating an instruction changes its meaning.
        """
        check_text(text, allow_empty=allow_empty)
        ids = self._sp.encode(text, out_type=int, add_bos=True, add_eos=True)
        check_length(len(ids), text=text, max_length=self.max_length)
        return ids

    def encode_batch(
        self, texts: Sequence[str], *, allow_empty: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and right-pad a batch: ``ids`` LongTensor (B, T) and ``mask`` BoolTensor (B, T), True at real ids."""
        if len(texts) == 0:
            raise ValueError("encode_batch got no texts; pass at least one string")
        encoded = [self.encode(t, allow_empty=allow_empty) for t in texts]
        width = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), width), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.bool)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = torch.tensor(e, dtype=torch.long)
            mask[row, : len(e)] = True
        return ids, mask

    def identity_batch(self, texts: Sequence[str], width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Word identity and sentence index of every id :meth:`encode_batch` gives ``texts``, as two
        LongTensors (B, ``width``); see :class:`instructed_rl.model.text.encoders.TextFeatures`."""
        from instructed_rl.model.text.encoders import word_key

        words = torch.zeros((len(texts), width), dtype=torch.long)
        sentences = torch.zeros((len(texts), width), dtype=torch.long)
        for row, text in enumerate(texts):
            pieces = self.pieces(text)
            spans: list[list[int]] = []  # piece indices of each word
            for index, piece in enumerate(pieces):
                if piece.startswith("\u2581") or not spans or not any(c.isalpha() for c in piece):
                    spans.append([index])
                else:
                    spans[-1].append(index)
            sentence = 0
            for span in spans:
                letters = "".join(c for i in span for c in pieces[i] if c.isalpha())
                for i in span:
                    words[row, 1 + i] = word_key(letters) if letters else 0  # +1: bos comes first
                    sentences[row, 1 + i] = sentence
                if any(c in ".!?;:" for i in span for c in pieces[i]):
                    sentence += 1
        return words, sentences

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` (special ids dropped); unknown pieces come back as ' ⁇ '."""
        return self._sp.decode([int(i) for i in ids if int(i) not in (PAD_ID, BOS_ID, EOS_ID)])


def check_text(text: str, *, allow_empty: bool = False) -> None:
    """Refuse non-strings and (unless allowed) blank text, with a one-line message."""
    if not isinstance(text, str):
        raise ValueError(f"expected a text string, got {type(text).__name__}; pass the instruction as str")
    if not allow_empty and not text.strip():
        raise ValueError("empty instruction text; pass a non-blank instruction such as 'go to the red ball'")


def check_length(n_ids: int, *, text: str, max_length: int) -> None:
    """Refuse text longer than ``max_length`` ids, with a one-line message naming the fix (a
    :class:`UserError`, so the CLI prints it as one line)."""
    if n_ids > max_length:
        preview = " ".join(text.split())[:40]
        raise UserError(
            f"text '{preview}...' is {n_ids} tokens, more than max_length={max_length}; "
            "shorten it, or use an agent built with a larger text max_length "
            "(a training config's 'agent: {text: {max_length: 256}}')"
        )


def train_tokenizer(
    texts: Iterable[str],
    *,
    vocab_size: int = 400,
    max_length: int = DEFAULT_MAX_LENGTH,
    model_type: Literal["bpe", "unigram"] = "bpe",
) -> Tokenizer:
    """Train a SentencePiece model in memory on ``texts`` and freeze it.

    ``vocab_size`` is an upper bound (``hard_vocab_limit=False``): a small corpus gets a
    smaller vocabulary rather than an error. Single-threaded so it is reproducible and
    leaves the second core to the environment.
    """
    if model_type not in ("bpe", "unigram"):
        raise ValueError(f"model_type={model_type!r} is not one of 'bpe', 'unigram'")
    if vocab_size < 8:
        raise ValueError(f"vocab_size={vocab_size} is too small; use at least 8 (4 ids are special)")
    sentences = [" ".join(t.split()) for t in texts if isinstance(t, str) and t.strip()]
    if not sentences:
        raise ValueError("train_tokenizer got no non-blank texts; pass the instruction and description texts")
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        model_type=model_type,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        normalization_rule_name="nmt_nfkc_cf",
        pad_id=PAD_ID,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        num_threads=1,
        minloglevel=2,
    )
    return Tokenizer(buffer.getvalue(), max_length=max_length)
