"""Importing facts in bulk: rows checked in Python, staged by COPY, written set-based.

Each batch is staged by COPY into a temporary table and written at once with a few set-based
statements, while the parser reads the next batch (the database and Python work at the same
time). Everything happens in the import's one transaction: nothing is committed before the
whole file has authenticated.

Facts are never rewritten (a correction supersedes), so "insert or update by external key"
is: current facts whose key comes again with other values are marked superseded by the new
row, then the rows are inserted with ``ON CONFLICT (tenant_id, source, external_key) DO
NOTHING``, which leaves the rows that came again unchanged. Importing the same file twice
therefore changes nothing. A source with no keyed facts yet (a first import) takes a plain
insert, cheaper by a sixth; a key the file repeats makes it fall back to the careful path.

Rows without an external key get one derived from employee, kind and time, so that a
re-import of a key-less export is idempotent too.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from domain.audit.service import current_actor
from domain.imports.fields import MappedRow, RefKind, RowError, RowErrorCode
from domain.imports.writers import WriteContext, WriteReport
from domain.indicators.service import recompute_requests
from domain.templates.service import pack_of
from tenants.scope import TenantTransaction, require_tenant, tenant_savepoint

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
# The sources among $2 with current keyed facts (one index probe each).
_KEYED_SOURCES = """
    SELECT source FROM unnest($2::text[]) AS given(source)
    WHERE EXISTS (
        SELECT 1 FROM facts f WHERE f.tenant_id = $1 AND f.source = given.source
        AND f.superseded_at IS NULL AND f.external_key IS NOT NULL
    )
"""
# Staged rows whose key an earlier batch of the same file gave: the current fact holds it
# and was written by this import (recorded at $2), or an earlier batch of the careful path
# left it unchanged (``import_facts_seen``).
_EARLIER_BATCHES = """
    SELECT s.row_no, s.external_key,
           (f.employee_id, f.kind, f.occurred_at, f.value, f.denominator, f.attributes)
           IS NOT DISTINCT FROM
           (s.employee_id, s.kind, s.occurred_at, s.value, s.denominator, s.attributes) AS same
    FROM import_facts_stage s
    JOIN facts f ON f.tenant_id = $1 AND f.source = s.source AND f.external_key = s.external_key
    WHERE f.superseded_at IS NULL AND f.external_key IS NOT NULL
      AND (f.recorded_at = $2 OR EXISTS (
          SELECT 1 FROM import_facts_seen seen
          WHERE seen.source = s.source AND seen.external_key = s.external_key))
"""
_CREATE_SEEN = """
    CREATE TEMP TABLE IF NOT EXISTS import_facts_seen (
        source varchar(63) NOT NULL,
        external_key varchar(128) NOT NULL,
        PRIMARY KEY (source, external_key)
    ) ON COMMIT DROP
"""
_REMEMBER_SEEN = """
    INSERT INTO import_facts_seen (source, external_key)
    SELECT source, external_key FROM import_facts_stage ON CONFLICT DO NOTHING
