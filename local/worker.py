"""``python -m local.worker FD``: one function of the local runtime in a process of its own (``--isolated``)."""

from __future__ import annotations

import sys

from local.functions import serve

if __name__ == "__main__":
    serve(int(sys.argv[1]))
