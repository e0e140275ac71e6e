"""An ERP sync job against Renshi's GraphQL API, written with ``gql`` (httpx transport).

What an integrator's nightly job does: get a token with the OAuth2 client credentials grant,
send the ERP's org units and people in bulk upserts (at most 500 items a call, keyed by
external key and employee number, so a retry or a second run changes nothing), then page
through Renshi's people to find those the ERP no longer has. It handles the API's errors the
way the API guide (docs/api-guide.md) describes: an expired token is replaced once, a rate
limit is waited out when the wait is short, every other refusal stops the run with its code.
An import's progress can be followed live over a WebSocket (``follow_import``).

Usage (the client needs the ``records:write`` scope)::

    RENSHI_URL=https://renshi.example.com RENSHI_CLIENT_ID=acme.… RENSHI_CLIENT_SECRET=… \\
      python docs/examples/erp_sync.py --units units.csv --people people.csv

``units.csv`` has the columns ``external_key,name,kind,parent_external_key`` (parents before
their children), ``people.csv`` ``employee_number,name,level,org_unit_external_key,hire_date,
email``. The summary is printed as JSON; the exit status is 1 when any item failed.

Requires ``gql[httpx]`` (4.x) and ``websockets`` (14 or later).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import sys
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

# The API takes at most this many items per bulk upsert.
BATCH_SIZE = 500
# Pages are capped at 100 items.
PAGE_SIZE = 100

UPSERT_ORG_UNITS = gql(
    """
    mutation UpsertOrgUnits($items: [OrgUnitUpsertInput!]!) {
      upsertOrgUnits(items: $items) {
        __typename
        ... on OrgUnitsUpsertPayload {
          results { key outcome error { code field message } }
        }
        ... on OrgUnitsUpsertError { code field message }
      }
    }
    """
)

UPSERT_EMPLOYEES = gql(
    """
    mutation UpsertEmployees($items: [EmployeeUpsertInput!]!) {
      upsertEmployees(items: $items) {
        __typename
        ... on EmployeesUpsertPayload {
          results { key outcome error { code field message } }
        }
        ... on EmployeesUpsertError { code field message }
      }
    }
    """
)

EMPLOYEES_PAGE = gql(
    """
    query EmployeesPage($first: Int!, $after: String) {
      employees(first: $first, after: $after, orderBy: EMPLOYEE_NUMBER) {
        edges {
          node { id employeeNumber name status level { code } orgUnit { externalKey } }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
    """
)

# Subscriptions go over a WebSocket (graphql-transport-ws), sent as plain JSON messages.
IMPORT_PROGRESS = """
subscription ImportProgress($id: ID!) {
  importProgress(id: $id) { id status rowsRead rowsWritten progress }
}
"""


# --- errors ---------------------------------------------------------------------------------


class SyncError(Exception):
    """The run cannot go on; the message says why."""


class AuthenticationError(SyncError):
    """The token endpoint refused the client's credentials or scopes."""


class RateLimitedError(SyncError):
    """Renshi asked to wait longer than this job is willing to."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"rate limited; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ApiError(SyncError):
    """A GraphQL error: ``code`` is ``extensions.code`` (FORBIDDEN, BAD_USER_INPUT, ...)."""

    def __init__(self, code: str, message: str, request_id: str | None = None) -> None:
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{code}: {message}{suffix}")
        self.code = code
        self.request_id = request_id


# --- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    base_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ("records:write",)

    @classmethod
    def from_environment(cls) -> Credentials:
        try:
            return cls(
                base_url=os.environ["RENSHI_URL"].rstrip("/"),
                client_id=os.environ["RENSHI_CLIENT_ID"],
                client_secret=os.environ["RENSHI_CLIENT_SECRET"],
            )
        except KeyError as missing:
            raise SyncError(f"set {missing.args[0]}") from None


@dataclass(frozen=True)
class OrgUnitRecord:
    external_key: str
    name: str
    kind: str
    parent_external_key: str | None = None

    def to_input(self) -> dict[str, Any]:
        return {
            "externalKey": self.external_key,
            "name": self.name,
            "kind": self.kind,
            "parentExternalKey": self.parent_external_key,
        }


@dataclass(frozen=True)
class EmployeeRecord:
    employee_number: str
    name: str
    level: str | None = None
    org_unit_external_key: str | None = None
    hire_date: date | None = None
    email: str | None = None

    def to_input(self) -> dict[str, Any]:
        return {
            "employeeNumber": self.employee_number,
            "name": self.name,
            "level": self.level,
            "orgUnitExternalKey": self.org_unit_external_key,
            "hireDate": self.hire_date.isoformat() if self.hire_date else None,
            "email": self.email,
        }


@dataclass(frozen=True)
class RenshiEmployee:
    """A person as Renshi has them."""

    id: str
    employee_number: str
    name: str
    status: str
    level: str | None
    org_unit_external_key: str | None


@dataclass(frozen=True)
class ItemFailure:
    key: str
    code: str
    field: str | None
    message: str


@dataclass
class SyncReport:
    """What a bulk upsert did, item by item."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[ItemFailure] = field(default_factory=list)

    def add(self, results: Iterable[dict[str, Any]]) -> None:
        for result in results:
            outcome = result["outcome"]
            if outcome == "CREATED":
                self.created += 1
            elif outcome == "UPDATED":
                self.updated += 1
            elif outcome == "UNCHANGED":
                self.unchanged += 1
            else:
                error = result.get("error") or {}
                self.failed.append(
                    ItemFailure(
                        key=result["key"],
                        code=str(error.get("code")),
                        field=error.get("field"),
                        message=str(error.get("message")),
                    )
                )


# --- the connection -------------------------------------------------------------------------


class _Bearer(httpx.Auth):
    """The current access token on every request; replaced in place when it expires."""

    def __init__(self) -> None:
        self.token = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


async def fetch_token(http: httpx.AsyncClient, credentials: Credentials) -> str:
    """An access token from ``POST /oauth/token`` (client credentials, HTTP Basic)."""
    response = await http.post(
        f"{credentials.base_url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": " ".join(credentials.scopes)},
        auth=(credentials.client_id, credentials.client_secret),
    )
    if response.status_code == 429:
        raise RateLimitedError(int(response.headers.get("Retry-After", "60")))
    body = response.json()
    if response.status_code != 200:
        raise AuthenticationError(f"{body.get('error')}: {body.get('error_description')}")
    return str(body["access_token"])


def _first_error(exc: TransportQueryError) -> tuple[str, str, dict[str, Any]]:
    errors = exc.errors or [{"message": str(exc)}]
    first = errors[0]
    extensions: dict[str, Any] = first.get("extensions") or {}
    return str(extensions.get("code", "UNKNOWN")), str(first.get("message")), extensions


class Renshi:
    """One client's connection to the API: a token (fetched again once it is refused) and a
    gql session over httpx. Use it as an async context manager."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        max_rate_limit_wait_s: float = 60.0,
        timeout_s: float = 60.0,
    ) -> None:
        self.credentials = credentials
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self._timeout_s = timeout_s
        self._auth = _Bearer()
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self._stack = contextlib.AsyncExitStack()
        # No schema from the server: introspection is off in production.
        self._client = Client(
            transport=HTTPXAsyncTransport(
                url=f"{credentials.base_url}/graphql", auth=self._auth, timeout=timeout_s
            ),
            execute_timeout=timeout_s,
        )
        self._session: Any = None

    @property
    def token(self) -> str:
        return self._auth.token

    async def __aenter__(self) -> Renshi:
        self._stack.push_async_callback(self._http.aclose)
        try:
            self._auth.token = await fetch_token(self._http, self.credentials)
            self._session = await self._stack.enter_async_context(self._client)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def execute(
        self, document: GraphQLRequest, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The operation's ``data``; GraphQL errors become ``ApiError``."""
        request = GraphQLRequest(document, variable_values=variables)
        refreshed = False
        while True:
            try:
                data: dict[str, Any] = await self._session.execute(request)
                return data
            except TransportQueryError as exc:
                code, message, extensions = _first_error(exc)
                if code == "UNAUTHENTICATED" and not refreshed:
                    # Client tokens live an hour and have no refresh token: ask again.
                    self._auth.token = await fetch_token(self._http, self.credentials)
                    refreshed = True
                    continue
                if code == "RATE_LIMITED":
                    wait = int(extensions.get("retryAfter", 60))
                    if wait > self.max_rate_limit_wait_s:
                        raise RateLimitedError(wait) from exc
                    await asyncio.sleep(wait)
                    continue
                raise ApiError(code, message, extensions.get("requestId")) from exc


# --- the sync -------------------------------------------------------------------------------


def _batches(items: Sequence[Any], size: int = BATCH_SIZE) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _upsert(
    api: Renshi, document: GraphQLRequest, root: str, inputs: Sequence[dict[str, Any]]
) -> SyncReport:
    report = SyncReport()
    for batch in _batches(inputs):
        result = (await api.execute(document, {"items": list(batch)}))[root]
        if not result["__typename"].endswith("Payload"):
            # The whole call was refused (say, too many items): nothing of it was written.
            raise ApiError(result["code"], f"{result['field']}: {result['message']}")
        report.add(result["results"])
    return report


async def upsert_org_units(api: Renshi, units: Sequence[OrgUnitRecord]) -> SyncReport:
    """Create or update units by external key; parents must come before their children."""
    return await _upsert(api, UPSERT_ORG_UNITS, "upsertOrgUnits", [u.to_input() for u in units])


async def upsert_employees(api: Renshi, people: Sequence[EmployeeRecord]) -> SyncReport:
    """Create or update people by employee number."""
    return await _upsert(api, UPSERT_EMPLOYEES, "upsertEmployees", [p.to_input() for p in people])


async def iter_employees(
    api: Renshi, *, page_size: int = PAGE_SIZE
) -> AsyncIterator[RenshiEmployee]:
    """Every person Renshi has for this tenant (archived ones excepted), page by page."""
    after: str | None = None
    while True:
        page = (await api.execute(EMPLOYEES_PAGE, {"first": page_size, "after": after}))[
            "employees"
        ]
        for edge in page["edges"]:
            node = edge["node"]
            yield RenshiEmployee(
                id=node["id"],
                employee_number=node["employeeNumber"],
                name=node["name"],
                status=node["status"],
                level=(node["level"] or {}).get("code"),
                org_unit_external_key=(node["orgUnit"] or {}).get("externalKey"),
            )
        if not page["pageInfo"]["hasNextPage"]:
            return
        after = page["pageInfo"]["endCursor"]


@dataclass
class SyncSummary:
    org_units: SyncReport
    employees: SyncReport
    only_in_renshi: list[str]

    @property
    def failed(self) -> bool:
        return bool(self.org_units.failed or self.employees.failed)


async def sync(
    api: Renshi, units: Sequence[OrgUnitRecord], people: Sequence[EmployeeRecord]
) -> SyncSummary:
    """Units first (people name them), then people, then who Renshi has that the ERP lacks."""
    unit_report = await upsert_org_units(api, units)
    people_report = await upsert_employees(api, people)
    known = {p.employee_number for p in people}
    only_in_renshi = [
        e.employee_number async for e in iter_employees(api) if e.employee_number not in known
    ]
    return SyncSummary(unit_report, people_report, only_in_renshi)


async def _receive(socket: ClientConnection, timeout_s: float) -> dict[str, Any]:
    try:
        frame = await asyncio.wait_for(socket.recv(), timeout_s)
    except ConnectionClosed as closed:
        # A refused connection_init closes the socket (4403: a bad or expired token).
        raise SyncError(f"the subscription was closed: {closed}") from None
    message: dict[str, Any] = json.loads(frame)
    return message


async def follow_import(
    credentials: Credentials, token: str, import_id: str, *, timeout_s: float = 60.0
) -> list[dict[str, Any]]:
    """Every state an import reports until its run ends: the ``importProgress`` subscription
    over a WebSocket (graphql-transport-ws, the bearer token in ``connection_init``)."""
    url = credentials.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    states: list[dict[str, Any]] = []
    async with connect(
        f"{url}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        if (await _receive(socket, timeout_s))["type"] != "connection_ack":
            raise SyncError("the subscription was not acknowledged")
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": IMPORT_PROGRESS, "variables": {"id": import_id}},
        }
        await socket.send(json.dumps(subscribe))
        while True:
            message = await _receive(socket, timeout_s)
            kind = message["type"]
            if kind == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            elif kind == "complete":
                return states
            else:
                payload = message.get("payload")
                errors = payload if kind == "error" else (payload or {}).get("errors")
                if errors:
                    first = errors[0]
                    code = str((first.get("extensions") or {}).get("code", "UNKNOWN"))
                    raise ApiError(code, str(first.get("message")))
                data: dict[str, Any] = (payload or {})["data"]
                states.append(data["importProgress"])


# --- the command line -----------------------------------------------------------------------


def _optional(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def read_org_units(path: Path) -> list[OrgUnitRecord]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        return [
            OrgUnitRecord(
                external_key=row["external_key"].strip(),
                name=row["name"].strip(),
                kind=row["kind"].strip(),
                parent_external_key=_optional(row.get("parent_external_key")),
            )
            for row in csv.DictReader(file)
        ]


def read_employees(path: Path) -> list[EmployeeRecord]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        people = []
        for row in csv.DictReader(file):
            hired = _optional(row.get("hire_date"))
            people.append(
                EmployeeRecord(
                    employee_number=row["employee_number"].strip(),
                    name=row["name"].strip(),
                    level=_optional(row.get("level")),
                    org_unit_external_key=_optional(row.get("org_unit_external_key")),
                    hire_date=date.fromisoformat(hired) if hired else None,
                    email=_optional(row.get("email")),
                )
            )
        return people


async def _run(units: Path, people: Path) -> int:
    async with Renshi(Credentials.from_environment()) as api:
        summary = await sync(api, read_org_units(units), read_employees(people))
    print(json.dumps(asdict(summary), ensure_ascii=False, indent=2))
    return 1 if summary.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sync org units and people into Renshi.")
    parser.add_argument("--units", type=Path, required=True, help="org units CSV")
    parser.add_argument("--people", type=Path, required=True, help="people CSV")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_run(args.units, args.people))
    except SyncError as exc:
        print(f"sync failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
