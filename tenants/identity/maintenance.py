"""Housekeeping of login sessions: dropping refresh tokens nobody can use any more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tenants import repository as repo
from tenants.scope import TenantID, tenant_transaction

# Dead tokens are kept a while, so a reuse of a stolen token is still recognised as such.
RETENTION = timedelta(days=7)
BATCH = 500


class SessionMaintenance:
    async def purge_dead_tokens(
        self,
        tenant: TenantID,
        *,
        now: datetime | None = None,
        on_batch: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> int:
        """Delete tokens expired or revoked more than ``RETENTION`` ago; returns how many.

        Runs in batches, each in its own tenant transaction, so a large purge neither holds
        long locks nor loses the work done when it is interrupted (it just resumes).
        """
        before = (now or datetime.now(UTC)) - RETENTION
        async with tenant_transaction(tenant):
            total = await repo.count_dead_refresh_tokens(tenant, before=before)
        deleted = 0
        while True:
            async with tenant_transaction(tenant):
                removed = await repo.delete_dead_refresh_tokens(tenant, before=before, limit=BATCH)
            deleted += removed
            if on_batch is not None:
                await on_batch(deleted, max(total, deleted))
            if removed < BATCH:
                return deleted


session_maintenance = SessionMaintenance()
