"""The imports API around a run: kinds, mapping suggestions, saved profiles, the list, keys,
and what an import sets off (scorecard recomputation)."""

from __future__ import annotations

from datetime import date

import httpx

from api.runtime import AppRuntime
from domain.jobs.models import Job
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, create_user, tenant_id, user_token
from tests.factories_indicators import create_period
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient

SUGGEST = """query($kind: String!, $headers: [String!]!) {
  suggestImportMapping(kind: $kind, headers: $headers) { mapping matches { column field score } } }"""
SAVE = """mutation($input: ImportProfileInput!) { saveImportProfile(input: $input) { __typename
  ... on ImportProfilePayload { profile { id name kind builtin mapping } }
  ... on ImportError { code field message details { field message } } } }"""
PROFILES = "query($kind: String) { importProfiles(kind: $kind) { name kind builtin } }"


async def _admin(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> tuple[Tenant, ImportClient]:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    return tenant, ImportClient(gql, http, user_token(runtime.tokens, admin))


async def test_kinds_describe_their_fields_in_both_languages(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _admin(gql, http, runtime)
    kinds = (
        await gql(
            "{ importKinds { code key label { zh en } fields { name type required reference } } }",
            token=client.token,
        )
    ).ok()["importKinds"]
    codes = [k["code"] for k in kinds]
    assert set(codes) == {
        "org_units", "employees", "skills", "employee_skills", "engagements", "appraisals",
        "feedback", "facts", "work_items",
    }  # fmt: skip
    facts = next(k for k in kinds if k["code"] == "facts")
    assert facts["label"] == {"zh": "事实记录", "en": "Facts"}
    employee = next(f for f in facts["fields"] if f["name"] == "employee")
    assert (employee["required"], employee["reference"]) == (True, "EMPLOYEE")


async def test_a_mapping_is_suggested_from_chinese_and_english_headers(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _admin(gql, http, runtime)
    headers = ["员工编号", "Name", "入职日期", "E-mail", "部门", "备注"]
    result = (
        await gql(SUGGEST, {"kind": "employees", "headers": headers}, token=client.token)
    ).ok()
    columns = result["suggestImportMapping"]["mapping"]["columns"]
    assert columns["员工编号"] == "employee_number"
    assert columns["Name"] == "name"
    assert columns["入职日期"] == "hire_date"
    assert columns["E-mail"] == "email"
    assert columns["部门"] == "org_unit"
    assert "备注" not in columns
    unknown = await gql(SUGGEST, {"kind": "payroll", "headers": ["x"]}, token=client.token)
    assert unknown.error_codes == ["BAD_USER_INPUT"]


async def test_profiles_are_saved_per_tenant_and_checked(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _admin(gql, http, runtime)
    _, other = await _admin(gql, http, runtime)
    mapping = {"columns": {"工号": "employee", "指标": "kind", "日期": "occurred_at", "值": "value"},
               "constants": {"source": "hr-erp"}, "timezone": "Asia/Shanghai"}  # fmt: skip
    saved = (
        await gql(
            SAVE,
            {"input": {"kind": "facts", "name": "HR ERP", "mapping": mapping}},
            token=client.token,
        )
    ).ok()
    profile = saved["saveImportProfile"]["profile"]
    assert (profile["name"], profile["builtin"], profile["mapping"]["columns"]["工号"]) == (
        "HR ERP", False, "employee",
    )  # fmt: skip
    bad = {"columns": {"工号": "employee", "x": "salary"}}
    refused = (
        await gql(
            SAVE, {"input": {"kind": "facts", "name": "bad", "mapping": bad}}, token=client.token
        )
    ).ok()
    assert refused["saveImportProfile"]["__typename"] == "ImportError"
    assert refused["saveImportProfile"]["code"] == "INVALID"
    builtin_name = await gql(
        SAVE,
        {"input": {"kind": "work_items", "name": "jira", "mapping": mapping}},
        token=client.token,
    )
    assert builtin_name.ok()["saveImportProfile"]["code"] == "CONFLICT"

    listed = (await gql(PROFILES, {"kind": "facts"}, token=client.token)).ok()["importProfiles"]
    assert {(p["name"], p["builtin"]) for p in listed} == {("generic", True), ("HR ERP", False)}
    work = (await gql(PROFILES, {"kind": "work_items"}, token=client.token)).ok()["importProfiles"]
    assert {p["name"] for p in work} == {"generic", "jira"}
    theirs = (await gql(PROFILES, {"kind": "facts"}, token=other.token)).ok()["importProfiles"]
    assert [p["name"] for p in theirs] == ["generic"]


async def test_the_list_costs_the_same_statements_for_any_number_of_imports(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _admin(gql, http, runtime)
    _, other = await _admin(gql, http, runtime)
    await other.create("facts")
    listing = "{ imports(first: 50) { edges { node { id kind status rowsRead progress } } } }"
    await client.create("facts")
    one = await gql(listing, token=client.token)
    for _ in range(4):
        await client.create("employees")
    five = await gql(listing, token=client.token)
    assert len(five.ok()["imports"]["edges"]) == 5
    assert one.statements == five.statements == 3  # whatever the page holds


async def test_imported_facts_queue_the_recomputation_of_their_open_period(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _admin(gql, http, runtime)
    await client.create_key()
    await create_employee(tenant, employee_number="E1")
    await create_period(
        tenant, code="2026-Q1", starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31)
    )
    csv = "工号,类型,日期,数值,分母,编号\nE1,defect,2026-02-03,1,1,Q1\n".encode()
    done = await client.run("facts", csv)
    assert (done["status"], done["rowsWritten"]) == ("SUCCEEDED", 1)
    async with tenant_transaction(tenant_id(tenant)):
        kinds = [job.kind for job in await Job.all()]
    assert "scoring.recompute" in kinds
    assert "imports.run" in kinds
