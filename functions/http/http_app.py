"""HTTP API function: a FastAPI app behind API Gateway HTTP API, run by Mangum.

Routes are thin: the caller's identity comes from the Lambda authorizer's context (never from the path or
body), the body is parsed strictly, and the engine does the rest. Errors are JSON with a stable ``error`` code.
"""

from __future__ import annotations

# First, before any framework: importing the engine's package holds the garbage collector off for the whole cold
# start, these imports included (clawline.gc_pause; a no-op outside Lambda).
import clawline  # noqa: F401

# isort: split
# Then FastAPI, its OpenAPI document's models left to be built when the document is asked for (late_openapi_models).
import late_openapi_models  # noqa: F401

# isort: split
import asyncio
import json
import uuid
from functools import cache
from typing import Annotated, Any

import deferred_openapi
from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from mangum import Mangum
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from clawline import __version__, composition, snapstart
from clawline.attachments.models import UploadRequest, UploadResponse
from clawline.auth.context import check_not_expired
from clawline.channels.actions import carry_out_for_bot
from clawline.channels.payloads import (
    MessagePayload,
    decode_json_object,
    envelope_limit,
    parse_payload,
    to_inbound,
)
from clawline.errors import (
    AuthenticationError,
    ClawlineError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from clawline.messages import Action, Channel, Identifier, OutboundMessage
from clawline.observability import (
    MetricName,
    channel_dimensions,
    count,
    logger,
    metrics,
    trace_libraries,
    traced_handler,
)
from clawline.principals import PrincipalKind, owner_key
from clawline.store.owner_data import ConversationList, OwnerExport

# Every supported library the engine and plugins may call (botocore, http.client, requests...) is traced.
trace_libraries()
# With SnapStart on, the snapshot is taken after the bot, its NLU and these services' models are loaded.
snapstart.register(services=("dynamodb", "iot-data", "kms"))


# Like the engine's models, these defer their build (``defer_build``) to their first use: so do the adapters FastAPI
# builds for a route's body and response model (pydantic reads the model's config), so a cold start builds those of
# the route it serves, not all of them.
class MessageResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    conversation_id: str
    message_id: str
    replies: list[OutboundMessage]
    #: Every action of the turn (hand-off, reject, publish): the client acts on what the server cannot.
    actions: list[Action] = []
    intent: str | None
    confidence: float | None


class TurnOut(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    seq: int
    message_id: str
    channel: str
    user_text: str
    bot_texts: list[str]
    intent: str | None
    created_at: str


class HistoryResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    conversation_id: str
    messages: list[TurnOut]
    next_cursor: str | None


class ErrorBody(BaseModel):
    model_config = ConfigDict(defer_build=True)

    error: str
    message: str
    details: dict[str, Any] | None = None


class Health(BaseModel):
    model_config = ConfigDict(defer_build=True)

    status: str
    version: str


class PluginInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str


class PluginsResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    bot: str
    plugins: list[PluginInfo]


class ReleaseRequest(BaseModel):
    """Whose conversation to release: conversations are partitioned by their owner (a user, or a device)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    user: Identifier | None = None
    thing: Identifier | None = None

    def owner(self) -> str:
        if (self.user is None) == (self.thing is None):
            raise InvalidInputError("name exactly one of user and thing")
        if self.user is not None:
            return owner_key(PrincipalKind.USER, self.user)
        assert self.thing is not None
        return owner_key(PrincipalKind.THING, self.thing)


class PairingBody(BaseModel):
    """The user (JWT ``sub``) a device is paired with: its MQTT messages join that user's conversations."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    user: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class PairingResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    thing: str
    user: str


#: The status codes every route may answer with an ``ErrorBody`` (in the OpenAPI document: deferred_openapi).
ERROR_CODES = (400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 503)

#: What a 503 asks the client to wait: storage throttling and lost races clear within a second or so.
RETRY_AFTER_SECONDS = 1

# The error responses and the message body's schema are added to the OpenAPI document when it is first asked for,
# not at import (deferred_openapi: about 60 ms of every cold start).
app = FastAPI(title="Clawline", version=__version__)


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` written in place: in an OpenAPI document ``#/$defs/...`` would point at the
    document's root, where nothing is (the message body's models do not recurse)."""
    defs = schema.pop("$defs", {})

    def expand(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return expand(defs[ref.removeprefix("#/$defs/")])
            return {key: expand(value) for key, value in node.items()}
        if isinstance(node, list):
            return [expand(item) for item in node]
        return node

    expanded: dict[str, Any] = expand(schema)
    return expanded


def caller(request: Request) -> tuple[str, frozenset[str]]:
    """The caller (``sub``, scopes) as vouched for by the authorizer (HTTP API simple-response context).

    Without an authorizer context (a route deployed without the authorizer, the local runtime, a test
    client) the bearer token is verified here with the same verifier: no route ever trusts an unverified caller.
    A context whose token has expired since it was cached is refused (``clawline.auth.context``).
    """
    event = request.scope.get("aws.event") or {}
    ctx = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    sub = ctx.get("sub")
    if isinstance(sub, str) and sub:
        check_not_expired(ctx, leeway_seconds=composition.settings().jwt_leeway_seconds)
        scope = ctx.get("scope")
        return sub, frozenset(scope.split() if isinstance(scope, str) else ())
    # Imported on this path only: PyJWT and cryptography cost about 0.2 s of cold start, and behind the
    # authorizer (every deployed route) the token was verified before this function ran.
    from clawline.auth.factory import verifier
    from clawline.auth.jwt_verifier import bearer_token

    token = bearer_token(dict(request.headers))
    if token is None:
        raise AuthenticationError("missing or invalid credentials")
    verified = verifier().verify(token)
    return verified.sub, verified.scopes


def principal(request: Request) -> str:
    """The caller's owner key (``user:{sub}``): what their conversations and rate-limit bucket are kept under."""
    return owner_key(PrincipalKind.USER, caller(request)[0])


def require_scope(request: Request, scope: str) -> str:
    sub, scopes = caller(request)
    if scope not in scopes:
        raise ForbiddenError("this route needs the scope " + scope)
    return sub


@app.exception_handler(ClawlineError)
async def clawline_error(_request: Request, exc: ClawlineError) -> JSONResponse:
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    elif exc.http_status == 503:
        # Every "try again" says when: throttled storage, a turn racing another, no time left in the invocation.
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
        count(MetricName.AUTH_FAILURES)
    if exc.http_status >= 500:
        count(MetricName.ERRORS)
    else:
        count(MetricName.REJECTED_INPUT)
    logger.info("request refused", extra={"error": exc.code, "status": exc.http_status})
    return JSONResponse(exc.to_body(), status_code=exc.http_status, headers=headers)


@app.exception_handler(Exception)
async def unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    count(MetricName.ERRORS)
    logger.exception("unexpected error")
    return JSONResponse({"error": "internal_error", "message": "something went wrong on our side"}, status_code=500)


#: The router's own answers (no such route, wrong method) in the documented error shape, not ``{"detail"}``.
ROUTER_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 422: "invalid_input"}


@app.exception_handler(StarletteHTTPException)
async def router_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = ROUTER_ERROR_CODES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "invalid_input")
    count(MetricName.ERRORS if exc.status_code >= 500 else MetricName.REJECTED_INPUT)
    logger.info("request refused", extra={"error": code, "status": exc.status_code})
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else code.replace("_", " ")
    return JSONResponse(
        {"error": code, "message": message}, status_code=exc.status_code, headers=dict(exc.headers or {})
    )


@app.exception_handler(RequestValidationError)
async def request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    count(MetricName.REJECTED_INPUT)
    logger.info("request refused", extra={"error": "invalid_input", "status": 422})
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse(
        {"error": "invalid_input", "message": "request does not match the schema", "details": {"errors": details}},
        status_code=422,
    )


# HEAD too: `curl -I .../health` is the usual liveness probe (Starlette answers HEAD with the GET's headers).
@app.api_route("/health", methods=["GET", "HEAD"], response_model=Health)
def health() -> Health:
    return Health(status="ok", version=__version__)


def message_request_body() -> dict[str, Any]:
    """The message route reads its body itself (strict parsing, size first): the document describes it."""
    schema = inline_definitions(MessagePayload.model_json_schema())
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@app.post("/v1/messages", response_model=MessageResponse)
async def post_message(
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> MessageResponse:
    sub = caller(request)[0]
    owner = owner_key(PrincipalKind.USER, sub)
    cfg = composition.settings()
    # Size is checked on the raw (already base64-decoded) body before any parsing.
    data = decode_json_object(await request.body(), max_bytes=envelope_limit(cfg.max_text_bytes))
    payload = parse_payload(data, max_text_bytes=cfg.max_text_bytes)
    if idempotency_key and payload.message_id and idempotency_key != payload.message_id:
        raise InvalidInputError("Idempotency-Key header and body message_id differ")
    named_id = payload.message_id or idempotency_key
    message = to_inbound(
        payload,
        channel=Channel.HTTP,
        sender=sub,
        owner=owner,
        default_message_id=idempotency_key,
        # per_connection: without a conversation id a message starts a new conversation, named after the message
        # when the client named the message: a retry of it then lands in the same conversation (the first reply).
        default_conversation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"http:{sub}:{named_id}").hex if named_id else None,
        max_text_bytes=cfg.max_text_bytes,
    )
    composition.rate_limiter().check(owner)
    # What blocks runs in a worker thread with this context copied, by asyncio's own helper: Starlette's
    # run_in_threadpool does the same through anyio, whose asyncio backend its first call imports (10-18 ms of every
    # cold start). Mangum runs the request to its end, so no cancellation ever races a thread here.
    if payload.attachments:  # after the rate limit: each one costs an S3 request
        message = await asyncio.to_thread(composition.attachments().attach, message, payload.attachments)
    # The turn runner owns its own event loop (shared with plugins across warm invokes): run it off this one.
    reply, fresh = await asyncio.to_thread(composition.turn_runner().run_once, message)
    if fresh:  # a replay answers with the first reply; its publishes went out the first time
        await asyncio.to_thread(carry_out_for_bot, reply, composition.engine().bot.settings.publish_topics)
    return MessageResponse(
        conversation_id=reply.conversation_id,
        message_id=reply.message_id,
        replies=reply.messages,
        actions=reply.actions,
        intent=reply.intent,
        confidence=reply.confidence,
    )


@app.post("/v1/uploads", response_model=UploadResponse)
def create_upload(request: Request, body: UploadRequest) -> UploadResponse:
    """A presigned PUT for one attachment; send the answer's ``attachment`` in a message once it is uploaded."""
    sender = principal(request)
    # Rate-limited like a message: every URL can store up to attachment_max_bytes until the lifecycle rule runs.
    composition.rate_limiter().check(sender)
    return composition.attachments().presign(body, owner=sender)


@app.get("/v1/conversations/{conversation_id}/messages", response_model=HistoryResponse)
def conversation_messages(
    request: Request,
    conversation_id: Identifier,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HistoryResponse:
    page = composition.conversation_store().list_turns(conversation_id, principal(request), limit=limit, cursor=cursor)
    if not page.turns and cursor is None:
        raise NotFoundError("no such conversation")
    return HistoryResponse(
        conversation_id=conversation_id,
        messages=[
            TurnOut(
                seq=t.seq,
                message_id=t.message_id,
                channel=t.channel.value,
                user_text=t.user_text,
                bot_texts=t.bot_texts,
                intent=t.intent,
                created_at=t.created_at.isoformat(),
            )
            for t in page.turns
        ],
        next_cursor=page.next_cursor,
    )


@app.delete("/v1/conversations/{conversation_id}", status_code=204)
def delete_conversation(request: Request, conversation_id: Identifier) -> Response:
    if composition.conversation_store().delete(conversation_id, principal(request)) == 0:
        raise NotFoundError("no such conversation")
    return Response(status_code=204)


@app.get("/v1/admin/plugins", response_model=PluginsResponse)
def admin_plugins(request: Request) -> PluginsResponse:
    """The plugins the bot loaded (plugin management): admin scope only."""
    require_scope(request, composition.settings().admin_scope)
    engine = composition.engine()
    return PluginsResponse(bot=engine.bot.name, plugins=[PluginInfo(name=n) for n in sorted(engine.plugins.plugins)])


@app.post("/v1/admin/conversations/{conversation_id}/release", status_code=204)
def release_conversation(request: Request, conversation_id: Identifier, body: ReleaseRequest) -> Response:
    """Give a conversation the ``handoff`` plugin paused back to the bot: admin scope only."""
    require_scope(request, composition.settings().admin_scope)
    handoff = composition.engine().plugins.plugins.get("handoff")
    if handoff is None:
        raise NotFoundError("the bot has no handoff plugin")
    from plugins.handoff import release  # the first-party plugin, shipped in the bot layer

    owner = body.owner()
    if not release(composition.conversation_store(), conversation_id, owner, slot=handoff.instance.config.slot):
        raise NotFoundError("the conversation is not handed off")
    return Response(status_code=204)


@app.put("/v1/admin/devices/{thing}/pairing", status_code=204)
def pair_device(request: Request, thing: Identifier, body: PairingBody) -> Response:
    """Pair an IoT thing with a user (clawline.store.pairings): admin scope only."""
    require_scope(request, composition.settings().admin_scope)
    composition.pairings().pair(thing, body.user)
    return Response(status_code=204)


@app.get("/v1/admin/devices/{thing}/pairing", response_model=PairingResponse)
def device_pairing(request: Request, thing: Identifier) -> PairingResponse:
    require_scope(request, composition.settings().admin_scope)
    user = composition.pairings().get(thing)
    if user is None:
        raise NotFoundError("the device is not paired")
    return PairingResponse(thing=thing, user=user)


@app.delete("/v1/admin/devices/{thing}/pairing", status_code=204)
def unpair_device(request: Request, thing: Identifier) -> Response:
    require_scope(request, composition.settings().admin_scope)
    if not composition.pairings().unpair(thing):
        raise NotFoundError("the device is not paired")
    return Response(status_code=204)


# ----- data rights (clawline.store.owner_data): list, export and erase what is stored about a user or a device ---

#: The largest export answered in one response: Lambda refuses a response over 6 MB, and API Gateway's envelope
#: escapes the JSON body once more. Larger ones answer 413 ``export_too_large`` (docs/api.md says what to do).
EXPORT_MAX_BYTES = 4 * 1024 * 1024
UserId = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class ExportTooLargeError(ClawlineError):
    code = "export_too_large"
    http_status = 413


def export_response(owner: str) -> Response:
    document = composition.owner_data().export(owner).model_dump_json()
    if len(document) > EXPORT_MAX_BYTES:
        raise ExportTooLargeError(
            "the export is larger than one response can carry: read GET /v1/conversations and each conversation's "
            "messages, or ask an administrator",
            details={"bytes": len(document), "max_bytes": EXPORT_MAX_BYTES},
        )
    return Response(content=document, media_type="application/json")


def erase(owner: str, *, by: str) -> Response:
    erased = composition.owner_data().erase(owner)
    # Counts only: the owner is the one thing this line must not keep.
    logger.info("owner data erased", extra={"by": by, "kind": owner.partition(":")[0], **vars(erased)})
    return Response(status_code=204)


@app.get("/v1/conversations", response_model=ConversationList)
def list_conversations(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ConversationList:
    """The caller's conversations, newest first."""
    return composition.owner_data().conversations(principal(request), limit=limit, cursor=cursor)


@app.get("/v1/me/export", response_model=OwnerExport)
def export_me(request: Request) -> Response:
    """Everything stored about the caller, as JSON."""
    owner = principal(request)
    composition.rate_limiter().check(owner)  # an export reads every item the caller has
    return export_response(owner)


@app.delete("/v1/me", status_code=204)
def erase_me(request: Request) -> Response:
    """Erase everything stored about the caller; 204 also when there was nothing (a retry finishes a cut-short one)."""
    owner = principal(request)
    composition.rate_limiter().check(owner)
    return erase(owner, by="self")


@app.get("/v1/admin/users/{user_id}/export", response_model=OwnerExport)
def admin_export_user(request: Request, user_id: UserId) -> Response:
    require_scope(request, composition.settings().admin_scope)
    return export_response(owner_key(PrincipalKind.USER, user_id))


@app.delete("/v1/admin/users/{user_id}", status_code=204)
def admin_erase_user(request: Request, user_id: UserId) -> Response:
    require_scope(request, composition.settings().admin_scope)
    return erase(owner_key(PrincipalKind.USER, user_id), by="admin")


@app.get("/v1/admin/things/{thing}/export", response_model=OwnerExport)
def admin_export_thing(request: Request, thing: Identifier) -> Response:
    require_scope(request, composition.settings().admin_scope)
    return export_response(owner_key(PrincipalKind.THING, thing))


@app.delete("/v1/admin/things/{thing}", status_code=204)
def admin_erase_thing(request: Request, thing: Identifier) -> Response:
    require_scope(request, composition.settings().admin_scope)
    return erase(owner_key(PrincipalKind.THING, thing), by="admin")


@cache
def _adapter(stage: str) -> Mangum:
    # A named stage prefixes rawPath (/dev/v1/messages); the $default stage does not.
    return Mangum(app, lifespan="off", api_gateway_base_path="/" if stage in ("", "$default") else f"/{stage}")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel_dimensions(Channel.HTTP.value)
    composition.register_lambda_context(context)
    stage = str((event.get("requestContext") or {}).get("stage") or "")
    adapter = _adapter(stage)
    # Mangum runs the app on the thread's current event loop, set when the adapter was built; a host that ran
    # asyncio.run() since (a test process, a local runtime) leaves none, so give it one again.
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    response: dict[str, Any] = adapter(event, context)
    return response


deferred_openapi.install(
    app,
    error_model=ErrorBody,
    error_codes=ERROR_CODES,
    extras={("/v1/messages", "post"): message_request_body},
)


def openapi_document() -> str:
    return json.dumps(app.openapi(), indent=2, sort_keys=True)
