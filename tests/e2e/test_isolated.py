"""`clawline dev --isolated`: each function in a process of its own still answers on every protocol, and
stopping the runtime ends those processes."""

from __future__ import annotations

import pytest

from local.functions import ProcessFunction
from local.runtime import RuntimeThread
from tests.e2e.conftest import assert_answers_every_protocol, e2e_options

pytestmark = pytest.mark.e2e


def test_functions_in_their_own_processes_answer_every_protocol_and_end_with_the_runtime() -> None:
    with RuntimeThread(e2e_options(isolated=True)) as rt:
        processes = {name: f._process for name, f in rt.functions.items() if isinstance(f, ProcessFunction)}
        assert sorted(processes) == [
            "AuthorizerFunction",
            "HttpFunction",
            "MqttFunction",
            "ReminderFunction",
            "WebSocketFunction",
        ]
        assert len({p.pid for p in processes.values()}) == 5
        assert_answers_every_protocol(rt, "iso")
    assert all(p.poll() is not None for p in processes.values())
