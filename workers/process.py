"""Entry module of ``renshi worker`` processes (``dramatiq workers.process:broker``).

Importing it builds the broker from the environment and declares the actors; the boot
middleware then connects the ORM on dramatiq's event-loop thread and starts the sweeper.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Middleware

from domain.imports.reports import use_import_keys
from domain.people.service import employee_service
from tenants.crypto.imports import ImportKeys
from tenants.crypto.pii import pii_cipher_from_settings
from tenants.database.runtime import close_orm, init_orm, resolve_database
from tenants.lifecycle.notices import WORKER_APPLICATION_NAME, ErasureListener
from tenants.logs import configure_logging
from tenants.settings import Settings, get_settings
from workers.broker import start_job_runtime
from workers.sweeper import sweep_forever

_log = structlog.get_logger(__name__)


class WorkerProcessBoot(Middleware):
    """Connects the ORM once the event-loop thread runs, and closes it on shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sweeper: Any = None
        self._notices: ErasureListener | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        thread = get_event_loop_thread()
        assert thread is not None, "the AsyncIO middleware starts the loop thread first"
        thread.run_coroutine(self._connect())
        self._sweeper = asyncio.run_coroutine_threadsafe(
            sweep_forever(
                interval_s=self.settings.sweep_interval_s, stuck_after_s=self.settings.stuck_after_s
            ),
            thread.loop,
        )
        _log.info("worker_ready", broker=self.settings.broker_kind)

    async def _connect(self) -> None:
        urls = await resolve_database(self.settings)
        await init_orm(urls.app_url, pool_size=max(4, 2 * worker_threads()))
        cipher = pii_cipher_from_settings(self.settings)
        employee_service.use_sealer(cipher)
        use_import_keys(ImportKeys(cipher.keysets))
        # The worker keeps unwrapped keysets too: an erased tenant's go at once.
        self._notices = ErasureListener(
            self.settings.notices_url or urls.app_url,
            cipher.keysets.forget,
            application_name=WORKER_APPLICATION_NAME,
        )
        self._notices.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        thread = get_event_loop_thread()
        if thread is not None:
            if self._notices is not None:
                thread.run_coroutine(self._notices.stop())
            thread.run_coroutine(close_orm())


def worker_threads() -> int:
    return get_settings().worker_threads


def _build() -> Any:
    settings = get_settings()
    if settings.broker_kind == "stub":
        raise SystemExit(
            "BROKER_URL is not set: jobs run inside `renshi serve`. "
            "Set BROKER_URL (redis:// or amqp://) to run separate workers."
        )
    configure_logging(settings)
    # An import's parser thread and the event loop that writes its batches share the GIL;
    # with the default 5 ms switch interval the loop waited that long each time a database
    # reply came in, and the two stopped overlapping.
    sys.setswitchinterval(0.0005)
    runtime = start_job_runtime(settings)
    runtime.broker.add_middleware(WorkerProcessBoot(settings))
    return runtime.broker


broker = _build()
