"""What the data-rights routes need from the template: the HTTP function reaches the connection records, and no
copy of what it answers (a user's whole export) lands where an erase cannot reach it."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.iac


def test_the_http_function_finds_a_callers_connections(resources: dict[str, dict[str, Any]]) -> None:
    env = resources["HttpFunction"]["Properties"]["Environment"]["Variables"]
    assert env["CLAWLINE_CONNECTIONS_TABLE"] == {"Ref": "ConnectionsTable"}


def test_x_ray_never_keeps_what_the_http_function_answers(resources: dict[str, dict[str, Any]]) -> None:
    # X-Ray keeps traces 30 days and has no per-user delete; Powertools would store each response as metadata.
    env = resources["HttpFunction"]["Properties"]["Environment"]["Variables"]
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
