"""Drops the symbol tables and debug sections of a shared library (ELF64, little-endian: x86_64 and arm64), stdlib only.

Several wheels ship their extension modules unstripped (cryptography's Rust binding, CEL, PyYAML with debug info,
numpy's OpenBLAS): about 9 MB of the layers that the dynamic loader never reads. ``strip`` from binutils only knows
the host's architecture and is not on every build machine, so the packaging does it itself, the simple way:

    [ ELF header | program headers | loaded segments ... ]  [ .comment .symtab .strtab .debug_* ]  [ shstrtab | SHT ]
    '---------------- kept byte for byte -----------------'  '------------- dropped -------------'  '--- rewritten --'

Everything up to the end of the last loaded byte (every segment, every allocated section) is copied unchanged; the
non-allocated sections after it are dropped, except the section-name table, which is written again after the copied
bytes with a new section header table listing only the sections kept. Sections that are not allocated but lie inside
the copied bytes stay where they are, listed. ``strip_file`` then checks what the loader sees is the same (every
program header and the bytes of every segment) and keeps the original file when it is not.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
SHF_ALLOC = 0x2
SHF_INFO_LINK = 0x40
SHT_NOBITS = 8


def _program_view(data: bytes) -> str:
    """What the dynamic loader reads: every program header and the bytes of every segment (the first one holds the
    ELF header, whose section-table fields the loader ignores: they are zeroed here)."""
    data = data[:0x28] + bytes(8) + data[0x30:0x3C] + bytes(4) + data[0x40:]
    _ident, _t, _m, _v, _entry, phoff, _shoff, _f, _eh, phentsize, phnum, *_ = _EHDR.unpack_from(data)
    digest = hashlib.sha256(data[:16])
    for index in range(phnum):
        p_type, flags, offset, vaddr, _paddr, filesz, memsz, align = _PHDR.unpack_from(data, phoff + index * phentsize)
        digest.update(struct.pack("<IIQQQQ", p_type, flags, vaddr, filesz, memsz, align))
        digest.update(data[offset : offset + filesz])
    return digest.hexdigest()


def stripped(data: bytes) -> bytes | None:
    """``data`` without the non-allocated sections after its loaded bytes; None when it is not an ELF64 LE
    shared object this can rewrite or when there is nothing to drop."""
    if len(data) < _EHDR.size or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    fields = list(_EHDR.unpack_from(data))
    phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx = (fields[i] for i in (5, 6, 9, 10, 11, 12, 13))
    if shoff == 0 or shnum == 0 or shentsize != _SHDR.size or shstrndx >= shnum:
        return None
    sections = [list(_SHDR.unpack_from(data, shoff + i * shentsize)) for i in range(shnum)]
    # The end of what is loaded: every segment and every allocated section with file contents.
    end = max(phoff + phentsize * phnum, _EHDR.size)
    for index in range(phnum):
        _type, _flags, offset, _vaddr, _paddr, filesz, *_ = _PHDR.unpack_from(data, phoff + index * phentsize)
        end = max(end, offset + filesz)
    for _name, sh_type, flags, _addr, offset, size, *_ in sections:
        if flags & SHF_ALLOC and sh_type != SHT_NOBITS:
            end = max(end, offset + size)
    # Kept: index 0, every section inside the copied bytes, and the section-name table (moved after them).
    keep = [
        i
        for i, (_n, sh_type, flags, _a, offset, size, *_) in enumerate(sections)
        if i == 0 or flags & SHF_ALLOC or i == shstrndx or (sh_type == SHT_NOBITS or offset + size <= end)
    ]
    if len(keep) == shnum and shoff < end:
        return None
    index_of = {old: new for new, old in enumerate(keep)}
    names = sections[shstrndx]
    name_table = data[names[4] : names[4] + names[5]]
    out = bytearray(data[:end])
    table_offset = len(out)
    out += name_table
    while len(out) % 8:
        out += b"\0"
    headers = bytearray()
    for old in keep:
        name, sh_type, flags, addr, offset, size, link, info, align, entsize = sections[old]
        if old == shstrndx:
            offset = table_offset
        link = index_of.get(link, 0)
        if flags & SHF_INFO_LINK:
            info = index_of.get(info, 0)
        headers += _SHDR.pack(name, sh_type, flags, addr, offset, size, link, info, align, entsize)
    fields[6] = len(out)  # e_shoff
    fields[12] = len(keep)  # e_shnum
    fields[13] = index_of[shstrndx]  # e_shstrndx
    out[: _EHDR.size] = _EHDR.pack(*fields)
    out += headers
    return bytes(out) if len(out) < len(data) else None


def strip_file(path: Path) -> int:
    """Strip ``path`` in place when the loader's view stays the same; returns the bytes saved."""
    data = path.read_bytes()
    smaller = stripped(data)
    if smaller is None or _program_view(smaller) != _program_view(data):
        return 0
    path.write_bytes(smaller)
    return len(data) - len(smaller)
