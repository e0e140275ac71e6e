"""Importing facts in bulk: rows checked in Python, staged by COPY, written by two statements.

Facts are never rewritten (a correction supersedes), so "insert or update by external key"
takes two set-based statements once the whole file is staged: current facts whose key comes
again with other values are marked superseded by the new row, then every staged row is
inserted with ``ON CONFLICT (tenant_id, source, external_key) DO NOTHING``, which leaves the
rows that came again unchanged. Importing the same file twice therefore changes nothing.

Rows without an external key get one derived from employee, kind and time, so that a
re-import of a key-less export is idempotent too.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from domain.audit.service import current_actor
from domain.imports.fields import MappedRow, RefKind, RowError, RowErrorCode
from domain.imports.writers import WriteContext, WriteReport
from domain.indicators.service import recompute_requests
from domain.templates.service import pack_of
from tenants.scope import TenantTransaction, require_tenant

STAGE = "import_facts_stage"
# Facts dated a little ahead (clock skew between systems) are accepted, as by the API.
FUTURE_TOLERANCE = timedelta(minutes=10)
STAGE_COLUMNS = (
    "row_no",
    "employee_id",
    "kind",
    "occurred_at",
    "value",
    "denominator",
    "source",
    "external_key",
    "attributes",
)
_CREATE_STAGE = """
    CREATE TEMP TABLE IF NOT EXISTS import_facts_stage (
        row_no integer NOT NULL,
        id uuid NOT NULL DEFAULT gen_random_uuid(),
        employee_id uuid NOT NULL,
        kind varchar(63) NOT NULL,
        occurred_at timestamptz NOT NULL,
        value double precision NOT NULL,
        denominator double precision,
        source varchar(63) NOT NULL,
        external_key varchar(128) NOT NULL,
        attributes jsonb NOT NULL,
        correction_of uuid
    ) ON COMMIT DROP
"""
_REPEATED_KEYS = """
    SELECT s.row_no, s.source, s.external_key, s.employee_id, s.kind, s.occurred_at, s.value,
           s.denominator, s.attributes
    FROM import_facts_stage s
    JOIN (SELECT source, external_key FROM import_facts_stage GROUP BY 1, 2 HAVING count(*) > 1) d
      USING (source, external_key)
    ORDER BY s.row_no
"""
_HAS_KEYED_FACTS = """
    SELECT EXISTS (
        SELECT 1 FROM facts WHERE tenant_id = $1 AND source = ANY($2::text[])
        AND superseded_at IS NULL AND external_key IS NOT NULL
    )
"""
# Current facts whose key comes again with other values: superseded by the staged row,
# which then records what it corrects.
_SUPERSEDE = """
    WITH changed AS (
        UPDATE facts f SET superseded_at = $2, superseded_by = s.id
        FROM import_facts_stage s
        WHERE f.tenant_id = $1 AND f.superseded_at IS NULL AND f.external_key IS NOT NULL
          AND f.source = s.source AND f.external_key = s.external_key
          AND (f.employee_id, f.kind, f.occurred_at, f.value, f.denominator, f.attributes)
              IS DISTINCT FROM
              (s.employee_id, s.kind, s.occurred_at, s.value, s.denominator, s.attributes)
        RETURNING f.id AS old_id, s.row_no, f.occurred_at AS old_at
    ), marked AS (
        UPDATE import_facts_stage s SET correction_of = c.old_id
        FROM changed c WHERE s.row_no = c.row_no
        RETURNING c.old_at
    )
    SELECT count(*) AS n, min(old_at) AS earliest, max(old_at) AS latest FROM marked
"""
_INSERT = """
    INSERT INTO facts (id, tenant_id, employee_id, kind, occurred_at, value, denominator,
                       source, external_key, attributes, recorded_at, recorded_by, correction_of)
    SELECT id, $1, employee_id, kind, occurred_at, value, denominator, source, external_key,
           attributes, $2, $3, correction_of
    FROM import_facts_stage
    ON CONFLICT (tenant_id, source, external_key)
        WHERE superseded_at IS NULL AND external_key IS NOT NULL
    DO NOTHING
