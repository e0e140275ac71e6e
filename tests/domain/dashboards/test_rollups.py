"""The day rollups behind the R&D dashboard's whole-tenant view (migrations 0012 and 0013):
the panels read from them equal the panels computed from the work items, and stay equal
after every kind of write, because the database recomputes the days a write touches (a
deferred load: every day of its tenant, once, at commit); another tenant's rollups are
never touched, and the rollups are under row-level security."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

from domain.dashboards import rd_sql
from domain.dashboards.rd import RdReading
from domain.dashboards.scope import Audience, DashboardFilter, Grouping
from domain.people.models import Employee
from domain.people.service import EVERYONE
from domain.work.models import WorkItem, WorkItemAssignee
from domain.work.service import Assignment, work_items
from tenants.models import Tenant
from tenants.scope import require_tenant, tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id
from tests.factories_dashboards_rd import RdWorld, at, other_tenant_work, rd_world, requirement
from tests.factories_records import create_employee
from tests.factories_work import act

Q1 = DashboardFilter(starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
ADMIN = Audience(visibility=EVERYONE, sees_small_groups=True)
PANELS = ("on_time", "late_by_cause", "complaints", "cycle_time", "escaped_defects", "funnel")
CHANGE_ON = date(2026, 2, 1)
ROLLUP_COLUMNS = (
    "day, role, n, promised, hits, late, late_causes, flagged, cycle_days, people, "
    "due_people, late_people, cycle_people"
)


@pytest.fixture(scope="module")
async def worlds(app: Starlette) -> tuple[RdWorld, Tenant]:
    # given Q1 2026 of an R&D department, and another tenant busy in the same months
    other = await other_tenant_work()
    return await rd_world(), other


async def _dashboard(world: RdWorld, flt: DashboardFilter) -> tuple[Any, ...]:
    """Every panel over the period's work items, and before/after around February 1."""
    tid = tenant_id(world.tenant)
    async with tenant_transaction(tid):
        reading = RdReading(tid, flt, ADMIN)
        panels = [await getattr(reading, panel)() for panel in PANELS]
        return (*panels, await reading.before_after(CHANGE_ON, 45))


async def _from_rollups(world: RdWorld, flt: DashboardFilter) -> tuple[Any, ...]:
    """The dashboard, making sure it was read from the rollups."""
    called: list[str] = []
    period, before_after = rd_sql.period_rollups, rd_sql.before_after_rollups

    def spy_period(*args: Any) -> str:
        called.append("period")
        return period(*args)

    def spy_before_after(*args: Any) -> str:
        called.append("before_after")
        return before_after(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rd_sql, "period_rollups", spy_period)
        patch.setattr(rd_sql, "before_after_rollups", spy_before_after)
        result = await _dashboard(world, flt)
    assert called == ["period", "before_after"]
    return result


