"""A small GraphQL client over the in-process HTTP transport, and what it returns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

_STATEMENTS = re.compile(r"statements=(\d+)")


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def data(self) -> dict[str, Any]:
        data = self.body.get("data")
        assert isinstance(data, dict), f"no data in {self.body}"
        return data

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors") or []
        return errors

    @property
    def error_codes(self) -> list[str]:
        return [str((e.get("extensions") or {}).get("code")) for e in self.errors]

    @property
    def statements(self) -> int:
        """SQL statements the operation ran in its tenant transaction (Server-Timing)."""
        match = _STATEMENTS.search(self.headers.get("server-timing", ""))
        assert match is not None, "no tenant transaction ran"
        return int(match.group(1))

    def ok(self) -> dict[str, Any]:
        assert self.status == 200, (self.status, self.body)
        assert not self.errors, self.errors
        return self.data


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        operation_name: str | None = None,
    ) -> GraphQLResponse:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        payload: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            payload["operationName"] = operation_name
        response = await self.http.post("/graphql", json=payload, headers=headers)
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        return GraphQLResponse(status=response.status_code, body=body, headers=response.headers)
