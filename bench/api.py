"""HTTP throughput of the GraphQL edge, measured against the same work done without it.

``python -m bench.api --json`` starts the API (``api.app:create_app``) on one uvicorn worker,
and on the same database ``bench.plain_app``: a bare Starlette endpoint that performs the
same token check, tenant transaction and caller query through asyncpg. It loads
each with an authenticated ``viewer`` query from N concurrent keep-alive connections,
never both at once: after a warm-up, the measured time is cut into slices that alternate
between the two (``--rounds``), so a shared machine's slow and fast moments fall on both
alike. It prints one JSON object::

    graphql_rps, p50_ms, p99_ms              the GraphQL path
    plain_rps, plain_p50_ms, plain_p99_ms    the baseline
    ratio                                    graphql_rps / plain_rps (goal: >= 0.5)
    requests, errors                         responses in the measured window, per server;
                                             any status but 200 is an error
    server_cpu_ms_per_request                server CPU time / successful responses
    loadgen_cpu_percent                      CPU the load generator itself used
    connections, duration_s, warmup_s, database ("embedded" or "external"), ...

How to read it: ``ratio`` is what the framework layers (middleware, strawberry, Tortoise)
cost on top of the unavoidable work (HTTP, ES256 verification, one transaction with two
statements). It is a ratio on purpose: both servers share the machine, the database and
the load generator, so it moves far less between machines than the absolute figures do.
A server using close to ``1000 / rps`` ms of CPU per request is CPU-bound: its
``server_cpu_ms_per_request`` is then the figure to bring down. rps counts successful
responses only; latencies are those of successful responses, from the request's first byte
written to the response's last byte read; percentiles are nearest-rank. A figure that could
not be measured is null.

Setup: with ``DATABASE_URL`` unset the embedded PostgreSQL under ``RENSHI_HOME`` (default
``./var/bench``) is started, provisioned and migrated by this process, which keeps it
running until the end; otherwise ``DATABASE_URL`` is used and ``DATABASE_ADMIN_URL``, when
set, migrates it. Each run creates its own tenant and admin user, issues a token with the
key file under ``RENSHI_HOME`` (which both servers read), and raises the per-principal
rate limit so the limiter is hit but never refuses.

The load generator runs in this process, apart from the servers: one ``asyncio.Protocol``
per connection on uvloop, with pre-encoded request bytes and a minimal HTTP/1.1 response
parser. Checked against the plain app's trivial ``/healthz`` on the 2-core development
machine, it sustained about 13,800 requests/s at about 30 microseconds of its own CPU per
request: far above either server's rate, so the figures are the servers', not the
client's (``loadgen_cpu_percent`` shows its share in every run). Everything still shares
the CPUs with PostgreSQL: compare runs from the same, otherwise idle, machine only.

Exit status: 0; 1 when any request failed (the figures are then not comparable) or, with
``--check``, when the ratio misses the goal; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import uvloop

from domain.templates.registry import pack_codes
from tenants import repository as repo
from tenants.authorization import Principal, Role
from tenants.database.migrate import apply_migrations
from tenants.database.runtime import close_orm, init_orm, resolve_database
from tenants.identity.keys import KeyRing
from tenants.identity.tokens import TokenIssuer
from tenants.scope import TenantID, tenant_transaction
from tenants.service import tenant_service
from tenants.settings import Settings

RATIO_GOAL = 0.5
VIEWER_QUERY = "query Viewer { viewer { kind user { id email displayName } } }"
# High enough that the limiter's bookkeeping runs on every request but never refuses one.
RATE_LIMIT = "100000000/minute"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = Path("var/bench")
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0
STALL_S = 30.0


def _progress(message: str) -> None:
    print(f"bench.api: {message}", file=sys.stderr, flush=True)


# Fixture -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    app_url: str
    admin_url: str | None
    database: str
    email: str
    token: str


async def prepare(settings: Settings, *, token_ttl: int) -> Fixture:
    """Reach (and migrate) the database, create a tenant and an admin user, issue a token."""
    urls = await resolve_database(settings)
    if urls.admin_url is not None:
        await apply_migrations(urls.admin_url)
    await init_orm(urls.app_url, pool_size=2)
    try:
        tenant = TenantID(uuid4())
        email = f"bench-{secrets.token_hex(4)}@example.com"
        async with tenant_transaction(tenant):
            await tenant_service.create_tenant(
                tenant,
                slug=f"bench-{secrets.token_hex(5)}",
                name="Benchmark",
                template_code="enterprise_rd",
                known_templates=pack_codes(),
            )
            user = await repo.insert_user(
                tenant,
                email=email,
                display_name="Benchmark Admin",
                roles=[Role.ADMIN.value],
                password_hash=None,
            )
    finally:
        await close_orm()
    issuer = TokenIssuer(KeyRing(settings), issuer=settings.issuer, audience=settings.audience)
    principal = Principal(
        tenant_id=tenant, subject_id=user.id, kind="user", roles=frozenset({Role.ADMIN})
    )
    return Fixture(
        app_url=urls.app_url,
        admin_url=urls.admin_url,
        database="embedded" if settings.embedded else "external",
        email=email,
        token=issuer.issue(principal, ttl=token_ttl).token,
    )


# Servers -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """One uvicorn worker in a child process, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, factory: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = _free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        # stdout carries the JSON result: the servers' logs go to stderr. A session of its
        # own keeps a Ctrl-C in the terminal from reaching the server before we stop it.
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr,
            start_new_session=True,
        )

    async def wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the {self.name} server exited with status {self.process.returncode}"
                )
            try:
                status, _ = await fetch(self.port, http_request("GET", path, self.port))
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} server was not ready in {READY_TIMEOUT_S} s")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def server_env(settings: Settings, fixture: Fixture) -> dict[str, str]:
    env = dict(os.environ)
    # Both servers talk to the database this process resolved (the embedded one included,
    # which this process keeps alive) and read the key file the token was signed with.
    env["DATABASE_URL"] = fixture.app_url
    if fixture.admin_url is not None:
        env["DATABASE_ADMIN_URL"] = fixture.admin_url
    env["RENSHI_HOME"] = str(settings.home.resolve())
    env["RENSHI_RATE_LIMIT"] = RATE_LIMIT
    # The access log line is emitted at INFO: below the threshold it costs nothing.
    env["RENSHI_LOG_LEVEL"] = "WARNING"
    return env


