"""The job sweeper: sends again what looks stuck.

A message can be lost between commit and publish (a crash, a broker outage) and a worker can
die mid-job; either leaves a job row that nothing will move. The sweeper finds jobs queued for
longer than ``RENSHI_STUCK_AFTER_S`` and running jobs whose heartbeat stopped, marks them
queued again (a conditional update, so concurrent sweepers do not double up) and dispatches
them after that commit.
"""

from __future__ import annotations

import asyncio

import structlog

from domain.jobs.service import job_service
from tenants.scope import tenant_transaction

_log = structlog.get_logger(__name__)


async def sweep_once(*, stuck_after_s: float) -> int:
    """One pass; returns how many jobs were sent again."""
    requeued = 0
    for stale in await job_service.stale_jobs(stuck_after_s=stuck_after_s):
        async with tenant_transaction(stale.tenant_id):
            if await job_service.requeue(
                stale.tenant_id, stale.job_id, stale.kind, stuck_after_s=stuck_after_s
            ):
                requeued += 1
                _log.warning(
                    "job_requeued",
                    job_id=str(stale.job_id),
                    tenant_id=str(stale.tenant_id),
                    kind=stale.kind,
                )
    return requeued


async def sweep_forever(*, interval_s: float, stuck_after_s: float) -> None:
    """Sweep every ``interval_s`` seconds until cancelled; a failed pass is logged, not fatal."""
    while True:
        try:
            await sweep_once(stuck_after_s=stuck_after_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("sweep_failed")
        await asyncio.sleep(interval_s)
