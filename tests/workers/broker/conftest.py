"""Tests that need a real broker process, collected only when the run names one.

The fresh-machine run (no services but the embedded PostgreSQL) has no broker to test; the
production run in CI sets BROKER_URL to Redis and RENSHI_TEST_RABBITMQ_URL to RabbitMQ.
"""

from __future__ import annotations

import os

collect_ignore_glob: list[str] = []
if not os.environ.get("BROKER_URL", "").startswith("redis"):
    collect_ignore_glob += [
        "test_worker_process.py",
        "test_redelivery.py",
        "test_import_redelivery.py",
    ]
if not os.environ.get("RENSHI_TEST_RABBITMQ_URL"):
    collect_ignore_glob += ["test_rabbitmq.py"]
