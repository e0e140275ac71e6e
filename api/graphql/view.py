"""The ``/graphql`` endpoint: one tenant transaction per operation, opened by the edge.

For an authenticated caller the view opens the tenant transaction, reloads the caller
(deactivated or removed users and revoked clients get 401 here), runs the operation inside
it, and commits before the response is written; an unexpected error rolls everything back.
Operations made only of ``login``, ``refreshToken`` and ``logout`` run their own short
transactions instead, for whichever tenant their credentials name.
"""

from __future__ import annotations

import functools
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.relay.types import GlobalIDValueError
from strawberry.types import ExecutionResult

from api.graphql.context import RequestContext
from api.graphql.errors import ClientError
from api.http import request_state, unauthorized
from api.runtime import AppRuntime
from tenants.identity.service import NotAuthenticatedError
from tenants.scope import tenant_transaction

# Root fields that open their own transactions for the tenant their credentials name.
SELF_SCOPED_FIELDS = frozenset({"login", "refreshToken", "logout"})


class _NotAuthenticatedError(Exception):
    pass


class _RollBack(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, result: ExecutionResult) -> None:
        self.result = result


def is_expected(error: GraphQLError) -> bool:
    """Errors the caller may read: syntax and validation errors, refusals, bad input."""
    original = error.original_error
    return original is None or isinstance(original, (ClientError, GraphQLError, GlobalIDValueError))


@functools.lru_cache(maxsize=512)
def _root_fields(query: str, operation_name: str | None, max_tokens: int) -> frozenset[str] | None:
    """Root field names of the operation that will run, or None when that is unclear."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLSyntaxError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name is not None and o.name.value == operation_name
        ]
    if len(operations) != 1:
        return None
    operation = operations[0]
    if operation.operation != OperationType.MUTATION:
        return None
    names = set()
    for selection in operation.selection_set.selections:
        name = getattr(selection, "name", None)
        if name is None:  # a fragment spread at the root: not worth special-casing
            return None
        names.add(name.value)
    return frozenset(names)


class GraphQLView(GraphQL[RequestContext, None]):
    def __init__(self, schema: Any, runtime: AppRuntime) -> None:
        settings = runtime.settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.runtime = runtime

    def is_request_allowed(self, request: BaseRequestProtocol) -> bool:
        # GraphiQL is served over GET when enabled; operations only ever over POST.
        if request.method == "GET":
            return self.graphql_ide is not None
        return request.method == "POST"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            response: Response = JSONResponse(
                {"errors": [{"message": "not found"}]}, status_code=404
            )
            await response(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except _NotAuthenticatedError:
            await unauthorized(send)

    async def get_context(self, request: Any, response: Any) -> RequestContext:
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
        principal = context.principal
        run = functools.partial(
            super().execute_single,
            request,
            request_adapter,
            sub_response,
            context,
            root_value,
            request_data,
        )
        roots = _root_fields(
            request_data.query or "", request_data.operation_name, self.runtime.settings.max_tokens
        )
        if principal is None or (roots is not None and roots <= SELF_SCOPED_FIELDS):
            return await run()
        state = request_state(request.scope)
        try:
            async with tenant_transaction(
                principal.tenant_id, statement_timeout_ms=self.runtime.settings.statement_timeout_ms
            ) as tx:
                state.transaction = tx
                try:
                    context.actor = await self.runtime.identity.authenticate(principal)
                except NotAuthenticatedError:
                    raise _NotAuthenticatedError from None
                result = await run()
                if result.errors and not all(is_expected(e) for e in result.errors):
                    raise _RollBack(result)
                return result
        except _RollBack as rollback:
            return rollback.result
