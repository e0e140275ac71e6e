"""Capability profiles: each person's delivery history summarised once, read by matching.

Matching needs, for everyone at the levels of the qualified people, the mean and spread of
ln(days per point) and of defects per item over the last 12 months: hundreds of thousands of
facts on a large tenant. They are summarised here into one row per person, rebuilt as a
whole (one ``INSERT ... SELECT`` over the facts) when the facts changed since the last build
(``fact_changes``, stamped only for facts dated before the current day:
``domain.indicators.service.summarised_before``) or the day turned; the state row, locked
while building, makes
concurrent requests build once. The window ends at the start of the day (UTC), so a
profile reads the same all day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from tenants.scope import TenantID, require_tenant

# ln(days per point) of delivered requirements, and defects per delivered item; facts a
# logarithm or a count cannot use (no positive size or cycle, negative counts) are left out.
_SUMMARY = """
    SELECT f.employee_id, e.level,
           count(f.value) FILTER (WHERE f.kind = $2 AND f.value > 0 AND f.denominator > 0)
             AS pace_n,
           avg(ln(f.value / f.denominator))
             FILTER (WHERE f.kind = $2 AND f.value > 0 AND f.denominator > 0) AS pace_mean,
           var_samp(ln(f.value / f.denominator))
             FILTER (WHERE f.kind = $2 AND f.value > 0 AND f.denominator > 0) AS pace_var,
           count(f.value) FILTER (WHERE f.kind = $3 AND f.value >= 0) AS defect_n,
           avg(f.value) FILTER (WHERE f.kind = $3 AND f.value >= 0) AS defect_mean,
           var_samp(f.value) FILTER (WHERE f.kind = $3 AND f.value >= 0) AS defect_var
    FROM facts f
    JOIN employees e ON e.tenant_id = f.tenant_id AND e.id = f.employee_id
    WHERE f.tenant_id = $1 AND f.kind = ANY(ARRAY[$2, $3]::text[])
      AND f.superseded_at IS NULL AND f.occurred_at >= $4 AND f.occurred_at < $5
      AND e.level IS NOT NULL AND e.archived_at IS NULL AND e.status <> 'left'
    GROUP BY f.employee_id, e.level
"""


def window_end(now: datetime) -> date:
    """The day a profile's window ends before: today (UTC)."""
    return now.astimezone(UTC).date()


async def current(
    tenant: TenantID,
    levels: Sequence[str],
    *,
    today: date,
    since: datetime,
    kinds: tuple[str, str],
) -> list[Any]:
    """Profiles of everyone at ``levels`` for the window [``since``, start of ``today``),
    rebuilt first when the facts changed since they were made or the day turned."""
    tx = require_tenant(tenant)
    state = await tx.fetchrow(
        "SELECT s.window_end, s.facts_changed_at, c.changed_at FROM (SELECT 1) one "
        "LEFT JOIN capability_profile_states s ON s.tenant_id = $1 "
        "LEFT JOIN fact_changes c ON c.tenant_id = $1",
        tenant,
    )
    fresh = state["window_end"] == today and state["facts_changed_at"] == state["changed_at"]
    if not fresh:
        await _rebuild(tenant, today=today, since=since, kinds=kinds)
    rows: list[Any] = await tx.fetch(
        "SELECT employee_id, level, pace_n, pace_mean, pace_var, defect_n, defect_mean, "
        "defect_var FROM capability_profiles WHERE tenant_id = $1 AND level = ANY($2::text[])",
        tenant,
        list(levels),
    )
    return rows


async def _rebuild(
    tenant: TenantID, *, today: date, since: datetime, kinds: tuple[str, str]
) -> None:
    tx = require_tenant(tenant)
    # The state row exists and is locked before anything is built: a second request waits
    # here, then finds the profiles current and builds nothing.
    await tx.execute(
        "INSERT INTO capability_profile_states "
        "(id, tenant_id, window_end, facts_changed_at, refreshed_at) "
        "VALUES (gen_random_uuid(), $1, '-infinity', NULL, clock_timestamp()) "
        "ON CONFLICT (tenant_id) DO NOTHING",
        tenant,
    )
    state = await tx.fetchrow(
        "SELECT s.window_end, s.facts_changed_at, "
        "(SELECT changed_at FROM fact_changes WHERE tenant_id = $1) AS changed_at "
        "FROM capability_profile_states s WHERE s.tenant_id = $1 FOR UPDATE",
        tenant,
    )
    if state["window_end"] == today and state["facts_changed_at"] == state["changed_at"]:
        return
    until = datetime.combine(today, time.min, UTC)
    await tx.execute("DELETE FROM capability_profiles WHERE tenant_id = $1", tenant)
    await tx.execute(
        "INSERT INTO capability_profiles (id, tenant_id, employee_id, level, pace_n, "  # noqa: S608
        "pace_mean, pace_var, defect_n, defect_mean, defect_var) "
        "SELECT gen_random_uuid(), $1, employee_id, level, pace_n, pace_mean, pace_var, "
        f"defect_n, defect_mean, defect_var FROM ({_SUMMARY}) summary",
        tenant,
        kinds[0],
        kinds[1],
        since,
        until,
    )
    await tx.execute(
        "UPDATE capability_profile_states SET window_end = $2, facts_changed_at = $3, "
        "refreshed_at = clock_timestamp() WHERE tenant_id = $1",
        tenant,
        today,
        state["changed_at"],
    )
