"""A grayscale PNG writer in pure numpy + zlib, so the confusion-matrix image needs no plotting library."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def write_gray_png(path: Path, pixels: npt.NDArray[np.uint8]) -> None:
    """Write a 2-D uint8 array as an 8-bit grayscale PNG."""
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError("pixels must be a 2-D uint8 array")
    height, width = pixels.shape
    # Each scanline starts with filter type 0 (none).
    raw = np.concatenate([np.zeros((height, 1), np.uint8), pixels], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def confusion_image(matrix: npt.NDArray[np.int64], cell: int = 4) -> npt.NDArray[np.uint8]:
    """Row-normalized confusion matrix as an image: dark is frequent, the diagonal is the right answers.

    A square-root scale keeps rare confusions visible next to a diagonal near 100%.
    """
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, np.maximum(totals, 1), dtype=np.float64)
    shade = (255 - np.sqrt(share) * 255).round().astype(np.uint8)
    return np.kron(shade, np.ones((cell, cell), np.uint8))
