"""``renshi tenant export`` and ``renshi tenant delete``, as an operator would run them."""

from __future__ import annotations

import json
import os
import secrets
import stat
import zipfile
from pathlib import Path

import asyncpg
import httpx

from api.runtime import AppRuntime
from tenants.settings import Settings
from tests.api.test_cli import renshi
from tests.factories import PASSWORD, create_tenant, create_user, node_uuid, user_token
from tests.factories_lifecycle import LOGIN, tenant_table_counts
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient

NATIONAL_ID = "11010519491231002X"


async def test_an_operator_exports_a_tenant_then_deletes_it_for_good(
    settings: Settings, gql: GraphQLClient, superuser: asyncpg.Connection, tmp_path: Path
) -> None:
    # given: a tenant with a login and a person whose national id is sealed, and another
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    await create_employee(tenant, name="Li", national_id=NATIONAL_ID)
    other = await create_tenant()
    await create_employee(other, name="Wang", national_id=NATIONAL_ID)
    others_before = await tenant_table_counts(superuser, other)

    # when: exported
    archive = tmp_path / "export.zip"
    exported = await renshi(
        settings, "--json", "tenant", "export", tenant.slug, "--out", str(archive)
    )

    # then: one archive, for its owner only, the national id readable in it
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    assert (summary["slug"], summary["file"]) == (tenant.slug, str(archive))
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with zipfile.ZipFile(archive) as z:
        manifest = json.loads(z.read("manifest.json"))
        (person,) = [json.loads(line) for line in z.read("tables/employees.jsonl").splitlines()]
    assert sum(t["rows"] for t in manifest["tables"]) == summary["rows"]
    assert (person["name"], person["national_id"]) == ("Li", NATIONAL_ID)

    # when: deleted, the slug confirmed
    deleted = await renshi(
        settings, "--json", "tenant", "delete", tenant.slug, "--confirm", tenant.slug
    )

    # then: nothing of it is left, nobody of it can log in, the other tenant is as it was
    assert deleted.returncode == 0, deleted.stderr
    report = json.loads(deleted.stdout)
    assert (report["slug"], report["tenant_id"]) == (tenant.slug, str(tenant.id))
    assert report["rows"] == summary["rows"]  # the archive held every row the deletion removed
    assert set((await tenant_table_counts(superuser, tenant)).values()) == {0}
    assert await superuser.fetchval("SELECT count(*) FROM tenants WHERE id = $1", tenant.id) == 0
    login = await gql(LOGIN, {"t": tenant.slug, "e": admin.email, "p": PASSWORD})
    assert login.ok()["login"]["__typename"] != "LoginPayload"
    assert await tenant_table_counts(superuser, other) == others_before


async def test_deletion_refuses_without_the_matching_confirmation_and_unknown_slugs_fail(
    settings: Settings, superuser: asyncpg.Connection, tmp_path: Path
) -> None:
    tenant = await create_tenant()
    await create_employee(tenant, national_id=NATIONAL_ID)
    before = await tenant_table_counts(superuser, tenant)
    unknown = f"no-such-{secrets.token_hex(3)}"
    cases = [
        (
            ("tenant", "delete", tenant.slug, "--confirm", f"{tenant.slug}x"),
            f"renshi: not deleting '{tenant.slug}': repeat its slug with --confirm {tenant.slug}",
        ),
        (
            ("tenant", "delete", unknown, "--confirm", unknown),
            f"renshi: no tenant with slug '{unknown}'",
        ),
        (
            ("tenant", "export", unknown, "--out", str(tmp_path / "x.zip")),
            f"renshi: no tenant with slug '{unknown}'",
        ),
    ]
    for args, message in cases:
        result = await renshi(settings, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr
    # without --confirm at all, argparse refuses (exit status 2) before anything runs
    bare = await renshi(settings, "tenant", "delete", tenant.slug)
    assert bare.returncode == 2
    assert "--confirm" in bare.stderr

    assert await tenant_table_counts(superuser, tenant) == before
    assert os.listdir(tmp_path) == []


async def test_an_import_file_that_does_not_open_is_left_out_with_a_warning(
    settings: Settings,
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    superuser: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    # given: a tenant with two imports, the upload of one altered in the database
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    await create_employee(tenant, employee_number="E1")
    importer = ImportClient(gql, http, user_token(runtime.tokens, admin))
    await importer.create_key()
    csv = "员工编号,姓名\nE1,Li\n".encode()
    intact = node_uuid((await importer.run("employees", csv))["id"])
    altered = node_uuid((await importer.run("employees", csv))["id"])
    await superuser.execute(
        "UPDATE import_chunks SET data = overlay(data placing '\\x00'::bytea from 40) "
        "WHERE import_id = $1 AND part = 'source'",
        altered,
    )

    # when
    archive = tmp_path / "export.zip"
    exported = await renshi(
        settings, "--json", "tenant", "export", tenant.slug, "--out", str(archive)
    )

    # then: the archive is written, the bad file named on stderr, the rest exported
    assert exported.returncode == 0, exported.stderr
    summary = json.loads(exported.stdout)
    assert summary["import_files_not_exported"] == 1
    assert f"renshi: warning: import {altered}: its source file is not in the archive " in (
        exported.stderr
    )
    with zipfile.ZipFile(archive) as z:
        assert z.read(f"imports/{intact}/upload.csv") == csv
        assert f"imports/{altered}/upload.csv" not in z.namelist()
        manifest = json.loads(z.read("manifest.json"))
    assert summary["import_files"] == len(manifest["import_files"])
    assert [(f["import_id"], f["code"]) for f in manifest["import_files_not_exported"]] == [
        (str(altered), "IMPORT_KEY_MISMATCH")
    ]
