"""A pathological query meets the statement timeout: a clean error, a healthy pool after.

A search whose text makes every row cost time proportional to the name's length times the
search's (``LIKE '%aaa…ab%'`` against names of a's) runs for seconds over a tenant of twenty
thousand people; the operation's statement timeout is a few hundred milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from typing import Any

import httpx

from tests.support.private_postgres import PrivatePostgres, serve_with_tenants, server_environment

TIMEOUT_MS = 300
POOL_SIZE = 3
PEOPLE = 20_000
SLOW_SEARCH = "a" * 150 + "b"

SEARCH = """query($search: String) {
  employees(first: 5, filter: {search: $search}) { edges { node { employeeNumber } } } }"""


async def _search(
    client: httpx.AsyncClient, token: str, search: str | None
) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        "/graphql",
        json={"query": SEARCH, "variables": {"search": search}},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.headers.get("content-type", "").startswith("application/json"), (
        response.status_code,
        response.text[:300],
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def _many_people(postgres: PrivatePostgres, slug: str, count: int) -> None:
    """``count`` people in tenant ``slug``, named with long runs of one letter (straight into
    the table: made through the API they would take minutes)."""
    conn = await postgres.superuser()
    try:
        await conn.execute(
            "INSERT INTO employees (id, tenant_id, employee_number, name, status, custom_fields,"
            " created_at, updated_at)"
            " SELECT gen_random_uuid(), t.id, 'bulk-' || g, repeat('a', 190) || g, 'active',"
            " '{}', now(), now()"
            " FROM tenants t CROSS JOIN generate_series(1, $2) g WHERE t.slug = $1",
            slug,
            count,
        )
        await conn.execute("ANALYZE employees")
    finally:
        await conn.close()


async def _pool_sessions(postgres: PrivatePostgres) -> list[str]:
    """The states of the API's database sessions (its pool's connections)."""
    conn = await postgres.superuser()
    try:
        rows = await conn.fetch(
            "SELECT state FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'renshi'"
        )
    finally:
        await conn.close()
    return sorted(str(r["state"]) for r in rows)


async def test_a_pathological_query_stops_at_the_timeout_and_its_connection_returns(
    postgres: PrivatePostgres,
) -> None:
    environment = server_environment(
        postgres, RENSHI_DB_POOL=str(POOL_SIZE), RENSHI_STATEMENT_TIMEOUT_MS=str(TIMEOUT_MS)
    )
    suffix = secrets.token_hex(3)
    slow_tenant, other_tenant = f"timeout-a-{suffix}", f"timeout-b-{suffix}"
    async with contextlib.AsyncExitStack() as stack:
        # given a tenant with many people, another with none, and a server with a small pool
        api, (token, other_token) = await serve_with_tenants(
            stack, environment, postgres.home / f"serve-{suffix}.log", slow_tenant, other_tenant
        )
        await _many_people(postgres, slow_tenant, PEOPLE)
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=api.base_url, timeout=30)
        )
        warm = [await _search(client, token, None) for _ in range(POOL_SIZE)]
        assert all(status == 200 and not body.get("errors") for status, body in warm), warm

        # when more pathological searches than the pool has connections run at once
        slow = await asyncio.gather(
            *(_search(client, token, SLOW_SEARCH) for _ in range(2 * POOL_SIZE))
        )

        # then each ends in a clean, coded error that shows nothing of the query
        for status, body in slow:
            assert status == 200, body
            assert body["data"] is None, body
            [error] = body["errors"]
            assert error["extensions"]["code"] == "STATEMENT_TIMEOUT", (error, api.tail())
            assert "retryable" not in error["extensions"]
            for leak in ("SELECT", "employees", SLOW_SEARCH[:20].upper(), "canceling"):
                assert leak not in error["message"], error["message"]

        # and every connection went back to the pool, out of its transaction
        sessions = await _pool_sessions(postgres)
        assert 1 <= len(sessions) <= POOL_SIZE, sessions
        assert set(sessions) == {"idle"}, sessions

        # and the next requests, more at once than the pool holds, succeed in both tenants
        after = await asyncio.gather(
            *(_search(client, t, None) for t in (token, other_token) for _ in range(3 * POOL_SIZE))
        )
        for status, body in after:
            assert status == 200, body
            assert not body.get("errors"), body
        found = [len(body["data"]["employees"]["edges"]) for _, body in after]
        assert found == [5] * (3 * POOL_SIZE) + [0] * (3 * POOL_SIZE)
        assert set(await _pool_sessions(postgres)) == {"idle"}
