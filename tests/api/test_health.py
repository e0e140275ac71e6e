"""Liveness, readiness, metrics and the access log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import structlog
from dramatiq.brokers.redis import RedisBroker
from structlog.testing import capture_logs

from api.runtime import AppRuntime
from tests.factories import create_tenant, create_user, user_token
from tests.support.graphql import GraphQLClient
from workers.broker import JobRuntime


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


@pytest.fixture
def unreachable_broker(runtime: AppRuntime) -> Iterator[None]:
    original = runtime.jobs
    runtime.jobs = JobRuntime(broker=RedisBroker(url="redis://127.0.0.1:9/0"), actors={})  # type: ignore[no-untyped-call]
    yield
    runtime.jobs = original


@pytest.mark.usefixtures("unreachable_broker")
async def test_readyz_reports_an_unreachable_broker(http: httpx.AsyncClient) -> None:
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable")


async def test_metrics_count_operations_by_name(
    http: httpx.AsyncClient, gql: GraphQLClient, runtime: AppRuntime
) -> None:
    user = await create_user(await create_tenant())
    await gql("query WhoAmI { viewer { kind } }", token=user_token(runtime.tokens, user))
    text = (await http.get("/metrics")).text
    assert (
        'renshi_graphql_operation_duration_seconds_count{operation="WhoAmI",type="query"}' in text
    )
    assert (
        'renshi_http_request_duration_seconds_count{method="POST",route="/graphql",status="200"}'
        in text
    )


async def test_the_access_log_names_request_tenant_operation_and_statements(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    user = await create_user(tenant)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        response = await gql(
            "query WhoAmI { viewer { kind } }", token=user_token(runtime.tokens, user)
        )
    lines = [line for line in logs if line["event"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["tenant_id"] == str(tenant.id)
    assert line["operation"] == "WhoAmI"
    assert line["status"] == 200
    assert line["statements"] == response.statements
