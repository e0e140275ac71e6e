"""Imports end to end: the API, the in-process worker, real PostgreSQL and the tenant's keys.

Each test drives an import as a client does (a key, an encrypted file, an upload, a run) and
checks what the tables hold afterwards, in its tenant and in a second one.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from typing import Any

import httpx
import pytest

from api.runtime import AppRuntime
from domain.indicators.models import Fact
from domain.people.models import Employee
from domain.work.models import WorkItem
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import (
    client_token,
    create_api_client,
    create_tenant,
    create_user,
    tenant_id,
    user_token,
)
from tests.factories_records import create_employee
from tests.support.graphql import GraphQLClient
from tests.support.imports import ImportClient
from tests.workers.imports.test_formats import make_xlsx, number_cell, text_cell, xml_row

SEGMENT = 1024 * 1024  # AES256_GCM_HKDF_1MB: ciphertext segments of 1 MiB
FACTS_CSV = (
    "工号,类型,日期,数值,分母,编号\n"
    "E1,defect,2026/1/5,1,1,K1\n"
    "E2,defect,2026年1月6日,2,1,K2\n"
    "E9,defect,2026-01-07,1,1,K3\n"
).encode()


async def _importer(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime, *, people: int = 2
) -> tuple[Tenant, ImportClient]:
    tenant = await create_tenant()
    admin = await create_user(tenant, roles=("admin",))
    client = ImportClient(gql, http, user_token(runtime.tokens, admin))
    await client.create_key()
    for number in range(1, people + 1):
        await create_employee(tenant, employee_number=f"E{number}")
    return tenant, client


async def _facts(tenant: Tenant, **filters: Any) -> list[Fact]:
    async with tenant_transaction(tenant_id(tenant)):
        return await Fact.filter(**filters).order_by("external_key")


def _counts(node: dict[str, Any]) -> tuple[int, int, int, int]:
    return (node["rowsRead"], node["rowsValid"], node["rowsInvalid"], node["rowsWritten"])


async def test_facts_are_imported_once_and_a_changed_row_supersedes(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    other, other_client = await _importer(gql, http, runtime)
    await other_client.run("facts", FACTS_CSV, onError="SKIP_INVALID")
    other_before = [(f.id, f.value) for f in await _facts(other)]

    done = await client.run("facts", FACTS_CSV, onError="SKIP_INVALID")
    assert done["status"] == "SUCCEEDED", done
    assert _counts(done) == (3, 2, 1, 2)
    assert done["summary"]["created"] == 2
    assert done["firstErrors"] == [
        {"row": 3, "column": "工号", "code": "NOT_FOUND", "message": "no such employee",
         "value": "E9"},
    ]  # fmt: skip
    facts = await _facts(tenant, source="import", superseded_at=None)
    assert [(f.external_key, f.value) for f in facts] == [("K1", 1.0), ("K2", 2.0)]
    assert facts[1].occurred_at.isoformat() == "2026-01-05T16:00:00+00:00"  # Asia/Shanghai

    again = await client.run("facts", FACTS_CSV, onError="SKIP_INVALID")
    assert (again["rowsWritten"], again["summary"]["unchanged"]) == (0, 2)
    assert len(await _facts(tenant, source="import")) == 2

    changed = FACTS_CSV.replace(
        b"E2,defect,2026\xe5\xb9\xb41\xe6\x9c\x886\xe6\x97\xa5,2", b"E2,defect,2026-01-06,5"
    )
    third = await client.run("facts", changed, onError="SKIP_INVALID")
    assert (third["summary"]["updated"], third["summary"]["unchanged"]) == (1, 1)
    current = await _facts(tenant, source="import", superseded_at=None)
    assert [(f.external_key, f.value) for f in current] == [("K1", 1.0), ("K2", 5.0)]
    assert current[1].correction_of is not None
    assert len(await _facts(tenant, source="import")) == 3  # the old K2 stays, superseded
    assert [(f.id, f.value) for f in await _facts(other)] == other_before


async def test_a_dry_run_checks_everything_and_writes_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    done = await client.run("facts", FACTS_CSV, mode="DRY_RUN", onError="SKIP_INVALID")
    assert done["status"] == "SUCCEEDED"
    assert _counts(done) == (3, 2, 1, 0)
    assert done["summary"]["wouldWrite"] == 2
    assert done["firstErrors"][0]["code"] == "NOT_FOUND"
    assert await _facts(tenant) == []


async def test_all_or_nothing_writes_nothing_when_a_row_is_invalid(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    done = await client.run("facts", FACTS_CSV)
    assert done["status"] == "FAILED"
    assert done["error"]["code"] == "INVALID_ROWS"
    assert _counts(done) == (3, 2, 1, 0)
    assert await _facts(tenant) == []
    skipped = await client.run("facts", FACTS_CSV, onError="SKIP_INVALID")
    assert (skipped["status"], skipped["rowsWritten"]) == ("SUCCEEDED", 2)


def _reordered(ciphertext: bytes) -> bytes:
    # The header and the first segment make up the first MiB; swap the next two segments.
    first, second, third = (
        ciphertext[:SEGMENT],
        ciphertext[SEGMENT : 2 * SEGMENT],
        ciphertext[2 * SEGMENT : 3 * SEGMENT],
    )
    return first + third + second + ciphertext[3 * SEGMENT :]


async def test_tampered_truncated_reordered_or_foreign_files_fail_and_write_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    _, other_client = await _importer(gql, http, runtime)
    rows = "".join(f"E1,defect,2025-03-01,1,1,R{n:07d}\n" for n in range(120_000))
    plaintext = ("工号,类型,日期,数值,分母,编号\n" + rows).encode()
    assert len(plaintext) > 3 * SEGMENT + 1000
    good = client.encrypt(plaintext)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    cases = {
        "flipped byte": (bytes(flipped), "IMPORT_TAMPERED"),
        "truncated": (good[: len(good) - 5000], "IMPORT_TRUNCATED"),
        "re-ordered segments": (_reordered(good), "IMPORT_TAMPERED"),
        "another tenant's key": (other_client.encrypt(plaintext), "IMPORT_KEY_MISMATCH"),
        "not encrypted": (plaintext, "IMPORT_KEY_MISMATCH"),
    }
    for name, (ciphertext, code) in cases.items():
        done = await client.run("facts", b"", ciphertext=ciphertext, onError="SKIP_INVALID")
        assert (done["status"], done["error"]["code"]) == ("FAILED", code), name
        assert done["rowsWritten"] == 0, name
        assert done["error"]["messageZh"], name
    assert await _facts(tenant) == []
    done = await client.run("facts", b"", ciphertext=good)
    assert (done["status"], done["rowsWritten"]) == ("SUCCEEDED", 120_000)


async def test_an_old_key_still_opens_after_a_new_key_is_created(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _importer(gql, http, runtime)
    made_with_old_key = client.encrypt(FACTS_CSV)
    await client.create_key()
    done = await client.run("facts", b"", ciphertext=made_with_old_key, onError="SKIP_INVALID")
    assert (done["status"], done["rowsWritten"]) == ("SUCCEEDED", 2)
    keys = (await client.gql("{ importKeys { keyId enabled primary } }", token=client.token)).ok()
    assert [k["primary"] for k in keys["importKeys"]] == [False, False, True]


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("gbk", b""), ("gb18030", b""), ("utf-8", codecs.BOM_UTF8)],
)
async def test_gbk_gb18030_and_bom_files(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    runtime: AppRuntime,
    encoding: str,
    prefix: bytes,
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    text = "员工编号,姓名,邮箱,电话\nE1,张　伟 ,ZHANG@Example.COM,138 0013 8000\nE7,李雷,,\n"
    done = await client.run("employees", prefix + text.encode(encoding))
    assert done["status"] == "SUCCEEDED", done
    assert done["encoding"] in {encoding, "utf-8-sig", "gb18030"}
    async with tenant_transaction(tenant_id(tenant)):
        e1 = await Employee.get(employee_number="E1")
        e7 = await Employee.get(employee_number="E7")
    assert (e1.name, e1.phone, e7.name) == ("张 伟", "+8613800138000", "李雷")
    assert done["summary"]["cleansing"]["full_width"] >= 1


async def test_jsonl_and_a_preview_with_the_suggested_mapping(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    lines = [
        {"Employee No.": "E1", "Fact kind": "defect", "Date": "2025-05-01", "Value": 1,
         "Denominator": 1, "Key": "J1"},
        {"Employee No.": "E2", "Fact kind": "defect", "Date": 45779, "Value": 2,
         "Denominator": 1, "Key": "J2"},
    ]  # fmt: skip
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    preview = await client.run("facts", data, fmt="JSONL", mode="PREVIEW")
    assert preview["status"] == "READY"
    assert preview["mapping"]["columns"]["Employee No."] == "employee"
    node = (
        await client.gql(
            "query($id: ID!) { node(id: $id) { ... on Import { preview { headers rows suggestion } } } }",
            {"id": preview["id"]},
            token=client.token,
        )
    ).ok()["node"]
    assert node["preview"]["headers"] == list(lines[0])
    assert [r["values"]["external_key"] for r in node["preview"]["rows"]] == ["J1", "J2"]
    assert await _facts(tenant) == []
    started = await client.start(preview["id"], "COMMIT")
    assert started["__typename"] == "ImportPayload"
    done = await client.wait(preview["id"])
    assert (done["status"], done["rowsWritten"]) == ("SUCCEEDED", 2)
    dates = sorted(f.occurred_at.date().isoformat() for f in await _facts(tenant))
    assert dates == ["2025-04-30", "2025-05-01"]  # May 1 and 2 (serial 45779), Shanghai midnight


async def test_the_error_report_downloads_as_csv_for_its_tenant_only(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _importer(gql, http, runtime)
    _, other_client = await _importer(gql, http, runtime)
    done = await client.run("facts", FACTS_CSV, mode="DRY_RUN")
    path = f"/imports/{_uuid(done['id'])}/errors.csv"
    response = await http.get(path, headers={"authorization": f"Bearer {client.token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,code,message,message_zh,value"
    assert lines[1].startswith("3,工号,NOT_FOUND,no such employee,未找到该员工,E9")
    foreign = await http.get(path, headers={"authorization": f"Bearer {other_client.token}"})
    assert foreign.status_code == 404
    unknown = await http.get(
        "/imports/00000000-0000-0000-0000-000000000000/errors.csv",
        headers={"authorization": f"Bearer {other_client.token}"},
    )
    assert unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert (await other_client.get(done["id"])) is None
    anonymous = await http.get(path)
    assert anonymous.status_code == 401


async def test_an_erp_client_with_imports_write_runs_the_whole_flow(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, admin_client = await _importer(gql, http, runtime)
    issued = await create_api_client(tenant, scopes=("imports:write",))
    erp = ImportClient(gql, http, client_token(runtime.tokens, issued.client))
    erp.bundle = admin_client.bundle  # the keyset file the administrator handed over
    done = await erp.run("facts", FACTS_CSV, onError="SKIP_INVALID")
    assert (done["status"], done["rowsWritten"]) == ("SUCCEEDED", 2)
    refused = await gql("mutation { createImportKey { __typename } }", token=erp.token)
    assert refused.error_codes == ["FORBIDDEN"]
    employee = await create_user(tenant, roles=("employee",))
    listing = await gql(
        "{ imports { edges { node { id } } } }", token=user_token(runtime.tokens, employee)
    )
    assert listing.error_codes == ["FORBIDDEN"]


async def test_work_items_from_a_jira_export(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    async with tenant_transaction(tenant_id(tenant)):
        await Employee.filter(employee_number="E1").update(email="dev@example.com")
    csv = (
        b"Issue key,Summary,Issue Type,Status,Assignee,Created,Custom field (Start date),Resolved,Due date\n"
        b"ACM-1,Export to PDF,Story,Done,dev@example.com,05/Jan/26 9:30 AM,06/Jan/26 9:00 AM,20/Jan/26 5:00 PM,25/Jan/26 12:00 AM\n"
        b"ACM-2,Crash on save,Bug,Open,E2,06/Jan/26 10:00 AM,,,\n"
    )
    done = await client.run("work_items", csv, profile="jira")
    assert done["status"] == "SUCCEEDED", (done["error"], done["firstErrors"], done["summary"])
    assert done["rowsWritten"] == 2
    async with tenant_transaction(tenant_id(tenant)):
        items = await WorkItem.filter(source="jira").order_by("external_key")
    assert [(i.external_key, i.kind) for i in items] == [("ACM-1", "requirement"), ("ACM-2", "bug")]
    again = await client.run("work_items", csv, profile="jira")
    assert (again["rowsWritten"], again["summary"]["unchanged"]) == (0, 2)


async def test_a_queued_import_is_cancelled_and_uploads_over_the_limit_are_refused(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    _, client = await _importer(gql, http, runtime)
    created = (await client.create("facts"))["import"]
    limit = runtime.settings.import_max_bytes
    too_big = await http.put(
        created["uploadPath"],
        headers={"authorization": f"Bearer {client.token}", "content-length": str(limit + 10**6)},
        content=b"",
    )
    assert too_big.status_code == 413
    not_uploaded = await client.start(created["id"], "COMMIT")
    assert (not_uploaded["__typename"], not_uploaded["code"]) == ("ImportError", "CONFLICT")
    cancel = (
        "mutation($id: ID!) { cancelImport(id: $id) { __typename ... on ImportError { code } } }"
    )
    refused = (await gql(cancel, {"id": created["id"]}, token=client.token)).ok()["cancelImport"]
    assert refused == {"__typename": "ImportError", "code": "CONFLICT"}


def _uuid(global_id: str) -> str:
    from tests.factories import node_uuid

    return str(node_uuid(global_id))


async def test_a_multipart_graphql_upload_creates_and_runs_in_one_request(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    operations = {
        "query": "mutation($input: ImportCreateInput!) { createImport(input: $input) { "
        "__typename ... on ImportPayload { import { id status mode byteSize } } } }",
        "variables": {
            "input": {"kind": "facts", "format": "CSV", "file": None, "start": "COMMIT",
                      "onError": "SKIP_INVALID"},
        },
    }  # fmt: skip
    ciphertext = client.encrypt(FACTS_CSV)
    response = await http.post(
        "/graphql",
        headers={"authorization": f"Bearer {client.token}"},
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": ("facts.csv.enc", ciphertext, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    created = response.json()["data"]["createImport"]["import"]
    assert (created["status"], created["mode"], created["byteSize"]) == (
        "QUEUED",
        "COMMIT",
        len(ciphertext),
    )
    done = await client.wait(created["id"])
    assert (done["status"], done["rowsWritten"]) == ("SUCCEEDED", 2)
    assert len(await _facts(tenant)) == 2


async def test_an_xlsx_workbook_with_typed_cells(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime, people=0)
    rows = "".join(
        [
            xml_row(1, text_cell("A1", "工号"), text_cell("B1", "姓名"), text_cell("C1", "入职日期"),
                    text_cell("D1", "职级")),
            xml_row(2, number_cell("A2", 1001), text_cell("B2", "王芳"), number_cell("C2", 45296, 1),
                    text_cell("D2", "Sr")),
            xml_row(3, text_cell("A3", "E-2"), text_cell("B3", "赵磊"), text_cell("C3", "2024/1/5"),
                    text_cell("D3", "初级")),
        ]
    )  # fmt: skip
    done = await client.run("employees", make_xlsx([("人员", rows, False)]), fmt="XLSX")
    assert done["status"] == "SUCCEEDED", (done["error"], done["firstErrors"])
    assert done["rowsWritten"] == 2
    async with tenant_transaction(tenant_id(tenant)):
        people = {e.employee_number: e for e in await Employee.all()}
    assert set(people) == {"1001", "E-2"}
    assert people["1001"].hire_date is not None
    assert people["1001"].hire_date.isoformat() == "2024-01-05"
    assert (people["1001"].level, people["E-2"].level) == ("senior", "junior")


async def test_a_running_import_is_cancelled_and_writes_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    rows = "".join(f"E1,defect,2025-03-01,1,1,C{n:07d}\n" for n in range(400_000))
    created = (await client.create("facts"))["import"]
    ciphertext = client.encrypt(("工号,类型,日期,数值,分母,编号\n" + rows).encode())
    assert (await client.upload(created["uploadPath"], ciphertext)).status_code == 200
    await client.start(created["id"], "COMMIT")
    while (node := await client.get(created["id"]))["rowsRead"] == 0:
        assert node["status"] in {"QUEUED", "RUNNING", "VALIDATING"}, node
        await asyncio.sleep(0.05)
    assert node["etaSeconds"] is not None
    assert node["progress"] < 1
    cancel = "mutation($id: ID!) { cancelImport(id: $id) { __typename } }"
    assert (await gql(cancel, {"id": created["id"]}, token=client.token)).ok()["cancelImport"] == {
        "__typename": "ImportPayload"
    }
    done = await client.wait(created["id"])
    assert (done["status"], done["error"]["code"], done["rowsWritten"]) == (
        "CANCELLED",
        "CANCELLED",
        0,
    )
    assert await _facts(tenant) == []


async def test_a_key_repeated_in_a_later_batch_is_a_repeat_or_an_error(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    rows = [f"E1,defect,2025-03-01,1,1,B{n:06d}" for n in range(25_000)]  # two batches
    rows += ["E1,defect,2025-03-01,1,1,B000002", "E1,defect,2025-03-01,7,1,B000001"]
    plaintext = ("工号,类型,日期,数值,分母,编号\n" + "\n".join(rows) + "\n").encode()
    done = await client.run("facts", plaintext, onError="SKIP_INVALID")
    assert done["status"] == "SUCCEEDED", done["error"]
    assert _counts(done) == (25_002, 25_001, 1, 25_000)
    assert done["summary"]["unchanged"] == 1
    assert done["firstErrors"] == [
        {"row": 25_002, "column": "编号", "code": "DUPLICATE",
         "message": "key 'B000001' was given by an earlier row with other values",
         "value": "B000001"},
    ]  # fmt: skip
    facts = await _facts(tenant, external_key="B000001")
    assert [f.value for f in facts] == [1.0]
    again = await client.run("facts", plaintext, onError="SKIP_INVALID")
    assert (again["rowsWritten"], again["summary"]["unchanged"]) == (0, 25_001)
    assert len(await _facts(tenant)) == 25_000


async def test_a_work_item_the_domain_refuses_is_reported_under_its_column(
    gql: GraphQLClient, http: httpx.AsyncClient, runtime: AppRuntime
) -> None:
    tenant, client = await _importer(gql, http, runtime)
    csv = (
        b"Issue key,Summary,Issue Type,Created,Resolved\n"
        b"ACM-7,Delivered but never started,Story,05/Jan/26 9:30 AM,20/Jan/26 5:00 PM\n"
    )
    done = await client.run("work_items", csv, profile="jira", onError="SKIP_INVALID")
    assert (done["status"], done["rowsInvalid"], done["rowsWritten"]) == ("SUCCEEDED", 1, 0)
    (error,) = done["firstErrors"]
    assert (error["row"], error["code"], error["column"]) == (1, "REJECTED", "Resolved")
    assert "startedAt" in error["message"]
    async with tenant_transaction(tenant_id(tenant)):
        assert await WorkItem.filter(source="jira").count() == 0
