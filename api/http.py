"""The HTTP edge: one pure ASGI middleware (context variables survive, unlike
``BaseHTTPMiddleware``) in front of every route.

For each request, in order: a request id (echoed in ``X-Request-ID``) bound to the logs; the
body size limit; on ``/graphql``, the bearer token turned into a principal and the
per-principal (or per-address) rate limit; a database that went away before the response
started answered as a coded 503; then, once the response is out, one access log line and the
latency metric. It is one middleware rather than three because every layer
costs each request its own coroutine and send wrapper.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.runtime import AppRuntime
from tenants.authorization import Principal
from tenants.database.faults import MESSAGES as FAULT_MESSAGES
from tenants.database.faults import DatabaseFault, database_fault
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
_ROUTES = frozenset(
    {"/graphql", "/oauth/token", "/.well-known/jwks.json", "/healthz", "/readyz", "/metrics"}
)


@functools.lru_cache(maxsize=256)
def _http_seconds(route: str, method: str, status: int) -> Any:
    # labels() takes a lock and builds a key on every call; the children never change.
    return HTTP_SECONDS.labels(route, method, str(status))


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


Responder = Callable[[Send], Awaitable[None]]


def _json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Responder:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]

    async def respond(send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})

    return respond


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Responder:
    return _json_response(
        status, {"errors": [{"message": message, "extensions": {"code": code, **extra}}]}, headers
    )


def _fault_response(fault: DatabaseFault, request_id: str) -> Responder:
    if fault is DatabaseFault.UNAVAILABLE:
        return _error(
            503,
            fault.value,
            FAULT_MESSAGES[fault],
            {"Retry-After": "1"},
            retryable=True,
            requestId=request_id,
        )
    return _error(503, fault.value, FAULT_MESSAGES[fault], requestId=request_id)


# A cross-site form can post multipart/form-data without a preflight; tokens travel only in
# the Authorization header, which such a form cannot set, so a multipart GraphQL request
# (an import upload) must carry one.
multipart_needs_token = _error(401, "UNAUTHENTICATED", "a multipart request needs a bearer token")

# The one answer to every kind of bad token: nothing about which check failed.
unauthorized = _error(
    401,
    "UNAUTHENTICATED",
    "invalid or expired token",
    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
)


class _BodyTooLargeError(Exception):
    pass


# Room for a multipart request's operations, map and part headers around the file.
_MULTIPART_OVERHEAD = 64 * 1024


def _carries_import_file(path: str, headers: Headers) -> bool:
    if path.startswith("/imports/"):
        return True
    return path == "/graphql" and headers.get("content-type", "").startswith("multipart/form-data")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: AppRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self.max_bytes = runtime.settings.max_body_bytes
        self.too_large = _error(
            413, "PAYLOAD_TOO_LARGE", f"request body over {self.max_bytes} bytes"
        )
        # Encrypted import files: the streaming upload and multipart GraphQL requests.
        self.max_import_bytes = runtime.settings.import_max_bytes + _MULTIPART_OVERHEAD
        self.import_too_large = _error(
            413,
            "PAYLOAD_TOO_LARGE",
            f"import file over {runtime.settings.import_max_bytes} bytes",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
        state = RequestState(request_id=request_id)
        scope.setdefault("state", {})["renshi"] = state
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                response_headers = MutableHeaders(scope=message)
                response_headers["x-request-id"] = request_id
                tx = state.transaction
                if tx is not None:
                    # The operation has committed by now. Shown to every caller: statement
                    # counts help find N+1 queries from the browser and in tests.
                    response_headers["server-timing"] = (
                        f'db;dur={tx.db_seconds * 1000:.2f};desc="statements={tx.statements}"'
                    )
            await send(message)

        try:
            try:
                await self._handle(scope, receive, send_with_id, headers, state)
            except Exception as exc:
                fault = database_fault(exc)
                if fault is None or responded:
                    raise
                # The database went away around the operation (opening its transaction,
                # committing it) or outside GraphQL: a coded answer, not a bare 500.
                _log.warning("database_fault", fault=fault.value, error=repr(exc))
                await _fault_response(fault, request_id)(send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope["path"]
            _http_seconds(path if path in _ROUTES else "other", scope["method"], status).observe(
                elapsed
            )
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

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, headers: Headers, state: RequestState
    ) -> None:
        path = scope["path"]
        limit, too_large = self.max_bytes, self.too_large
        if _carries_import_file(path, headers):
            limit, too_large = self.max_import_bytes, self.import_too_large
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(send)
            return
        if path == "/graphql" or path.startswith("/imports/"):
            refusal = await self._authenticate(scope, headers, state)
            anonymous = refusal is None and state.principal is None
            if anonymous and path == "/graphql" and _carries_import_file(path, headers):
                refusal = multipart_needs_token
            if refusal is not None:
                await refusal(send)
                return
        if declared is not None and declared.isdigit():
            # The server frames the body by its declared length; nothing more can arrive.
            await self.app(scope, receive, send)
            return
        await self._with_counted_body(scope, receive, send, limit, too_large)

    async def _authenticate(
        self, scope: Scope, headers: Headers, state: RequestState
    ) -> Responder | None:
        """Bearer token to principal, then the rate limit; a responder when refused.

        Only ``/graphql`` takes bearer tokens; the token endpoint authenticates clients itself.
        """
        header = headers.get("authorization")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return unauthorized
            try:
                state.principal = self.runtime.tokens.verify(token.strip())
            except InvalidTokenError:
                return unauthorized
            tenant = str(state.principal.tenant_id)
            structlog.contextvars.bind_contextvars(tenant_id=tenant)
        limiter = self.runtime.limiter
        if state.principal is not None:
            key = f"{tenant}:{state.principal.subject_id.hex}"
        else:
            client = scope.get("client")
            key = f"ip:{client[0] if client else 'unknown'}"
        verdict = await limiter.hit(limiter.per_principal, "api", key)
        if verdict.allowed:
            return None
        return _error(
            429,
            "RATE_LIMITED",
            f"rate limit exceeded; retry in {verdict.retry_after_s} s",
            {"Retry-After": str(verdict.retry_after_s)},
            retryAfter=verdict.retry_after_s,
        )

    async def _with_counted_body(
        self, scope: Scope, receive: Receive, send: Send, limit: int, too_large: Responder
    ) -> None:
        """A body of undeclared length (chunked): refused once it passes the limit."""
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
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
