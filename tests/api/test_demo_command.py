"""``renshi demo``: builds the demo tenants once; running it again skips them, and every run
says how to log in."""

from __future__ import annotations

import json
from typing import Any

from domain.demo.catalogue import DEMO_PASSWORD
from tenants.settings import Settings
from tests.api.test_cli import renshi
from tests.support.graphql import GraphQLClient

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