"""
# Current facts whose key comes again with other values: superseded by the staged row,
# which then records what it corrects.
_SUPERSEDE = """
    WITH changed AS (
        UPDATE facts f SET superseded_at = $2, superseded_by = encode(
            overlay(uuid_send($3::uuid) placing int4send(s.row_no) from 13 for 4), 'hex')::uuid
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
# A staged row's fact id (the same expression in _SUPERSEDE): the run's time-ordered base,
# a UUIDv7 made once per run, with the row number in its last four bytes. The ids of a run
# follow each other, so the primary key grows at its right edge instead of at a random leaf
# per row, and no random number is drawn per row (gen_random_uuid() costs 1 us a row, 3 us
# on a server built without OpenSSL such as the embedded one).
_INSERT_NEW = """
    INSERT INTO facts (id, tenant_id, employee_id, kind, occurred_at, value, denominator,
                       source, external_key, attributes, recorded_at, recorded_by, correction_of)
    SELECT encode(overlay(uuid_send($4::uuid) placing int4send(s.row_no) from 13 for 4), 'hex')
               ::uuid,
           $1, s.employee_id, s.kind, s.occurred_at, s.value, s.denominator, s.source,
           s.external_key, s.attributes, $2, $3, s.correction_of
    FROM import_facts_stage s
"""
# With current keyed facts of the staged sources: rows that come again unchanged are left
# out by the speculative insertion of ON CONFLICT, which costs on every row.
_INSERT = f"""{_INSERT_NEW}
    ON CONFLICT (tenant_id, source, external_key)
        WHERE superseded_at IS NULL AND external_key IS NOT NULL
    DO NOTHING
"""


@dataclass(frozen=True)
class Batch:
    """A batch as ``prepare`` leaves it for ``write_prepared``."""

    records: list[tuple[Any, ...]]
    repeats: int  # rows that repeated an earlier row of the batch exactly
    sources: set[str]
    first: datetime | None
    last: datetime | None


def derived_key(employee: str, kind: str, occurred_at: datetime) -> str:
    """The external key of a row that has none: the same row always gets the same key."""
    text = f"{employee.casefold()}|{kind}|{occurred_at.astimezone(UTC).isoformat()}"
    return "auto:" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class FactsWriter:
    """Checks each row, stages a batch's valid ones by COPY and writes them."""

    batch_size = 20_000

    def __init__(self, context: WriteContext, tx: TenantTransaction, kinds: dict[str, Any]):
        self.context = context
        self.tx = tx
        self.kinds = kinds
        self.now = datetime.now(UTC)
        # Whether each source had keyed facts before this import wrote any.
        self.keyed: dict[str, bool] = {}
        self.earliest: datetime | None = None
        self.latest: datetime | None = None
        self.id_base = _uuid7()

    async def write(self, rows: Sequence[MappedRow]) -> WriteReport:
        prepared, refused = self.prepare(rows)
        report = await self.write_prepared(prepared)
        report.errors[:0] = refused
        return report

    def prepare(self, rows: Sequence[MappedRow]) -> tuple[Batch, list[RowError]]:
        """Records checked and built, the batch's own repeats taken out, its sources and
        time span: pure Python, run in the parser thread."""
        refused: list[RowError] = []
        records = self._records(rows, refused)
        first: dict[tuple[str, str], tuple[Any, ...]] = {}
        unique: list[tuple[Any, ...]] = []
        repeats = 0
        for record in records:
            ident = (record[6], record[7])
            earlier = first.get(ident)
            if earlier is None:
                first[ident] = record
                unique.append(record)
            elif earlier[1:] == record[1:]:
                repeats += 1  # the same row again: one fact
            else:
                refused.append(_repeated(record[0], record[7]))
        if not unique:
            return Batch([], repeats, set(), None, None), refused
        return (
            Batch(
                unique,
                repeats,
                {ident[0] for ident in first},
                min(record[3] for record in unique),
                max(record[3] for record in unique),
            ),
            refused,
        )

    async def write_prepared(self, prepared: Any) -> WriteReport:
        batch: Batch = prepared
        report = WriteReport(unchanged=batch.repeats)
        if not batch.records:
            return report
        async with self.tx.client.acquire_connection() as conn:
            await conn.execute("TRUNCATE import_facts_stage")
            await conn.copy_records_to_table(STAGE, records=batch.records, columns=STAGE_COLUMNS)
        await self._write_stage(report, batch)
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
        if self.earliest is not None and self.latest is not None:
            await recompute_requests.touched(self.context.tenant, self.earliest, self.latest)
        return WriteReport()

    async def _fresh(self, sources: set[str]) -> bool:
        """Whether none of ``sources`` had keyed facts before this import (each source is
        looked at once, before this import wrote any of its facts)."""
        unseen = [source for source in sources if source not in self.keyed]
        if unseen:
            existing = {
                r["source"]
                for r in await self.tx.fetch(_KEYED_SOURCES, self.context.tenant, unseen)
            }
            for source in unseen:
                self.keyed[source] = source in existing
        return not any(self.keyed[source] for source in sources)

    async def _write_stage(self, report: WriteReport, batch: Batch) -> None:
        """Write the staged batch: supersede changed facts, insert the rows."""
        tenant, tx = self.context.tenant, self.tx
        actor = current_actor().id
        staged, sources = len(batch.records), batch.sources
        fresh = await self._fresh(sources)
        status: str | None = None
        if fresh:
            # No current fact had a key of these sources before this import, and this
            # batch's repeats are gone: only a key of an earlier batch can conflict (or one
            # a concurrent import committed), and then the savepoint falls back.
            try:
                async with tenant_savepoint():
                    status = await tx.execute(_INSERT_NEW, tenant, self.now, actor, self.id_base)
            except asyncpg.UniqueViolationError:
                status = None
        updated, earliest, latest = 0, None, None
        if status is None:
            staged -= await self._drop_earlier_batches_keys(report)
            row = await tx.fetchrow(_SUPERSEDE, tenant, self.now, self.id_base)
            updated, earliest, latest = row["n"], row["earliest"], row["latest"]
            status = await tx.execute(_INSERT, tenant, self.now, actor, self.id_base)
            # Rows left unchanged leave no trace in facts: later batches must still see
            # their keys as given.
            await tx.execute(_REMEMBER_SEEN)
        inserted = int(status.rsplit(" ", 1)[-1])
        report.updated += updated
        report.created += inserted - updated
        report.unchanged += staged - inserted
        if inserted and batch.first is not None and batch.last is not None:
            self._touch(batch.first, batch.last)
            if earliest is not None and latest is not None:
                self._touch(earliest, latest)

    def _touch(self, earliest: datetime, latest: datetime) -> None:
        self.earliest = earliest if self.earliest is None else min(self.earliest, earliest)
        self.latest = latest if self.latest is None else max(self.latest, latest)

    async def _drop_earlier_batches_keys(self, report: WriteReport) -> int:
        """Rows whose key an earlier batch of this file gave: repeats, as within a batch.
        Returns how many were taken out of the stage."""
        rows = await self.tx.fetch(_EARLIER_BATCHES, self.context.tenant, self.now)
        if not rows:
            return 0
        dropped = []
        for row in rows:
            dropped.append(row["row_no"])
            if row["same"]:
                report.unchanged += 1
            else:
                report.errors.append(_repeated(row["row_no"], row["external_key"]))
        await self.tx.execute(
            "DELETE FROM import_facts_stage WHERE row_no = ANY($1::int[])", dropped
        )
        return len(dropped)


def _repeated(row_no: int, key: str) -> RowError:
    return RowError(
        row_no,
        "external_key",
        RowErrorCode.DUPLICATE,
        f"key {key!r} was given by an earlier row with other values",
        f"编号 {key!r} 已在前面的行中出现，且内容不同",
        key,
    )


def _uuid7() -> UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    random = os.urandom(10)
    millis = time.time_ns() // 1_000_000
    return UUID(
        bytes=millis.to_bytes(6, "big")
        + bytes((0x70 | random[0] & 0x0F, random[1], 0x80 | random[2] & 0x3F))
        + random[3:]
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
    await tx.execute(_CREATE_SEEN)
    await tx.execute("TRUNCATE import_facts_stage, import_facts_seen")
    return FactsWriter(context, tx, {kind.code: kind for kind in pack.fact_kinds})
