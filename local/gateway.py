"""The local API Gateway: HTTP API v2 and WebSocket API events for the functions, plus the two data-plane
APIs the functions call back (``@connections`` and iot-data publish), on one Starlette app.

Paths, on one loopback port (the stage prefix keeps the API's own routes apart from the rest):

    /{http stage}/...                    HTTP API: routes from the template, Lambda authorizer, payload 2.0
    ws://.../{ws stage}                  WebSocket API: $connect (REQUEST authorizer) / $default / $disconnect
    /{ws stage}/@connections/{id}        the management API (POST, GET, DELETE; 410 Gone for unknown ids)
    /topics/{topic}                      the iot-data publish API (hands the message to the MQTT broker)
    /.well-known/jwks.json               the development issuer's keys (when the runtime issues tokens)
    /_local/status                       readiness and the URLs, for scripts and tests

What API Gateway does and the handlers rely on is reproduced: the authorizer runs before the integration
and its context reaches the function; a WebSocket ``$connect`` that is denied never upgrades (the client sees
HTTP 401/403); ``$disconnect`` follows every close, including one made through ``DELETE @connections``;
messages over the frame limit close the socket with 1009; idle and lifetime limits close it with 1001.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import string
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from clawline.security.masking import mask_text
from local import sigv4
from local.devauth import DevIssuer
from local.functions import Function, FunctionError
from local.template import HttpApiSpec, HttpRoute, WebSocketApiSpec

HTTP_API_ID = "localhttp0"
WS_API_ID = "localws0000"
ACCOUNT = "123456789012"
#: API Gateway gives up on an integration after 29-30 s. Locally a function's invokes queue behind each other
#: on its one instance (Lambda would scale out instead), so no limit is put on the wait: the function's own
#: Timeout (15 s in the template, under API Gateway's) is what reports a slow turn, counted from when it runs.
#: API Gateway WebSocket quotas.
WS_FRAME_BYTES = 32 * 1024
WS_MESSAGE_BYTES = 128 * 1024
#: Request headers a WebSocket upgrade may carry (API Gateway's WebSocket quota is 10 KB; uvicorn's line limit is 8 KB,
#: so anything larger is answered here with 431 instead of reaching the protocol layer's limits).
WS_HEADER_BYTES = 8 * 1024
_TEXT_TYPES = re.compile(r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded)|.*\+(json|xml))(;.*)?$")


@dataclass
class Limits:
    idle_seconds: float = 600.0
    lifetime_seconds: float = 7200.0


@dataclass
class Connection:
    id: str
    websocket: WebSocket
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.time)
    close_code: int | None = None
    close_reason: str = ""
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: What $connect's authorizer returned: API Gateway passes it in every later event of the connection.
    authorizer: dict[str, Any] | None = None


def _now_text(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(epoch or time.time(), UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


_ALPHABET = string.ascii_letters + string.digits


def _request_id() -> str:
    # Shaped like API Gateway's ids (15 characters and "="); the "=" makes clients URL-encode connection ids,
    # as they must with the real ones.
    return "".join(secrets.choice(_ALPHABET) for _ in range(15)) + "="


def _connection_id() -> str:
    return _request_id()


def _compile_route(path: str) -> re.Pattern[str]:
    pattern = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            pattern += f"(?P<{name.rstrip('+')}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(part)
    return re.compile(f"^{pattern}$")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


class Gateway:
    def __init__(
        self,
        *,
        http_api: HttpApiSpec,
        ws_api: WebSocketApiSpec,
        functions: dict[str, Function],
        publish: Callable[[str, bytes, int, bool], None],
        issuer: DevIssuer | None = None,
        mint_token: Callable[[str], str] | None = None,
        limits: Limits | None = None,
        log: Callable[[str], None] = print,
        credentials: Any = None,
        extra_routes: list[Any] | None = None,
    ) -> None:
        self.http_api = http_api
        self.ws_api = ws_api
        self.functions = functions
        self.publish = publish
        self.issuer = issuer
        self.mint_token = mint_token
        self.limits = limits or Limits()
        # Every line masked like the functions' own: paths carry conversation ids, which may be e-mail addresses.
        self.log: Callable[[str], None] = lambda line: log(mask_text(line))
        #: Who may call the @connections API (SigV4, local/sigv4.py); None leaves it open (unit tests of the gateway).
        self.credentials = credentials
        self.connections: dict[str, Connection] = {}
        self.status: dict[str, Any] = {}
        self._routes = [(r, _compile_route(r.path)) for r in http_api.routes]
        self._tasks: set[asyncio.Future[Any]] = set()
        self._auth_cache: dict[tuple[str, ...], tuple[float, dict[str, Any] | None]] = {}
        ws_stage = ws_api.stage
        routes: list[Any] = [
            Route("/_local/status", self._status, methods=["GET"]),
            Route(
                f"/{ws_stage}/@connections/{{connection_id}}", self._connections_api, methods=["GET", "POST", "DELETE"]
            ),
            Route("/topics/{topic:path}", self._iot_publish, methods=["POST"]),
            WebSocketRoute(f"/{ws_stage}", self._websocket),
            *(extra_routes or []),  # the console and /metrics: outside every stage, like /_local
            Route("/{path:path}", self._http_api, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        ]
        if issuer is not None:
            routes.insert(0, Route("/.well-known/jwks.json", self._jwks, methods=["GET"]))
        if mint_token is not None:
            # Loopback only, and the key lives in this process: the tokens are good for this runtime alone.
            routes.insert(0, Route("/_local/token", self._token, methods=["POST"]))
        self.app = Starlette(routes=routes)

    # ------------------------------------------------------------------ helpers

    async def _invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        return await asyncio.wrap_future(self.functions[logical_id].invoke(event))

    def _background(self, coro: Any) -> None:
        # The loop keeps only weak references to tasks: hold each one until it is done.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _status(self, _request: Request) -> Response:
        return JSONResponse({"ready": True, **self.status})

    async def _token(self, request: Request) -> Response:
        assert self.mint_token is not None
        sub = request.query_params.get("sub") or "alice"
        return JSONResponse({"sub": sub, "token": self.mint_token(sub)})

    async def _jwks(self, _request: Request) -> Response:
        assert self.issuer is not None
        return JSONResponse(self.issuer.jwks())

    # ------------------------------------------------------------------ HTTP API

    def _match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        fallback: tuple[HttpRoute, dict[str, str]] | None = None
        for route, pattern in self._routes:
            if route.path == "$default":
                fallback = (route, {})
                continue
            found = pattern.match(path)
            if found and route.method in (method, "ANY"):
                return route, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
        return fallback

    def _cors_headers(self, origin: str | None) -> dict[str, str]:
        api = self.http_api
        if not origin or not api.cors_origins or ("*" not in api.cors_origins and origin not in api.cors_origins):
            return {}
        return {"access-control-allow-origin": "*" if "*" in api.cors_origins else origin, "vary": "origin"}

    async def _http_api(self, request: Request) -> Response:
        started = time.perf_counter()
        response = await self._http_api_response(request)
        elapsed = (time.perf_counter() - started) * 1000
        self.log(f"HTTP {request.method} {request.url.path} -> {response.status_code} ({elapsed:.1f} ms)")
        return response

    async def _http_api_response(self, request: Request) -> Response:
        api = self.http_api
        raw_path = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or request.url.path
        path = urllib.parse.unquote(raw_path)
        if api.stage not in ("", "$default"):
            prefix = f"/{api.stage}"
            if not (path == prefix or path.startswith(prefix + "/")):
                return _error(404, "Not Found")
            path = path[len(prefix) :] or "/"
        origin = request.headers.get("origin")
        if (
            request.method == "OPTIONS"
            and origin
            and "access-control-request-method" in request.headers
            and api.cors_origins
        ):
            # API Gateway answers CORS preflight itself, before routes and authorizers.
            headers = self._cors_headers(origin)
            if headers:
                headers.update(
                    {
                        "access-control-allow-methods": ",".join(api.cors_methods) or "*",
                        "access-control-allow-headers": ",".join(h.lower() for h in api.cors_headers) or "*",
                        "access-control-max-age": str(api.cors_max_age),
                    }
                )
            return Response(status_code=204, headers=headers)
        matched = self._match(request.method, path)
        if matched is None:
            return _error(404, "Not Found")
        route, params = matched
        body = await request.body()
        event = self._http_event(request, raw_path, route, params, body)
        if route.authorizer is not None and api.authorizer is not None:
            denied = await self._http_authorize(event)
            if denied is not None:
                return denied
        try:
            result = await self._invoke(route.function, event)
        except FunctionError as exc:
            self.log(f"HTTP {route.function} failed: {exc}")
            return _error(500, "Internal Server Error")
        response = self._http_response(result)
        response.headers.update(self._cors_headers(origin))
        response.headers["apigw-requestid"] = event["requestContext"]["requestId"]
        return response

    def _http_event(
        self, request: Request, raw_path: str, route: HttpRoute, params: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            if name == "cookie":
                continue
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        content_type = request.headers.get("content-type", "")
        text_body = not body or (bool(_TEXT_TYPES.match(content_type.lower())) and _is_utf8(body))
        now = time.time()
        client = request.client.host if request.client else "127.0.0.1"
        host = request.headers.get("host", "127.0.0.1")
        query = request.url.query
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "$default" if route.path == "$default" else route.route_key,
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": HTTP_API_ID,
                "domainName": host,
                "domainPrefix": host.split(".", 1)[0],
                "http": {
                    "method": request.method,
                    "path": raw_path,
                    "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
                    "sourceIp": client,
                    "userAgent": request.headers.get("user-agent", ""),
                },
                "requestId": _request_id(),
                "routeKey": "$default" if route.path == "$default" else route.route_key,
                "stage": self.http_api.stage,
                "time": _now_text(now),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": not text_body,
        }
        cookies = request.headers.getlist("cookie")
        if cookies:
            event["cookies"] = [c.strip() for line in cookies for c in line.split(";") if c.strip()]
        if query:
            parsed: dict[str, list[str]] = {}
            for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
                parsed.setdefault(key, []).append(value)
            event["queryStringParameters"] = {k: ",".join(v) for k, v in parsed.items()}
        if params:
            event["pathParameters"] = params
        if body:
            # Bytes that are not UTF-8 travel base64-encoded whatever the content type: decoding them with
            # replacement would store U+FFFD for the user's bytes; the function refuses them with not_utf8.
            event["body"] = body.decode("utf-8") if text_body else base64.b64encode(body).decode()
        return event

    async def _http_authorize(self, event: dict[str, Any]) -> Response | None:
        spec = self.http_api.authorizer
        assert spec is not None
        # API Gateway caches the answer by the identity sources and nothing else (not the route, not the rest of
        # the request): the cache key here is the same values, in the order the template lists them.
        identity = []
        query = event.get("queryStringParameters") or {}
        sources = [event["headers"].get(h.lower()) for h in spec.identity_headers]
        sources += [query.get(q) for q in spec.identity_query]
        for value in sources:
            if not value:
                # No identity source: API Gateway refuses without calling the authorizer.
                return _error(401, "Unauthorized")
            identity.append(value)
        key = tuple(identity)
        cached = self._auth_cache.get(key)
        context: dict[str, Any] | None
        if cached and cached[0] > time.monotonic():
            context = cached[1]
        else:
            auth_event = {
                **{k: v for k, v in event.items() if k not in ("body", "isBase64Encoded")},
                "type": "REQUEST",
                "routeArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{HTTP_API_ID}/{self.http_api.stage}/"
                f"{event['requestContext']['http']['method']}"
                f"{event['rawPath'].removeprefix('/' + self.http_api.stage)}",
                "identitySource": identity,
            }
            try:
                result = await self._invoke(spec.function, auth_event)
            except FunctionError as exc:
                self.log(f"HTTP authorizer failed: {exc}")
                return _error(500, "Internal Server Error")
            allowed = isinstance(result, dict) and result.get("isAuthorized") is True
            context = (result.get("context") or {}) if allowed else None
            if spec.cache_seconds > 0:
                self._auth_cache[key] = (time.monotonic() + spec.cache_seconds, context)
        if context is None:
            return _error(403, "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": context}
        return None

    @staticmethod
    def _http_response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            # Payload 2.0 without a status code: API Gateway assumes 200 and JSON.
            return Response(json.dumps(result), status_code=200, media_type="application/json")
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        response = Response(data, status_code=int(result["statusCode"]))
        for name, value in (result.get("headers") or {}).items():
            response.headers[name] = str(value)
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.append(name, str(value))
        for cookie in result.get("cookies") or []:
            response.headers.append("set-cookie", cookie)
        return response

    # ------------------------------------------------------------------ WebSocket API

    def _ws_context(
        self, connection_id: str, route: str, event_type: str, connected_at: float, source_ip: str, user_agent: str
    ) -> dict[str, Any]:
        now = time.time()
        request_id = _request_id()
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": _now_text(now),
            "messageDirection": "IN",
            "stage": self.ws_api.stage,
            "connectedAt": int(connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"userAgent": user_agent, "sourceIp": source_ip},
            "requestId": request_id,
            "domainName": self.status.get("domain", "127.0.0.1"),
            "connectionId": connection_id,
            "apiId": WS_API_ID,
        }

    async def _websocket(self, websocket: WebSocket) -> None:
        header_bytes = sum(len(k) + len(v) + 4 for k, v in websocket.scope.get("headers") or [])
        if header_bytes > WS_HEADER_BYTES:
            self.log(f"WS   $connect refused: {header_bytes} bytes of headers -> 431")
            await websocket.send_denial_response(
                JSONResponse({"message": "Request Header Fields Too Large"}, status_code=431)
            )
            return
        connection_id = _connection_id()
        source_ip = websocket.client.host if websocket.client else "127.0.0.1"
        user_agent = websocket.headers.get("user-agent", "")
        connected_at = time.time()
        headers = dict(websocket.headers.items())
        multi_headers: dict[str, list[str]] = {}
        for name, value in websocket.headers.items():
            multi_headers.setdefault(name, []).append(value)
        query = dict(websocket.query_params.items())
        multi_query: dict[str, list[str]] = {}
        for name, value in websocket.query_params.multi_items():
            multi_query.setdefault(name, []).append(value)
        request_context = self._ws_context(connection_id, "$connect", "CONNECT", connected_at, source_ip, user_agent)
        connect_event: dict[str, Any] = {
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "requestContext": request_context,
            "isBase64Encoded": False,
        }
        if query:
            connect_event["queryStringParameters"] = query
            connect_event["multiValueQueryStringParameters"] = multi_query
        started = time.perf_counter()
        status = await self._ws_connect(connect_event)
        elapsed = (time.perf_counter() - started) * 1000
        self.log(f"WS   $connect {connection_id} -> {status} ({elapsed:.1f} ms)")
        if status >= 300:
            # Refused before the upgrade: the client sees an HTTP status, as with API Gateway.
            await websocket.send_denial_response(
                JSONResponse({"message": "Unauthorized" if status == 401 else "Forbidden"}, status_code=status)
            )
            return
        await websocket.accept()
        connection = Connection(
            connection_id,
            websocket,
            source_ip,
            user_agent,
            connected_at=connected_at,
            authorizer=request_context.get("authorizer"),
        )
        self.connections[connection_id] = connection
        try:
            await self._ws_receive_loop(connection)
        finally:
            self.connections.pop(connection_id, None)
            await self._ws_disconnect(connection)

    def _ws_identity_present(self, event: dict[str, Any]) -> bool:
        """Every ``IdentitySource`` of the $connect authorizer has a value (API Gateway: 401 without a call)."""
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
        query = event.get("queryStringParameters") or {}
        for source in self.ws_api.connect_identity:
            kind, _, name = source.removeprefix("route.request.").partition(".")
            value = headers.get(name.lower()) if kind == "header" else query.get(name) if kind == "querystring" else ""
            if not value:
                return False
        return True

    async def _ws_connect(self, event: dict[str, Any]) -> int:
        authorizer = self.ws_api.connect_authorizer
        if authorizer is not None and not self._ws_identity_present(event):
            return 401
        if authorizer is not None:
            auth_event = {
                "type": "REQUEST",
                "methodArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{WS_API_ID}/{self.ws_api.stage}/$connect",
                **{k: v for k, v in event.items() if k != "isBase64Encoded"},
                "stageVariables": {},
            }
            started = time.perf_counter()
            try:
                result = await self._invoke(authorizer, auth_event)
            except FunctionError as exc:
                # The authorizer's documented way to answer 401 is to fail with "Unauthorized".
                return 401 if exc.error_message == "Unauthorized" else 500
            statements = ((result or {}).get("policyDocument") or {}).get("Statement") or []
            if not statements or any(s.get("Effect") != "Allow" for s in statements):
                return 403
            event["requestContext"]["authorizer"] = {
                **(result.get("context") or {}),
                "principalId": result.get("principalId"),
                "integrationLatency": int((time.perf_counter() - started) * 1000),
            }
        route = self.ws_api.routes.get("$connect")
        if route is None:
            return 200
        try:
            result = await self._invoke(route, event)
        except FunctionError:
            return 500
        return int(result.get("statusCode", 200)) if isinstance(result, dict) else 200

    async def _ws_receive_loop(self, connection: Connection) -> None:
        websocket = connection.websocket
        while True:
            now = time.time()
            timeout = (
                min(
                    connection.last_active + self.limits.idle_seconds,
                    connection.connected_at + self.limits.lifetime_seconds,
                )
                - now
            )
            try:
                message = await asyncio.wait_for(websocket.receive(), max(timeout, 0.001))
            except TimeoutError:
                if connection.last_active + self.limits.idle_seconds > time.time() and (
                    connection.connected_at + self.limits.lifetime_seconds > time.time()
                ):
                    continue  # replies went out meanwhile: not idle after all
                connection.close_code, connection.close_reason = 1001, "Going away"
                await websocket.close(1001, "Going away")
                return
            if message["type"] == "websocket.disconnect":
                if connection.close_code is None:
                    connection.close_code = int(message.get("code", 1005))
                    connection.close_reason = str(message.get("reason") or "Client closed the connection")
                return
            connection.last_active = time.time()
            text = message.get("text")
            data = text.encode("utf-8") if text is not None else (message.get("bytes") or b"")
            if len(data) > min(WS_FRAME_BYTES, WS_MESSAGE_BYTES):
                # API Gateway closes the connection on a frame over 32 KB (message too big).
                connection.close_code, connection.close_reason = 1009, "Message too big"
                self.log(f"WS   {connection.id} sent {len(data)} bytes: closed with 1009")
                await websocket.close(1009, "Message too big")
                return
            self._ws_dispatch(connection, text, data)

    def _route_for(self, text: str | None) -> str:
        expression = self.ws_api.route_selection
        if text is not None and expression.startswith("$request.body."):
            try:
                value: Any = json.loads(text)
                for key in expression.removeprefix("$request.body.").split("."):
                    value = value.get(key) if isinstance(value, dict) else None
            except ValueError:
                value = None
            if isinstance(value, str) and value in self.ws_api.routes and not value.startswith("$"):
                return value
        return "$default"

    def _ws_dispatch(self, connection: Connection, text: str | None, data: bytes) -> None:
        route = self._route_for(text)
        function = self.ws_api.routes.get(route)
        context = self._ws_context(
            connection.id, route, "MESSAGE", connection.connected_at, connection.source_ip, connection.user_agent
        )
        context["messageId"] = _request_id()
        if connection.authorizer is not None:
            context["authorizer"] = dict(connection.authorizer)
        event = {
            "requestContext": context,
            "body": text if text is not None else base64.b64encode(data).decode(),
            "isBase64Encoded": text is None,
        }
        if function is None:
            self._background(self._ws_error_frame(connection, context, "Forbidden"))
            return
        started = time.perf_counter()
        # Submitted now, in arrival order: the function's single worker keeps a conversation's turns in order.
        future = asyncio.wrap_future(self.functions[function].invoke(event))
        self._background(self._ws_settle(connection, context, future, started))

    async def _ws_settle(
        self, connection: Connection, context: dict[str, Any], future: asyncio.Future[Any], started: float
    ) -> None:
        outcome = "200"
        try:
            await future
        except FunctionError as exc:
            outcome = "error"
            self.log(f"WS   {connection.id} integration failed: {exc}")
            await self._ws_error_frame(connection, context, "Internal server error")
        elapsed = (time.perf_counter() - started) * 1000
        self.log(f"WS   {context['routeKey']} {connection.id} -> {outcome} ({elapsed:.1f} ms)")

    async def _ws_error_frame(self, connection: Connection, context: dict[str, Any], message: str) -> None:
        # What API Gateway itself sends when the integration fails.
        frame = {"message": message, "connectionId": connection.id, "requestId": context["requestId"]}
        if connection.id in self.connections:
            async with connection.send_lock:
                try:
                    await connection.websocket.send_text(json.dumps(frame))
                except Exception:  # noqa: BLE001 - the client may be gone already
                    return

    async def _ws_disconnect(self, connection: Connection) -> None:
        route = self.ws_api.routes.get("$disconnect")
        if route is None:
            return
        context = self._ws_context(
            connection.id,
            "$disconnect",
            "DISCONNECT",
            connection.connected_at,
            connection.source_ip,
            connection.user_agent,
        )
        if connection.authorizer is not None:
            context["authorizer"] = dict(connection.authorizer)
        context["disconnectStatusCode"] = connection.close_code or 1005
        context["disconnectReason"] = connection.close_reason
        event = {"headers": {}, "multiValueHeaders": {}, "requestContext": context, "isBase64Encoded": False}
        started = time.perf_counter()
        try:
            await self._invoke(route, event)
            outcome = "200"
        except FunctionError as exc:
            outcome = f"error ({exc})"
        elapsed = (time.perf_counter() - started) * 1000
        self.log(f"WS   $disconnect {connection.id} ({connection.close_code}) -> {outcome} ({elapsed:.1f} ms)")

    # ------------------------------------------------------------------ @connections management API

    async def _connections_api(self, request: Request) -> Response:
        if self.credentials is not None:
            raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
            query = request.scope.get("query_string", b"").decode("latin-1")
            problem = sigv4.verify(
                method=request.method,
                url=f"http://{request.headers.get('host', '127.0.0.1')}{raw_path}" + (f"?{query}" if query else ""),
                headers=dict(request.headers),
                body=await request.body(),
                credentials=self.credentials,
                service="execute-api",
            )
            if problem is not None:
                self.log(f"@connections {request.method} refused: {problem}")
                return JSONResponse(
                    {"message": problem}, status_code=403, headers={"x-amzn-ErrorType": "ForbiddenException"}
                )
        connection_id = request.path_params["connection_id"]
        connection = self.connections.get(connection_id)
        if connection is None:
            self.log(f"@connections {request.method} {connection_id} -> 410 Gone")
            return JSONResponse({"message": None}, status_code=410, headers={"x-amzn-ErrorType": "GoneException"})
        if request.method == "GET":
            return JSONResponse(
                {
                    "connectedAt": datetime.fromtimestamp(connection.connected_at, UTC).isoformat(),
                    "lastActiveAt": datetime.fromtimestamp(connection.last_active, UTC).isoformat(),
                    "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                }
            )
        if request.method == "DELETE":
            connection.close_code, connection.close_reason = 1000, "Connection deleted through @connections"
            self.connections.pop(connection_id, None)
            # Already closing is fine: $disconnect follows either way.
            async with connection.send_lock:
                with contextlib.suppress(Exception):
                    await connection.websocket.close(1000)
            return Response(status_code=204)
        data = await request.body()
        if len(data) > WS_MESSAGE_BYTES:
            return JSONResponse(
                {"message": "Message too long"},
                status_code=413,
                headers={"x-amzn-ErrorType": "PayloadTooLargeException"},
            )
        # Traffic either way keeps a connection from counting as idle; the client's pings are answered by the
        # server below the app and cannot be seen here.
        connection.last_active = time.time()
        async with connection.send_lock:
            try:
                try:
                    await connection.websocket.send_text(data.decode("utf-8"))
                except UnicodeDecodeError:
                    await connection.websocket.send_bytes(data)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.connections.pop(connection_id, None)
                return JSONResponse({"message": None}, status_code=410, headers={"x-amzn-ErrorType": "GoneException"})
        return JSONResponse({}, status_code=200)

    # ------------------------------------------------------------------ iot-data publish API

    async def _iot_publish(self, request: Request) -> Response:
        topic = urllib.parse.unquote(request.path_params["topic"])
        qos = int(request.query_params.get("qos", "0"))
        retain = request.query_params.get("retain", "false").lower() == "true"
        if qos not in (0, 1) or not topic or "+" in topic or "#" in topic:
            return JSONResponse(
                {"message": "Invalid topic or qos"},
                status_code=400,
                headers={"x-amzn-ErrorType": "InvalidRequestException"},
            )
        self.publish(topic, await request.body(), qos, retain)
        return JSONResponse({}, status_code=200)
