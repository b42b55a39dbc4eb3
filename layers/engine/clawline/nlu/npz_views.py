"""The arrays of an uncompressed ``.npz`` as typed ``memoryview``s of a memory map, without numpy.

The default model's run time (``linear_runtime``) reads its artifact and the static token table with this, so a
classifying turn never imports numpy (100-150 ms of a cold start). Only what Clawline's own writers produce is
accepted: C-order arrays of plain little-endian numbers, no pickles; anything else is a ``ValueError``, as
``linear.map_npz`` would refuse it.
"""

from __future__ import annotations

import ast
import json
import mmap
import struct
import sys
import zipfile
from pathlib import Path
from typing import Any

#: numpy dtype strings -> ``memoryview.cast`` formats (the host must be little-endian, as Lambda's hosts are).
_FORMATS = {"|i1": "b", "|u1": "B", "<i4": "i", "<u4": "I", "<i8": "q", "<u8": "Q", "<f4": "f", "<f8": "d"}
_MAGIC = b"\x93NUMPY"


class ArrayView:
    """A flat, typed, read-only view of one array and its shape (row-major).

    A plain class rather than a dataclass: a dataclass's methods are generated and compiled when its module is
    imported, about a millisecond of the first classification of a cold start."""

    __slots__ = ("data", "shape")

    def __init__(self, shape: tuple[int, ...], data: memoryview[Any]) -> None:
        self.shape = shape
        self.data = data

    def row(self, index: int) -> memoryview[Any]:
        """Row ``index`` of a 2-D array (a view: nothing is copied)."""
        width = self.shape[1]
        return self.data[index * width : (index + 1) * width]


def _view(raw: memoryview, where: str) -> ArrayView:
    if bytes(raw[:6]) != _MAGIC:
        raise ValueError(f"{where} is not a .npy array")
    major = raw[6]
    if major == 1:
        (header_len,), offset = struct.unpack("<H", raw[8:10]), 10
    elif major in (2, 3):
        (header_len,), offset = struct.unpack("<I", raw[8:12]), 12
    else:
        raise ValueError(f"{where}: unknown .npy version {major}")
    header = ast.literal_eval(bytes(raw[offset : offset + header_len]).decode("latin1"))
    fmt = _FORMATS.get(header.get("descr"))
    shape = tuple(int(n) for n in header.get("shape", ()))
    if fmt is None:
        raise ValueError(f"{where}: unsupported dtype {header.get('descr')!r} (plain little-endian numbers only)")
    if header.get("fortran_order") and len(shape) > 1:
        raise ValueError(f"{where}: Fortran-ordered arrays are not supported")
    count = 1
    for n in shape:
        count *= n
    start = offset + header_len
    body = raw[start:]
    itemsize = struct.calcsize(fmt)
    if len(body) < count * itemsize:
        raise ValueError(f"{where} is truncated")
    # ``fmt`` comes from the fixed table above; typeshed types ``cast`` by literal format only.
    return ArrayView(shape, body[: count * itemsize].cast(fmt))  # type: ignore[call-overload]


def read_npz(path: Path) -> dict[str, ArrayView]:
    """Every array of ``path``; stored members are views of one read-only memory map (a cold start reads only the
    pages a message touches), compressed ones (written by other tools) are read into memory."""
    if sys.byteorder != "little":  # pragma: no cover - every Lambda host is little-endian
        raise ValueError("reading .npz without numpy needs a little-endian host")
    arrays: dict[str, ArrayView] = {}
    # Member names read as UTF-8 (Clawline's are ASCII): zipfile's default for names without the UTF-8 flag, numpy's,
    # is cp437, a codec imported for it alone.
    with path.open("rb") as fh, zipfile.ZipFile(fh, metadata_encoding="utf-8") as archive:
        mapped = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            where = f"{path}:{info.filename}"
            if info.compress_type != zipfile.ZIP_STORED:
                with archive.open(info) as member:
                    arrays[name] = _view(memoryview(member.read()), where)
                continue
            # Local file header: 30 fixed bytes, then the name and the extra field, then the member's data.
            name_len, extra_len = struct.unpack("<HH", mapped[info.header_offset + 26 : info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            arrays[name] = _view(mapped[start : start + info.file_size], where)
    return arrays


def read_header(arrays: dict[str, ArrayView]) -> dict[str, Any]:
    """The UTF-8 JSON ``header`` array of a Clawline artifact."""
    header: dict[str, Any] = json.loads(bytes(arrays["header"].data).decode("utf-8"))
    return header


def peek(path: Path) -> tuple[dict[str, Any], dict[str, ArrayView]] | None:
    """The artifact's header and arrays, or None if the file is missing or unreadable."""
    try:
        arrays = read_npz(path)
        return read_header(arrays), arrays
    except (OSError, ValueError, KeyError, EOFError, SyntaxError, zipfile.BadZipFile, struct.error):
        return None
