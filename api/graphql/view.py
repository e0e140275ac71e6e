"""The ``/graphql`` endpoint: one tenant transaction per operation, opened by the edge.

For an authenticated caller the view opens the tenant transaction, reloads the caller
(deactivated or removed users and revoked clients get 401 here), runs the operation inside
it, and commits before the response is written; an unexpected error rolls everything back.
Operations made only of ``login``, ``refreshToken`` and ``logout`` run their own short
transactions instead, for whichever tenant their credentials name.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
import structlog
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from api.graphql.context import RequestContext
from api.graphql.edge import (
    MUTATION,
    OPERATION_SECONDS,
    EdgePolicy,
    OperationShape,
    is_expected,
    masked,
    metric_name,
)
from api.http import request_state, unauthorized
from api.runtime import AppRuntime
from domain.audit.service import AuditActor, acting_as
from tenants.identity.service import Actor, NotAuthenticatedError
from tenants.identity.tokens import InvalidTokenError
from tenants.scope import tenant_transaction

# Root fields that open their own transactions for the tenant their credentials name.
SELF_SCOPED_FIELDS = frozenset({"login", "refreshToken", "logout"})


_POST_OPERATIONS = OperationType.from_http("POST")


def audit_actor(actor: Actor, request_id: str) -> AuditActor:
    """Who the audit log names for changes this operation makes."""
    principal = actor.principal
    if actor.user is not None:
        return AuditActor(
            kind="user", id=actor.user.id, label=actor.user.email, request_id=request_id
        )
    return AuditActor(
        kind="client", id=principal.subject_id, label=principal.client_id, request_id=request_id
    )


class _NotAuthenticatedError(Exception):
    pass


class _RollBack(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, result: ExecutionResult) -> None:
        self.result = result


def _is_plain_json_post(request: Any) -> bool:
    if not isinstance(request, Request) or request.method != "POST":
        return False
    headers = request.headers
    content_type = headers.get("content-type", "")
    accept = headers.get("accept", "")
    # Streaming transports (multipart/mixed, server-sent events) take strawberry's path.
    return content_type.split(";", 1)[0].strip().lower() == "application/json" and (
        "multipart/mixed" not in accept and "text/event-stream" not in accept
    )


def _request_data(data: dict[str, Any]) -> GraphQLRequestData:
    # The same checks, and messages, as strawberry's own body parsing.
    query = data.get("query")
    if not isinstance(query, (str, type(None))):
        raise HTTPException(
            400, "The GraphQL operation's `query` must be a string or null, if provided."
        )
    variables = data.get("variables")
    if not isinstance(variables, (dict, type(None))):
        raise HTTPException(
            400, "The GraphQL operation's `variables` must be an object or null, if provided."
        )
    extensions = data.get("extensions")
    if not isinstance(extensions, (dict, type(None))):
        raise HTTPException(
            400, "The GraphQL operation's `extensions` must be an object or null, if provided."
        )
    return GraphQLRequestData(
        query=query,
        variables=variables,
        operation_name=data.get("operationName"),
        extensions=extensions,
        protocol="http",
    )


class TextFrames(ASGIWebSocketAdapter):
    """Sends subscription messages as text frames, as graphql-transport-ws requires (clients
    such as gql's refuse binary ones); the view's ``encode_json`` gives bytes, which the
    adapter it replaces sent as binary frames."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLView(GraphQL[RequestContext, None]):
    websocket_adapter_class = TextFrames

    def __init__(self, schema: Any, runtime: AppRuntime) -> None:
        settings = runtime.settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,
            # Import files come as multipart GraphQL requests (large ones over plain HTTP).
            multipart_uploads_enabled=True,
        )
        self.runtime = runtime
        self.policy: EdgePolicy = schema.policy

    def is_request_allowed(self, request: BaseRequestProtocol) -> bool:
        # GraphiQL is served over GET when enabled; operations only ever over POST.
        if request.method == "GET":
            return self.graphql_ide is not None
        return request.method == "POST"

    async def _run_json_post(self, request: Request) -> Response:
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, "Unable to parse request body as JSON") from exc
        if isinstance(data, list):
            raise HTTPException(400, "Batching is not enabled")
        if not isinstance(data, dict):
            raise HTTPException(400, "Unable to parse request body as JSON")
        request_data = _request_data(data)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        run = functools.partial(self._execute_post, request_data, context)
        result = await self._observed(run, context, request, request_data)
        response_data = await self.process_result(request, result)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # Subscriptions (graphql-transport-ws): the bearer token comes with
            # connection_init, each event reads in a short tenant transaction of its own.
            await self.run(WebSocket(scope, receive=receive, send=send))
            return
        if scope["type"] != "http":
            not_found: Response = JSONResponse(
                {"errors": [{"message": "not found"}]}, status_code=404
            )
            await not_found(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        try:
            # Plain JSON POSTs take a short path that does what strawberry's view does for
            # them (the same checks, messages and result format) without its content
            # negotiation, which on a small operation costs as much as running it.
            if _is_plain_json_post(request):
                response = await self._run_json_post(request)
            else:
                response = await self.run(request)
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        except _NotAuthenticatedError:
            await unauthorized(send)
            return
        await response(scope, receive, send)

    async def on_ws_connect(self, context: RequestContext) -> dict[str, object] | None:
        """Authenticate a WebSocket from its connection_init payload's ``authorization``."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        scheme, _, token = str(header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ConnectionRejectionError({"message": "a bearer token is required"})
        try:
            principal = self.runtime.tokens.verify(token.strip())
        except InvalidTokenError:
            raise ConnectionRejectionError({"message": "invalid or expired token"}) from None
        try:
            async with tenant_transaction(principal.tenant_id):
                context.actor = await self.runtime.identity.authenticate(principal)
        except NotAuthenticatedError:
            raise ConnectionRejectionError({"message": "invalid or expired token"}) from None
        context.principal = principal
        return None

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        if request.scope["type"] == "websocket":
            return RequestContext(
                request=request,
                response=response,
                runtime=self.runtime,
                principal=None,
                request_id=secrets.token_hex(16),
            )
        state = request_state(request.scope)
        return RequestContext(
            request=request,
            response=response,
            runtime=self.runtime,
            principal=state.principal,
            request_id=state.request_id,
        )

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        run = functools.partial(
            super().execute_single,
            request,
            request_adapter,
            sub_response,
            context,
            root_value,
            request_data,
        )
        return await self._observed(run, context, request, request_data)

    async def _execute_post(
        self, request_data: GraphQLRequestData, context: RequestContext
    ) -> ExecutionResult:
        # What strawberry's execute_single does for a POST, without building a request
        # adapter to learn the method it already knows.
        try:
            return await self.schema.execute(
                request_data.query,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=request_data.extensions,
            )
        except CannotGetOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason()) from exc
        except InvalidOperationTypeError as exc:
            raise HTTPException(400, exc.as_http_error_reason("POST")) from exc
        except MissingQueryError as exc:
            raise HTTPException(400, "No GraphQL query found in the request") from exc

    async def _observed(
        self,
        run: Callable[[], Awaitable[ExecutionResult]],
        context: RequestContext,
        request: Request,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Run the operation in its tenant scope, timed, named in the logs, errors masked."""
        shape = self.policy.shape(request_data.query or "", request_data.operation_name)
        kind = shape.kind if shape is not None else "unknown"
        name = shape.name if shape is not None else None
        state = request_state(request.scope)
        state.operation = name or f"<{kind}>"
        structlog.contextvars.bind_contextvars(operation=state.operation)
        with OPERATION_SECONDS.labels(kind, metric_name(name)).time():
            result = await self._execute_in_scope(run, context, request, shape)
        if result.errors:
            result.errors = masked(result.errors, context.request_id)
        return result

    async def _execute_in_scope(
        self,
        run: Callable[[], Awaitable[ExecutionResult]],
        context: RequestContext,
        request: Request,
        shape: OperationShape | None,
    ) -> ExecutionResult:
        principal = context.principal
        self_scoped = (
            shape is not None
            and shape.kind == MUTATION
            and shape.roots is not None
            and shape.roots <= SELF_SCOPED_FIELDS
        )
        if principal is None or self_scoped:
            return await run()
        state = request_state(request.scope)
        try:
            async with tenant_transaction(
                principal.tenant_id, statement_timeout_ms=self.runtime.settings.statement_timeout_ms
            ) as tx:
                state.transaction = tx
                try:
                    context.actor = actor = await self.runtime.identity.authenticate(principal)
                except NotAuthenticatedError:
                    raise _NotAuthenticatedError from None
                with acting_as(audit_actor(actor, context.request_id)):
                    result = await run()
                if result.errors and not all(is_expected(e) for e in result.errors):
                    raise _RollBack(result)
                return result
        except _RollBack as rollback:
            return rollback.result
