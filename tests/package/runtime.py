"""`sam build` output run the way Lambda runs it, without Docker.

- ``SamBuild``: ``sam build`` for one architecture into ``.aws-sam/builds/<arch>/<inputs digest>``, skipped when
  a previous build came from exactly the same inputs (a hash of every file the build reads), under a file lock.
- ``LambdaLayout``: ``/opt`` as Lambda assembles it from the layers (``/opt/python`` merged, ``/opt/bots``),
  rebuilt under a temporary folder with symlinks, since /opt itself is not ours to write.
- ``EmulatedFunction``: one Lambda Runtime Interface Emulator (from the aws-sam-cli wheel) per function, with
  ``python3.13 -S -m awslambdaric <handler>`` as the bootstrap. ``-S`` keeps the interpreter's own site-packages
  off the path: every import must resolve from the function folder or the layers, as in Lambda.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests.package.tools import ROOT, require_python313, require_sam, rie_binary, sam_env

#: Everything `sam build` reads. A change to any of these files rebuilds.
BUILD_INPUTS = ("template.yaml", "samconfig.toml", "packaging", "layers", "functions", "bots", "plugins")
_IGNORED = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
#: Each function of template.yaml and its handler module; the layers every function uses, in order.
FUNCTIONS = {
    "HttpFunction": "http_app",
    "WebSocketFunction": "websocket_handler",
    "MqttFunction": "mqtt_handler",
    "AuthorizerFunction": "authorizer",
    "ReminderFunction": "reminder_handler",
}
#: The layers the default bot's message functions use, in order: the NLU layer (numpy, the static token table) comes
#: last and only to bots that classify (``BotUsesNlu``); the authorizer and a rules-only bot's functions go without it.
LAYERS = ("EngineLayer", "BotLayer", "NluLayer")
RULES_ONLY_LAYERS = ("EngineLayer", "BotLayer")
#: Lambda's limit for a function and all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT = 250 * 2**20


def tree_bytes(path: Path) -> int:
    """Unzipped size of a built artifact."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


#: awslambdaric, the bootstrap Lambda's python runtimes use, installed for python3.13 outside the project venv.
AWSLAMBDARIC = "awslambdaric==4.2.2"


