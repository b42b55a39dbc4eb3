"""Running the template's functions the way Lambda does: one warm instance per function, one event at a time.

Two ways to run a function, behind one :class:`Function` interface:

- :class:`InProcessFunction` (the default): the handler is imported into this process and called on the
  function's own worker thread, with awslambdaric's real ``LambdaContext``. One thread per function
  serializes its invokes like one warm Lambda instance, and the thread owns an event loop, because Mangum
  (the HTTP function) asks for the current loop and a plain worker thread has none.
- :class:`RieFunction`: the ``sam build`` output runs in the Lambda Runtime Interface Emulator (from the
  aws-sam-cli wheel), one emulator per function. The emulator crashes if it gets two invokes at once, so
  invokes are queued on the same single worker thread.

:class:`AsyncInvoker` adds what Lambda does for an asynchronous (``Event``) invoke: a queue, retries after a
function error, and the OnFailure destination record once the retries are spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from local.template import FunctionSpec


class FunctionError(Exception):
    """The function raised (Lambda's ``Unhandled`` function error) or timed out."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.error_message = message
        self.stack = stack or []

    def payload(self) -> dict[str, Any]:
        """What Lambda reports as the response payload of a failed invoke."""
        return {"errorMessage": self.error_message, "errorType": self.error_type, "stackTrace": self.stack}


class Function(Protocol):
    spec: FunctionSpec

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Future[Any]:
        """Run the handler; ``request_id`` is the invocation's (Lambda keeps it across async retries)."""
        ...

    def close(self) -> None: ...


def _new_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


def lambda_context(spec: FunctionSpec, request_id: str) -> Any:
    from awslambdaric.lambda_context import LambdaContext

    context = LambdaContext(request_id, None, None, int((time.time() + spec.timeout_seconds) * 1000), spec.arn)
    # LambdaContext reads these from the process environment, which every in-process function shares.
    context.function_name = spec.name
    context.memory_limit_in_mb = str(spec.memory_mb)
    context.function_version = "$LATEST"
    context.log_group_name = f"/aws/lambda/{spec.name}"
    context.log_stream_name = "local"
    return context


class InProcessFunction:
    """The handler imported here and called on a dedicated worker thread (one warm instance)."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"fn-{spec.logical_id}", initializer=_new_loop)
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None

    def _load(self) -> Callable[[dict[str, Any], Any], Any]:
        if self._handler is None:
            code = str(self.spec.code_uri)
            if code not in sys.path:
                sys.path.insert(0, code)
            module = importlib.import_module(self.spec.module)
            self._handler = getattr(module, self.spec.attribute)
        return self._handler

    def _call(self, event: dict[str, Any], request_id: str | None = None) -> Any:
        request_id = request_id or str(uuid.uuid4())
        try:
            # Lambda runs the module's import in its INIT phase, which the function's Timeout does not cover.
            handler = self._load()
        except Exception as exc:  # Runtime.ImportModuleError, as Lambda reports it
            raise FunctionError(
                "Runtime.ImportModuleError", f"Unable to import module '{self.spec.module}': {exc}"
            ) from exc
        started = time.monotonic()
        try:
            result = handler(event, lambda_context(self.spec, request_id))
        except Exception as exc:
            raise FunctionError(type(exc).__name__, str(exc), traceback.format_exception(exc)[-6:]) from exc
        elapsed = time.monotonic() - started
        if elapsed > self.spec.timeout_seconds:
            # A thread cannot be stopped; report what Lambda would, so the caller sees the timeout.
            raise FunctionError("Sandbox.Timedout", f"Task timed out after {self.spec.timeout_seconds:.2f} seconds")
        # Lambda serializes the result to JSON; do the same so a non-serializable result fails here too.
        return json.loads(json.dumps(result))

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Future[Any]:
        return self._executor.submit(self._call, event, request_id)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def serve(fd: int) -> None:
    """The body of a :class:`ProcessFunction` child: its spec first, then invokes, over one socket."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    spec: FunctionSpec = conn.recv()
    _new_loop()
    function = InProcessFunction(spec)
    while True:
        try:
            event = conn.recv()
        except (EOFError, OSError):  # the runtime is gone: so is this instance
            return
        if event is None:
            return
        try:
            conn.send(("ok", function._call(event)))
        except FunctionError as exc:
            conn.send(("error", (exc.error_type, exc.error_message, exc.stack)))
        except Exception as exc:  # noqa: BLE001 - e.g. a result JSON cannot carry: one bad invoke, not a dead instance
            conn.send(("error", (type(exc).__name__, str(exc), [])))


class ProcessFunction:
    """The handler in a child Python process of its own (``--isolated``): the function's exact environment and
    module state, as a Lambda instance has, and no lock shared with the other functions. Invokes are queued on
    one worker thread, so the instance still takes one event at a time.

    A plain subprocess (``python -m local.worker``) rather than multiprocessing's spawn, which would re-run the
    parent's ``__main__`` (a console script, pytest, a user's script) in every child.
    """

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], root: Path) -> None:
        import socket
        from multiprocessing.connection import Connection

        self.spec = spec
        parent, child = socket.socketpair()
        env = {**environment, "PYTHONPATH": os.pathsep.join([str(root), environment.get("PYTHONPATH", "")])}
        self._process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed argv
            [sys.executable, "-m", "local.worker", str(child.fileno())], env=env, pass_fds=[child.fileno()], cwd=root
        )
        child.close()
        self._conn = Connection(parent.detach())
        self._conn.send(spec)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"proc-{spec.logical_id}")

    def _call(self, event: dict[str, Any]) -> Any:
        try:
            self._conn.send(event)
            kind, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise FunctionError("Runtime.ExitError", f"the {self.spec.logical_id} process exited") from exc
        if kind == "error":
            raise FunctionError(*value)
        return value

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Future[Any]:
        # The child process and the emulator choose their own request ids.
        return self._executor.submit(self._call, event)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._conn.send(None)
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self._conn.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RieLayout:
    """Where the emulator and the built artifacts are."""

    rie: Path
    build_dir: Path
    python: str
    extra_path: list[Path]  # e.g. a directory holding awslambdaric for the interpreter