async def _from_work_items(world: RdWorld, flt: DashboardFilter, *, general: bool) -> Any:
    """The dashboard from the work items themselves: the fast shape, or the general one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rd_sql, "reads_rollups", lambda flt, audience: False)
        if general:
            patch.setattr(rd_sql, "reaches_everyone", lambda flt, audience: False)
        return await _dashboard(world, flt)


async def _assert_exact(world: RdWorld) -> tuple[Any, ...]:
    """The rollups give what the work items give, by month and by quarter; and each stored
    row is what a recomputation from scratch makes of it. Returns the monthly dashboard."""
    for grouping in (Grouping.MONTH, Grouping.QUARTER):
        flt = replace(Q1, group_by=grouping)
        rolled = await _from_rollups(world, flt)
        assert rolled == await _from_work_items(world, flt, general=False), grouping
        assert rolled == await _from_work_items(world, flt, general=True), grouping
    await _assert_recomputed_alike(world.tenant)
    return await _from_rollups(world, Q1)


async def _assert_recomputed_alike(tenant: Tenant) -> None:
    """Each stored row is what a recomputation from scratch makes of it; a zero row (a day
    whose items are gone) is as good as no row."""
    stored = await _rows(tenant)
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        tx = require_tenant(tid)
        await tx.execute("DELETE FROM work_item_day_rollups WHERE tenant_id = $1", tid)
        await tx.execute(_RECOMPUTE, tid)
    assert _non_zero(await _rows(tenant)) == _non_zero(stored)


# Every (tenant, day, role) the tenant's work items count in, recomputed.
_RECOMPUTE = """
SELECT work_item_rollups_refresh(array_agg(t), array_agg(d), array_agg(r)) FROM (
    SELECT DISTINCT w.tenant_id AS t, (v.at AT TIME ZONE 'UTC')::date AS d, v.role AS r
    FROM work_items w
    CROSS JOIN LATERAL (VALUES
        (w.requested_at, CASE w.kind WHEN 'requirement' THEN 3
                                     WHEN 'complaint' THEN 2 ELSE 4 END::smallint),
        (CASE WHEN w.kind = 'requirement' THEN w.delivered_at END, 1::smallint)) v(at, role)
    WHERE w.tenant_id = $1 AND v.at IS NOT NULL
      AND w.kind IN ('requirement', 'complaint', 'bug', 'incident')
) x
"""


async def _rows(tenant: Tenant) -> list[tuple[Any, ...]]:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        rows = await require_tenant(tid).fetch(
            f"SELECT {ROLLUP_COLUMNS} FROM work_item_day_rollups "  # noqa: S608
            "WHERE tenant_id = $1 ORDER BY day, role",
            tid,
        )
    return [_comparable(row) for row in rows]


def _comparable(row: Any) -> tuple[Any, ...]:
    """A rollup row with its person maps as the sets of bits set (a map is as wide as the
    tenant's numbered people when its day was last computed)."""
    return tuple(_bits(value) if isinstance(value, asyncpg.BitString) else value for value in row)


# A zero row as ``_comparable`` gives it, after its day and role.
_ZERO: tuple[Any, ...] = (0, 0, 0, 0, "{}", 0, [], frozenset(), None, None, None)


def _non_zero(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[2:] != _ZERO]


async def _zero_rows(tenant: Tenant) -> set[tuple[date, int]]:
    """(day, role) of the tenant's zero rows."""
    return {(row[0], row[1]) for row in await _rows(tenant) if row[2:] == _ZERO}


def _bits(value: asyncpg.BitString) -> frozenset[int]:
    return frozenset(i for i, bit in enumerate(value.as_string().replace(" ", "")) if bit == "1")


def _on_time(dashboard: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [(g.group.key, g.hits, g.n, g.people) for g in dashboard[0]]


def _march_causes(dashboard: tuple[Any, ...]) -> dict[str, int]:
    march = dashboard[1][2]
    return {c.cause: c.count for c in march.causes if c.count}


def _funnel(dashboard: tuple[Any, ...]) -> tuple[Any, ...]:
    f = dashboard[5]
    return (f.requested, f.answered_within_24h, f.promised, f.delivered_on_time, f.people)


async def _update(tenant: Tenant, item: WorkItem, **values: Any) -> None:
    async with tenant_transaction(tenant_id(tenant)):
        await WorkItem.filter(id=item.id).update(**values)


# --- the tests -------------------------------------------------------------------------------


async def test_the_rollups_give_every_panel_the_work_items_give(
    worlds: tuple[RdWorld, Tenant],
) -> None:
    world, _ = worlds
    dashboard = await _assert_exact(world)
    # the figures worked out in ``rd_world``
    assert _on_time(dashboard) == [("2026-01", 2, 3, 3), ("2026-02", 0, 1, 1), ("2026-03", 0, 0, 0)]
    assert _funnel(dashboard) == (6, 5, 4, 1, 6)
    # before February 1 (45 days): R5 and R1 (Ada, Bo), R2 (Cy); after: R4 (Ed, and Ada who
    # answered it), R3 (Di), R8 (Zed)
    before_after = dashboard[-1]
    assert (before_after.before.n, before_after.before.people) == (3, 3)
    assert (before_after.after.n, before_after.after.people) == (3, 4)


async def test_every_kind_of_write_keeps_the_rollups_exact(
    worlds: tuple[RdWorld, Tenant], superuser: asyncpg.Connection
) -> None:
    world, other = worlds
    tenant = world.tenant
    others_before = await _others(superuser, other)

    # when a requirement comes in (Zed answers, promises March 20, starts)
    r9 = await requirement(
        tenant, [world.zed], requested=at(3, 6), answerer=world.zed,
        promised_on=date(2026, 3, 20), started=at(3, 7),
    )  # fmt: skip
    dashboard = await _assert_exact(world)
    assert _funnel(dashboard) == (7, 6, 5, 1, 6)  # Zed was counted already (R8)
    assert _on_time(dashboard)[2] == ("2026-03", 0, 0, 0)

    # when Bo joins it
    await act(
        tenant,
        "assign",
        r9,
        assignees=(Assignment(world.zed.id, 0.5), Assignment(world.bo.id, 0.5)),
    )
    await _assert_exact(world)

    # when it is delivered on March 18, before the promised day ends
    await act(tenant, "deliver", r9, at=at(3, 18))
    dashboard = await _assert_exact(world)
    assert _on_time(dashboard)[2] == ("2026-03", 1, 1, 2)
    assert _funnel(dashboard) == (7, 6, 5, 2, 6)

    # when its promised date moves to March 10: late, for no cause given yet
    await _update(tenant, r9, promised_on=date(2026, 3, 10))
    dashboard = await _assert_exact(world)
    assert _on_time(dashboard)[2] == ("2026-03", 0, 1, 2)
    assert _march_causes(dashboard) == {"unknown": 1}

    # when its delay is put down to an external cause
    await act(tenant, "set_cause", r9, cause="external", comment="Supplier was late", delay=True)
    dashboard = await _assert_exact(world)
    assert _march_causes(dashboard) == {"external": 1}

    # when Bo leaves it again
    async with tenant_transaction(tenant_id(tenant)):
        await WorkItemAssignee.filter(work_item_id=r9.id, employee_id=world.bo.id).delete()
    dashboard = await _assert_exact(world)
    assert _on_time(dashboard)[2] == ("2026-03", 0, 1, 1)

    # when R6 (promised, not delivered) is cancelled: nothing the dashboard counts changes
    await act(tenant, "cancel", world.items["R6"], reason="The customer withdrew")
    dashboard = await _assert_exact(world)
    assert _funnel(dashboard) == (7, 6, 5, 1, 6)

    # when the new requirement is deleted: back to the figures of ``rd_world``
    zero_before = await _zero_rows(tenant)
    async with tenant_transaction(tenant_id(tenant)):
        await WorkItem.filter(id=r9.id).delete()
    # its request and delivery days keep zero rows (no other item is on them), read as none
    assert await _zero_rows(tenant) - zero_before == {(date(2026, 3, 6), 3), (date(2026, 3, 18), 1)}
    dashboard = await _assert_exact(world)
    assert _on_time(dashboard)[2] == ("2026-03", 0, 0, 0)
    assert _funnel(dashboard) == (6, 5, 4, 1, 6)

    # and the other tenant's rollups never moved
    assert await _others(superuser, other) == others_before


async def _others(superuser: asyncpg.Connection, other: Tenant) -> list[tuple[Any, ...]]:
    rows = await superuser.fetch(
        f"SELECT {ROLLUP_COLUMNS} FROM work_item_day_rollups "  # noqa: S608
        "WHERE tenant_id = $1 ORDER BY day, role",
        other.id,
    )
    # six deliveries in January, their requests, complaints and defects: 6 + 1 + 1 + 1 rows
    assert len(rows) == 9
    return [_comparable(row) for row in rows]


async def test_a_large_write_holds_up_writers_of_its_own_days_only(
    worlds: tuple[RdWorld, Tenant], superuser: asyncpg.Connection, settings: Settings
) -> None:
    _, other = worlds
    others_before = await _others(superuser, other)
    # given a tenant whose engineer has 50 requirements requested on January 5, started,
    # not delivered, and one more requested on February 2
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    ada = await create_employee(tenant)
    bulk = [await _started(tenant, ada, at(1, 5)) for _ in range(50)]
    web = await _started(tenant, ada, at(2, 2))

    # when an import-like transaction delivers the 50 on 50 days (March 1 to April 19) in
    # one statement (51 rollup rows) and stays open
    importer = await asyncpg.connect(settings.database_url)
    try:
        async with importer.transaction():
            await importer.execute("SELECT set_config('app.tenant_id', $1, true)", str(tid))
            await importer.execute(
                "UPDATE work_items w SET delivered_at = x.at "
                "FROM unnest($2::uuid[], $3::timestamptz[]) AS x(id, at) "
                "WHERE w.tenant_id = $1 AND w.id = x.id",
                tid,
                [item.id for item in bulk],
                [at(3, 1) + i * timedelta(days=1) for i in range(50)],
            )
            # then a user delivering another item on another day (February 20) is not held up
            # (a short lock timeout: a regression fails instead of hanging)
            await _deliver_waiting_at_most(tenant, web, at(2, 20), "500ms")
            # while one delivering on a day of the import (March 10) waits for its commit
            late = await _started(tenant, ada, at(2, 2))
            with pytest.raises(asyncpg.LockNotAvailableError):
                await _deliver_waiting_at_most(tenant, late, at(3, 10), "200ms")
    finally:
        await importer.close()

    # then both writes are in the rollups: one delivery on each of 51 days, 52 requests
    # (the one left undelivered too), and the rows are what a recomputation makes of them
    rows = await _rows(tenant)
    assert [(row[0], row[2]) for row in rows if row[1] == rd_sql.DELIVERED] == [
        (at(2, 20).date(), 1),
        *((date(2026, 3, 1) + timedelta(days=i), 1) for i in range(50)),
    ]
    assert [(row[0], row[2]) for row in rows if row[1] == rd_sql.REQUESTED] == [
        (date(2026, 1, 5), 50),
        (date(2026, 2, 2), 2),
    ]
    await _assert_recomputed_alike(tenant)
    # and the other tenant's rollups never moved
    assert await _others(superuser, other) == others_before


async def test_a_deferred_load_rebuilds_its_tenants_days_once_at_commit(
    worlds: tuple[RdWorld, Tenant], superuser: asyncpg.Connection, settings: Settings
) -> None:
    _, other = worlds
    others_before = await _others(superuser, other)
    # given a tenant with two requirements requested on January 5 and 6 (written at once)
    tenant = await create_tenant()
    tid = tenant_id(tenant)
    ada = await create_employee(tenant)
    template = await _started(tenant, ada, at(1, 5))
    gone = await _started(tenant, ada, at(1, 6))
    before = await _rows(tenant)
    assert [(row[0], row[1], row[2]) for row in before] == [
        (date(2026, 1, 5), rd_sql.REQUESTED, 1),
        (date(2026, 1, 6), rd_sql.REQUESTED, 1),
    ]

    loader = await asyncpg.connect(settings.database_url)
    try:
        async with loader.transaction():
            await loader.execute("SELECT set_config('app.tenant_id', $1, true)", str(tid))
            # when a load in deferred mode copies the first 30 times (requested March 1 to
            # 30, each delivered the next day), assigns Ada to the copies and deletes the
            # second requirement
            await loader.execute("SELECT work_item_rollups_defer()")
            copies = await loader.fetch(_COPIES, tid, template.id, at(3, 1))
            ids = [row["id"] for row in copies]
            await loader.execute(
                "INSERT INTO work_item_assignees (id, tenant_id, work_item_id, employee_id, share) "
                "SELECT gen_random_uuid(), $1, x, $2, 1 FROM unnest($3::uuid[]) AS x",
                tid,
                ada.id,
                ids,
            )
            await loader.execute(
                "DELETE FROM work_items WHERE tenant_id = $1 AND id = $2", tid, gone.id
            )
            # then nothing is recomputed while it writes
            assert await _loader_rows(loader, tid) == before
            # until it flushes, which lets it read its own writes
            await loader.execute("SELECT work_item_rollups_flush()")
            flushed = await _loader_rows(loader, tid)
            delivered = [(row[0], row[2]) for row in flushed if row[1] == rd_sql.DELIVERED]
            assert delivered == [(date(2026, 3, 2) + timedelta(days=i), 1) for i in range(30)]
            assert (date(2026, 1, 6), rd_sql.REQUESTED, 0) in {row[:3] for row in flushed}
            # and a write after the flush (the first copy delivered a day later) is rebuilt at
            # commit, with no flush of its own
            await loader.execute(
                "UPDATE work_items SET delivered_at = delivered_at + interval '1 day' "
                "WHERE tenant_id = $1 AND id = $2",
                tid,
                ids[0],
            )

        # then the committed rollups are what a recomputation makes of the tenant's items
        rows = await _rows(tenant)
        delivered = [(row[0], row[2]) for row in rows if row[1] == rd_sql.DELIVERED and row[2]]
        assert delivered == [
            (date(2026, 3, 3), 2),
            *((date(2026, 3, 4) + timedelta(days=i), 1) for i in range(28)),
        ]
        assert await _zero_rows(tenant) == {(date(2026, 1, 6), 3), (date(2026, 3, 2), 1)}
        await _assert_recomputed_alike(tenant)

        # and the connection's next transaction writes in immediate mode again
        async with loader.transaction():
            await loader.execute("SELECT set_config('app.tenant_id', $1, true)", str(tid))
            assert (
                await loader.fetchval("SELECT to_regclass('pg_temp.work_item_rollups_pending')")
                is None
            )
            await loader.execute(
                "DELETE FROM work_items WHERE tenant_id = $1 AND id = $2", tid, ids[-1]
            )
            after = {row[:3] for row in await _loader_rows(loader, tid)}
            assert (date(2026, 3, 31), rd_sql.DELIVERED, 0) in after
    finally:
        await loader.close()
    # and the other tenant's rollups never moved
    assert await _others(superuser, other) == others_before


# Copies of the work item $2 requested on 30 days from $3, each delivered a day later.
_COPIES = """
INSERT INTO work_items
SELECT (jsonb_populate_record(w, jsonb_build_object(
    'id', gen_random_uuid(), 'requested_at', d, 'delivered_at', d + interval '1 day',
    'external_key', NULL))).*
FROM work_items w, generate_series($3::timestamptz, $3 + interval '29 days', interval '1 day') d
WHERE w.tenant_id = $1 AND w.id = $2
RETURNING id
"""


async def _loader_rows(conn: asyncpg.Connection, tid: Any) -> list[tuple[Any, ...]]:
    """The tenant's rollup rows as the loader's transaction sees them."""
    rows = await conn.fetch(
        f"SELECT {ROLLUP_COLUMNS} FROM work_item_day_rollups "  # noqa: S608
        "WHERE tenant_id = $1 ORDER BY day, role",
        tid,
    )
    return [_comparable(row) for row in rows]


async def _started(tenant: Tenant, person: Employee, requested: datetime) -> WorkItem:
    """A requirement of ``person``'s, answered by them, promised for April 30 and started."""
    return await requirement(
        tenant, [person], requested=requested, answerer=person,
        promised_on=date(2026, 4, 30), started=at(2, 3),
    )  # fmt: skip


async def _deliver_waiting_at_most(
    tenant: Tenant, item: WorkItem, when: datetime, lock_timeout: str
) -> None:
    """Delivers ``item`` through the service, giving up on any lock after ``lock_timeout``."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await require_tenant(tid).execute(f"SET LOCAL lock_timeout = '{lock_timeout}'")
        await work_items.deliver(tid, item.id, at=when)


async def test_the_rollups_are_under_row_level_security(
    worlds: tuple[RdWorld, Tenant], superuser: asyncpg.Connection
) -> None:
    world, other = worlds
    for table in ("work_item_day_rollups", "work_item_rollup_people"):
        row = await superuser.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1", table
        )
        assert row is not None, table
        assert row["relrowsecurity"], table
        assert row["relforcerowsecurity"], table
    tid = tenant_id(world.tenant)
    # a tenant sees its own rows only, even when it asks for another's
    async with tenant_transaction(tid):
        tx = require_tenant(tid)
        seen = await tx.fetch("SELECT DISTINCT tenant_id FROM work_item_day_rollups")
        assert [row["tenant_id"] for row in seen] == [world.tenant.id]
        foreign = await tx.fetchval(
            "SELECT count(*) FROM work_item_day_rollups WHERE tenant_id = $1", other.id
        )
        assert foreign == 0
    # and cannot write a row of another tenant
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with tenant_transaction(tid):
            await require_tenant(tid).execute(
                "INSERT INTO work_item_day_rollups (tenant_id, day, role, n, promised, hits, "
                "late, late_causes, flagged, cycle_days, people) "
                "VALUES ($1, '2026-01-01', 2, 1, 0, 0, 0, '{}', 0, '{}', B'1')",
                other.id,
            )


def test_the_rollups_apply_to_everyone_without_a_customer_only() -> None:
    everyone: Iterator[bool] = (
        rd_sql.reads_rollups(flt, ADMIN) for flt in (Q1, replace(Q1, group_by=Grouping.QUARTER))
    )
    assert all(everyone)
    assert not rd_sql.reads_rollups(replace(Q1, customer="ACME"), ADMIN)
    assert not rd_sql.reads_rollups(replace(Q1, level="senior"), ADMIN)
