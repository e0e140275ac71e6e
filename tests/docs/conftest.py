"""The session's application served by uvicorn on a free port, for the documentation's
examples: they are real HTTP (and WebSocket) clients and need a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette

from tests.support.serving import served


@pytest.fixture(scope="session")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    """The application (already started, on the test database) on 127.0.0.1, any port."""
    async with served(app) as url:
        yield url
