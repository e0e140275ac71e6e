"""Erasure notices: a committed tenant erasure reaches every API and worker process at once.

What a process keeps of a tenant in memory (its unwrapped keysets, kept dashboard rows) would
otherwise outlive the tenant's erasure until it expired or was pushed out by other tenants'.
The erasure sends ``NOTIFY renshi_tenant_erased, '<tenant id>'`` inside its transaction, which
PostgreSQL delivers when it commits and never after a rollback; every process listens on a
connection of its own (``ErasureListener``) and forgets that tenant.

A notice sent while the listening connection is down is lost, so each time the listener is
(again) listening it forgets every tenant: the caches then refill from the database, which
is where the truth is. LISTEN needs a session of its own: behind a transaction-pooling
PgBouncer, point ``RENSHI_NOTICES_URL`` at PostgreSQL itself (docs/scaling.md §5).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from tenants.database.runtime import connect_alone
from tenants.scope import TenantID

_log = structlog.get_logger(__name__)

ERASED_CHANNEL = "renshi_tenant_erased"
APPLICATION_NAME = "renshi-notices"
WORKER_APPLICATION_NAME = "renshi-worker-notices"
MAX_RETRY_S = 30.0

Forget = Callable[[TenantID | None], None]
"""Drop what is kept of one tenant, or of every tenant (``None``)."""


async def announce_erasure(conn: asyncpg.Connection, tenant: TenantID) -> None:
    """Tell every listening process, once the transaction open on ``conn`` commits."""
    await conn.execute("SELECT pg_notify($1, $2)", ERASED_CHANNEL, str(tenant))


class ErasureListener:
    """Listens for erasure notices on a connection of its own, reconnecting when it drops.

    ``check_s``: how often an idle connection is checked (a peer that vanished without
    closing the socket is otherwise noticed only by TCP, minutes later). ``retry_s``: the
    pause before connecting again, doubled after each attempt that did not get to listen
    (up to ``MAX_RETRY_S``: a wrong ``RENSHI_NOTICES_URL`` logs a warning that often).
    """

    def __init__(
        self,
        url: str,
        forget: Forget,
        *,
        application_name: str = APPLICATION_NAME,
        check_s: float = 30.0,
        retry_s: float = 2.0,
    ) -> None:
        self._url = url
        self.application_name = application_name
        self._forget = forget
        self._check_s = check_s
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while notices arrive (tests wait for it)."""
        self.sessions = 0
        """How many times listening started: one more after each reconnection."""
        self.attempts = 0
        """How many times it tried to connect."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="erasure-notices")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        pause = self._retry_s
        while True:
            sessions = self.sessions
            self.attempts += 1
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                _log.warning("erasure_notices_lost", error=f"{type(exc).__name__}: {exc}")
            except Exception:
                _log.exception("erasure_notices_failed")
            if self.sessions > sessions:
                pause = self._retry_s  # it listened until now: a new outage
            await asyncio.sleep(pause)
            pause = min(2 * pause, MAX_RETRY_S)

    async def _listen(self) -> None:
        conn = await connect_alone(self._url, application_name=self.application_name)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(ERASED_CHANNEL, self._on_notice)
            # From here on nothing is missed; what was sent before is unknown.
            self._forget(None)
            self.sessions += 1
            self.listening.set()
            _log.info("erasure_notices_listening", sessions=self.sessions)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._check_s)
                if not lost.is_set():
                    await conn.fetchval("SELECT 1", timeout=self._check_s)
            raise ConnectionResetError("the notices connection closed")
        finally:
            self.listening.clear()
            if not conn.is_closed():
                conn.terminate()

    def _on_notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            tenant = TenantID(UUID(payload))
        except ValueError:
            _log.warning("erasure_notice_unreadable", payload=payload[:100])
            return
        self._forget(tenant)
        _log.info("tenant_forgotten", tenant_id=str(tenant))
