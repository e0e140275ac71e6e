"""The ``renshi`` command line against the test database, as an operator would use it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tenants.settings import Settings
from tests.support.graphql import GraphQLClient

ROOT = Path(__file__).resolve().parents[2]


async def renshi(
    settings: Settings, *args: str, stdin: str | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "DATABASE_ADMIN_URL": settings.database_admin_url or "",
        "RENSHI_HOME": str(home or settings.home),
        "RENSHI_LOG_LEVEL": "WARNING",
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


async def test_an_operator_sets_up_a_tenant_and_its_people_can_work(
    settings: Settings, gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    slug = f"cli-{os.getpid()}"
    tenant = _json(
        await renshi(
            settings,
            "--json",
            "tenant",
            "create",
            slug,
            "--name",
            "第一中学",
            "--template",
            "school_teaching",
        )
    )
    assert (tenant["slug"], tenant["template"]) == (slug, "school_teaching")

    user = _json(
        await renshi(
            settings,
            "--json",
            "user",
            "create",
            slug,
            "Head@School.example",
            "--role",
            "admin",
            "--role",
            "hr",
            "--password-stdin",
            stdin="a long enough password\n",
        )
    )
    assert (user["email"], user["roles"]) == ("head@school.example", "admin,hr")

    client = _json(
        await renshi(
            settings, "--json", "client", "create", slug, "ERP sync", "--scopes", "users:read"
        )
    )
    assert client["client_id"].startswith(f"{slug}.")

    login = """mutation($t: String!, $e: String!, $p: String!) { login(tenant: $t, email: $e, password: $p) {
      ... on LoginPayload { accessToken } } }"""
    # the trailing newline of the piped password is not part of it
    session = (
        await gql(login, {"t": slug, "e": "head@school.example", "p": "a long enough password"})
    ).ok()
    viewer = (
        await gql(
            "{ viewer { roles tenant { name templateCode } } }",
            token=session["login"]["accessToken"],
        )
    ).ok()
    assert viewer["viewer"] == {
        "roles": ["ADMIN", "HR"],
        "tenant": {"name": "第一中学", "templateCode": "school_teaching"},
    }

    token = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert token.status_code == 200


async def test_command_errors_are_one_clear_line(settings: Settings) -> None:
    slug = f"cli-err-{os.getpid()}"
    assert (
        await renshi(
            settings, "tenant", "create", slug, "--name", "X", "--template", "enterprise_rd"
        )
    ).returncode == 0
    cases = [
        (
            ("tenant", "create", slug, "--name", "X", "--template", "enterprise_rd"),
            f"renshi: DUPLICATE (slug): slug '{slug}' is taken",
        ),
        (
            ("tenant", "create", "Bad Slug", "--name", "X", "--template", "enterprise_rd"),
            "renshi: INVALID (slug)",
        ),
        (
            ("tenant", "create", "fine-slug", "--name", "X", "--template", "hospital"),
            "renshi: INVALID (template): unknown template 'hospital'",
        ),
        (
            ("user", "create", "no-such-tenant", "a@example.com", "--role", "admin"),
            "renshi: no tenant with slug 'no-such-tenant'",
        ),
        (
            ("user", "create", slug, "a@example.com", "--role", "admin", "--password-stdin"),
            "renshi: no password on standard input",
        ),
    ]
    for args, message in cases:
        result = await renshi(settings, *args, stdin="")
        assert result.returncode == 1, (args, result.stdout)
        assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr


async def test_migrate_is_idempotent_and_keys_rotate(settings: Settings, tmp_path: Path) -> None:
    migrated = await renshi(settings, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip().endswith("schema is up to date")

    first = _json(await renshi(settings, "--json", "keys", "rotate", home=tmp_path))
    second = _json(await renshi(settings, "--json", "keys", "rotate", home=tmp_path))
    assert first["kid"] != second["kid"]
    keys = json.loads((tmp_path / "jwt-keys.json").read_text())["keys"]
    assert len(keys) == 2


async def test_provisioning_is_idempotent(settings: Settings, superuser_url: str) -> None:
    for _ in range(2):
        result = _json(
            await renshi(
                settings,
                "--json",
                "db",
                "provision",
                "--superuser-url",
                superuser_url,
                "--database",
                "renshi_cli_provision",
                "--owner",
                "renshi_cli_owner",
                "--app",
                "renshi_cli_app",
            )
        )
        assert "renshi_cli_app@" in result["DATABASE_URL"]
        assert "renshi_cli_owner@" in result["DATABASE_ADMIN_URL"]
