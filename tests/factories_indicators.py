"""Factories for indicators and scoring: facts, periods, a recomputation, an adjustment.

Each opens its own tenant transaction and goes through the domain services, as the product
does. Record facts before creating the period that covers them: facts recorded into an open
period queue a recomputation job, which the in-process worker then runs on its own time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from domain.audit.service import AuditActor, acting_as
from domain.indicators import repository as indicator_repo
from domain.indicators.adjustments import scorecard_adjustments
from domain.indicators.models import Fact, Period, Scorecard, ScorecardLine
from domain.indicators.scoring import RecomputeSummary, scoring_service
from domain.indicators.service import FactInput, fact_service, period_service
from domain.people.models import Employee
from tenants.models import Tenant, User
from tenants.scope import tenant_transaction
from tests.factories import tenant_id

QUARTER = (date(2026, 7, 1), date(2026, 9, 30))
IN_QUARTER = datetime(2026, 8, 10, 9, tzinfo=UTC)


def on_time(on_time: int, late: int) -> list[dict[str, Any]]:
    """Rows of ``due_item`` facts: ``on_time`` delivered by the promised date, ``late`` not."""
    return [{"value": 1.0, "denominator": 1.0}] * on_time + [
        {"value": 0.0, "denominator": 1.0}
    ] * late


async def record_facts(
    tenant: Tenant, person: Employee, kind: str, rows: Sequence[Mapping[str, Any]]
) -> list[Fact]:
    """Facts of ``kind`` about ``person``; each row has ``value`` and optionally ``at``,
    ``denominator``, ``attributes`` and ``key`` (an external key)."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        results = await fact_service.record_many(
            tid,
            [
                FactInput(
                    kind=kind,
                    employee_id=person.id,
                    occurred_at=row.get("at", IN_QUARTER),
                    value=row["value"],
                    denominator=row.get("denominator"),
                    attributes=row.get("attributes", {}),
                    external_key=row.get("key"),
                )
                for row in rows
            ],
        )
    assert all(r.error is None for r in results), [r.error for r in results]
    return [r.fact for r in results if r.fact is not None]


async def create_period(
    tenant: Tenant,
    *,
    code: str = "2026-Q3",
    kind: str = "quarter",
    starts_on: date = QUARTER[0],
    ends_on: date = QUARTER[1],
) -> Period:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await period_service.create(
            tid, code=code, kind=kind, starts_on=starts_on, ends_on=ends_on
        )


async def recompute(tenant: Tenant, period: Period) -> RecomputeSummary:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await scoring_service.recompute(tid, period.id)


async def close_period(tenant: Tenant, period: Period) -> Period:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await period_service.close(tid, period.id)


async def scorecard_of(tenant: Tenant, period: Period, person: Employee) -> Scorecard:
    async with tenant_transaction(tenant_id(tenant)):
        return await Scorecard.get(period_id=period.id, employee_id=person.id)


async def lines_of(tenant: Tenant, card: Scorecard) -> dict[str, ScorecardLine]:
    async with tenant_transaction(tenant_id(tenant)):
        found = await indicator_repo.lines_of(tenant_id(tenant), [card.id])
    return {line.indicator: line for line in found[card.id]}


async def adjust(
    tenant: Tenant, card: Scorecard | UUID, points: float, comment: str, *, by: User
) -> Scorecard:
    """``by`` adjusts the scorecard, as the GraphQL edge would have them act."""
    tid = tenant_id(tenant)
    card_id = card.id if isinstance(card, Scorecard) else card
    async with tenant_transaction(tid):
        with acting_as(AuditActor(kind="user", id=by.id, label=by.email)):
            return await scorecard_adjustments.adjust(tid, card_id, points, comment)