class RieFunction:
    """The built function in its own Runtime Interface Emulator process; invokes queued, one at a time."""

    def __init__(self, spec: FunctionSpec, layout: RieLayout, environment: dict[str, str]) -> None:
        self.spec = spec
        # Absolute: the emulator runs in the function's folder, where a relative PYTHONPATH would find nothing.
        build_dir = layout.build_dir.resolve()
        code = build_dir / spec.logical_id
        if not code.is_dir():
            raise FileNotFoundError(f"{code} does not exist: build the functions first (make build)")
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"rie-{spec.logical_id}")
        self.port = _free_port()
        api_port = _free_port()  # every emulator needs its own runtime API port (the default, 9001, is shared)
        # /opt/python as Lambda assembles it: each built layer's python folder, in the template's layer order.
        layers = [p / "python" for p in sorted(build_dir.iterdir()) if (p / "python").is_dir()]
        env = {
            **environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_seconds)),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "PYTHONPATH": os.pathsep.join(str(p.resolve()) for p in [code, *layers, *layout.extra_path]),
        }
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                str(layout.rie),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{api_port}",
                # -S: no interpreter site-packages, so every import resolves from the artifact, as in Lambda.
                layout.python,
                "-S",
                "-m",
                "awslambdaric",
                spec.handler,
            ],
            cwd=code,
            env=env,
            start_new_session=True,  # its own process group: close() ends the emulator and its runtime together
        )
        self.url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"

    def _call(self, event: dict[str, Any]) -> Any:
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL built above
            self.url, data=json.dumps(event).encode(), method="POST", headers={"content-type": "application/json"}
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.spec.timeout_seconds + 30) as response:  # noqa: S310
                    body = json.loads(response.read() or b"null")
                    function_error = response.headers.get("X-Amz-Function-Error")
                    break
            except urllib.error.URLError as exc:
                # The emulator needs a moment to listen after it starts.
                if isinstance(exc.reason, ConnectionRefusedError) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise FunctionError("Runtime.Unavailable", str(exc)) from exc
        if function_error or (isinstance(body, dict) and {"errorType", "errorMessage"} <= body.keys()):
            detail = body if isinstance(body, dict) else {}
            raise FunctionError(
                str(detail.get("errorType", function_error or "Unhandled")),
                str(detail.get("errorMessage", "")),
                list(detail.get("stackTrace") or []),
            )
        return body

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Future[Any]:
        # The child process and the emulator choose their own request ids.
        return self._executor.submit(self._call, event)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(5)


@dataclass
class AsyncEvent:
    event: dict[str, Any]
    request_id: str
    received: float
    attempts: int = 0
    settled: bool = False


#: SQS's message size limit: an OnFailure record over it would be refused (and, before, killed the worker).
SQS_MAX_MESSAGE_BYTES = 256 * 1024
#: What an oversized record keeps of its event: enough to recognise it, with a digest to match the original.
EXCERPT_BYTES = 4 * 1024


def bounded_payload(event: dict[str, Any], budget: int) -> Any:
    """The event itself when its JSON fits ``budget`` bytes, else an excerpt, its size and its SHA-256."""
    text = json.dumps(event, default=str)
    data = text.encode("utf-8")
    if len(data) <= budget:
        return event
    return {
        "truncated": True,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "excerpt": data[:EXCERPT_BYTES].decode("utf-8", errors="ignore"),
    }


