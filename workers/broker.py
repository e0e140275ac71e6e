"""The dramatiq broker, its middleware, the actors and the job dispatcher.

``BROKER_URL`` picks the broker: Redis (heartbeat and maintenance tuned so a dead worker's
messages return within seconds), RabbitMQ (publisher confirms), or, when unset, dramatiq's
in-memory stub broker consumed by worker threads inside ``renshi serve``. In that in-process
mode the actors' coroutines run on the server's own event loop, which already holds the ORM's
connection pool; a separate ``renshi worker`` runs them on dramatiq's event-loop thread and
starts the ORM there.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

import dramatiq
import structlog
from dramatiq.asyncio import get_event_loop_thread, set_event_loop_thread
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware, default_middleware

from domain.indicators.service import recompute_requests
from domain.jobs.service import JobMessage, job_service
from tenants.scope import TenantID
from tenants.settings import Settings
from workers.jobs import JobKind, run_job
from workers.kinds import JOB_KINDS

_log = structlog.get_logger(__name__)

# A worker is declared dead after 10 s without a heartbeat (default 60 s), and one Redis
# command in ten runs the maintenance pass that hands its messages back (default 1 in 1,000).
REDIS_HEARTBEAT_TIMEOUT_MS = 10_000
REDIS_MAINTENANCE_CHANCE = 100_000  # out of 1,000,000


class HostLoopThread:
    """Stands in for dramatiq's event-loop thread, running coroutines on an existing loop."""

    interrupt_check_ival = 0.1

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run_coroutine(self, coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            while True:
                # Wake up regularly so dramatiq's asynchronous interrupts (time limits,
                # shutdown) reach this thread, as its own event-loop thread does.
                try:
                    return future.result(timeout=self.interrupt_check_ival)
                except concurrent.futures.TimeoutError:
                    if future.done():
                        return future.result(timeout=0)
        except BaseException:
            future.cancel()
            raise


class HostLoop(Middleware):
    """Async actors run on the host application's event loop (the in-process worker).

    dramatiq keeps one event-loop thread per process; several in-process workers (tests
    start a second one against another broker) each put theirs in place and, on shutdown,
    put back whatever was there before them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = HostLoopThread(loop)
        self._previous: Any = None

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        self._previous = get_event_loop_thread()
        set_event_loop_thread(cast("Any", self._thread))

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        if get_event_loop_thread() is cast("Any", self._thread):
            set_event_loop_thread(self._previous)


def build_broker(settings: Settings, *, host_loop: asyncio.AbstractEventLoop | None = None) -> Any:
    """Create the broker for ``settings`` and make it dramatiq's global broker.

    ``host_loop`` makes async actors run on that loop (in-process workers); without it they
    run on dramatiq's own event-loop thread (``renshi worker``).
    """
    middleware = [m() for m in default_middleware]
    broker: Any
    if settings.broker_kind == "stub":
        broker = StubBroker(middleware=middleware)
    elif settings.broker_kind == "redis":
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.broker_url,
            middleware=middleware,
            heartbeat_timeout=REDIS_HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=REDIS_MAINTENANCE_CHANCE,
            namespace="renshi",
        )
    else:
        broker = RabbitmqBroker(
            url=settings.broker_url, middleware=middleware, confirm_delivery=True
        )
    broker.add_middleware(HostLoop(host_loop) if host_loop is not None else AsyncIO())
    dramatiq.set_broker(broker)
    return broker


def _actor_function(kind: JobKind) -> Any:
    async def perform(job_id: str, tenant_id: str) -> None:
        message = JobMessage(
            job_id=UUID(job_id), tenant_id=TenantID(UUID(tenant_id)), kind=kind.name
        )
        await run_job(kind, message)

    perform.__name__ = kind.name.replace(".", "_")
    perform.__qualname__ = perform.__name__
    return perform


@dataclass
class JobRuntime:
    """The broker, its actors by job kind, and the dispatcher the domain sends jobs with."""

    broker: Any
    actors: dict[str, Any]

    async def dispatch(self, message: JobMessage) -> None:
        actor = self.actors.get(message.kind)
        if actor is None:
            raise LookupError(f"no actor for job kind {message.kind!r}")
        # Publishing to Redis or RabbitMQ is blocking network I/O.
        await asyncio.to_thread(
            actor.send_with_options,
            args=(str(message.job_id), str(message.tenant_id)),
            delay=message.delay_ms or None,
        )

    def queues(self) -> set[str]:
        return {actor.queue_name for actor in self.actors.values()}

    def ping(self) -> None:
        """Raise when the broker cannot be reached. Blocking: call it in a thread."""
        if isinstance(self.broker, RedisBroker):
            self.broker.client.ping()
        elif isinstance(self.broker, RabbitmqBroker) and not self.broker.connection.is_open:
            raise ConnectionError("RabbitMQ connection is closed")


def start_job_runtime(
    settings: Settings, *, host_loop: asyncio.AbstractEventLoop | None = None
) -> JobRuntime:
    """Build the broker, declare one actor per job kind and plug the dispatcher in."""
    broker = build_broker(settings, host_loop=host_loop)
    actors = {
        name: dramatiq.actor(
            actor_name=name,
            queue_name=kind.queue,
            broker=broker,
            time_limit=kind.time_limit_ms,
            max_retries=kind.max_retries,
        )(_actor_function(kind))
        for name, kind in JOB_KINDS.items()
    }
    runtime = JobRuntime(broker=broker, actors=actors)
    job_service.set_dispatcher(runtime.dispatch)
    recompute_requests.delay_s = settings.recompute_delay_s
    return runtime


class InProcessWorker:
    """Worker threads consuming the broker inside this process (``renshi serve``, tests)."""

    def __init__(self, runtime: JobRuntime, *, threads: int) -> None:
        self._worker = dramatiq.Worker(runtime.broker, worker_threads=threads, worker_timeout=200)
        self._lock = threading.Lock()

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        with self._lock:
            self._worker.stop(timeout=10_000)
