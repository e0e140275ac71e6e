"""Kept period rows of the R&D dashboard: reused only while exact, per tenant, per process.

Every write below goes through the tables' own triggers (migration 0015), whichever way it
is made: the factories' services, or plain SQL as an import or an ERP sync would write.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from typing import Any, cast

import pytest
from starlette.applications import Starlette

from domain.dashboards.cache import Snapshot, period_cache
from domain.dashboards.rd import RdReading
from domain.dashboards.scope import Audience, DashboardFilter
from domain.people.service import EVERYONE
from tenants.scope import TenantID, TenantTransaction, require_tenant, tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_dashboards_rd import RdWorld, at, other_tenant_work, rd_world, requirement
from tests.factories_records import set_skill

Q1 = DashboardFilter(starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
ADMIN = Audience(visibility=EVERYONE, sees_small_groups=True)


@pytest.fixture
async def world(app: Starlette) -> RdWorld:
    return await rd_world()


def _payments(world: RdWorld) -> DashboardFilter:
    return replace(Q1, org_unit_id=world.payments.id)


async def _requested(world: RdWorld, flt: DashboardFilter) -> tuple[int, int]:
    """The funnel's requests and the statements its reading ran (tuning included)."""
    tid = tenant_id(world.tenant)
    async with tenant_transaction(tid):
        tx = require_tenant(tid)
        before = tx.statements
        funnel = await RdReading(tid, flt, ADMIN).funnel()
        assert funnel.requested is not None
        return funnel.requested, tx.statements - before


async def _fresh(world: RdWorld, flt: DashboardFilter) -> int:
    with period_cache.disabled():
        requested, _ = await _requested(world, flt)
    return requested


async def _sql(world: RdWorld, statement: str, *args: Any) -> None:
    tid = tenant_id(world.tenant)
    async with tenant_transaction(tid):
        await require_tenant(tid).execute(statement, tid, *args)


async def test_a_second_reading_reuses_the_rows_after_one_check(world: RdWorld) -> None:
    flt = _payments(world)
    # R1, R2, R4 (answered by Ada) and R6 of Q1 have somebody of Payments behind them
    assert await _requested(world, flt) == (4, 2)  # the tuning, the period statement
    assert (period_cache.hits, period_cache.misses, len(period_cache)) == (0, 1, 1)
    assert await _requested(world, flt) == (4, 2)  # the tuning, the check
    assert (period_cache.hits, period_cache.misses) == (1, 1)
    # another filter is another result
    assert await _requested(world, replace(flt, org_unit_id=world.search.id)) == (2, 2)
    assert (period_cache.hits, period_cache.misses, len(period_cache)) == (1, 2, 2)


async def _new_requirement(world: RdWorld) -> None:
    await requirement(world.tenant, [world.cy], requested=at(3, 20))


async def _assignees_removed(world: RdWorld) -> None:
    await _sql(
        world,
        "DELETE FROM work_item_assignees WHERE tenant_id = $1 AND work_item_id = $2",
        world.items["R4"].id,
    )


async def _di_moved_to_payments(world: RdWorld) -> None:
    await _sql(
        world,
        "UPDATE employees SET org_unit_id = $2 WHERE tenant_id = $1 AND id = $3",
        world.payments.id,
        world.di.id,
    )


async def _unit_renamed(world: RdWorld) -> None:
    await _sql(
        world, "UPDATE org_units SET name = 'Billing' WHERE tenant_id = $1 AND id = $2",
        world.payments.id,
    )  # fmt: skip


async def _di_learns_go(world: RdWorld) -> None:
    await set_skill(world.tenant, world.di, world.go, 2)


Write = Callable[[RdWorld], Awaitable[None]]


