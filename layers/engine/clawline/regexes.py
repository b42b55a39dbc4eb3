"""Regular expressions written by bot authors (entity patterns): checked when the bot loads, not at a turn."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator


def check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


#: A list of Python ``re`` patterns, each of which must compile.
Patterns = Annotated[list[str], AfterValidator(check_patterns)]
