"""Following an import live: the ``importProgress`` subscription over a real WebSocket
(graphql-transport-ws, the token in connection_init), served by uvicorn on the test's loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette

from api.runtime import AppRuntime
from tests.factories import create_tenant, create_user, user_token
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient
from tests.support.serving import served

PROGRESS = """subscription($id: ID!) { importProgress(id: $id) {
  status rowsRead rowsWritten bytesProcessed progress } }"""
PROTOCOL = websockets.Subprotocol("graphql-transport-ws")


@pytest.fixture
async def server_url(app: Starlette) -> AsyncIterator[str]:
    async with served(app) as url:
        yield url.replace("http://", "ws://", 1) + "/graphql"


async def _text(socket: Any) -> str:
    """The next frame, which graphql-transport-ws requires to be text (clients such as gql's
    refuse binary frames)."""
    frame = await socket.recv()
    assert isinstance(frame, str), f"a binary frame: {frame!r}"
    return frame


async def _events(url: str, token: str, import_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with websockets.connect(url, subprotocols=[PROTOCOL]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert json.loads(await _text(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": PROGRESS, "variables": {"id": import_id}},
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(_text(socket), 60))
            if message["type"] == "complete":
                return events
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            events.append(message["payload"]["data"]["importProgress"])


async def test_the_subscription_follows_a_run_to_its_end(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime, server_url: str
) -> None:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    await create_employee(tenant, employee_number="E1")
    client = ImportClient(gql, http, user_token(runtime.tokens, admin))
    await client.create_key()
    rows = "".join(f"E1,defect,2025-03-01,1,1,P{n:06d}\n" for n in range(60_000))
    created = (await client.create("facts"))["import"]
    ciphertext = client.encrypt(("工号,类型,日期,数值,分母,编号\n" + rows).encode())
    assert (await client.upload(created["uploadPath"], ciphertext)).status_code == 200
    await client.start(created["id"], "COMMIT")

    events = await _events(server_url, client.token, created["id"])
    assert events[-1]["status"] == "SUCCEEDED"
    assert events[-1]["rowsWritten"] == 60_000
    assert events[-1]["progress"] == 1.0
    statuses = [e["status"] for e in events]
    assert set(statuses) <= {"QUEUED", "RUNNING", "VALIDATING", "LOADING", "SUCCEEDED"}
    read = [e["rowsRead"] for e in events]
    assert read == sorted(read)


async def test_a_socket_without_a_valid_token_is_refused(server_url: str) -> None:
    async with websockets.connect(server_url, subprotocols=[PROTOCOL]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nope"}})
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_another_tenants_import_reads_as_not_found(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime, server_url: str
) -> None:
    owner = await create_tenant()
    owner_client = ImportClient(
        gql, http, user_token(runtime.tokens, await create_user(owner, roles=("admin",)))
    )
    created = (await owner_client.create("facts"))["import"]
    other = await create_tenant()
    token = user_token(runtime.tokens, await create_user(other, roles=("admin",)))
    async with websockets.connect(server_url, subprotocols=[PROTOCOL]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        await socket.recv()
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": PROGRESS, "variables": {"id": created["id"]}},
                }
            )
        )
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
    assert message["type"] == "error" or "errors" in message["payload"], message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "import not found" in errors[0]["message"]
