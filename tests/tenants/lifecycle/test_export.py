"""Exporting a tenant: every table, exactly its rows, personal fields readable, no secrets,
the parts of layers above run in the snapshot, and every import's files decrypted (the
imports' part, ``domain.imports.export``, as the command passes it)."""

from __future__ import annotations

import ast
import csv
import hashlib
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

import tenants
from api.runtime import AppRuntime
from domain.imports.export import write_import_files
from tenants.crypto.keysets import TenantKeysets
from tenants.lifecycle.export import (
    BINARY_COLUMNS,
    EXCLUDED_COLUMNS,
    EXPORT_FORMAT,
    MANIFEST,
    SEALED_COLUMNS,
    ExportManifest,
    SkipCode,
    SkippedFile,
    TenantExportError,
    export_tenant,
    export_tenant_to_path,
)
from tenants.models import Tenant
from tenants.scope import TenantID
from tests.factories import create_tenant, create_user, node_uuid, tenant_id, user_token
from tests.factories_lifecycle import tenant_table_counts, tenant_with_data
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient

CHUNK = 1024 * 1024  # the size the uploads and reports are stored in
FACTS_HEADER = "工号,类型,日期,数值,分母,编号\n"


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
    manifest = await export_tenant(
        tenant_id(data.tenant), destination, pii=runtime.pii, parts=(write_import_files,)
    )

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


