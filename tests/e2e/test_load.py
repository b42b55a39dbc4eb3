"""The load check, small enough for every test run: concurrent WebSocket clients and MQTT devices, each
pipelining messages; every reply arrives, in order per conversation, none lost or duplicated.
(`python -m bench load` runs 200 + 200 x 10.)"""

from __future__ import annotations

import pytest

from bench.load import run_load
from local.runtime import Runtime
from tests.e2e.conftest import unique

pytestmark = pytest.mark.e2e


def test_concurrent_clients_get_every_reply_in_order_with_none_lost_or_duplicated(runtime: Runtime) -> None:
    result = run_load(runtime, ws_clients=20, devices=20, messages=5, timeout=180, prefix=unique("load"))
    assert result.problems() == []
    assert result.replies == 2 * 20 * 5
    assert len(result.sent) == 40
