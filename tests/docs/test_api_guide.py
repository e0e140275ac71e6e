"""The API guide's example (docs/examples/erp_sync.py) against the real application over HTTP,
and every GraphQL document of docs/api-guide.md validated against the schema."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from gql import gql
from graphql import GraphQLSchema, parse, validate

from api.graphql.schema import build_schema
from api.ratelimit import RateLimiter
from api.runtime import AppRuntime
from tenants.authorization import load_matrix
from tenants.models import Tenant
from tenants.settings import Settings
from tests.factories import create_api_client, create_tenant
from tests.factories_records import create_employee

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "api-guide.md"
EXAMPLE = ROOT / "docs" / "examples" / "erp_sync.py"
_GRAPHQL_BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)


def _load_example() -> ModuleType:
    """The example as an integrator runs it: a standalone script, not part of a package."""
    spec = importlib.util.spec_from_file_location("erp_sync_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


erp_sync: Any = _load_example()
ApiError = erp_sync.ApiError
AuthenticationError = erp_sync.AuthenticationError
Credentials = erp_sync.Credentials
EmployeeRecord = erp_sync.EmployeeRecord
OrgUnitRecord = erp_sync.OrgUnitRecord
RateLimitedError = erp_sync.RateLimitedError
Renshi = erp_sync.Renshi
follow_import = erp_sync.follow_import
iter_employees = erp_sync.iter_employees
sync = erp_sync.sync
upsert_employees = erp_sync.upsert_employees

UNITS = [
    OrgUnitRecord(external_key="ERP-HQ", name="Head office", kind="company"),
    OrgUnitRecord(
        external_key="ERP-RD", name="R&D", kind="department", parent_external_key="ERP-HQ"
    ),
]
PEOPLE = [
    EmployeeRecord(
        employee_number="ERP-0001",
        name="Wang Fang",
        level="senior",
        org_unit_external_key="ERP-RD",
        hire_date=date(2024, 3, 1),
        email="wang.fang@example.com",
    ),
    EmployeeRecord(employee_number="ERP-0002", name="Li Na", level="mid"),
    EmployeeRecord(employee_number="ERP-0003", name="Zhao Lei", level="expert"),
]

CREATE_IMPORT = """
mutation CreateImport($input: ImportCreateInput!) {
  createImport(input: $input) {
    __typename
    ... on ImportPayload { import { id status uploadPath } }
    ... on ImportError { code field message }
  }
}
"""


async def _credentials(base_url: str, tenant: Tenant, *scopes: str) -> Any:
    issued = await create_api_client(tenant, scopes=scopes)
    return Credentials(
        base_url=base_url,
        client_id=issued.client.client_id,
        client_secret=issued.secret,
        scopes=scopes,
    )


async def test_the_erp_sync_writes_pages_and_sees_its_own_tenant_only(base_url: str) -> None:
    # given: a tenant with one person the ERP does not know, and another tenant with its own
    acme, other = await create_tenant(), await create_tenant()
    await create_employee(acme, employee_number="ERP-LEGACY", name="Left Long Ago")
    await create_employee(other, employee_number="OTHER-0001", name="Someone Else")
    credentials = await _credentials(base_url, acme, "records:write")

    # when
    async with Renshi(credentials) as api:
        first = await sync(api, UNITS, PEOPLE)
        again = await sync(api, UNITS, PEOPLE)
        listed = [person async for person in iter_employees(api, page_size=1)]

    # then: units and the two valid people are created, the third refused with its field
    assert (first.org_units.created, first.org_units.failed) == (2, [])
    assert (first.employees.created, first.employees.updated) == (2, 0)
    assert [(f.key, f.code, f.field) for f in first.employees.failed] == [
        ("ERP-0003", "INVALID", "level")
    ]
    assert first.only_in_renshi == ["ERP-LEGACY"]
    # a second run changes nothing
    assert (again.org_units.unchanged, again.org_units.created) == (2, 0)
    assert (again.employees.unchanged, again.employees.created, again.employees.updated) == (
        2,
        0,
        0,
    )
    # paged one by one, in employee-number order: this tenant's people only, as written
    assert [p.employee_number for p in listed] == ["ERP-0001", "ERP-0002", "ERP-LEGACY"]
    wang = listed[0]
    assert (wang.name, wang.level, wang.org_unit_external_key, wang.status) == (
        "Wang Fang",
        "senior",
        "ERP-RD",
        "ACTIVE",
    )

    # and the other tenant's client sees its own person, none of the synced ones
    other_credentials = await _credentials(base_url, other, "records:read")
    async with Renshi(other_credentials) as other_api:
        theirs = [p.employee_number async for p in iter_employees(other_api)]
    assert theirs == ["OTHER-0001"]


async def test_a_refused_token_is_fetched_again_once(base_url: str) -> None:
    credentials = await _credentials(base_url, await create_tenant(), "records:write")
    async with Renshi(credentials) as api:
        api._auth.token = "expired-or-revoked"
        report = await upsert_employees(api, PEOPLE[1:2])
        assert report.created == 1
        assert api.token != "expired-or-revoked"


async def test_refusals_stop_the_run_with_their_code(base_url: str) -> None:
    tenant = await create_tenant()
    reader = await _credentials(base_url, tenant, "records:read")
    async with Renshi(reader) as api:
        with pytest.raises(ApiError) as refused:
            await upsert_employees(api, PEOPLE[:1])
    assert refused.value.code == "FORBIDDEN"

    wrong_secret = Credentials(
        base_url=base_url, client_id=reader.client_id, client_secret="not-the-secret"
    )
    with pytest.raises(AuthenticationError, match="invalid_client"):
        async with Renshi(wrong_secret):
            pass


@pytest.fixture
def two_requests_an_hour(runtime: AppRuntime) -> Iterator[None]:
    original = runtime.limiter
    runtime.limiter = RateLimiter(runtime.settings.model_copy(update={"rate_limit": "2/hour"}))
    yield
    runtime.limiter = original


@pytest.mark.usefixtures("two_requests_an_hour")
async def test_a_long_rate_limit_wait_is_reported_not_slept(base_url: str) -> None:
    credentials = await _credentials(base_url, await create_tenant(), "records:read")
    async with Renshi(credentials, max_rate_limit_wait_s=0) as api:
        assert [p async for p in iter_employees(api)] == []
        assert [p async for p in iter_employees(api)] == []
        with pytest.raises(RateLimitedError) as limited:
            [p async for p in iter_employees(api)]
    assert 0 < limited.value.retry_after_s <= 3600


async def test_an_import_is_followed_over_the_websocket(base_url: str) -> None:
    tenant = await create_tenant()
    credentials = await _credentials(base_url, tenant, "imports:write")
    async with Renshi(credentials) as api:
        created = (
            await api.execute(
                gql(CREATE_IMPORT),
                {"input": {"kind": "facts", "format": "CSV", "profile": "generic"}},
            )
        )["createImport"]
        assert created["__typename"] == "ImportPayload", created
        import_id = created["import"]["id"]
        states = await follow_import(credentials, api.token, import_id)
    # Waiting for its file: the stream says so once and ends.
    assert [(s["id"], s["status"]) for s in states] == [(import_id, "AWAITING_UPLOAD")]

    # Another tenant's client cannot follow it.
    stranger = await _credentials(base_url, await create_tenant(), "imports:write")
    async with Renshi(stranger) as api:
        with pytest.raises(ApiError, match="not found") as refused:
            await follow_import(stranger, api.token, import_id)
    assert refused.value.code == "BAD_USER_INPUT"


@pytest.fixture(scope="module")
def schema(settings: Settings) -> GraphQLSchema:
    return build_schema(settings, load_matrix())._schema


def _guide_documents() -> list[str]:
    return _GRAPHQL_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_has_its_graphql_documents() -> None:
    # The guide's examples are the point of it; a broken fence would hide them from the
    # validation below.
    assert len(_guide_documents()) >= 8


@pytest.mark.parametrize("index", range(len(_guide_documents())))
def test_every_graphql_document_of_the_guide_validates(schema: GraphQLSchema, index: int) -> None:
    document = _guide_documents()[index]
    assert validate(schema, parse(document)) == [], document


@pytest.mark.parametrize(
    "name", ["UPSERT_ORG_UNITS", "UPSERT_EMPLOYEES", "EMPLOYEES_PAGE", "IMPORT_PROGRESS"]
)
def test_the_examples_documents_validate(schema: GraphQLSchema, name: str) -> None:
    document = getattr(erp_sync, name)
    parsed = parse(document) if isinstance(document, str) else document.document
    assert validate(schema, parsed) == []