def test_the_platform_imports_nothing_of_the_domain() -> None:
    # Dependencies point domain -> tenants: what the export needs of a domain comes as a part.
    offending = []
    for source in sorted(Path(tenants.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            offending += [f"{source}: {n}" for n in names if n.split(".")[0] == "domain"]
    assert offending == []


async def test_parts_run_in_the_snapshot_after_the_tables_and_before_the_manifest(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    # given: a tenant with an import, and another tenant with one
    tenant, client = await _importer(gql, http, runtime)
    _, other_client = await _importer(gql, http, runtime)
    small = (FACTS_HEADER + "E1,defect,2026-01-05,1,1,K1\n").encode()
    run = await client.run("facts", small)
    await other_client.run("facts", small)
    import_id = node_uuid(run["id"])

    # when: exported without parts
    destination = io.BytesIO()
    bare = await export_tenant(tenant_id(tenant), destination, pii=runtime.pii)

    # then: the tables only, the import's row among them but none of its files
    with zipfile.ZipFile(io.BytesIO(destination.getvalue())) as archive:
        names = archive.namelist()
        written = json.loads(archive.read(MANIFEST))
    assert {t.table: t.rows for t in bare.tables}["imports"] == 1
    assert not any(n.startswith("imports/") for n in names)
    assert (written["import_files"], written["import_files_not_exported"]) == ([], [])

    # when: exported with a part of its own, then the imports' part
    seen: dict[str, Any] = {}

    async def note(
        conn: asyncpg.Connection,
        archive: zipfile.ZipFile,
        exported: TenantID,
        keysets: TenantKeysets,
        manifest: ExportManifest,
    ) -> None:
        seen["names"] = archive.namelist()
        seen["imports"] = await conn.fetchval("SELECT count(*) FROM imports")
        seen["snapshot"] = (
            await conn.fetchval("SHOW transaction_isolation"),
            await conn.fetchval("SHOW transaction_read_only"),
        )
        archive.writestr("notes/part.txt", f"tenant {exported}")
        manifest.skipped_files.append(SkippedFile(import_id, "note", "NOTE", "by the part"))

    destination = io.BytesIO()
    full = await export_tenant(
        tenant_id(tenant), destination, pii=runtime.pii, parts=(note, write_import_files)
    )

    # then: the part saw every table written and no manifest, in the tenant's read-only
    # snapshot (the other tenant's import invisible), and what it wrote and recorded is there
    assert set(seen["names"]) == {t.file for t in full.tables}
    assert seen["imports"] == 1
    assert seen["snapshot"] == ("repeatable read", "on")
    with zipfile.ZipFile(io.BytesIO(destination.getvalue())) as archive:
        names = archive.namelist()
        written = json.loads(archive.read(MANIFEST))
        assert archive.read("notes/part.txt").decode() == f"tenant {tenant.id}"
    assert names[-1] == MANIFEST
    assert written["import_files_not_exported"] == [
        {"import_id": str(import_id), "part": "note", "code": "NOTE", "reason": "by the part"}
    ]
    # the parts ran in their order: the imports' files after the note
    assert names.index("notes/part.txt") < names.index(f"imports/{import_id}/upload.csv")
    assert full.files[0].file == f"imports/{import_id}/upload.csv"


async def _importer(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> tuple[Tenant, ImportClient]:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    client = ImportClient(gql, http, user_token(runtime.tokens, admin))
    await client.create_key()
    await create_employee(tenant, employee_number="E1")
    return tenant, client


def _large_facts(marker: str) -> bytes:
    """A facts file of several stored chunks, ``marker`` in every row's key."""
    rows = "".join(f"E1,defect,2025-03-01,1,1,{marker}{n:07d}\n" for n in range(90_000))
    data = (FACTS_HEADER + rows).encode()
    assert len(data) > 2 * CHUNK + 1000
    return data


async def _export(runtime: AppRuntime, tenant: Tenant) -> tuple[dict[str, Any], zipfile.ZipFile]:
    destination = io.BytesIO()
    await export_tenant(
        tenant_id(tenant), destination, pii=runtime.pii, parts=(write_import_files,)
    )
    archive = zipfile.ZipFile(io.BytesIO(destination.getvalue()))
    return json.loads(archive.read(MANIFEST)), archive


async def test_each_import_file_is_in_the_archive_decrypted_and_another_tenants_are_not(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
) -> None:
    # given: a large file previewed (several chunks, a preview), a small one run with a row in
    # error (an error report), and another tenant's import
    tenant, client = await _importer(gql, http, runtime)
    _, other_client = await _importer(gql, http, runtime)
    large = _large_facts("BIG")
    previewed = await client.run("facts", large, mode="PREVIEW", fileName="Q1 facts.CSV")
    assert previewed["status"] == "READY", previewed
    small = (FACTS_HEADER + "E1,defect,2026-01-05,1,1,K1\nE9,defect,2026-01-07,1,1,K3\n").encode()
    run = await client.run("facts", small, onError="SKIP_INVALID")
    assert (run["status"], run["rowsInvalid"]) == ("SUCCEEDED", 1), run
    others = await other_client.run("facts", _large_facts("OTHER")[:5000].rsplit(b"\n", 1)[0])
    large_id, small_id = node_uuid(previewed["id"]), node_uuid(run["id"])
    stored = await superuser.fetchval(
        "SELECT count(*) FROM import_chunks WHERE import_id = $1 AND part = 'source'", large_id
    )
    assert stored >= 3

    # when
    manifest, archive = await _export(runtime, tenant)

    # then: each upload byte for byte, under its original extension or its format's
    large_upload = f"imports/{large_id}/upload.CSV"
    small_upload = f"imports/{small_id}/upload.csv"
    assert archive.read(large_upload) == large
    assert archive.read(small_upload) == small
    # the reports readable: the rows in error as CSV, the preview as JSON
    errors_csv = archive.read(f"imports/{small_id}/errors.csv").decode("utf-8-sig")
    (header, *rows) = list(csv.reader(io.StringIO(errors_csv)))
    assert header[:3] == ["row", "column", "code"]
    assert [(r[0], r[2], r[5]) for r in rows] == [("2", "NOT_FOUND", "E9")]
    preview = json.loads(archive.read(f"imports/{large_id}/preview.json"))
    assert preview["headers"] == FACTS_HEADER.strip().split(",")
    assert preview["rows"][0]["values"]["external_key"] == "BIG0000000"

    # the manifest lists every file with the size and digest of what the archive holds
    files = {f["file"]: f for f in manifest["import_files"]}
    assert set(files) == {n for n in archive.namelist() if n.startswith("imports/")}
    assert {(f["import_id"], f["part"]) for f in files.values()} == {
        (str(large_id), "source"),
        (str(large_id), "preview"),
        (str(large_id), "errors"),
        (str(small_id), "source"),
        (str(small_id), "errors"),
    }
    for name, entry in files.items():
        content = archive.read(name)
        assert (entry["bytes"], entry["sha256"]) == (
            len(content),
            hashlib.sha256(content).hexdigest(),
        ), name
    assert manifest["import_files_not_exported"] == []
    reason = next(
        e["reason"] for e in manifest["excluded_columns"] if e["table"] == "import_chunks"
    )
    assert "imports/" in reason
    assert "decrypted" in reason

    # nothing of the other tenant's import
    assert not any(str(node_uuid(others["id"])) in name for name in archive.namelist())
    assert not any(b"OTHER" in archive.read(name) for name in archive.namelist())


async def test_a_file_that_does_not_open_is_listed_with_its_reason_and_the_rest_exported(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    # given: an upload altered in its second chunk, one missing its first chunk, an error
    # report altered, and an upload still under way
    tenant, client = await _importer(gql, http, runtime)
    _, other_client = await _importer(gql, http, runtime)
    await other_client.run("facts", _large_facts("OTHER")[:5000].rsplit(b"\n", 1)[0])
    large = _large_facts("BIG")
    altered = node_uuid((await client.run("facts", large, mode="PREVIEW"))["id"])
    small = (FACTS_HEADER + "E9,defect,2026-01-07,1,1,K3\n").encode()
    missing = node_uuid((await client.run("facts", small, onError="SKIP_INVALID"))["id"])
    intact = await client.run("facts", small, onError="SKIP_INVALID", fileName="again.jsonl")
    intact_id = node_uuid(intact["id"])
    pending = await client.create("facts")
    pending_id = node_uuid(pending["import"]["id"])
    async with superuser.transaction():
        await superuser.execute(
            "UPDATE import_chunks SET data = overlay(data placing '\\x00'::bytea from 1000) "
            "WHERE import_id = $1 AND part = 'source' AND seq = 1",
            altered,
        )
        await superuser.execute(
            "DELETE FROM import_chunks WHERE import_id = $1 AND part = 'source' AND seq = 0",
            missing,
        )
        await superuser.execute(
            "UPDATE import_chunks SET data = overlay(data placing '\\x00'::bytea from 100) "
            "WHERE import_id = $1 AND part = 'errors' AND seq = 0",
            missing,
        )
        await superuser.execute(
            "INSERT INTO import_chunks (id, tenant_id, import_id, part, seq, data) "
            "VALUES (gen_random_uuid(), $1, $2, 'source', 0, '\\x01'::bytea)",
            tenant.id,
            pending_id,
        )

    # when: exported to a file, as the command does
    path = tmp_path / "export.zip"
    exported = await export_tenant_to_path(
        tenant_id(tenant), path, pii=runtime.pii, parts=(write_import_files,)
    )

    # then: each bad file is listed with its reason, none of it in the archive
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        names = set(archive.namelist())
        intact_upload = archive.read(f"imports/{intact_id}/upload.jsonl")
    skipped = {(f["import_id"], f["part"]): f for f in manifest["import_files_not_exported"]}
    assert {key: f["code"] for key, f in skipped.items()} == {
        (str(altered), "source"): "IMPORT_TAMPERED",
        (str(missing), "source"): SkipCode.CHUNK_MISSING,
        (str(missing), "errors"): SkipCode.REPORT_UNREADABLE,
        (str(pending_id), "source"): SkipCode.UPLOAD_INCOMPLETE,
    }
    assert skipped[str(missing), "source"]["reason"] == "chunk 0 of the stored file is missing"
    assert all(f["reason"] for f in skipped.values())
    assert [f.code for f in exported.skipped_files] == [f["code"] for f in skipped.values()]
    written = {(f["import_id"], f["part"]) for f in manifest["import_files"]}
    assert written & set(skipped) == set()
    # not even the segments of the altered upload that did open
    assert {f"imports/{altered}/upload.csv", f"imports/{missing}/upload.csv"} & names == set()
    assert f"imports/{missing}/errors.csv" not in names
    assert not any(n.startswith(f"imports/{pending_id}/") for n in names)

    # and everything else is there: the altered import's reports, the intact import
    assert f"imports/{altered}/preview.json" in names
    assert f"imports/{altered}/errors.csv" in names
    # the file name says JSON lines, the import was declared CSV: the name's extension wins
    assert intact_upload == small
    assert f"imports/{intact_id}/errors.csv" in names
    assert len(written) == len(manifest["import_files"]) == 4
