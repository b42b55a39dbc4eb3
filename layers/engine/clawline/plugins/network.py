"""Keep a plugin's network use to what its manifest declares (defence in depth, not a sandbox).

During a plugin call (``setup`` or a hook) the runner marks the call's task with the plugin's name. A process-wide
audit hook (``sys.addaudithook``, installed once, when the first plugin loads) watches ``socket.connect``,
``socket.sendto``/``sendmsg`` and name look-ups: while a call is marked, any of them is refused with
``NetworkRefusedError``, logged (plugin, event, host, port; never user content) and counted
(``PluginNetworkRefused``) -- unless it comes from the sanctioned clients the plugin gets from its context:
``ctx.http`` (connects only to the manifest's hosts) and ``ctx.aws(service)`` (calls only the manifest's actions).

What this does not stop, and why it is still worth having: the mark lives in ``contextvars``, so a thread the
plugin starts itself, ``loop.run_in_executor`` (which does not copy the context), a subprocess or native code
escape it; Python code can also remove the mark. It catches the common mistakes (a library that phones home, an
undeclared endpoint, a forgotten ``requests.get``) and makes them visible; a hostile plugin needs real isolation
(a separate function with its own role), which is what the IAM policy built from the manifests gives.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Iterator
from typing import Any

from clawline.observability import MetricName, count, logger

_WATCHED = frozenset(
    {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname"}
)
#: The plugin whose call the current task is running (None outside plugin calls).
_active: contextvars.ContextVar[str | None] = contextvars.ContextVar("clawline_plugin_call", default=None)
#: True while a sanctioned client (which has checked the manifest) opens its connection.
_sanctioned: contextvars.ContextVar[bool] = contextvars.ContextVar("clawline_plugin_sanctioned", default=False)
_installed = False
_install_lock = threading.Lock()


class NetworkRefusedError(PermissionError):
    """A plugin tried to reach the network outside what its manifest declares."""


def install_guard() -> None:
    """Install the audit hook once per process (audit hooks cannot be removed: it is cheap when idle)."""
    global _installed  # noqa: PLW0603 - one hook per process, by design
    with _install_lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True


def guard_installed() -> bool:
    return _installed


@contextlib.contextmanager
def plugin_call(plugin: str) -> Iterator[None]:
    """Mark the current context as running ``plugin``'s code (use inside the task that runs it)."""
    token = _active.set(plugin)
    try:
        yield
    finally:
        _active.reset(token)


@contextlib.contextmanager
def sanctioned() -> Iterator[None]:
    """For the context's own clients, after they checked the manifest."""
    token = _sanctioned.set(True)
    try:
        yield
    finally:
        _sanctioned.reset(token)


def current_plugin() -> str | None:
    return _active.get()


def refuse(plugin: str, event: str, host: Any, port: Any) -> NetworkRefusedError:
    """Log and count a refused attempt; returns the error to raise."""
    count(MetricName.PLUGIN_NETWORK_REFUSED)
    logger.warning(
        "plugin network access refused",
        extra={"plugin": plugin, "event": event, "host": str(host), "port": str(port)},
    )
    return NetworkRefusedError(f"plugin {plugin}: {event} to {host}:{port} is not declared in its manifest")


def _audit(event: str, args: tuple[Any, ...]) -> None:
    # Called for every audited event of the process (imports, opens...): the first test must stay this cheap.
    if event not in _WATCHED:
        return
    plugin = _active.get()
    if plugin is None or _sanctioned.get():
        return
    if event == "socket.connect" or event.startswith("socket.send"):
        address = args[1] if len(args) > 1 else None
        if address is None and event != "socket.connect":
            return  # a send on an already connected socket: its connect was checked
        host, port = (address[0], address[1]) if isinstance(address, tuple) and len(address) >= 2 else (address, "")
    else:
        host, port = (args[0], args[1] if len(args) > 1 else "") if args else ("", "")
    raise refuse(plugin, event, host, port)
