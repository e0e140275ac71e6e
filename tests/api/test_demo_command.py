"""``renshi demo``: builds the demo tenants once; running it again skips them, and every run
says how to log in."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from domain.demo.catalogue import DEMO_PASSWORD
from tenants.settings import Settings
from tests.api.test_cli import ROOT, renshi
from tests.support.graphql import GraphQLClient


async def _analyzed_at(settings: Settings) -> datetime:
    """When the facts table was last analyzed by hand (the epoch: never)."""
    assert settings.database_admin_url is not None
    conn = await asyncpg.connect(settings.database_admin_url)
    try:
        found = await conn.fetchval(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'facts'"
        )
    finally:
        await conn.close()
    return found or datetime(1970, 1, 1, tzinfo=UTC)


LOGIN = """mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) {
  __typename ... on LoginPayload { accessToken } } }"""


async def _demo(settings: Settings, *args: str) -> dict[str, Any]:
    result = await renshi(settings, *args)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


async def test_demo_builds_each_tenant_once_and_always_shows_the_logins(
    settings: Settings, gql: GraphQLClient
) -> None:
    # when: run for the first time
    since = await _analyzed_at(settings)
    first = await _demo(settings, "--json", "demo", "--employees", "20")

    # then: both demo tenants are built, 20 people each
    assert first["graphql_url"] == "http://127.0.0.1:8000/graphql"
    assert first["password"] == DEMO_PASSWORD
    tenants = {tenant["slug"]: tenant for tenant in first["tenants"]}
    assert set(tenants) == {"acme", "sunrise"}
    assert tenants["acme"]["template"] == "enterprise_rd"
    assert tenants["sunrise"]["template"] == "school_teaching"
    for tenant in tenants.values():
        assert tenant["status"] == "created"
        assert tenant["counts"]["employees"] == 20
        assert tenant["counts"]["engagements"] > 0
    # and the owner analyzed what it loaded: the first pages are planned with statistics
    assert await _analyzed_at(settings) > since
    logins = {slug: tenant["logins"] for slug, tenant in tenants.items()}
    acme_roles = {login["email"]: login["role"] for login in logins["acme"]}
    assert acme_roles == {
        "admin@acme.example": "admin",
        "hr@acme.example": "hr",
        "manager@acme.example": "manager",
        "employee@acme.example": "employee",
        "sales@acme.example": "sales",
    }
    assert {login["email"] for login in logins["sunrise"]} == {
        "admin@sunrise.example",
        "hr@sunrise.example",
        "manager@sunrise.example",
        "employee@sunrise.example",
    }

    # when: run again
    second = await _demo(settings, "--json", "demo", "--employees", "20")

    # then: nothing is built twice, and the same logins are shown
    again = {tenant["slug"]: tenant for tenant in second["tenants"]}
    for slug, tenant in again.items():
        assert tenant["status"] == "exists"
        assert tenant["tenant_id"] == tenants[slug]["tenant_id"]
        assert tenant["logins"] == logins[slug]
        assert tenant["counts"] == {}

    # and the printed logins work
    for login in logins["sunrise"]:
        variables = {"t": "sunrise", "e": login["email"], "p": login["password"]}
        result = (await gql(LOGIN, variables)).ok()["login"]
        assert result["__typename"] == "LoginPayload"

    # without --json the same is said for people
    text = await renshi(settings, "demo", "--port", "9000")
    assert text.returncode == 0, text.stderr
    assert "exists already: skipped" in text.stdout
    assert "manager@sunrise.example" in text.stdout
    assert DEMO_PASSWORD in text.stdout
    assert "http://127.0.0.1:9000/graphql" in text.stdout


async def test_the_run_command_on_a_fresh_machine() -> None:
    """``renshi demo --serve`` with nothing configured: embedded PostgreSQL, demo data, the
    API; stopping it stops the database server it started."""
    home = Path(tempfile.mkdtemp(prefix="renshi-run-"))
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_ADMIN_URL", "BROKER_URL", "RENSHI_REDIS_URL"}
    }
    env.update(RENSHI_HOME=str(home), RENSHI_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "api.cli", "demo", "--serve", "--employees", "20"]
    server = subprocess.Popen(  # noqa: ASYNC220 - a long-running child, waited for below
        [*command, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_until_up(http, server)
            postmaster = int((home / "pg" / "postmaster.pid").read_text().split()[0])
            response = await http.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"t": "acme", "e": "hr@acme.example", "p": DEMO_PASSWORD},
                },
            )
            assert response.json()["data"]["login"]["__typename"] == "LoginPayload"
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 60)
        for _ in range(40):  # pg_ctl stops it before the service exits; give init time to reap
            if not _alive(postmaster):
                break
            await asyncio.sleep(0.25)
        assert not _alive(postmaster), "the embedded server outlived the service"
    finally:
        if server.poll() is None:
            server.kill()
        shutil.rmtree(home, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_until_up(http: httpx.AsyncClient, server: subprocess.Popen[str]) -> None:
    for _ in range(240):
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            raise AssertionError(f"renshi demo --serve exited: {output}")
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.5)
    raise AssertionError("renshi demo --serve did not come up in 120 s")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a stopped process waiting to be reaped does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in {"Z", "X"}
