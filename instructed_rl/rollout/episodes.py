"""Whole labelled episodes (imitation's training data) and a buffer of them as plain arrays.

The arrays round trip is what a checkpoint stores, so a resumed run trains on the same buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instructed_rl.language.instructions import NO_TARGET, TARGET_CLASSES


@dataclass
class Episode:
    """One episode as training data. The last row is the post-success view (no action label,
    termination target 1), so the termination head sees what "done" looks like."""

    game: str
    instruction: str
    description: str
    image: np.ndarray  # (L, 7, 7, C) uint8 (:func:`policy_view`: C = 3, or 30 with the seen map)
    direction: np.ndarray  # (L,) uint8
    action: np.ndarray  # (L,) int16 bot label, -1 where none
    done: np.ndarray  # (L,) uint8 termination target
    success: bool
    optimal: np.ndarray  # (L,) uint8 bitmask of the actions counted right (bit a = action a): the label, or its set
    target: tuple[int, ...] = (NO_TARGET,) * len(TARGET_CLASSES)  # what the instruction names (reader's aux loss)
    plain: str = ""  # the mission with objects named by colour and type (reader's aux loss); "" = the instruction

    def __len__(self) -> int:
        return len(self.action)


def label_masks(actions: np.ndarray) -> np.ndarray:
    """Bitmasks holding just each row's label (0 where a row has none): a set of one."""
    return np.where(actions >= 0, np.left_shift(1, np.maximum(actions, 0)), 0).astype(np.uint8)



def episodes_to_arrays(episodes: list[Episode]) -> dict[str, np.ndarray]:
    if not episodes:
        return {}
    lengths = np.array([len(e) for e in episodes], dtype=np.int64)
    texts = ([e.instruction for e in episodes] + [e.description for e in episodes] + [e.game for e in episodes]
             + [e.plain for e in episodes])
    encoded = [t.encode("utf-8") for t in texts]
    return {
        "lengths": lengths,
        "image": np.concatenate([e.image for e in episodes]),
        "direction": np.concatenate([e.direction for e in episodes]),
        "action": np.concatenate([e.action for e in episodes]),
        "done": np.concatenate([e.done for e in episodes]),
        "optimal": np.concatenate([e.optimal for e in episodes]),
        "success": np.array([e.success for e in episodes], dtype=np.uint8),
        "target": np.array([e.target for e in episodes], dtype=np.int8),
        "text_bytes": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "text_lengths": np.array([len(b) for b in encoded], dtype=np.int64),
    }


def episodes_from_arrays(arrays: dict[str, np.ndarray]) -> list[Episode]:
    if not arrays:
        return []
    lengths = arrays["lengths"]
    count = len(lengths)
    raw = arrays["text_bytes"].tobytes()
    texts, offset = [], 0
    for size in arrays["text_lengths"]:
        texts.append(raw[offset:offset + int(size)].decode("utf-8"))
        offset += int(size)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    optimal = arrays["optimal"] if "optimal" in arrays else label_masks(arrays["action"])  # older checkpoints: labels only
    targets = arrays["target"] if "target" in arrays else np.full((count, len(TARGET_CLASSES)), NO_TARGET)
    plains = texts[3 * count:] if len(texts) == 4 * count else [""] * count  # older checkpoints: none
    return [
        Episode(game=texts[2 * count + i], instruction=texts[i], description=texts[count + i],
                image=arrays["image"][bounds[i]:bounds[i + 1]], direction=arrays["direction"][bounds[i]:bounds[i + 1]],
                action=arrays["action"][bounds[i]:bounds[i + 1]], done=arrays["done"][bounds[i]:bounds[i + 1]],
                success=bool(arrays["success"][i]),
                optimal=optimal[bounds[i]:bounds[i + 1]], target=tuple(int(t) for t in targets[i]),
                plain=plains[i])
        for i in range(count)
    ]