"""
_SPAN = "SELECT count(*), min(occurred_at), max(occurred_at) FROM import_facts_stage"


def derived_key(employee: str, kind: str, occurred_at: datetime) -> str:
    """The external key of a row that has none: the same row always gets the same key."""
    text = f"{employee.casefold()}|{kind}|{occurred_at.astimezone(UTC).isoformat()}"
    return "auto:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class FactsWriter:
    """Checks each row, stages the valid ones by COPY; ``finish`` writes them."""

    batch_size = 20_000

    def __init__(self, context: WriteContext, tx: TenantTransaction, kinds: dict[str, Any]):
        self.context = context
        self.tx = tx
        self.kinds = kinds
        self.staged = 0
        self.now = datetime.now(UTC)

    async def write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        records = self._records(rows, report.errors)
        if records:
            async with self.tx.client.acquire_connection() as conn:
                await conn.copy_records_to_table(STAGE, records=records, columns=STAGE_COLUMNS)
            self.staged += len(records)
        return report

    def _records(self, rows: Sequence[MappedRow], errors: list[RowError]) -> list[tuple[Any, ...]]:
        resolve = self.context.references.resolve
        kinds = self.kinds
        default_source = self.context.source
        latest = self.now + FUTURE_TOLERANCE
        records: list[tuple[Any, ...]] = []
        for row in rows:
            values = row.values
            employee_text = values["employee"]
            employee = resolve(RefKind.EMPLOYEE, employee_text)
            if isinstance(employee, RowErrorCode):
                errors.append(_employee_error(row.number, employee, employee_text))
                continue
            kind_code = values["kind"]
            kind = kinds.get(kind_code)
            occurred_at = values["occurred_at"]
            value = values["value"]
            denominator = values.get("denominator")
            attributes = values.get("attributes") or {}
            problem = _check(kind_code, kind, occurred_at, value, denominator, attributes, latest)
            if problem is not None:
                field, code, message, message_zh, bad = problem
                errors.append(RowError(row.number, field, code, message, message_zh, bad))
                continue
            key = values.get("external_key") or derived_key(employee_text, kind_code, occurred_at)
            records.append(
                (
                    row.number,
                    employee,
                    kind_code,
                    occurred_at,
                    float(value),
                    None if denominator is None else float(denominator),
                    values.get("source") or default_source,
                    key,
                    orjson.dumps(attributes).decode(),
                )
            )
        return records

    async def finish(self) -> WriteReport:
        report = WriteReport()
        tenant = self.context.tenant
        if self.staged == 0:
            return report
        await self._drop_repeated_keys(report)
        sources = [
            r["source"]
            for r in await self.tx.fetch("SELECT DISTINCT source FROM import_facts_stage")
        ]
        updated, earliest, latest = 0, None, None
        if await self.tx.fetchval(_HAS_KEYED_FACTS, tenant, sources):
            row = await self.tx.fetchrow(_SUPERSEDE, tenant, self.now)
            updated, earliest, latest = row["n"], row["earliest"], row["latest"]
        status = await self.tx.execute(_INSERT, tenant, self.now, current_actor().id)
        inserted = int(status.rsplit(" ", 1)[-1])
        staged, first, last = await self.tx.fetchrow(_SPAN)
        report.updated = updated
        report.created = inserted - updated
        report.unchanged = staged - inserted
        if inserted:
            earliest = min(first, earliest) if earliest is not None else first
            latest = max(last, latest) if latest is not None else last
            await recompute_requests.touched(tenant, earliest, latest)
        return report

    async def _drop_repeated_keys(self, report: WriteReport) -> None:
        """A key the file gives twice: the first row stands; a later identical row is a
        harmless repeat (dropped), a later different row is an error."""
        rows = await self.tx.fetch(_REPEATED_KEYS)
        if not rows:
            return
        first: dict[tuple[str, str], tuple[Any, ...]] = {}
        dropped: list[int] = []
        for row in rows:
            ident = (row["source"], row["external_key"])
            content = tuple(row[c] for c in STAGE_COLUMNS[1:])
            if ident not in first:
                first[ident] = content
                continue
            dropped.append(row["row_no"])
            if content == first[ident]:
                report.unchanged += 1
            else:
                report.errors.append(
                    RowError(
                        row["row_no"],
                        "external_key",
                        RowErrorCode.DUPLICATE,
                        f"key {ident[1]!r} was given by an earlier row with other values",
                        f"编号 {ident[1]!r} 已在前面的行中出现，且内容不同",
                        ident[1],
                    )
                )
        await self.tx.execute(
            "DELETE FROM import_facts_stage WHERE row_no = ANY($1::int[])", dropped
        )


def _employee_error(number: int, code: RowErrorCode, text: str) -> RowError:
    if code == RowErrorCode.AMBIGUOUS:
        return RowError(number, "employee", code, "several employees match", "匹配到多名员工", text)
    return RowError(
        number, "employee", RowErrorCode.NOT_FOUND, "no such employee", "未找到该员工", text
    )


def _check(
    code: str,
    kind: Any,
    occurred_at: datetime,
    value: float,
    denominator: float | None,
    attributes: dict[str, Any],
    latest: datetime,
) -> tuple[str, RowErrorCode, str, str, str] | None:
    """(field, code, message, message_zh, value) of the row's first problem, if any."""
    if kind is None:
        return (
            "kind",
            RowErrorCode.REJECTED,
            f"unknown fact kind {code!r}",
            "未知的事实类型",
            code,
        )
    if not math.isfinite(value):
        return ("value", RowErrorCode.INVALID_VALUE, "must be finite", "必须是有限数值", str(value))
    if denominator is not None and not (math.isfinite(denominator) and denominator > 0):
        return (
            "denominator",
            RowErrorCode.INVALID_VALUE,
            "must be a positive number",
            "必须是正数",
            str(denominator),
        )
    if kind.denominator is not None and denominator is None:
        return (
            "denominator",
            RowErrorCode.REQUIRED,
            f"facts of kind {code} need a denominator ({kind.denominator.en})",
            f"{code} 类型的记录需要分母（{kind.denominator.zh}）",
            "",
        )
    if occurred_at > latest:
        return (
            "occurred_at",
            RowErrorCode.INVALID_VALUE,
            "is in the future",
            "不能是将来的时间",
            occurred_at.isoformat(),
        )
    for name in kind.attributes:
        number = attributes.get(name)
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            return (
                "attributes",
                RowErrorCode.REQUIRED,
                f"facts of kind {code} need a numeric attribute {name!r}",
                f"{code} 类型的记录需要数值属性 {name!r}",
                str(number) if number is not None else "",
            )
    return None


async def facts_writer(context: WriteContext) -> FactsWriter:
    tx = require_tenant(context.tenant)
    pack = await pack_of(context.tenant)
    await tx.execute(_CREATE_STAGE)
    await tx.execute("TRUNCATE import_facts_stage")
    return FactsWriter(context, tx, {kind.code: kind for kind in pack.fact_kinds})
