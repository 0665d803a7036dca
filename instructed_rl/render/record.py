"""Record what ``instructed-rl play`` showed as a GIF (Pillow) or an MP4 (imageio-ffmpeg).

Frames are minigrid's own rgb renderings (``level.get_frame()``) with a caption strip below
(instruction number and text, step, action). They are kept zlib-compressed until the file is
written, so a long session stays small in memory::

    recorder = Recorder("session.gif", fps=4)      # checks the suffix and the writer up front
    recorder.add(level, ["1. go to the red ball", "step 0"])
    recorder.save()                                # -> number of frames written

Pillow's GIF writer merges a frame identical to the one before it; the caption (which always
names the instruction number and step) keeps every frame distinct, so a GIF holds exactly
one frame per ``add``.
"""

from __future__ import annotations

import importlib.util
import os
import zlib
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from instructed_rl.errors import UserError
from instructed_rl.paths import check_output_file

SUFFIXES = (".gif", ".mp4")
MAX_SIDE = 320  # pixels of the world's longer side: tiles shrink for big worlds (BossLevel)
MAX_FRAMES = 5000  # ~20 minutes at 4 fps; bounds memory when the GIF is assembled
RECORD_FPS_WHEN_UNPACED = 10.0  # --fps 0 plays as fast as possible, but a recording needs a rate
CAPTION_LINE = 12
CAPTION_PAD = 3


def tile_size(level) -> int:
    return int(np.clip(MAX_SIDE // max(level.width, level.height), 8, 32))


def check_writable(path: str | os.PathLike[str], *, make_parent: bool = False) -> Path:
    """Fail early (one line) on a suffix, a missing writer or a place we cannot write to;
    ``make_parent`` creates a missing folder (otherwise it is an error)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"--record {path}: unknown video type {suffix or '(none)'!r}. Fix: end the name in .gif or .mp4")
    if suffix == ".mp4" and not (importlib.util.find_spec("imageio") and importlib.util.find_spec("imageio_ffmpeg")):
        raise UserError(f"--record {path}: MP4 needs imageio-ffmpeg. Fix: pip install imageio imageio-ffmpeg, "
                        f"or record a GIF: --record {path.with_suffix('.gif')}")
    if not make_parent and not path.parent.is_dir():
        raise UserError(f"--record {path}: no such directory {path.parent}. Fix: create it or record elsewhere")
    check_output_file(path, "--record", example="run.gif")  # the file is written at the end: fail now, not then
    if make_parent:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def caption(frame: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``frame`` with a black strip below holding ``lines`` (cut to the frame's width)."""
    from PIL import Image, ImageDraw, ImageFont

    height, width, _ = frame.shape
    strip = CAPTION_PAD * 2 + CAPTION_LINE * len(lines)
    image = Image.new("RGB", (width, height + strip))
    image.paste(Image.fromarray(frame), (0, 0))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i, line in enumerate(lines):
        while line and draw.textlength(line, font=font) > width - 2 * CAPTION_PAD:
            line = line[:-2] + "…" if len(line) > 2 else ""
        draw.text((CAPTION_PAD, height + CAPTION_PAD + i * CAPTION_LINE), line, fill=(230, 230, 230), font=font)
    return np.asarray(image)


def write_gif(frames: Iterable[np.ndarray], target, *, fps: float) -> None:
    """RGB frames (one size) -> a looping GIF written to ``target`` (a path or a binary file)."""
    from PIL import Image

    images = (Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE) for f in frames)
    first = next(images)
    # A generator keeps only Pillow's own (1 byte/pixel) copies in memory, never all RGB frames.
    first.save(target, format="GIF", save_all=True, append_images=images, duration=max(20, round(1000 / fps)), loop=0)


class Recorder:
    """Collects captioned frames; :meth:`save` writes them (padded to one size) to ``path``."""

    def __init__(self, path: str | os.PathLike[str], *, fps: float) -> None:
        self.path = check_writable(path)
        self.fps = fps if fps > 0 else RECORD_FPS_WHEN_UNPACED
        self._frames: list[tuple[bytes, tuple[int, int, int]]] = []
        self.full = False

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, level, lines: Sequence[str]) -> bool:
        """Record the world as it is now; False (and nothing kept) once ``MAX_FRAMES`` are held."""
        if len(self._frames) >= MAX_FRAMES:
            self.full = True
            return False
        frame = caption(level.get_frame(highlight=True, tile_size=tile_size(level)), lines)
        self._frames.append((zlib.compress(np.ascontiguousarray(frame).tobytes(), 1), frame.shape))
        return True

    def _padded(self) -> Iterator[np.ndarray]:
        # A world change (:game) changes the frame size; a video has one size, so pad (black).
        height = max(shape[0] for _, shape in self._frames)
        width = max(shape[1] for _, shape in self._frames)
        if self.path.suffix.lower() == ".mp4":  # H.264 wants sides divisible by 16
            height, width = -(-height // 16) * 16, -(-width // 16) * 16
        for data, shape in self._frames:
            frame = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(shape)
            if shape[:2] != (height, width):
                canvas = np.zeros((height, width, 3), dtype=np.uint8)
                canvas[: shape[0], : shape[1]] = frame
                frame = canvas
            yield frame

    def save(self) -> int:
        """Write the file (atomically: a temporary file, then a rename); returns the frame count."""
        if not self._frames:
            return 0
        tmp = self.path.with_name(f".{self.path.name}.tmp{self.path.suffix}")
        try:
            if self.path.suffix.lower() == ".gif":
                self._save_gif(tmp)
            else:
                self._save_mp4(tmp)
            os.replace(tmp, self.path)
        except OSError as error:
            raise UserError(f"--record {self.path}: cannot write ({error.strerror or error}). "
                            "Fix: record to a writable place") from None
        finally:
            tmp.unlink(missing_ok=True)
        return len(self._frames)

    def _save_gif(self, path: Path) -> None:
        write_gif(self._padded(), path, fps=self.fps)

    def _save_mp4(self, path: Path) -> None:
        import imageio.v2 as imageio

        with imageio.get_writer(path, format="FFMPEG", mode="I", fps=self.fps, macro_block_size=16) as writer:
            for frame in self._padded():
                writer.append_data(frame)
