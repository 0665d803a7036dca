"""Text side of the agent: a frozen SentencePiece tokenizer and the goal encoders.

``train_tokenizer`` builds the vocabulary from training text only; ``build_encoder`` turns
a :class:`TextConfig` into a transformer, GRU, or frozen pretrained (MiniLM) encoder that
maps texts to :class:`TextFeatures` (pooled goal vector + token features + mask).
"""

from instructed_rl.model.text.encoders import (
    GRUTextEncoder,
    PretrainedTextEncoder,
    TextConfig,
    TextEncoder,
    TextFeatures,
    TransformerTextEncoder,
    build_encoder,
    pretrained_model_dir,
)
from instructed_rl.model.text.tokenizer import Tokenizer, train_tokenizer

__all__ = [
    "GRUTextEncoder",
    "PretrainedTextEncoder",
    "TextConfig",
    "TextEncoder",
    "TextFeatures",
    "Tokenizer",
    "TransformerTextEncoder",
    "build_encoder",
    "pretrained_model_dir",
    "train_tokenizer",
]
