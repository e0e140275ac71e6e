"""``renshi worker`` processes for tests that kill workers: each in a session of its own.

``renshi worker`` runs dramatiq's CLI, a supervisor that forks the process running the jobs;
a SIGKILL sent to the supervisor alone would leave that child running, orphaned, with the
job. Each worker therefore starts a new session (so its process group id is its pid) and is
killed as a whole group. Its output (JSON logs) goes to a file, read back by the test:
a pipe nobody reads would fill up and stall the worker mid-job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from tenants.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def redis_db(url: str, number: int) -> str:
    """``url`` pointing at Redis database ``number`` instead of its own."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{number}"


@dataclass
class WorkerProcess:
    """One ``renshi worker`` (supervisor and forked workers), its process group, its log."""

    process: subprocess.Popen[bytes]
    log: Path
    _out: BinaryIO

    @property
    def pgid(self) -> int:
        return self.process.pid  # start_new_session: the leader of its own group

    def running(self) -> bool:
        return self.process.poll() is None

    async def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, no acknowledgement, no goodbye."""
        self._signal_group(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 10)
        await _wait_group_gone(self.pgid)
        self._out.close()

    async def stop(self) -> None:
        """SIGTERM the supervisor (dramatiq's warm shutdown: it passes the signal on to its
        workers; a second SIGTERM would make them hard-kill themselves, which can hang), then
        SIGKILL whatever of the group is left after 30 s."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, 30)
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(self.process.wait, 10)
        self._out.close()

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (other lines, a traceback say, are skipped)."""
        found: list[dict[str, Any]] = []
        for line in self.log.read_text(errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            with contextlib.suppress(json.JSONDecodeError):
                event = json.loads(line)
                if isinstance(event, dict):
                    found.append(event)
        return found

    def tail(self, lines: int = 60) -> str:
        """The end of the worker's output, for an assertion message."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)


async def _wait_group_gone(pgid: int, timeout_s: float = 10.0) -> None:
    """Until no live process of the group is left (its forked children die with it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while _group_alive(pgid):
        if loop.time() > deadline:
            raise AssertionError(f"process group {pgid} still alive {timeout_s} s after SIGKILL")
        await asyncio.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. A killed child reparented to init is
    a zombie until init reaps it: it holds nothing, so it does not count (Linux: /proc)."""
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - not Linux: a signal 0 tells, zombies included
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            return True
    return False


def start_worker(
    settings: Settings,
    log: Path,
    *,
    processes: int = 1,
    threads: int = 1,
    queues: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> WorkerProcess:
    """Start ``renshi worker`` against ``settings``' database and broker, in a new session."""
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "BROKER_URL": settings.broker_url or "",
        "RENSHI_HOME": str(settings.home),
        "RENSHI_LOG_FORMAT": "json",
        "RENSHI_LOG_LEVEL": "INFO",
        **(env or {}),
    }
    argv = [
        sys.executable,
        "-m",
        "api.cli",
        "worker",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
    ]
    if queues:
        argv += ["--queues", *queues]
    out = log.open("ab")
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=environment,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return WorkerProcess(process, log, out)


@dataclass
class Workers:
    """The worker processes of one test (each with ``env`` over the defaults), logging to
    ``folder``; the fixture that makes it stops them whatever the test's outcome."""

    settings: Settings
    folder: Path
    env: dict[str, str]
    started: list[WorkerProcess] = field(default_factory=list)

    def start(
        self, name: str, *, queues: tuple[str, ...], env: dict[str, str] | None = None
    ) -> WorkerProcess:
        worker = start_worker(
            self.settings,
            self.folder / f"worker-{name}.log",
            threads=1,
            queues=queues,
            env={**self.env, **(env or {})},
        )
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(f"--- {w.log.name} ---\n{w.tail()}" for w in self.started)

    async def stop(self) -> None:
        for worker in self.started:
            await worker.stop()


T = TypeVar("T")


async def wait_for(
    what: str,
    read: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    timeout_s: float,
    workers: Workers,
    describe: Callable[[T], str] = repr,
) -> T:
    """Reads ``read`` until ``until`` holds; fails after ``timeout_s`` with the last value (as
    ``describe`` puts it) and the workers' logs."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: not after {timeout_s} s ({describe(value)})\n{workers.logs()}"
            )
        await asyncio.sleep(0.1)