@pytest.mark.parametrize(
    ("write", "scope", "after"),
    [
        (_new_requirement, "payments", 5),  # work_items and work_item_assignees
        (_assignees_removed, "search", 1),  # R4 was Search's through Ed only: R3 is left
        (_di_moved_to_payments, "payments", 5),  # employees: R3 is Di's
        (_unit_renamed, "payments", 4),  # org_units: same figures, read again all the same
        (_di_learns_go, "go", 4),  # employee_skills: Cy, Ed, Zed, then Di: R2, R4, R8, R3
    ],
)
async def test_each_write_of_what_the_statement_reads_makes_the_next_reading_fresh(
    world: RdWorld, write: Write, scope: str, after: int
) -> None:
    flt = {
        "payments": _payments(world),
        "search": replace(Q1, org_unit_id=world.search.id),
        "go": replace(Q1, skill_id=world.go.id),
    }[scope]
    before = await _fresh(world, flt)
    assert (await _requested(world, flt))[0] == before
    assert (await _requested(world, flt))[0] == before
    assert period_cache.hits == 1
    await write(world)
    assert (await _requested(world, flt)) == (after, 3)  # the tuning, the check, the statement
    assert (period_cache.hits, period_cache.misses) == (1, 2)
    assert after == await _fresh(world, flt)
    # and the fresh rows are kept in turn
    assert (await _requested(world, flt)) == (after, 2)
    assert period_cache.hits == 2


async def test_a_transaction_that_wrote_sees_its_writes_and_keeps_nothing(world: RdWorld) -> None:
    flt = _payments(world)
    assert (await _requested(world, flt))[0] == 4
    tid = tenant_id(world.tenant)

    class RolledBackError(Exception):
        pass

    async def write_read_and_roll_back() -> None:
        async with tenant_transaction(tid) as tx:
            await tx.execute(
                "UPDATE employees SET org_unit_id = $2 WHERE tenant_id = $1 AND id = $3",
                tid, world.payments.id, world.di.id,
            )  # fmt: skip
            assert (await RdReading(tid, flt, ADMIN).funnel()).requested == 5  # R3, Di's
            raise RolledBackError

    with pytest.raises(RolledBackError):
        await write_read_and_roll_back()
    # neither what it read nor the rows kept before it (no longer good for it) are kept
    assert len(period_cache) == 0
    assert await _requested(world, flt) == (4, 2)
    assert (period_cache.hits, period_cache.misses) == (0, 3)


async def test_a_write_committed_between_the_snapshot_and_the_statement_is_not_reused(
    world: RdWorld,
) -> None:
    flt = _payments(world)
    tid = tenant_id(world.tenant)
    async with tenant_transaction(tid):
        reading = RdReading(tid, flt, ADMIN)
        await reading.scorecard_distribution()  # the tuning: its snapshot is taken
        # another request's transaction commits meanwhile (its own context and connection)
        await asyncio.create_task(_di_moved_to_payments(world), context=contextvars.Context())
        assert (await reading.funnel()).requested == 5  # read committed: seen, and kept
    # kept under the older snapshot, which did not see the move: checked, read again
    assert await _requested(world, flt) == (5, 3)
    assert (period_cache.hits, period_cache.misses) == (0, 2)
    assert await _requested(world, flt) == (5, 2)


async def test_another_tenant_s_writes_keep_this_tenant_s_rows(world: RdWorld) -> None:
    flt = _payments(world)
    assert (await _requested(world, flt))[0] == 4
    await other_tenant_work()  # every kind of write, in another tenant
    assert await _requested(world, flt) == (4, 2)
    assert period_cache.hits == 1
    # and this tenant's notes are its own: the other tenant sees none of them
    other = await rd_world()
    oid = tenant_id(other.tenant)
    async with tenant_transaction(oid):
        tenants = await require_tenant(oid).fetch("SELECT DISTINCT tenant_id FROM work_data_writes")
    assert [row["tenant_id"] for row in tenants] == [oid]


async def test_pruning_drops_the_notes_of_ended_transactions_only(world: RdWorld) -> None:
    tid = tenant_id(world.tenant)
    async with tenant_transaction(tid) as tx:
        noted = await tx.fetchval("SELECT count(*) FROM work_data_writes WHERE tenant_id = $1", tid)
        await tx.execute("SELECT work_data_prune($1)", tid)
        below = await tx.fetchval("SELECT below FROM work_data_horizons WHERE tenant_id = $1", tid)
        running = await tx.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
        kept = await tx.fetch("SELECT txid FROM work_data_writes WHERE tenant_id = $1", tid)
    assert noted > 0
    # the horizon is the oldest transaction still running (other tests' jobs may be)
    assert below == running
    assert all(row["txid"] >= below for row in kept)
    assert len(kept) < noted


