"""A worker process for the redelivery test: Renshi's Redis broker set-up, one slow actor.

``hang`` takes the message and never finishes (the test kills it); ``finish`` completes it.
Run as ``python -m tests.support.redelivery_worker MODE MARKER_DIR`` with BROKER_URL set.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import dramatiq

from tenants.settings import Settings
from workers.broker import build_broker

QUEUE = "redelivery"
ACTOR = "test.redelivery"


def main() -> None:
    mode, marker_dir = sys.argv[1], Path(sys.argv[2])
    broker = build_broker(Settings())

    def work() -> None:
        (marker_dir / f"started-{os.getpid()}").touch()
        if mode == "hang":
            time.sleep(3600)
        (marker_dir / "finished").touch()

    dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, broker=broker, max_retries=0)(work)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    (marker_dir / f"ready-{os.getpid()}").touch()
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
