"""HTTP edge middleware, all pure ASGI (context variables survive, unlike BaseHTTPMiddleware).

In order: request id, access log and metrics; request body size limit; bearer token
authentication and per-principal rate limits.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.runtime import AppRuntime
from tenants.authorization import Principal
from tenants.identity.tokens import InvalidTokenError
from tenants.scope import TenantTransaction

_log = structlog.get_logger("renshi.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

HTTP_SECONDS = Histogram(
    "renshi_http_request_duration_seconds",
    "HTTP request latency by route, method and status",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@functools.lru_cache(maxsize=256)
def _http_seconds(route: str, method: str, status: int) -> Any:
    # labels() takes a lock and builds a key on every call; the children never change.
    return HTTP_SECONDS.labels(route, method, str(status))


_ROUTES = ("/graphql", "/oauth/token", "/.well-known/jwks.json", "/healthz", "/readyz", "/metrics")


@dataclass
class RequestState:
    """What the edge learns about a request, for the endpoint and for the access log."""

    request_id: str
    principal: Principal | None = None
    operation: str | None = None
    transaction: TenantTransaction | None = None


def request_state(scope: Scope) -> RequestState:
    state: RequestState = scope["state"]["renshi"]
    return state


def _json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Callable[[Send], Awaitable[None]]:
    payload = json.dumps(body).encode()

    async def respond(send: Send) -> None:
        raw = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})

    return respond


class ObservabilityMiddleware:
    """Request id (echoed in ``X-Request-ID``), one access log line, latency metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = RequestState(request_id=request_id)
        scope.setdefault("state", {})["renshi"] = state
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                tx = state.transaction
                if tx is not None:
                    # The operation has committed by now. Shown to every caller: statement
                    # counts help find N+1 queries from the browser and in tests.
                    headers["server-timing"] = (
                        f'db;dur={tx.db_seconds * 1000:.2f};desc="statements={tx.statements}"'
                    )
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["path"]
            route = path if path in _ROUTES else "other"
            _http_seconds(route, scope["method"], status).observe(elapsed)
            tx = state.transaction
            _log.info(
                "request",
                method=scope["method"],
                path=path,
                status=status,
                ms=round(elapsed * 1000, 2),
                tenant_id=str(state.principal.tenant_id) if state.principal else None,
                operation=state.operation,
                statements=tx.statements if tx else 0,
                db_ms=round(tx.db_seconds * 1000, 2) if tx else 0.0,
            )


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = _json_response(
            413,
            {
                "errors": [
                    {
                        "message": f"request body over {max_bytes} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _json_response(
            413,
            {
                "errors": [
                    {
                        "message": f"request body over {self.max_bytes} bytes",
                        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
                    }
                ]
            },
        )
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_bytes:
                await too_large(send)
                return
            # The server frames the body by its declared length; nothing more can arrive.
            await self.app(scope, receive, send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not response_started:
                await too_large(send)


class _BodyTooLargeError(Exception):
    pass


class AuthenticationMiddleware:
    """Bearer tokens to principals, and the per-principal (or per-address) rate limit.

    Only ``/graphql`` takes bearer tokens; the token endpoint authenticates clients itself.
    A bad token, whatever is wrong with it, gets the same 401.
    """

    def __init__(self, app: ASGIApp, *, runtime: AppRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        state = request_state(scope)
        header = Headers(scope=scope).get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                await unauthorized(send)
                return
            try:
                state.principal = self.runtime.tokens.verify(token.strip())
            except InvalidTokenError:
                await unauthorized(send)
                return
            structlog.contextvars.bind_contextvars(tenant_id=str(state.principal.tenant_id))
        limiter = self.runtime.limiter
        if state.principal is not None:
            key = f"{state.principal.tenant_id}:{state.principal.subject_id}"
        else:
            client = scope.get("client")
            key = f"ip:{client[0] if client else 'unknown'}"
        verdict = await limiter.hit(limiter.per_principal, "api", key)
        if not verdict.allowed:
            await _json_response(
                429,
                {
                    "errors": [
                        {
                            "message": f"rate limit exceeded; retry in {verdict.retry_after_s} s",
                            "extensions": {
                                "code": "RATE_LIMITED",
                                "retryAfter": verdict.retry_after_s,
                            },
                        }
                    ]
                },
                {"Retry-After": str(verdict.retry_after_s)},
            )(send)
            return
        await self.app(scope, receive, send)


async def unauthorized(send: Send) -> None:
    """The one answer to every kind of bad token: nothing about which check failed."""
    await _json_response(
        401,
        {
            "errors": [
                {"message": "invalid or expired token", "extensions": {"code": "UNAUTHENTICATED"}}
            ]
        },
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )(send)
