"""Operational endpoints: liveness, readiness, Prometheus metrics and the JWKS."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise import connections

from api.runtime import AppRuntime

_CHECK_TIMEOUT_S = 2.0


async def _database_ready() -> None:
    client = connections.get("default")
    await asyncio.wait_for(client.execute_query("SELECT 1"), _CHECK_TIMEOUT_S)


async def _broker_ready(runtime: AppRuntime) -> None:
    if runtime.jobs is None:
        raise RuntimeError("job runtime not started")
    await asyncio.wait_for(asyncio.to_thread(runtime.jobs.ping), _CHECK_TIMEOUT_S)


def health_endpoints(runtime: AppRuntime) -> dict[str, Any]:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks: dict[str, str] = {}
        for name, check in (("database", _database_ready()), ("broker", _broker_ready(runtime))):
            try:
                await check
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"unavailable: {type(exc).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def jwks(request: Request) -> Response:
        return JSONResponse(runtime.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return {
        "/healthz": healthz,
        "/readyz": readyz,
        "/metrics": metrics,
        "/.well-known/jwks.json": jwks,
    }
