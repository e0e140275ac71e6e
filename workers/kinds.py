"""The job kinds this installation runs, by name. Each area adds its kinds here."""

from __future__ import annotations

from tenants.identity.maintenance import session_maintenance
from workers.jobs import JobContext, JobKind


async def purge_sessions(context: JobContext) -> None:
    async def report(deleted: int, total: int) -> None:
        context.counts["deleted"] = deleted
        await context.progress(processed=deleted, total=total)

    deleted = await session_maintenance.purge_dead_tokens(context.tenant_id, on_batch=report)
    context.counts["deleted"] = deleted


JOB_KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(name="identity.purge_sessions", handler=purge_sessions, queue="maintenance"),
    )
}
