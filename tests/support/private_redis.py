"""A Redis server of a test's own: started, killed and restarted by the test that owns it.

Fault tests take their broker down on purpose; doing that to the Redis that other test runs
share would break them. Each ``PrivateRedis`` is a ``redis-server`` child on a free port
with persistence off (``--save "" --appendonly no``), so a restart comes back empty, as a
broker that lost its queues does. The binary is part of the test environment (``make
test`` installs Debian's ``redis-server`` through scripts/ensure-test-packages), with or
without a configured broker: its absence is a failure that says how to fix it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import pytest
import redis

BINARY = "redis-server"
START_TIMEOUT_S = 15.0


def redis_server_binary() -> str:
    """The ``redis-server`` to run; the test fails, saying how to install it, when it is not
    on PATH."""
    found = shutil.which(BINARY)
    if found is None:
        pytest.fail(
            f"{BINARY} is not on PATH: the fault tests start a Redis server of their own. "
            "Run `make test` (scripts/ensure-test-packages installs it) or, as root, "
            "apt-get install -y redis-server."
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivateRedis:
    """One ``redis-server`` process on a fixed port, which can be killed and started again."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = _free_port()
        self.log = folder / "redis-server.log"
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._out: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        """Start the server on this port and wait until it answers PING."""
        await asyncio.to_thread(self._launch)

    async def kill(self) -> None:
        """SIGKILL the server: connections drop, every queue and key is gone."""
        process = self._process
        assert process is not None, "never started"
        assert process.poll() is None, "not running"
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
        self._close_log()

    async def restart(self) -> None:
        """Kill the server and start an empty one on the same port."""
        await self.kill()
        await self.start()

    def stop(self) -> None:
        """Stop the server if it runs (the fixture's finaliser; never raises for a dead one)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._close_log()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def _launch(self) -> None:
        assert not self.running(), "already running"
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
            "--daemonize", "no",
        ]  # fmt: skip
        self._out = self.log.open("ab")
        self._process = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT)
        self.starts += 1
        self._wait_ready()

    def _wait_ready(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                process = self._process
                if process is None or process.poll() is not None:
                    raise AssertionError(f"{BINARY} on port {self.port} exited:\n{self.tail()}")
                with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
                    if client.ping():
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{BINARY} on port {self.port} not ready after {START_TIMEOUT_S} s:\n"
                        f"{self.tail()}"
                    )
                time.sleep(0.05)
        finally:
            client.close()

    def _close_log(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


@contextlib.asynccontextmanager
async def private_redis(folder: Path) -> AsyncIterator[PrivateRedis]:
    """A running private Redis for the length of the block, stopped whatever happens."""
    server = PrivateRedis(redis_server_binary(), folder)
    try:
        await server.start()
        yield server
    finally:
        server.stop()
