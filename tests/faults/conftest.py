"""Fault tests bring their own PostgreSQL server and API processes (tests/support/private_postgres.py).

They restart that server and starve its connections, so they never touch the session's shared
database or application: the autouse fixture that starts the shared application is replaced
by one that does nothing, and the private server is started once for the folder (each test
starts its own ``renshi serve`` on it, with the settings it needs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.private_postgres import PrivatePostgres, private_postgres


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """Nothing to start: each fault test starts its own server and application."""


@pytest.fixture(scope="session")
async def postgres() -> AsyncIterator[PrivatePostgres]:
    async with private_postgres() as server:
        yield server