async def test_a_horizon_past_the_kept_rows_snapshot_retires_them(world: RdWorld) -> None:
    flt = _payments(world)
    assert (await _requested(world, flt))[0] == 4
    # as a prune would once every transaction running at the snapshot has ended: past
    # this very transaction, so past any snapshot taken before it
    await _sql(
        world,
        "INSERT INTO work_data_horizons (tenant_id, below) "
        "VALUES ($1, (pg_current_xact_id()::text::numeric + 1)::text::xid8) "
        # a write of the world may have pruned already (one transaction in 512 does)
        "ON CONFLICT (tenant_id) DO UPDATE SET below = EXCLUDED.below",
    )
    # nothing the statement reads changed, but pruned notes could hide a write: read again
    assert await _requested(world, flt) == (4, 3)
    assert (period_cache.hits, period_cache.misses) == (0, 2)
    await _sql(world, "DELETE FROM work_data_horizons WHERE tenant_id = $1")
    assert await _requested(world, flt) == (4, 2)
    assert period_cache.hits == 1


async def test_a_process_keeps_as_many_results_as_it_is_told(world: RdWorld) -> None:
    entries = period_cache.entries
    try:
        period_cache.resize(1)
        await _requested(world, _payments(world))
        await _requested(world, replace(Q1, org_unit_id=world.search.id))
        assert len(period_cache) == 1
        assert await _requested(world, _payments(world)) == (4, 2)  # gone: read again
        assert period_cache.hits == 0
        period_cache.resize(0)
        assert len(period_cache) == 0
        assert await _requested(world, _payments(world)) == (4, 2)
        assert await _requested(world, _payments(world)) == (4, 2)
        assert (period_cache.hits, len(period_cache)) == (0, 0)
    finally:
        period_cache.resize(entries)


async def test_forgetting_a_tenant_drops_its_rows_only(world: RdWorld) -> None:
    # given rows kept for two tenants
    tid, other = tenant_id(world.tenant), tenant_id(await create_tenant())
    await _requested(world, _payments(world))
    async with tenant_transaction(other) as tx:
        text = await tx.fetchval("SELECT pg_current_snapshot()::text")
        await period_cache.rows(tx, other, Snapshot(text, clean=True), "SELECT 1 AS one", [])
    assert period_cache.tenants() == {tid, other}

    # when the first is forgotten (its erasure's notice), then every tenant
    period_cache.forget(tid)

    # then its rows are read again, the other's stay until everything is forgotten
    assert period_cache.tenants() == {other}
    misses = period_cache.misses
    assert (await _requested(world, _payments(world)))[0] == 4
    assert period_cache.misses == misses + 1
    period_cache.forget(None)
    assert period_cache.tenants() == set()


class _Interrupted:
    """A tenant transaction that runs ``meanwhile`` before its next statement: what another
    request or an erasure notice does while this reading awaits the database."""

    def __init__(self, tx: TenantTransaction, meanwhile: Callable[[], None]) -> None:
        self._tx = tx
        self._meanwhile = meanwhile

    async def fetchval(self, query: str, *args: Any) -> Any:
        self._meanwhile()
        return await self._tx.fetchval(query, *args)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self._meanwhile()
        return await self._tx.fetch(query, *args)


async def _read_one(tid: TenantID, meanwhile: Callable[[], None]) -> list[Any]:
    async with tenant_transaction(tid) as tx:
        text = await tx.fetchval("SELECT pg_current_snapshot()::text")
        interrupted = cast("TenantTransaction", _Interrupted(tx, meanwhile))
        return await period_cache.rows(
            interrupted, tid, Snapshot(text, clean=True), "SELECT 1 AS one", []
        )


async def test_rows_read_while_their_tenant_is_forgotten_are_not_kept(world: RdWorld) -> None:
    tid = tenant_id(world.tenant)

    # when the tenant's erasure notice arrives while its statement runs
    rows = await _read_one(tid, lambda: period_cache.forget(tid))

    # then the request is answered, and what it read is not kept
    assert [dict(row) for row in rows] == [{"one": 1}]
    assert period_cache.tenants() == set()


async def test_a_kept_result_dropped_while_it_is_checked_is_still_answered(
    world: RdWorld,
) -> None:
    # given a kept result
    tid = tenant_id(world.tenant)
    await _read_one(tid, lambda: None)
    assert period_cache.tenants() == {tid}

    # when it is dropped (pushed out, forgotten) while its check is under way
    rows = await _read_one(tid, lambda: period_cache.forget(None))

    # then the checked rows answer, and nothing is kept again
    assert [dict(row) for row in rows] == [{"one": 1}]
    assert period_cache.hits == 1
    assert period_cache.tenants() == set()