def inputs_digest(inputs: tuple[str, ...] = BUILD_INPUTS) -> str:
    digest = hashlib.sha256()
    for name in inputs:
        top = ROOT / name
        paths = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in paths:
            rel = path.relative_to(ROOT)
            if _IGNORED & set(rel.parts) or path.suffix == ".pyc" or any(p.endswith(".egg-info") for p in rel.parts):
                continue
            if path.is_symlink():
                digest.update(f"{rel} -> {os.readlink(path)}\n".encode())
            elif path.is_file():
                digest.update(f"{rel}\n".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class SamBuild:
    """``sam build`` of the whole template for one architecture (``Arch`` parameter and ``CLAWLINE_ARCH``).

    Each set of inputs builds into its own folder, ``.aws-sam/builds/<arch>/<digest>``, so a test session (or a
    benchmark) still running the previous build is never pulled from under its feet; the two newest are kept.
    """

    arch: str
    #: Another template (the optional NLU embedding layer's) builds under its own name, from its own inputs.
    template: str = "template.yaml"
    inputs: tuple[str, ...] = BUILD_INPUTS
    seconds: float | None = None  # None when the previous build was reused
    log: str = ""
    digest: str = ""
    keep: int = 2

    @property
    def parent(self) -> Path:
        if self.template == "template.yaml":
            return ROOT / ".aws-sam" / "builds" / self.arch
        return ROOT / ".aws-sam" / "builds" / Path(self.template).parent.name / self.arch

    @property
    def directory(self) -> Path:
        assert self.digest, "run() first"
        return self.parent / self.digest[:16]

    @property
    def stamp(self) -> Path:
        return self.directory / ".clawline-inputs"

    def run(self) -> SamBuild:
        sam, python313 = require_sam(), require_python313()
        self.digest = inputs_digest(self.inputs)
        with locked(self.parent.with_suffix(".lock")):
            if self.stamp.exists() and self.stamp.read_text() == self.digest:
                return self
            shutil.rmtree(self.directory, ignore_errors=True)
            # Progress past pytest's capture: a cold build takes minutes and would otherwise look like a hang.
            print(f"\n[package] sam build {self.template} ({self.arch}): building, minutes when nothing is cached",
                  file=sys.__stderr__, flush=True)  # fmt: skip
            command = [str(sam), "build", "--no-cached", "-t", self.template, "-b", str(self.directory)]
            command += ["--parameter-overrides", f"Arch={self.arch}"]
            started = time.monotonic()
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=sam_env(CLAWLINE_ARCH=self.arch, PYTHON313=str(python313)),
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            self.seconds = time.monotonic() - started
            print(f"[package] sam build {self.template} ({self.arch}): done in {self.seconds:.0f} s",
                  file=sys.__stderr__, flush=True)  # fmt: skip
            self.log = done.stdout + done.stderr
            if done.returncode != 0:
                raise AssertionError(f"sam build ({self.arch}) failed:\n{self.log[-6000:]}")
            self.stamp.write_text(self.digest)
            builds = sorted((p for p in self.parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
            for old in builds[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        return self

    def artifact(self, logical_id: str) -> Path:
        return self.directory / logical_id


def install_awslambdaric() -> Path:
    """awslambdaric for python3.13 in ``.aws-sam/awslambdaric-py313`` (once; pinned)."""
    python313 = require_python313()
    target = ROOT / ".aws-sam" / "awslambdaric-py313"
    marker = target / f".{AWSLAMBDARIC}"
    with locked(target.with_suffix(".lock")):
        if not marker.exists():
            shutil.rmtree(target, ignore_errors=True)
            pip = [str(python313), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run(
                [*pip, "--only-binary=:all:", "--target", str(target), AWSLAMBDARIC],
                check=True,
                timeout=300,
            )
            marker.touch()
    return target


@dataclass
class LambdaLayout:
    """``/opt`` for a set of built layers, in Lambda's extraction order (a later layer wins a clash)."""

    root: Path
    clashes: list[str] = field(default_factory=list)

    @classmethod
    def assemble(cls, root: Path, layers: list[Path]) -> LambdaLayout:
        layout = cls(root)
        opt = layout.opt
        for layer in layers:
            for top in sorted(layer.iterdir()):
                if top.name == "python":
                    (opt / "python").mkdir(parents=True, exist_ok=True)
                    for entry in sorted(top.iterdir()):
                        link = opt / "python" / entry.name
                        if link.is_symlink():
                            layout.clashes.append(f"python/{entry.name}")
                            link.unlink()
                        link.symlink_to(entry)
                else:
                    link = opt / top.name
                    if link.is_symlink():
                        layout.clashes.append(top.name)
                        link.unlink()
                    opt.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(top)
        return layout

    @property
    def opt(self) -> Path:
        return self.root / "opt"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Invocation:
    payload: Any
    function_error: bool
    log: str


@dataclass
class EmulatedFunction:
    """One function in its own Runtime Interface Emulator: cold start on the first invoke, warm after."""

    name: str
    task_root: Path
    handler: str
    env: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    _log_file: IO[bytes] | None = None

    def start(self, python313: Path) -> EmulatedFunction:
        self.port, runtime_api = free_port(), free_port()
        env = {
            **self.env,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout_seconds),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        }
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(rie_binary()),
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.port}",
                "--runtime-api-address",
                f"127.0.0.1:{runtime_api}",
                str(python313),
                "-S",
                "-m",
                "awslambdaric",
                self.handler,
            ],
            cwd=self.task_root,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the emulator and the runtime it started
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the runtime emulator for {self.name} did not start:\n{self.log_tail()}")

    def invoke(self, event: dict[str, Any]) -> Invocation:
        offset = self.log_path.stat().st_size
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
            data=json.dumps(event).encode(),
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds + 30) as response:
                body, error = response.read(), response.headers.get("X-Amz-Function-Error")
        except urllib.error.HTTPError as exc:
            body, error = exc.read(), exc.headers.get("X-Amz-Function-Error") or str(exc.code)
        time.sleep(0.05)  # let the runtime flush this invoke's log lines
        log = self.log_path.read_bytes()[offset:].decode(errors="replace")
        payload = json.loads(body) if body else None
        is_error = bool(error) or (isinstance(payload, dict) and {"errorMessage", "errorType"} <= payload.keys())
        return Invocation(payload, is_error, log)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_bytes().decode(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
