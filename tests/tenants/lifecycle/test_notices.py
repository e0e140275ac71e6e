"""Erasure notices: what API and worker processes keep of an erased tenant goes at its commit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from uuid import uuid4

import asyncpg
import pytest

from api.runtime import AppRuntime
from domain.dashboards.cache import Snapshot, period_cache
from tenants.lifecycle.deletion import delete_tenant, erase_tenant
from tenants.lifecycle.notices import ERASED_CHANNEL, ErasureListener
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id

WAIT_S = 15.0


class Heard:
    """What a listener was told to forget, in order (``None``: every tenant)."""

    def __init__(self) -> None:
        self.calls: list[TenantID | None] = []

    def __call__(self, tenant: TenantID | None) -> None:
        self.calls.append(tenant)


async def _until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def listener(settings: Settings) -> AsyncIterator[tuple[ErasureListener, Heard]]:
    assert settings.database_url is not None
    heard = Heard()
    found = ErasureListener(
        settings.database_url,
        heard,
        application_name=f"renshi-test-notices-{uuid4().hex[:8]}",
        check_s=0.5,
        retry_s=0.1,
    )
    found.start()
    await asyncio.wait_for(found.listening.wait(), WAIT_S)
    yield found, heard
    await found.stop()


async def _erase(settings: Settings, tenant: TenantID) -> None:
    assert settings.database_admin_url is not None
    await delete_tenant(settings.database_admin_url, tenant)


async def _keep_something(runtime: AppRuntime, tenant: TenantID) -> None:
    """A keyset handle and a kept dashboard result of ``tenant`` in this process."""
    async with tenant_transaction(tenant) as tx:
        await runtime.pii.keysets.handle(tenant, "pii")
        text = await tx.fetchval("SELECT pg_current_snapshot()::text")
        await period_cache.rows(tx, tenant, Snapshot(text, clean=True), "SELECT 1 AS one", [])


async def test_a_committed_erasure_makes_the_running_app_forget_that_tenant_only(
    settings: Settings, runtime: AppRuntime
) -> None:
    # given two tenants with keys and dashboard rows kept in this process
    doomed, other = tenant_id(await create_tenant()), tenant_id(await create_tenant())
    assert runtime.notices is not None
    await asyncio.wait_for(runtime.notices.listening.wait(), WAIT_S)
    for tenant in (doomed, other):
        await _keep_something(runtime, tenant)
    assert {doomed, other} <= runtime.pii.keysets.cached_tenants()
    assert {doomed, other} <= period_cache.tenants()

    # when another connection erases one of them (nothing tells this process but the notice)
    await _erase(settings, doomed)

    # then this process forgets that tenant, and keeps the other's
    await _until(
        "the erased tenant forgotten",
        lambda: (
            doomed not in runtime.pii.keysets.cached_tenants()
            and doomed not in period_cache.tenants()
        ),
    )
    assert other in runtime.pii.keysets.cached_tenants()
    assert other in period_cache.tenants()


async def test_a_rolled_back_erasure_is_not_announced(
    settings: Settings,
    listener: tuple[ErasureListener, Heard],
    superuser: asyncpg.Connection,
) -> None:
    _, heard = listener
    kept, erased = tenant_id(await create_tenant()), tenant_id(await create_tenant())
    assert settings.database_admin_url is not None
    owner = await asyncpg.connect(settings.database_admin_url)
    try:
        # when one erasure rolls back and a later one commits
        transaction = owner.transaction()
        await transaction.start()
        await erase_tenant(owner, kept)
        await transaction.rollback()
    finally:
        await owner.close()
    await _erase(settings, erased)

    # then only the committed one was heard (notices arrive in commit order)
    await _until("the committed erasure", lambda: erased in heard.calls)
    assert heard.calls == [None, erased]
    assert await superuser.fetchval("SELECT count(*) FROM tenants WHERE id = $1", kept) == 1


async def test_an_unreadable_notice_is_ignored(
    settings: Settings,
    listener: tuple[ErasureListener, Heard],
    superuser: asyncpg.Connection,
) -> None:
    _, heard = listener
    erased = tenant_id(await create_tenant())

    await superuser.execute("SELECT pg_notify($1, 'not a tenant id')", ERASED_CHANNEL)
    await _erase(settings, erased)

    await _until("the erasure after the bad notice", lambda: erased in heard.calls)
    assert heard.calls == [None, erased]


async def test_a_lost_connection_is_made_again_and_everything_kept_is_forgotten(
    settings: Settings,
    listener: tuple[ErasureListener, Heard],
    superuser: asyncpg.Connection,
) -> None:
    found, heard = listener
    erased = tenant_id(await create_tenant())
    assert found.sessions == 1

    # when the listening backend is terminated (a server restart, a failover)
    terminated = await superuser.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        found.application_name,
    )
    assert terminated == 1

    # then it listens again, forgetting every tenant (a notice may have been missed), and
    # hears the next erasure
    await _until("listening again", lambda: found.sessions == 2 and found.listening.is_set())
    await _erase(settings, erased)
    await _until("the erasure after reconnecting", lambda: erased in heard.calls)
    assert heard.calls == [None, None, erased]


async def test_a_server_that_cannot_be_reached_is_tried_less_and_less_often() -> None:
    # given a listener pointed at a port nothing listens on, retrying after 10 ms at first
    heard = Heard()
    found = ErasureListener("postgresql://nobody@127.0.0.1:1/nothing", heard, retry_s=0.01)

    # when it has tried for 0.6 s
    found.start()
    await asyncio.sleep(0.6)
    await found.stop()

    # then the pauses doubled (0.01 + 0.02 + ... reach 0.6 s by the 7th attempt; at a fixed
    # pause it would have tried about 60 times) and nothing was forgotten
    assert 3 <= found.attempts <= 8
    assert (found.sessions, heard.calls) == (0, [])
