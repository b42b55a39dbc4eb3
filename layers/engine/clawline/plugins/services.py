"""What a plugin may reach, handed to it by the runner: an HTTP client, AWS clients and secrets, each limited to
what its manifest declares.

``ctx.http`` connects only to the manifest's hosts; ``ctx.aws("dynamodb")`` calls only the manifest's actions
(botocore's shared client from ``clawline.aws``, so endpoints follow ``AWS_ENDPOINT_URL_<SERVICE>``);
``await ctx.secret(name)`` reads only the manifest's secrets. Calls run in a worker thread (botocore and urllib3 are
blocking) with the network guard's sanction. Nothing is imported or created until first use.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clawline.plugins.manifest import ResolvedPermissions
from clawline.plugins.network import refuse, sanctioned

#: botocore service name -> IAM service prefix, where they differ.
IAM_PREFIX = {"bedrock-runtime": "bedrock", "iot-data": "iot", "runtime.lex.v2": "lex"}
#: API operations whose IAM action has another name.
IAM_ACTION = {
    ("bedrock-runtime", "Converse"): "InvokeModel",
    ("bedrock-runtime", "ConverseStream"): "InvokeModelWithResponseStream",
}


def iam_action(service: str, operation: str) -> str:
    return f"{IAM_PREFIX.get(service, service)}:{IAM_ACTION.get((service, operation), operation)}"


@dataclass(frozen=True)
class HttpResponse:
    """What a plugin's HTTP request got back."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class PluginHttp:
    """An HTTP client that only connects to the hosts the plugin's manifest declares."""

    def __init__(self, plugin: str, permissions: ResolvedPermissions) -> None:
        self.plugin = plugin
        self.permissions = permissions
        self._pool: Any = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
    ) -> HttpResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"plugin {self.plugin}: {url!r} is not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if not self.permissions.allows_host(parts.hostname, port):
            raise refuse(self.plugin, "http.request", parts.hostname, port)
        sent_headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            sent_headers.setdefault("Content-Type", "application/json")
        import asyncio  # loaded: plugin calls run on the event loop (clawline.plugins.runner)

        return await asyncio.to_thread(self._send, method.upper(), url, body, sent_headers, timeout_s)

    async def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("POST", url, **kwargs)

    def _send(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str], timeout_s: float
    ) -> HttpResponse:
        import urllib3  # botocore's own HTTP library: already in the layer

        if self._pool is None:
            # Redirects are not followed: a redirect to an undeclared host must not be reachable.
            self._pool = urllib3.PoolManager(retries=False, maxsize=4)
        with sanctioned():
            response = self._pool.request(
                method, url, body=body, headers=headers, timeout=urllib3.Timeout(total=timeout_s), redirect=False
            )
        return HttpResponse(response.status, dict(response.headers), response.data)


class PluginAws:
    """A botocore client whose operations are awaitable and limited to the manifest's IAM actions."""

    def __init__(self, plugin: str, service: str, permissions: ResolvedPermissions) -> None:
        self.plugin = plugin
        self.service = service
        self.permissions = permissions

    @property
    def client(self) -> Any:
        from clawline.aws import client

        return client(self.service)

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("_"):
            raise AttributeError(method)
        client = self.client
        operation = client.meta.method_to_api_mapping.get(method)
        if operation is None:
            raise AttributeError(f"{self.service} has no operation {method!r}")
        action = iam_action(self.service, operation)
        if not self.permissions.allows_action(action):
            raise PermissionError(f"plugin {self.plugin}: {action} is not declared in its manifest")
        bound = getattr(client, method)

        def call(**kwargs: Any) -> Any:
            with sanctioned():
                return bound(**kwargs)

        async def run(**kwargs: Any) -> Any:
            import asyncio  # loaded: plugin calls run on the event loop

            return await asyncio.to_thread(call, **kwargs)

        return run


class PluginServices:
    def __init__(self, plugin: str, permissions: ResolvedPermissions, *, bot_dir: Path | None = None) -> None:
        self.plugin = plugin
        self.permissions = permissions
        #: The bot's directory: plugins read their data files (a knowledge base...) relative to it.
        self.bot_dir = bot_dir
        self._http: PluginHttp | None = None
        self._aws: dict[str, PluginAws] = {}
        self._secrets: dict[str, str] = {}

    @property
    def http(self) -> PluginHttp:
        if self._http is None:
            self._http = PluginHttp(self.plugin, self.permissions)
        return self._http

    def aws(self, service: str) -> PluginAws:
        if service not in self._aws:
            self._aws[service] = PluginAws(self.plugin, service, self.permissions)
        return self._aws[service]

    async def secret(self, name: str) -> str:
        """A Secrets Manager secret's string, cached for the container's life."""
        if not self.permissions.secret_allowed(name):
            raise PermissionError(f"plugin {self.plugin}: secret {name!r} is not declared in its manifest")
        if name not in self._secrets:
            granted = ResolvedPermissions(self.permissions.hosts, (), ())
            response = await PluginAws(self.plugin, "secretsmanager", _with_secret_read(granted)).get_secret_value(
                SecretId=name
            )
            self._secrets[name] = str(response["SecretString"])
        return self._secrets[name]


def _with_secret_read(permissions: ResolvedPermissions) -> ResolvedPermissions:
    from clawline.plugins.manifest import AwsPermission

    read = AwsPermission(actions=["secretsmanager:GetSecretValue"], resources=["*"])
    return ResolvedPermissions(permissions.hosts, (read,), ())


#: What a plugin gets when it declares nothing (and what code outside a plugin call sees).
NO_PERMISSIONS = ResolvedPermissions(frozenset(), (), ())


_current: contextvars.ContextVar[PluginServices | None] = contextvars.ContextVar(
    "clawline_plugin_services", default=None
)


def current_services() -> PluginServices:
    """The services of the plugin whose call is running (for ``setup()`` and seed-style plugins, which get no
    context); outside a plugin call, services that allow nothing."""
    return _current.get() or PluginServices("unknown", NO_PERMISSIONS)


@contextlib.contextmanager
def using(services: PluginServices) -> Iterator[None]:
    token = _current.set(services)
    try:
        yield
    finally:
        _current.reset(token)
