"""Running imports the way a client does: a key, an encrypted file, an upload, a run."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tenants.crypto.imports import ImportBundle, encrypt_bytes, load_bundle
from tests.support.graphql import GraphQLClient

CREATE_KEY = """mutation { createImportKey { __typename
  ... on ImportKeyCreatePayload { keyId associatedData keysetFile }
  ... on ImportError { code message } } }"""
CREATE = """mutation($input: ImportCreateInput!) { createImport(input: $input) { __typename
  ... on ImportPayload { import { id status uploadPath errorsPath } }
  ... on ImportError { code field message details { field message } } } }"""
START = """mutation($input: ImportStartInput!) { startImport(input: $input) { __typename
  ... on ImportPayload { import { id status mode } }
  ... on ImportError { code field message } } }"""
IMPORT = """query($id: ID!) { node(id: $id) { ... on Import {
  id kind status mode onError encoding headers mapping summary bytesProcessed byteSize
  rowsRead rowsValid rowsInvalid rowsWritten progress etaSeconds
  error { code message messageZh } firstErrors(limit: 50) { row column code message value }
} } }"""
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "READY"}


@dataclass
class ImportClient:
    """One tenant's importer: its token and, once created, its key bundle."""

    gql: GraphQLClient
    http: httpx.AsyncClient
    token: str
    bundle: ImportBundle | None = None

    async def create_key(self) -> dict[str, Any]:
        result = (await self.gql(CREATE_KEY, token=self.token)).ok()["createImportKey"]
        assert result["__typename"] == "ImportKeyCreatePayload", result
        keyset_file: dict[str, Any] = result["keysetFile"]
        self.bundle = load_bundle(json.dumps(keyset_file).encode())
        return keyset_file

    def encrypt(self, data: bytes) -> bytes:
        assert self.bundle is not None, "create_key first"
        return encrypt_bytes(self.bundle.handle, self.bundle.associated_data, data)

    async def create(self, kind: str, fmt: str = "CSV", **extra: Any) -> dict[str, Any]:
        response = await self.gql(
            CREATE, {"input": {"kind": kind, "format": fmt, **extra}}, token=self.token
        )
        result: dict[str, Any] = response.ok()["createImport"]
        return result

    async def upload(self, path: str, ciphertext: bytes) -> httpx.Response:
        return await self.http.put(
            path, content=ciphertext, headers={"authorization": f"Bearer {self.token}"}
        )

    async def start(self, import_id: str, mode: str, **extra: Any) -> dict[str, Any]:
        response = await self.gql(
            START, {"input": {"id": import_id, "mode": mode, **extra}}, token=self.token
        )
        result: dict[str, Any] = response.ok()["startImport"]
        return result

    async def get(self, import_id: str) -> dict[str, Any]:
        node: dict[str, Any] = (await self.gql(IMPORT, {"id": import_id}, token=self.token)).ok()[
            "node"
        ]
        return node

    async def wait(self, import_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            node = await self.get(import_id)
            if node["status"] in TERMINAL and node["mode"] is not None:
                return node
            if time.monotonic() > deadline:
                raise AssertionError(f"import still {node['status']} after {timeout_s} s")
            await asyncio.sleep(0.1)

    async def run(
        self,
        kind: str,
        plaintext: bytes,
        *,
        mode: str = "COMMIT",
        fmt: str = "CSV",
        ciphertext: bytes | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create, upload, start and wait: the import as it ended."""
        on_error = extra.pop("onError", None)
        created = await self.create(kind, fmt, **extra)
        assert created["__typename"] == "ImportPayload", created
        record = created["import"]
        uploaded = await self.upload(
            record["uploadPath"], ciphertext if ciphertext is not None else self.encrypt(plaintext)
        )
        assert uploaded.status_code == 200, uploaded.text
        options = {"onError": on_error} if on_error else {}
        started = await self.start(record["id"], mode, **options)
        assert started["__typename"] == "ImportPayload", started
        return await self.wait(record["id"])
