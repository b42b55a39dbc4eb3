"""Run training with a single BLAS thread, whatever the environment says.

Training makes thousands of small matrix products; OpenBLAS's thread pool makes each of them several times
slower on a small or busy machine (a Lambda, a CI runner, a laptop running tests), because its threads spin
waiting for each other. ``OPENBLAS_NUM_THREADS`` only works before numpy is imported, so this calls
OpenBLAS's own setter through ctypes when numpy bundles OpenBLAS, and does nothing otherwise.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads")


@cache
def _openblas() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    for path in sorted(libs.glob("lib*openblas*.so*")) if libs.is_dir() else []:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:
            continue
        setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
        getter = next((getattr(lib, g) for g in _GETTERS if hasattr(lib, g)), None)
        if setter is not None and getter is not None:
            setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
            return setter, getter
    return None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    funcs = _openblas()
    if funcs is None:
        yield
        return
    setter, getter = funcs
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)
