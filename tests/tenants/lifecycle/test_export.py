"""Exporting a tenant: every table, exactly its rows, personal fields readable, no secrets."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from api.runtime import AppRuntime
from tenants.lifecycle.export import (
    BINARY_COLUMNS,
    EXCLUDED_COLUMNS,
    EXPORT_FORMAT,
    MANIFEST,
    SEALED_COLUMNS,
    TenantExportError,
    export_tenant,
    export_tenant_to_path,
)
from tenants.scope import TenantID
from tests.factories import create_tenant, tenant_id
from tests.factories_lifecycle import tenant_table_counts, tenant_with_data
from tests.support.graphql import GraphQLClient


def _read(archive: bytes) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], str]:
    """The manifest, each file's rows by table, and the whole archive's text."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        manifest = json.loads(z.read(MANIFEST))
        texts = {name: z.read(name).decode() for name in z.namelist()}
    tables = {
        entry["table"]: [json.loads(line) for line in texts[entry["file"]].splitlines()]
        for entry in manifest["tables"]
    }
    return manifest, tables, "\n".join(texts.values())


async def _ids_of(superuser: asyncpg.Connection, tenant: TenantID) -> set[str]:
    """Every row id of ``tenant`` in every table that has an ``id`` column."""
    tables = await superuser.fetch(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND column_name = 'tenant_id' AND table_name IN (SELECT table_name FROM "
        "information_schema.columns WHERE table_schema = current_schema() AND column_name = 'id')"
    )
    ids = {str(tenant)}
    for (name,) in tables:
        rows = await superuser.fetch(
            f'SELECT id::text FROM "{name}" WHERE tenant_id = $1',  # noqa: S608
            tenant,
        )
        ids.update(r[0] for r in rows)
    return ids


async def test_the_archive_holds_every_table_of_the_tenant_and_nothing_of_another(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
) -> None:
    # given: two tenants with data in every area
    data = await tenant_with_data(gql, http, runtime, superuser)
    other = await tenant_with_data(gql, http, runtime, superuser)
    counts = await tenant_table_counts(superuser, data.tenant)
    assert [table for table, n in counts.items() if n == 0] == []  # the data covers every table

    # when
    destination = io.BytesIO()
    manifest = await export_tenant(tenant_id(data.tenant), destination, pii=runtime.pii)

    # then: every tenant table and the tenant's row, each with exactly the tenant's rows
    written, tables, text = _read(destination.getvalue())
    assert written["format"] == EXPORT_FORMAT
    assert written["tenant"] == {
        "id": str(data.tenant.id),
        "slug": data.tenant.slug,
        "name": "Lifecycle Org",
    }
    assert written["schema_version"] == await superuser.fetchval(
        "SELECT name FROM tortoise_migrations ORDER BY applied_at DESC, id DESC LIMIT 1"
    )
    assert {e["table"]: e["rows"] for e in written["tables"]} == {"tenants": 1, **counts}
    assert {t: len(rows) for t, rows in tables.items()} == {"tenants": 1, **counts}
    assert [t.rows for t in manifest.tables] == [e["rows"] for e in written["tables"]]
    assert tables["tenants"][0]["slug"] == data.tenant.slug
    assert all(row["tenant_id"] == str(data.tenant.id) for row in tables["employees"])

    # nothing of the other tenant, not even an id
    assert other.tenant.slug not in text
    leaked = {i for i in await _ids_of(superuser, tenant_id(other.tenant)) if i in text}
    assert leaked == set()

    # personal fields decrypted, their ciphertext nowhere
    national_ids = {row["name"]: row["national_id"] for row in tables["employees"]}
    assert national_ids["Ada"] == data.national_id
    assert national_ids["Imported Person"] == data.imported_national_id
    sealed = await superuser.fetch(
        "SELECT encode(national_id, 'hex') FROM employees "
        "WHERE tenant_id = $1 AND national_id IS NOT NULL",
        data.tenant.id,
    )
    assert len(sealed) == 2
    assert not any(hex_value in text for (hex_value,) in sealed)
    assert {(d["table"], d["column"]) for d in written["decrypted_columns"]} == {
        ("employees", "national_id")
    }

    # secrets left out, each with its reason in the manifest
    for (table, column), reason in EXCLUDED_COLUMNS.items():
        assert tables[table], table
        assert all(column not in row for row in tables[table]), (table, column)
        assert {"table": table, "column": column, "reason": reason} in written["excluded_columns"]
        columns = next(e["columns"] for e in written["tables"] if e["table"] == table)
        assert column not in columns
    password_hash = await superuser.fetchval(
        "SELECT password_hash FROM users WHERE id = $1", data.admin.id
    )
    assert password_hash not in text
    # what is left of those tables is there: the user's account, without its hash
    assert tables["users"][0]["email"] == data.admin.email


async def test_every_binary_column_is_decrypted_excluded_or_declared(
    superuser: asyncpg.Connection,
) -> None:
    # A sealed column added later must not leave in its encrypted form unnoticed.
    columns = await superuser.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name IN "
        "(SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id')"
    )
    binary = {(r["table_name"], r["column_name"]) for r in columns if r["data_type"] == "bytea"}
    declared = [*EXCLUDED_COLUMNS, *SEALED_COLUMNS, *BINARY_COLUMNS]
    assert len(declared) == len(set(declared)), "a column is in two of the mappings"
    assert binary - set(declared) == set()
    # and none of the mappings names a column that no longer exists
    assert set(declared) - {(r["table_name"], r["column_name"]) for r in columns} == set()


async def test_the_archive_file_is_its_owners_only_and_an_unknown_tenant_writes_none(
    tmp_path: Path, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    path = tmp_path / "export.zip"
    manifest = await export_tenant_to_path(tenant_id(tenant), path, pii=runtime.pii)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert manifest.slug == tenant.slug
    # a tenant with nothing but its row, its keys and none of the rest
    assert {t.table: t.rows for t in manifest.tables}["tenants"] == 1

    missing = tmp_path / "missing.zip"
    with pytest.raises(TenantExportError, match="no tenant"):
        await export_tenant_to_path(TenantID(uuid4()), missing, pii=runtime.pii)
    assert os.listdir(tmp_path) == ["export.zip"]
