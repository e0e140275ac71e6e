"""Every query of the indicator area that is not part of scoring itself.

Indicator sets, facts, periods, baselines, adjustments and scorecards as stored rows. The
scoring engine's aggregate queries live in ``domain.indicators.aggregates``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Coalesce

from domain.indicators.models import (
    Fact,
    IndicatorSet,
    LevelBaseline,
    Period,
    Scorecard,
    ScorecardLine,
    TargetAdjustment,
)
from domain.people.models import Employee
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant

COPY_BATCH = 50_000
# A period's baselines read the four quarters before it.
BASELINE_REACH = timedelta(days=366)


class DuplicateError(Exception):
    """A unique key is taken."""


# --- indicator sets -------------------------------------------------------------------------


async def latest_indicator_set(tenant: TenantID) -> IndicatorSet | None:
    require_tenant(tenant)
    return await IndicatorSet.filter().order_by("-version").first()


async def indicator_set(tenant: TenantID, version: int) -> IndicatorSet | None:
    require_tenant(tenant)
    return await IndicatorSet.get_or_none(version=version)


async def indicator_set_versions(tenant: TenantID) -> list[IndicatorSet]:
    require_tenant(tenant)
    return await IndicatorSet.filter().order_by("-version")


async def insert_indicator_set(tenant: TenantID, **values: Any) -> IndicatorSet:
    require_tenant(tenant)
    try:
        return await IndicatorSet.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateError("version") from exc


# --- facts ----------------------------------------------------------------------------------

FACT_COLUMNS = (
    "id",
    "tenant_id",
    "employee_id",
    "kind",
    "occurred_at",
    "value",
    "denominator",
    "source",
    "external_key",
    "attributes",
    "recorded_at",
    "recorded_by",
    "correction_of",
)


@dataclass(frozen=True)
class FactRow:
    """A fact to write in bulk, in ``FACT_COLUMNS`` order minus the tenant."""

    id: UUID
    employee_id: UUID
    kind: str
    occurred_at: datetime
    value: float
    denominator: float | None
    source: str
    external_key: str | None
    attributes: dict[str, Any]
    recorded_at: datetime
    recorded_by: UUID | None = None
    correction_of: UUID | None = None


async def stamp_fact_change(tenant: TenantID) -> None:
    """Say the tenant's facts changed now (in this transaction, so the time becomes visible
    with the facts)."""
    tx = require_tenant(tenant)
    await tx.execute(
        "INSERT INTO fact_changes (id, tenant_id, changed_at) "
        "VALUES (gen_random_uuid(), $1, clock_timestamp()) "
        "ON CONFLICT (tenant_id) DO UPDATE SET changed_at = EXCLUDED.changed_at",
        tenant,
    )


async def copy_facts(tenant: TenantID, rows: Iterable[FactRow]) -> int:
    """Append ``rows`` through COPY into a staging table and one ``INSERT ... SELECT``.

    For bulk loads (demo, imports, benchmarks) of facts already checked and free of external
    key collisions; a collision fails the whole call (the unique index says so).
    """
    tx = require_tenant(tenant)
    written = 0
    columns = ", ".join(FACT_COLUMNS)
    async with tx.client.acquire_connection() as conn:
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS facts_stage (LIKE facts INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(
                (
                    row.id, tenant, row.employee_id, row.kind, row.occurred_at, row.value,
                    row.denominator, row.source, row.external_key,
                    orjson.dumps(row.attributes).decode(), row.recorded_at, row.recorded_by,
                    row.correction_of,
                )
            )  # fmt: skip
            if len(batch) >= COPY_BATCH:
                written += await _flush_facts(conn, batch, columns)
                batch = []
        if batch:
            written += await _flush_facts(conn, batch, columns)
    if written:
        await stamp_fact_change(tenant)
    return written


async def _flush_facts(conn: Any, batch: list[tuple[Any, ...]], columns: str) -> int:
    await conn.copy_records_to_table("facts_stage", records=batch, columns=FACT_COLUMNS)
    await conn.execute(f"INSERT INTO facts ({columns}) SELECT {columns} FROM facts_stage")  # noqa: S608
    await conn.execute("TRUNCATE facts_stage")
    return len(batch)


async def current_facts_by_key(
    tenant: TenantID, source: str, keys: Sequence[str]
) -> dict[str, Fact]:
    require_tenant(tenant)
    rows = await Fact.filter(source=source, external_key__in=list(keys), superseded_at=None)
    return {row.external_key: row for row in rows if row.external_key is not None}


async def current_facts_by_key_prefix(tenant: TenantID, source: str, prefix: str) -> list[Fact]:
    """Current facts of ``source`` whose external key starts with ``prefix`` (the facts one
    work item derived, say)."""
    require_tenant(tenant)
    return await Fact.filter(
        source=source, external_key__startswith=prefix, superseded_at=None
    ).order_by("external_key")


async def get_fact(tenant: TenantID, fact_id: UUID) -> Fact | None:
    require_tenant(tenant)
    return await Fact.get_or_none(id=fact_id)


async def insert_fact(tenant: TenantID, **values: Any) -> Fact:
    require_tenant(tenant)
    try:
        return await Fact.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateError("externalKey") from exc


async def supersede_fact(tenant: TenantID, fact_id: UUID, by: UUID | None, at: datetime) -> bool:
    """Mark a current fact superseded (by nothing: retracted); False when it already was (a
    concurrent correction)."""
    tx = require_tenant(tenant)
    status = await tx.execute(
        "UPDATE facts SET superseded_at = $3, superseded_by = $2 "
        "WHERE tenant_id = $4 AND id = $1 AND superseded_at IS NULL",
        fact_id,
        by,
        at,
        tenant,
    )
    return status == "UPDATE 1"


async def list_facts(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    employee_ids: Sequence[UUID] | None,
    kind: str | None,
    occurred_from: datetime | None,
    occurred_before: datetime | None,
    include_superseded: bool,
    visible_unit_ids: frozenset[UUID] | None = None,
    visible_employee_ids: frozenset[UUID] = frozenset(),
) -> Page[Fact]:
    """A page of facts, latest first; ``visible_*`` limit it to the people a caller may see
    (those in the units, and the individuals; None: everyone), in the same statement."""
    require_tenant(tenant)
    query = Fact.filter()
    if visible_unit_ids is not None:
        query = query.filter(
            employee_id__in=_visible_people(visible_unit_ids, visible_employee_ids)
        )
    if employee_ids is not None:
        query = query.filter(employee_id__in=list(employee_ids))
    if kind is not None:
        query = query.filter(kind=kind)
    if occurred_from is not None:
        query = query.filter(occurred_at__gte=occurred_from)
    if occurred_before is not None:
        query = query.filter(occurred_at__lt=occurred_before)
    if not include_superseded:
        query = query.filter(superseded_at=None)
    return await paginate(query, order_by=("-occurred_at", "-id"), first=first, after=after)


# --- periods --------------------------------------------------------------------------------


async def insert_period(tenant: TenantID, **values: Any) -> Period:
    require_tenant(tenant)
    try:
        return await Period.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateError("code") from exc


async def get_period(
    tenant: TenantID, period_id: UUID, *, for_update: bool = False
) -> Period | None:
    require_tenant(tenant)
    query = Period.filter(id=period_id)
    if for_update:
        query = query.select_for_update()
    return await query.first()


async def get_periods(tenant: TenantID, ids: Sequence[UUID]) -> list[Period]:
    require_tenant(tenant)
    return await Period.filter(id__in=list(ids))


async def get_period_by_code(tenant: TenantID, code: str) -> Period | None:
    require_tenant(tenant)
    return await Period.get_or_none(code=code)


async def periods(tenant: TenantID) -> list[Period]:
    require_tenant(tenant)
    return await Period.filter().order_by("-starts_on", "code")


async def overlapping_period(
    tenant: TenantID, kind: str, starts_on: Any, ends_on: Any
) -> Period | None:
    require_tenant(tenant)
    return await Period.filter(kind=kind, starts_on__lte=ends_on, ends_on__gte=starts_on).first()


async def open_periods_covering(
    tenant: TenantID, earliest: datetime, latest: datetime
) -> list[Period]:
    """Open periods that facts dated from ``earliest`` to ``latest`` change: those the facts
    fall in, and those starting within a year after them (their baseline window)."""
    require_tenant(tenant)
    return await Period.filter(
        status="open",
        starts_on__lte=(latest + BASELINE_REACH).date(),
        ends_on__gte=earliest.date(),
    )


async def save_period(tenant: TenantID, period: Period, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    await period.save(update_fields=list(fields))


# --- stored results -------------------------------------------------------------------------


async def level_baselines(
    tenant: TenantID, period_id: UUID, indicator: str | None, level: str | None
) -> list[LevelBaseline]:
    require_tenant(tenant)
    query = LevelBaseline.filter(period_id=period_id)
    if indicator is not None:
        query = query.filter(indicator=indicator)
    if level is not None:
        query = query.filter(level=level)
    return await query.order_by("indicator", "level")


async def adjustments_of_period(
    tenant: TenantID, period_id: UUID, indicator: str | None
) -> list[TargetAdjustment]:
    require_tenant(tenant)
    query = TargetAdjustment.filter(period_id=period_id)
    if indicator is not None:
        query = query.filter(indicator=indicator)
    return await query.order_by("rule", "indicator", "id")


async def get_scorecard(tenant: TenantID, scorecard_id: UUID) -> Scorecard | None:
    require_tenant(tenant)
    return await Scorecard.get_or_none(id=scorecard_id)


async def scorecard_of(tenant: TenantID, period_id: UUID, employee_id: UUID) -> Scorecard | None:
    require_tenant(tenant)
    return await Scorecard.get_or_none(period_id=period_id, employee_id=employee_id)


async def lines_of(
    tenant: TenantID, scorecard_ids: Sequence[UUID]
) -> dict[UUID, list[ScorecardLine]]:
    """The lines of many scorecards in one statement, in the indicator set's order."""
    require_tenant(tenant)
    found: dict[UUID, list[ScorecardLine]] = {sid: [] for sid in scorecard_ids}
    rows = await Scorecard.filter(id__in=list(scorecard_ids)).values_list("id", "lines")
    for scorecard_id, lines in rows:
        found[UUID(str(scorecard_id))] = [ScorecardLine.from_json(line) for line in lines]
    return found


