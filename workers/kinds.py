"""The job kinds this installation runs, by name. Each area adds its kinds here."""

from __future__ import annotations

from uuid import UUID

from domain.imports.service import IMPORT_JOB
from domain.indicators.models import PeriodStatus
from domain.indicators.scoring import scoring_service
from domain.indicators.service import RECOMPUTE_JOB, period_service
from tenants.errors import ErrorCode, ServiceError
from tenants.identity.maintenance import session_maintenance
from workers.imports.pipeline import run_import
from workers.jobs import JobContext, JobKind


async def purge_sessions(context: JobContext) -> None:
    async def report(deleted: int, total: int) -> None:
        context.counts["deleted"] = deleted
        await context.progress(processed=deleted, total=total)

    deleted = await session_maintenance.purge_dead_tokens(context.tenant_id, on_batch=report)
    context.counts["deleted"] = deleted


SCORING_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000


async def recompute_scorecards(context: JobContext) -> None:
    """Recompute one period's scorecards in one transaction (all or nothing).

    A period closed after the job was queued is frozen, not broken: the job succeeds and
    says it skipped the period.
    """
    period_id = UUID(str(context.payload["period_id"]))
    # A batch over a whole tenant's facts: the interactive per-statement limit is too short
    # for a large tenant's aggregates.
    async with context.transaction(statement_timeout_ms=SCORING_STATEMENT_TIMEOUT_MS):
        period = await period_service.get(context.tenant_id, period_id)
        if period.status == PeriodStatus.CLOSED:
            context.counts["skipped"] = 1
            return
        try:
            summary = await scoring_service.recompute(context.tenant_id, period_id)
        except ServiceError as exc:
            # Closed between the read above and the engine's own check (nothing written yet).
            if exc.code != ErrorCode.CONFLICT:
                raise
            context.counts["skipped"] = 1
            return
    context.counts.update(
        employees=summary.employees,
        lines=summary.lines,
        facts=summary.facts,
        adjustments=summary.adjustments,
    )


JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(name="identity.purge_sessions", handler=purge_sessions, queue="maintenance"),
        JobKind(name=RECOMPUTE_JOB, handler=recompute_scorecards, queue="scoring"),
        # A run rolls back as a whole and starts over when redelivered; retries would only
        # repeat a deterministic failure, which the import row already reports.
        JobKind(
            name=IMPORT_JOB,
            handler=run_import,
            queue="imports",
            time_limit_ms=6 * 60 * 60 * 1000,
            max_retries=0,
        ),
    )
}
