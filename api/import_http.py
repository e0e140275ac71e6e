"""Imports over plain HTTP: the streaming upload of large encrypted files and the error
report download.

``PUT /imports/{id}/content`` takes the ciphertext as the raw body (any length up to
``RENSHI_IMPORT_MAX_BYTES``, chunked transfer encoding welcome) and stores it chunk by chunk,
each chunk committed on its own, so a 2 GB file never sits in memory or in one transaction.
``GET /imports/{id}/errors.csv`` streams the latest run's rows in error. Both take the same
bearer tokens as ``/graphql`` and the same authorization rows as the GraphQL operations they
stand beside (``Mutation.createImport``, ``Query.imports``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.http import request_state
from api.runtime import AppRuntime
from domain.imports.reports import ERRORS_PART, report_chunks
from domain.imports.service import UploadTooLargeError, import_service
from tenants.authorization import Principal
from tenants.errors import ServiceError
from tenants.identity.service import Actor, NotAuthenticatedError
from tenants.scope import tenant_transaction

Endpoint = Callable[[Request], Awaitable[Response]]
UPLOAD_OPERATION = "Mutation.createImport"
DOWNLOAD_OPERATION = "Query.imports"


def _problem(status: int, code: str, message: str, message_zh: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, "messageZh": message_zh}}]},
        status_code=status,
    )


def _caller(
    runtime: AppRuntime, request: Request, operation: str
) -> tuple[Principal, UUID] | JSONResponse:
    """The caller and the import the path names, or the answer that refuses the request."""
    principal = request_state(request.scope).principal
    if principal is None:
        return _problem(401, "UNAUTHENTICATED", "a bearer token is required", "需要访问令牌")
    if not runtime.matrix.decide(operation, principal).allowed:
        return _problem(403, "FORBIDDEN", "you are not allowed to do this", "您无权执行此操作")
    try:
        return principal, UUID(request.path_params["import_id"])
    except ValueError:
        return _problem(404, "NOT_FOUND", "import not found", "未找到导入")


def _from_service(exc: ServiceError) -> JSONResponse:
    status = {"NOT_FOUND": 404, "CONFLICT": 409}.get(exc.code.value, 400)
    return JSONResponse(
        {
            "errors": [
                {
                    "message": exc.message,
                    "extensions": {
                        "code": exc.code.value,
                        "field": exc.field,
                        "messageZh": exc.message_zh,
                    },
                }
            ]
        },
        status_code=status,
    )


def upload_endpoint(runtime: AppRuntime) -> Endpoint:
    async def upload(request: Request) -> Response:
        caller = _caller(runtime, request, UPLOAD_OPERATION)
        if isinstance(caller, JSONResponse):
            return caller
        principal, import_id = caller
        tenant = principal.tenant_id
        try:
            async with tenant_transaction(tenant):
                await _actor(runtime, principal)
            row = await import_service.receive(
                tenant, import_id, request.stream(), limit=runtime.settings.import_max_bytes
            )
        except NotAuthenticatedError:
            return _problem(401, "UNAUTHENTICATED", "invalid or expired token", "令牌无效或已过期")
        except ServiceError as exc:
            return _from_service(exc)
        except UploadTooLargeError as exc:
            return _problem(
                413,
                "PAYLOAD_TOO_LARGE",
                f"the file is larger than the limit of {exc.limit} bytes",
                f"文件超过 {exc.limit} 字节的上限",
            )
        return JSONResponse(
            {
                "id": str(row.id),
                "status": row.status.value.upper(),
                "byteSize": row.byte_size,
                "sha256": row.sha256,
                "chunks": row.chunk_count,
            }
        )

    return upload


def errors_endpoint(runtime: AppRuntime) -> Endpoint:
    async def download(request: Request) -> Response:
        caller = _caller(runtime, request, DOWNLOAD_OPERATION)
        if isinstance(caller, JSONResponse):
            return caller
        principal, import_id = caller
        tenant = principal.tenant_id
        try:
            async with tenant_transaction(tenant):
                await _actor(runtime, principal)
                await import_service.get(tenant, import_id)
        except NotAuthenticatedError:
            return _problem(401, "UNAUTHENTICATED", "invalid or expired token", "令牌无效或已过期")
        except ServiceError as exc:
            return _from_service(exc)

        async def body() -> AsyncIterator[bytes]:
            async for piece in report_chunks(tenant, import_id, ERRORS_PART):
                yield piece

        return StreamingResponse(
            body(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'
            },
        )

    return download


async def _actor(runtime: AppRuntime, principal: Principal) -> Actor:
    return await runtime.identity.authenticate(principal)
