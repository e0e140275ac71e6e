"""The scoring engine's SQL read on its own: month buckets around a period that starts
within a month, facts yielded one kind at a time, early stops and a second tenant."""

from __future__ import annotations

from contextlib import aclosing
from datetime import UTC, datetime

import pytest
from asyncpg.exceptions import DataError

from domain.indicators import aggregates as agg
from domain.indicators.models import Fact
from domain.templates.registry import pack_for
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_indicators import on_time, record_facts
from tests.factories_records import create_employee

MAR, APR, JUL = (datetime(2026, month, 1, tzinfo=UTC) for month in (3, 4, 7))


def test_buckets_are_months_with_the_period_start_cut_in() -> None:
    # a term from 20 Mar to 30 Jun, months kept apart from March
    start, end = datetime(2026, 3, 20, tzinfo=UTC), JUL
    cuts, month_of, first = agg.bucket_boundaries(MAR, start, end)
    assert cuts == [MAR, start, APR, *(datetime(2026, m, 1, tzinfo=UTC) for m in (5, 6, 7))]
    march, april = 2026 * 12 + 3, 2026 * 12 + 4
    # bucket 0 lies before March; March is split into two buckets, the second in the term
    assert month_of[:4] == [0, march, march, april]
    assert first == 2


def _readings(*codes: str) -> list[agg.Reading]:
    indicators = {i.code: i for i in pack_for("enterprise_rd").indicators}
    return [agg.Reading(indicators[code], APR, None) for code in codes]


async def test_facts_arrive_one_kind_at_a_time_for_this_tenant_only() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    person = await create_employee(tenant, level="senior")
    stranger = await create_employee(other, level="senior")
    at = datetime(2026, 5, 6, tzinfo=UTC)
    await record_facts(tenant, person, "due_item", [{**r, "at": at} for r in on_time(3, 1)])
    await record_facts(tenant, person, "feasibility_answer", [{"value": 30.0, "at": at}])
    await record_facts(other, stranger, "due_item", [{**r, "at": at} for r in on_time(9, 0)])
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        reads = agg.indicator_facts_by_kind(
            tid,
            _readings("on_time_delivery", "response_24h"),
            window_start=datetime(2025, 4, 1, tzinfo=UTC),
            period_start=APR,
            period_end=JUL,
        )
        async with aclosing(reads):
            kinds = [found async for found in reads]
    assert [sorted(found) for found in kinds] == [["on_time_delivery"], ["response_24h"]]
    delivery = kinds[0]["on_time_delivery"]
    assert list(delivery.period) == [person.id]  # nobody of the other tenant
    stats = delivery.period[person.id]
    assert (stats.facts, stats.sum_value, stats.sum_denominator) == (4, 3.0, 4.0)
    assert delivery.months[person.id][2026 * 12 + 5].facts == 4
    answers = kinds[1]["response_24h"].period[person.id]
    assert (answers.facts, answers.within, answers.within_stretched) == (1, 0, 0)


async def test_stopping_early_leaves_the_transaction_usable() -> None:
    tenant = await create_tenant()
    person = await create_employee(tenant, level="senior")
    at = datetime(2026, 5, 6, tzinfo=UTC)
    await record_facts(tenant, person, "due_item", [{**r, "at": at} for r in on_time(1, 0)])
    tid = tenant_id(tenant)
    async with tenant_transaction(tid) as tx:
        reads = agg.indicator_facts_by_kind(
            tid,
            _readings("on_time_delivery", "response_24h", "escaped_defect_rate"),
            window_start=datetime(2025, 4, 1, tzinfo=UTC),
            period_start=APR,
            period_end=JUL,
        )
        async with aclosing(reads):
            async for found in reads:
                assert found
                break  # the next kind's statement is running now
        assert await tx.fetchval("SELECT count(*) FROM facts WHERE tenant_id = $1", tid) == 1


async def test_a_failing_statement_is_raised_to_the_caller() -> None:
    # given: good items delivered, and a defect count the service would refuse (a zero
    # denominator) written past it
    tenant = await create_tenant()
    person = await create_employee(tenant, level="senior")
    at = datetime(2026, 5, 6, tzinfo=UTC)
    await record_facts(tenant, person, "due_item", [{**r, "at": at} for r in on_time(2, 0)])
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        await Fact.create(
            tenant_id=tid, employee_id=person.id, kind="item_defects", occurred_at=at,
            value=1.0, denominator=0.0, source="test", recorded_at=at,
        )  # fmt: skip
    seen: list[str] = []

    async def read() -> None:
        async with tenant_transaction(tid):
            reads = agg.indicator_facts_by_kind(
                tid,
                _readings("on_time_delivery", "defects_per_item"),
                window_start=datetime(2025, 4, 1, tzinfo=UTC),
                period_start=APR,
                period_end=JUL,
            )
            async with aclosing(reads):
                async for found in reads:
                    seen.extend(found)

    # when the second kind's statement divides by it, then what was read before has
    # arrived and the database's error follows
    with pytest.raises(DataError, match="division by zero"):
        await read()
    assert seen == ["on_time_delivery"]
