"""A worker killed mid-job: Redis hands its message to another worker within seconds.

dramatiq's defaults (60 s heartbeat timeout, maintenance on 1 command in 1,000) left such a
message stranded for minutes; Renshi's broker settings bring it back in seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from tenants.settings import Settings
from tests.support.redelivery_worker import ACTOR, QUEUE

ROOT = Path(__file__).resolve().parents[3]


async def _wait_for(path_glob: str, folder: Path, timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(lambda: sorted(folder.glob(path_glob)))
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {path_glob} in {folder} after {timeout_s} s")


def _start(mode: str, folder: Path, broker_url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.redelivery_worker", mode, str(folder)],
        cwd=ROOT,
        env={**os.environ, "BROKER_URL": broker_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_a_killed_workers_message_comes_back_within_seconds(
    settings: Settings, tmp_path: Path
) -> None:
    assert settings.broker_url is not None
    broker_url = settings.broker_url.rsplit("/", 1)[0] + "/13"
    sender = RedisBroker(url=broker_url, namespace="renshi")  # type: ignore[no-untyped-call]
    sender.client.flushdb()
    sender.declare_queue(QUEUE)

    first = _start("hang", tmp_path, broker_url)
    second: subprocess.Popen[bytes] | None = None
    try:
        await _wait_for("ready-*", tmp_path, 30)
        sender.enqueue(
            dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(), kwargs={}, options={})
        )
        await _wait_for(f"started-{first.pid}", tmp_path, 30)

        first.send_signal(signal.SIGKILL)  # no goodbye: its message stays unacknowledged
        first.wait(timeout=10)
        killed_at = time.monotonic()
        second = _start("finish", tmp_path, broker_url)
        await _wait_for("finished", tmp_path, 60)
        elapsed = time.monotonic() - killed_at
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        sender.close()
    # 10 s heartbeat timeout, then a maintenance pass within a few polls of the new worker.
    assert elapsed < 40, f"redelivered after {elapsed:.1f} s"