# HTTP client ---------------------------------------------------------------------------


def http_request(
    method: str, path: str, port: int, *, body: bytes = b"", headers: Sequence[str] = ()
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: 127.0.0.1:{port}", *headers]
    if body:
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse_head(head: bytes) -> tuple[int, int]:
    """Status and content length of a response head (without the blank line)."""
    status = int(head[9:12])
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    raise RuntimeError(f"response without content-length: {head[:200]!r}")


async def fetch(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection: for readiness checks and verification."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status, length = _parse_head(head[:-4])
        return status, await reader.readexactly(length)
    finally:
        writer.close()


@dataclass
class Measurement:
    """Responses completed in the measured window."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    # CPU seconds spent in the window by this process (the load generator) and the server.
    client_cpu_s: float = math.nan
    server_cpu_s: float = math.nan

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``; NaN elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    # Fields after the parenthesised command name, which may itself contain spaces.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoadConnection(asyncio.Protocol):
    """One keep-alive connection sending ``request`` again as soon as each answer is in."""

    def __init__(
        self,
        request: bytes,
        *,
        measure_from: float,
        measure_until: float,
        result: Measurement,
        done: asyncio.Future[None],
    ) -> None:
        self.request = request
        self.measure_from = measure_from
        self.measure_until = measure_until
        self.result = result
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.body_end = -1
        self.status = 0
        self.sent_at = 0.0
        self.waiting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast("asyncio.Transport", transport)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.waiting = True
        self.sent_at = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.body_end < 0:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            try:
                self.status, length = _parse_head(bytes(self.buffer[:head_end]))
            except (RuntimeError, ValueError) as exc:
                self._fail(exc)
                return
            self.body_end = head_end + 4 + length
        if len(self.buffer) < self.body_end:
            return
        now = time.perf_counter()
        # No pipelining: nothing can follow the body, so the buffer is simply emptied.
        self.buffer.clear()
        self.body_end = -1
        self.waiting = False
        if self.measure_from <= now <= self.measure_until:
            if self.status == 200:
                self.result.latencies.append(now - self.sent_at)
            else:
                self.result.errors += 1
        if now < self.measure_until:
            self._send()
        else:
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting:
            self._fail(exc or ConnectionError("the server closed a keep-alive connection"))
        elif not self.done.done():
            self.done.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


async def generate_load(
    port: int,
    request: bytes,
    *,
    connections: int,
    warmup_s: float,
    duration_s: float,
    server_pid: int | None = None,
) -> Measurement:
    """Keep ``connections`` requests in flight; count those completing after the warm-up."""
    loop = asyncio.get_running_loop()
    result = Measurement()
    started = time.perf_counter()
    measure_from = started + warmup_s
    measure_until = measure_from + duration_s
    finished: list[asyncio.Future[None]] = []
    transports: list[asyncio.Transport] = []
    marks: list[tuple[float, float]] = []

    def mark() -> None:
        server = process_cpu_s(server_pid) if server_pid is not None else math.nan
        marks.append((time.process_time(), server))

    timers = [loop.call_later(warmup_s, mark), loop.call_later(warmup_s + duration_s, mark)]
    try:
        for _ in range(connections):
            done: asyncio.Future[None] = loop.create_future()
            finished.append(done)
            # Both asyncio and uvloop set TCP_NODELAY on their TCP transports.
            protocol = functools.partial(
                LoadConnection,
                request,
                measure_from=measure_from,
                measure_until=measure_until,
                result=result,
                done=done,
            )
            transport, _ = await loop.create_connection(protocol, "127.0.0.1", port)
            transports.append(transport)
        completed, stalled = await asyncio.wait(
            finished, timeout=warmup_s + duration_s + STALL_S, return_when=asyncio.FIRST_EXCEPTION
        )
        for future in completed:
            future.result()
        if stalled:
            # A connection that stops answering must fail the run, not hang it.
            raise TimeoutError(f"{len(stalled)} connection(s) stopped getting answers")
    finally:
        for future in finished:
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: asyncio would log it as lost otherwise
        for timer in timers:
            timer.cancel()
        for transport in transports:
            transport.close()
    if len(marks) == 2:
        result.client_cpu_s = marks[1][0] - marks[0][0]
        result.server_cpu_s = marks[1][1] - marks[0][1]
    return result


# Measurement ---------------------------------------------------------------------------


def percentile_ms(latencies: Sequence[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not latencies:
        return math.nan
    ordered = sorted(latencies)
    index = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return round(ordered[index] * 1000, 2)


def check_viewer(name: str, status: int, body: bytes, email: str) -> None:
    """Fail loudly unless the response is a successful ``viewer`` for the benchmark user."""
    try:
        document = json.loads(body)
        found = document["data"]["viewer"]["user"]["email"]
    except (ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{name}: unexpected response {status}: {body[:500]!r}") from exc
    if status != 200 or found != email or document.get("errors"):
        raise RuntimeError(f"{name}: unexpected response {status}: {body[:500]!r}")


@dataclass(frozen=True)
class Target:
    name: str
    factory: str
    path: str


TARGETS = (
    Target("graphql", "api.app:create_app", "/graphql"),
    Target("plain", "bench.plain_app:create_plain_app", "/viewer"),
)


@dataclass
class Running:
    target: Target
    server: Server
    request: bytes


async def start(target: Target, env: dict[str, str], fixture: Fixture) -> Running:
    server = Server(target.name, target.factory, env)
    await server.wait_ready("/healthz")
    body = json.dumps({"query": VIEWER_QUERY}).encode()
    request = http_request(
        "POST",
        target.path,
        server.port,
        body=body,
        headers=[f"authorization: Bearer {fixture.token}"],
    )
    check_viewer(target.name, *await fetch(server.port, request), fixture.email)
    return Running(target, server, request)


async def load(
    running: Running, args: argparse.Namespace, *, warmup_s: float, duration_s: float
) -> Measurement:
    result = await generate_load(
        running.server.port,
        running.request,
        connections=args.connections,
        warmup_s=warmup_s,
        duration_s=duration_s,
        server_pid=running.server.process.pid,
    )
    if running.server.process.poll() is not None:
        raise RuntimeError(f"the {running.target.name} server died during the run")
    return result


def merge(total: Measurement, part: Measurement) -> None:
    total.latencies += part.latencies
    total.errors += part.errors
    total.client_cpu_s = (
        0.0 if math.isnan(total.client_cpu_s) else total.client_cpu_s
    ) + part.client_cpu_s
    total.server_cpu_s = (
        0.0 if math.isnan(total.server_cpu_s) else total.server_cpu_s
    ) + part.server_cpu_s


async def measure_all(
    env: dict[str, str], fixture: Fixture, args: argparse.Namespace
) -> dict[str, Measurement]:
    """Both servers up at once, loaded in alternating slices of the measured time.

    One idles while the other is loaded. Alternating (A B B A A B ...) spreads a shared
    machine's slow and fast moments over both instead of handing them to whichever ran
    first, which is what makes the ratio repeatable.
    """
    running: list[Running] = []
    try:
        for target in TARGETS:
            running.append(await start(target, env, fixture))
        for each in running:
            _progress(f"{each.target.name}: {args.warmup:g} s warm-up")
            await load(each, args, warmup_s=args.warmup, duration_s=0.5)
        totals = {each.target.name: Measurement() for each in running}
        slice_s = args.duration / args.rounds
        _progress(
            f"{args.rounds} rounds of {slice_s:g} s per server, {args.connections} connections"
        )
        for index in range(args.rounds):
            order = running if index % 2 == 0 else list(reversed(running))
            for each in order:
                # A short unmeasured start lets connections open before the clock runs.
                merge(
                    totals[each.target.name],
                    await load(each, args, warmup_s=0.3, duration_s=slice_s),
                )
        return totals
    finally:
        for each in running:
            each.server.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    # A dedicated home keeps the benchmark's embedded database and tenants apart from a
    # developer's ./var; RENSHI_HOME still wins when set.
    home = Path(os.environ.get("RENSHI_HOME") or DEFAULT_HOME)
    settings = Settings(home=home)

    _progress(f"preparing the {'embedded' if settings.embedded else 'external'} database")
    ttl = max(3600, int(2 * (args.warmup + args.duration)) + 600)
    fixture = await prepare(settings, token_ttl=ttl)
    env = server_env(settings, fixture)
    results = await measure_all(env, fixture, args)

    graphql, plain = results["graphql"], results["plain"]
    graphql_rps = len(graphql.latencies) / args.duration
    plain_rps = len(plain.latencies) / args.duration
    ratio = graphql_rps / plain_rps if plain_rps else math.nan
    return {
        "graphql_rps": round(graphql_rps, 1),
        "p50_ms": percentile_ms(graphql.latencies, 50),
        "p99_ms": percentile_ms(graphql.latencies, 99),
        "plain_rps": round(plain_rps, 1),
        "plain_p50_ms": percentile_ms(plain.latencies, 50),
        "plain_p99_ms": percentile_ms(plain.latencies, 99),
        "ratio": round(ratio, 3),
        "ratio_goal": RATIO_GOAL,
        "meets_goal": ratio >= RATIO_GOAL,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "requests": {"graphql": graphql.requests, "plain": plain.requests},
        "errors": {"graphql": graphql.errors, "plain": plain.errors},
        "database": fixture.database,
        # Diagnostics: whether the server was CPU-bound, and how much of a CPU the load
        # generator took from the machine the server shares with it.
        "server_cpu_ms_per_request": {
            name: _per_request_ms(m.server_cpu_s, len(m.latencies)) for name, m in results.items()
        },
        "loadgen_cpu_percent": {
            name: round(100 * m.client_cpu_s / args.duration, 1) for name, m in results.items()
        },
        "workers": 1,
        "cpus": os.cpu_count(),
    }


def _per_request_ms(cpu_s: float, requests: int) -> float:
    return round(1000 * cpu_s / requests, 3) if requests else math.nan


def request_bench_status(
    report: dict[str, Any] | None, *, check: bool, progress: Callable[[str], None]
) -> int:
    """The exit status of a bench of requests whose report counts ``errors``: 130 when it
    was stopped, 1 when a request failed (its figures are then not comparable) or, with
    ``check``, when the goal is missed, else 0."""
    if report is None:
        return 130
    if report["errors"]:
        progress("some requests failed: the figures are not comparable")
    return 1 if report["errors"] or (check and not report["meets_goal"]) else 0


def run_report(
    run: Coroutine[Any, Any, dict[str, Any]],
    *,
    as_json: bool,
    render: Callable[[dict[str, Any]], str],
    stopped: Callable[[str], None],
) -> dict[str, Any] | None:
    """A bench's run on uvloop, its report printed as one JSON object or as a table; None
    when it was stopped (Ctrl-C or a signal)."""

    async def stoppable() -> dict[str, Any]:
        # SIGTERM cancels the run like Ctrl-C, so servers and databases it started stop.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            report = runner.run(stoppable())
        except (asyncio.CancelledError, KeyboardInterrupt):
            stopped("stopped")
            return None
    # default=str: dates and paths in a report read as text.
    print(json.dumps(json_safe(report), default=str) if as_json else render(report), flush=True)
    return report


def json_safe(value: Any) -> Any:
    """``value`` with NaN (a figure that could not be measured) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    return value


def render_table(report: dict[str, Any]) -> str:
    rows = [
        ("graphql", report["graphql_rps"], report["p50_ms"], report["p99_ms"]),
        ("plain", report["plain_rps"], report["plain_p50_ms"], report["plain_p99_ms"]),
    ]
    lines = [
        f"{'':8} {'rps':>10} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}"
        f" {'server CPU ms/req':>18}"
    ]
    for name, rps, p50, p99 in rows:
        lines.append(
            f"{name:8} {rps:>10.1f} {p50:>8.2f} {p99:>8.2f} "
            f"{report['requests'][name]:>9} {report['errors'][name]:>7}"
            f" {report['server_cpu_ms_per_request'][name]:>18.3f}"
        )
    verdict = "met" if report["meets_goal"] else "MISSED"
    lines.append(
        f"ratio {report['ratio']:.3f} (goal >= {report['ratio_goal']}: {verdict}); "
        f"{report['connections']} connections, {report['duration_s']:g} s after "
        f"{report['warmup_s']:g} s warm-up, {report['database']} database"
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api",
        description="GraphQL viewer throughput against a plain Starlette + asyncpg baseline.",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument(
        "--rounds", type=int, default=6, help="alternating measured slices per server"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 when the ratio is under {RATIO_GOAL}"
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.connections < 1 or args.rounds < 1:
        parser.error("need --duration > 0, --warmup >= 0, --connections >= 1 and --rounds >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_report(run(args), as_json=args.json, render=render_table, stopped=_progress)
    if report is None:
        return 130
    failed = report["errors"]["graphql"] or report["errors"]["plain"]
    if failed:
        _progress("some requests failed: the figures are not comparable")
    return 1 if failed or (args.check and not report["meets_goal"]) else 0


if __name__ == "__main__":
    sys.exit(main())