class AsyncInvoker:
    """Lambda's asynchronous invoke: queued, retried after a function error, then sent to OnFailure.

    Lambda waits about a minute, then two, between attempts; locally ``retry_delays`` keeps that shape
    in seconds. Events of one function stay in arrival order except while one waits for its retry, as
    in Lambda, where retries are not ordered either.
    """

    def __init__(
        self,
        function: Function,
        *,
        on_failure: Callable[[dict[str, Any]], None] | None,
        retry_delays: tuple[float, ...] = (1.0, 2.0),
        log: Callable[[str], None] = print,
        on_done: Callable[[AsyncEvent, Any, FunctionError | None], None] | None = None,
    ) -> None:
        self.function = function
        self._on_failure = on_failure
        self._delays = retry_delays
        self._log = log
        self._on_done = on_done
        self._queue: queue.Queue[AsyncEvent | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"async-{function.spec.logical_id}", daemon=True)
        self._thread.start()

    def submit(self, event: dict[str, Any]) -> str:
        """Accept an event (Lambda answers 202 here); returns its request id."""
        item = AsyncEvent(event, str(uuid.uuid4()), time.time())
        with self._idle:
            self._pending += 1
        self._queue.put(item)
        return item.request_id

    def wait_idle(self, timeout: float) -> bool:
        """True once every accepted event has succeeded or gone to the failure destination."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _settle(self, item: AsyncEvent) -> None:
        if item.settled:
            return
        item.settled = True
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def _run(self) -> None:
        # Whatever goes wrong with one event (the failure queue down, a logging callback raising), the worker
        # lives on: a dead thread here would leave every later event queued and never run.
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if self._closed:
                    # Stopping: events still queued are dropped, as a stopped Lambda would never run them.
                    self._settle(item)
                    continue
                self._attempt(item)
            except Exception as exc:  # noqa: BLE001 - see above
                self._log(f"{self.function.spec.logical_id}: event {item.request_id} lost: {type(exc).__name__}: {exc}")
                self._settle(item)

    def _attempt(self, item: AsyncEvent) -> None:
        spec = self.function.spec
        item.attempts += 1
        if time.time() - item.received > spec.max_event_age_seconds:
            self._fail(item, "EventAgeExceeded", None)
            return
        error: FunctionError | None = None
        result: Any = None
        try:
            # Lambda retries an asynchronous event under the request id it first gave it.
            result = self.function.invoke(item.event, item.request_id).result()
        except FunctionError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - the worker is gone (shutdown): report it like a function error
            error = FunctionError(type(exc).__name__, str(exc))
        if self._on_done is not None:
            try:
                self._on_done(item, result, error)
            except Exception as exc:  # noqa: BLE001 - a reporting callback must not decide the event's fate
                self._log(f"{spec.logical_id}: on_done callback failed: {exc}")
        if error is None:
            self._settle(item)
            return
        if item.attempts <= spec.max_retry_attempts and not self._closed:
            delay = self._delays[min(item.attempts - 1, len(self._delays) - 1)] if self._delays else 0.0
            self._log(f"{spec.logical_id}: attempt {item.attempts} failed ({error.error_type}); retry in {delay:g} s")
            timer = threading.Timer(delay, self._requeue, args=(item,))
            timer.daemon = True
            self._timers.add(timer)
            timer.start()
            return
        self._fail(item, "RetriesExhausted", error)

    def _requeue(self, item: AsyncEvent) -> None:
        self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
        self._queue.put(item)

    def _fail(self, item: AsyncEvent, condition: str, error: FunctionError | None) -> None:
        spec = self.function.spec
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": item.request_id,
                "functionArn": f"{spec.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": item.attempts,
            },
            "requestPayload": None,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": error.payload() if error else None,
        }
        # The record must fit in one SQS message: an event too large for it is kept as an excerpt and a digest.
        envelope = len(json.dumps(record, default=str).encode("utf-8"))
        record["requestPayload"] = bounded_payload(item.event, SQS_MAX_MESSAGE_BYTES - envelope - 64)
        self._log(f"{spec.logical_id}: {condition} after {item.attempts} attempt(s); event sent to the OnFailure queue")
        try:
            if self._on_failure is not None:
                self._on_failure(record)
        except Exception as exc:  # noqa: BLE001 - the queue is down: say so, and keep processing
            self._log(f"{spec.logical_id}: the OnFailure record of {item.request_id} could not be sent: {exc}")
        finally:
            self._settle(item)

    def close(self) -> None:
        self._closed = True
        for timer in list(self._timers):
            timer.cancel()
        dropped = self._queue.qsize()
        if dropped:
            self._log(f"{self.function.spec.logical_id}: stopping; {dropped} queued event(s) not run")
        self._queue.put(None)
        self._thread.join(30)