async def save_scorecard(tenant: TenantID, scorecard: Scorecard, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    await scorecard.save(update_fields=list(fields))


# A scorecard without a total (too little data) sorts after every total, which is 0 to 120.
NO_TOTAL_RANK = -1.0
SCORECARD_ORDERS: dict[str, tuple[str, ...]] = {
    "total": ("-rank", "id"),
    "employee": ("employee_id", "id"),
}


async def list_scorecards(
    tenant: TenantID,
    *,
    period_id: UUID,
    first: int,
    after: str | None,
    order: str = "total",
    visible_unit_ids: frozenset[UUID] | None = None,
    visible_employee_ids: frozenset[UUID] = frozenset(),
    employee_id: UUID | None = None,
    unit_ids: Sequence[UUID] | None = None,
    level: str | None = None,
) -> Page[Scorecard]:
    """A page of one period's scorecards in one statement.

    ``visible_*`` limit it to the people a caller may see by their current unit (None:
    everyone); ``unit_ids`` to the units the people were scored in.
    """
    require_tenant(tenant)
    query = Scorecard.filter(period_id=period_id).annotate(rank=Coalesce("total", NO_TOTAL_RANK))
    if visible_unit_ids is not None:
        query = query.filter(
            employee_id__in=_visible_people(visible_unit_ids, visible_employee_ids)
        )
    if employee_id is not None:
        query = query.filter(employee_id=employee_id)
    if unit_ids is not None:
        query = query.filter(org_unit_id__in=list(unit_ids))
    if level is not None:
        query = query.filter(level=level)
    return await paginate(query, order_by=SCORECARD_ORDERS[order], first=first, after=after)


def _visible_people(unit_ids: frozenset[UUID], employee_ids: frozenset[UUID]) -> Subquery:
    """The people in ``unit_ids`` and the individuals ``employee_ids``, as a subquery."""
    people = Employee.filter(Q(org_unit_id__in=list(unit_ids)) | Q(id__in=list(employee_ids)))
    return Subquery(people.values("id"))
