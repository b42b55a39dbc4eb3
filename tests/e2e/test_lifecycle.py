"""`clawline dev` from the outside: the printed examples answer on every protocol, Ctrl-C stops everything and
frees every port, a taken port is named in the error; and in-process, stopping leaves no thread behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from local.runtime import RuntimeThread
from tests.e2e.conftest import REPLY_TIMEOUT, Http, e2e_options, unique

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLAWLINE = str(Path(sys.executable).parent / "clawline")


def port_is_free(port: int) -> bool:
    """Nothing listens on the port and a server could bind it now. SO_REUSEADDR, as every server sets it:
    connections the runtime closed itself may sit in TIME_WAIT for a minute, which does not hold the port."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_stopping_the_runtime_frees_its_ports_and_ends_its_threads_and_moto() -> None:
    before = {t.ident for t in threading.enumerate()}
    runner = RuntimeThread(e2e_options())
    with runner as rt:
        ports = [rt.port, rt.mqtt_port, int(rt.moto_url.rsplit(":", 1)[1])]
        moto = rt._moto
        assert moto is not None and moto.poll() is None
        assert not any(port_is_free(p) for p in ports)
    assert all(port_is_free(p) for p in ports)
    assert moto.poll() is not None
    deadline = time.monotonic() + 10
    while (left := [t.name for t in threading.enumerate() if t.ident not in before and t.is_alive()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert left == []


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if marker in line:
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    text = "".join(lines)
    assert marker in text, f"no {marker!r} within {timeout:.0f} s; got:\n{text}"
    return text


def _command(banner: str, starts_with: str) -> str:
    return next(line.strip() for line in banner.splitlines() if line.strip().startswith(starts_with))


@pytest.mark.skipif(shutil.which("curl") is None, reason="the printed HTTP example uses curl")
def test_clawline_dev_prints_examples_that_answer_and_stops_cleanly_on_ctrl_c() -> None:
    free = []
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free.append(s.getsockname()[1])
    port, mqtt_port, moto_port = free
    process = subprocess.Popen(
        [CLAWLINE, "dev", "--port", str(port), "--mqtt-port", str(mqtt_port), "--moto-port", str(moto_port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _read_until(process, "Ctrl-C stops everything", 60)
        token = re.search(r"export TOKEN=(\S+)", banner)
        assert token is not None
        env = {**os.environ, "TOKEN": token.group(1)}

        def run(command: str, stdin: str | None = None) -> str:
            done = subprocess.run(
                command,
                shell=True,
                env=env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=REPLY_TIMEOUT,
                check=False,
            )
            return done.stdout + done.stderr

        assert '"replies"' in run(_command(banner, "curl "))
        # The interactive client quits at the end of its input: keep stdin open until the reply is printed.
        client = subprocess.Popen(
            _command(banner, f"{Path(sys.executable).parent}/python -m websockets"),
            shell=True,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert client.stdin is not None
            client.stdin.write('{"text": "hi"}\n')
            client.stdin.flush()
            _read_until(client, '"type":"reply"', REPLY_TIMEOUT)
        finally:
            client.kill()
            client.wait(5)
        sub = subprocess.Popen(
            _command(banner, f"{Path(sys.executable).parent}/amqtt_sub").rstrip(" &") + " -n 1",
            shell=True,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            time.sleep(1.0)  # amqtt_sub has no readiness signal; the publish below is QoS 1 either way
            run(_command(banner, f"{Path(sys.executable).parent}/amqtt_pub"))
            out, _ = sub.communicate(timeout=REPLY_TIMEOUT)
        finally:
            sub.kill()
        assert '"type":"reply"' in out
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest = process.communicate(timeout=30)[0]
        finally:
            process.kill()
    assert process.returncode == 0, rest
    assert "every port is free" in rest
    assert [p for p in free if not port_is_free(p)] == []


def test_a_port_in_use_is_named_in_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run(
            [CLAWLINE, "dev", "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    assert done.returncode == 1
    assert f"port {port} (gateway: HTTP and WebSocket APIs) is already in use" in done.stderr


def test_state_dir_keeps_conversations_across_a_restart(tmp_path: Path) -> None:
    """`clawline dev --state-dir`: a developer's conversations survive stopping and starting the runtime."""
    state_dir = tmp_path / "state"
    sub, conversation = unique("keeper"), unique("c")
    with RuntimeThread(e2e_options(state_dir=state_dir)) as first:
        Http(first, sub).say("remember the milk", conversation)
    assert (state_dir / "StateTable.jsonl").is_file()
    assert oct((state_dir / "fernet.key").stat().st_mode & 0o777) == "0o600"
    with RuntimeThread(e2e_options(state_dir=state_dir)) as second:
        history = Http(second, sub).history(conversation)
        assert [t["user_text"] for t in history] == ["remember the milk"]
        # Another user still cannot see it after the restore.
        assert Http(second, unique("other")).client.get(f"/v1/conversations/{conversation}/messages").status_code == 404
    with RuntimeThread(e2e_options()) as without:  # no state dir: moto starts empty, as documented
        assert Http(without, sub).client.get(f"/v1/conversations/{conversation}/messages").status_code == 404
