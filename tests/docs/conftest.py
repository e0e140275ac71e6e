"""The session's application served by uvicorn on a free port, for the documentation's
examples: they are real HTTP (and WebSocket) clients and need a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette


@pytest.fixture(scope="session")
async def base_url(app: Starlette) -> AsyncIterator[str]:
    """The application (already started, on the test database) on 127.0.0.1, any port."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # the server failed to start: say why
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
