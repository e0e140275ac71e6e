"""The import job: decrypt -> parse -> map and check -> write, streamed, in one transaction.

Three parties work at once so that neither the database nor Python waits for the other:
- a feeder task fetches the ciphertext chunk by chunk (short transactions of its own);
- a parser thread decrypts (Tink), reads rows, maps and checks them, and hands batches over
  a bounded queue (memory stays bounded whatever the file size);
- the job's coroutine writes each batch inside the import's tenant transaction.
A side channel (its own connection) records progress and the encrypted error report, and
notices cancellation, while the import's transaction is open.

Nothing is committed before the parser has read the stream to its end, which is when Tink
has authenticated its last segment. A dry run, an all-or-nothing run with invalid rows, a
cancelled run and a file that fails to authenticate roll everything back. The import's final
status is written in the same transaction as its rows, so a redelivered message finds it
finished; a run cut short by a dead worker left nothing and simply starts over.
"""

from __future__ import annotations

import asyncio
import contextvars
import csv
import io
import queue
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, cast
from uuid import UUID

import orjson
import structlog

from domain.audit.service import AuditActor, acting_as
from domain.imports import repository as repo
from domain.imports.fields import KindSpec, MappedRow, RawRow, RefKind, RowError
from domain.imports.kinds import kind_spec, kind_writer
from domain.imports.mapping import ImportMapping, RowMapper, suggest_mapping
from domain.imports.models import ACTIVE_STATUSES, Import, ImportMode, ImportStatus, OnError
from domain.imports.profiles import BUILTIN_PROFILES
from domain.imports.references import TenantReferences
from domain.imports.reports import import_keys, report_primitive
from domain.imports.service import CHUNK_BYTES, ERRORS_PART, PREVIEW_PART, SOURCE_PART
from domain.imports.streams import (
    QUEUE_DEPTH,
    ChunkSource,
    ReportSink,
    StreamStoppedError,
    feed_chunks,
    get_blocking,
    report_associated_data,
)
from domain.imports.writers import PreparingWriter, WriteContext, WriteReport
from tenants.crypto.imports import ImportDecryptionError
from tenants.scope import TenantID, tenant_transaction
from workers.imports.formats import FileFormatError, open_reader
from workers.jobs import JobContext

_log = structlog.get_logger(__name__)

PREVIEW_ROWS = 20
MAX_BATCH_ERRORS = 2_000
PROGRESS_EVERY_S = 0.5
# One statement may run long on a large file (the final insert of millions of facts).
IMPORT_STATEMENT_TIMEOUT_MS = 60 * 60 * 1000
ERROR_COLUMNS = ("row", "column", "code", "message", "message_zh", "value")

# --- what the parser thread hands over --------------------------------------------------------


@dataclass
class _Header:
    headers: list[str]
    encoding: str | None
    mapping: ImportMapping
    suggestion: list[dict[str, Any]] | None


@dataclass
class _Batch:
    rows: list[MappedRow]
    errors: list[RowError]
    cleansing: Counter[str]
    read: int
    # What the writer's ``prepare`` made of ``rows`` in the parser thread, if it has one.
    prepared: Any = None


@dataclass
class _Done:
    pass


@dataclass
class _Failure:
    code: str
    message: str
    message_zh: str
    details: list[dict[str, Any]] = field(default_factory=list)


class ImportFailedError(Exception):
    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class _CancelledError(Exception):
    pass


class _RollbackError(Exception):
    """Leave the import's transaction without committing (dry run, all-or-nothing)."""


# --- the side channel ------------------------------------------------------------------------


class SideChannel:
    """Writes that must not wait for (or vanish with) the import's transaction: progress,
    report chunks, and a look at ``cancel_requested``. One task, one connection at a time,
    in order."""

    def __init__(self, tenant: TenantID, import_id: UUID, run: int) -> None:
        self.tenant = tenant
        self.import_id = import_id
        self.run = run
        self.cancel_requested = False
        self._writes: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self._progress: dict[str, Any] | None = None
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        # A fresh context: never inside a transaction the job's coroutine opens later.
        self._task = asyncio.create_task(self._loop(), context=contextvars.Context())

    def progress(self, **values: Any) -> None:
        self._progress = {**(self._progress or {}), **values}

    def submit(self, write: Callable[[], Awaitable[None]]) -> None:
        self._writes.put_nowait(write)

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (and the progress too)."""
        done = asyncio.get_running_loop().create_future()

        async def mark() -> None:
            done.set_result(None)

        self._last = 0.0
        self.submit(mark)
        await done

    async def close(self) -> None:
        if self._task is None:
            return
        self._writes.put_nowait(None)
        await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                write = await asyncio.wait_for(self._writes.get(), PROGRESS_EVERY_S)
            except TimeoutError:
                write = _TICK
            if write is None:
                await self._write_progress()
                return
            try:
                if write is not _TICK:
                    async with tenant_transaction(self.tenant):
                        await write()
                if time.monotonic() - self._last >= PROGRESS_EVERY_S:
                    await self._write_progress()
            except Exception:
                _log.exception("import_side_write_failed", import_id=str(self.import_id))

    async def _write_progress(self) -> None:
        self._last = time.monotonic()
        values, self._progress = self._progress, None
        async with tenant_transaction(self.tenant):
            if values:
                await repo.update_if_active(
                    self.tenant,
                    self.import_id,
                    self.run,
                    progress_at=datetime.now(UTC),
                    **values,
                )
            row = await repo.get_import(self.tenant, self.import_id)
        if row is not None and (row.cancel_requested or row.run != self.run):
            self.cancel_requested = True


async def _tick() -> None:  # pragma: no cover - a marker, never called
    return None


_TICK = _tick


# --- the error report ------------------------------------------------------------------------


class ErrorReport:
    """Rows in error as an encrypted CSV (UTF-8 with BOM, for spreadsheet programs), stored
    through the side channel as it grows."""

    def __init__(self, sink: ReportSink, side: SideChannel, tenant: TenantID, import_id: UUID):
        self._sink = sink
        self._side = side
        self._tenant = tenant
        self._import_id = import_id
        self._seq = 0
        self._text = io.StringIO()
        self._csv = csv.writer(self._text)
        self.count = 0
        self._closed = False
        self._sink.write("\ufeff".encode())
        self._csv.writerow(ERROR_COLUMNS)

    def add(self, errors: Sequence[RowError]) -> None:
        for error in errors:
            self._csv.writerow(
                (
                    error.row,
                    error.column,
                    error.code.value,
                    error.message,
                    error.message_zh,
                    error.value[:200],
                )
            )
        self.count += len(errors)
        self._sink.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()
        self._store(self._sink.take())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sink.write(self._text.getvalue().encode())
        self._store(self._sink.close())

    def _store(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            seq, self._seq = self._seq, self._seq + 1
            self._side.submit(_chunk_writer(self._tenant, self._import_id, ERRORS_PART, seq, chunk))


def _chunk_writer(
    tenant: TenantID, import_id: UUID, part: str, seq: int, data: bytes
) -> Callable[[], Awaitable[None]]:
    async def write() -> None:
        await repo.insert_chunk(tenant, import_id, part, seq, data)

    return write


# --- the parser thread -----------------------------------------------------------------------


def resolve_mapping(
    spec: KindSpec, stored: dict[str, Any], profile: str | None, headers: Sequence[str]
) -> tuple[ImportMapping, list[dict[str, Any]] | None]:
    """The mapping of a run: the one stored with the import, else the built-in profile's
    (the generic one suggests it from the headers), with the suggestion made if any."""
    if stored:
        return ImportMapping.from_json(stored), None
    builtin = BUILTIN_PROFILES.get(profile or "generic") or BUILTIN_PROFILES["generic"]
    if builtin.code == "generic":
        suggestion = suggest_mapping(spec, headers)
        matches = [
            {
                "column": m.column,
                "field": m.field,
                "score": round(m.score, 3),
                "reason": m.reason,
            }
            for m in suggestion.matches
        ]
        return suggestion.mapping, matches
    return builtin.mapping_for(spec, headers), None


class Parser:
    """Runs in its own thread: plaintext stream in, ``_Header`` then ``_Batch``es out."""

    def __init__(
        self,
        row: Import,
        spec: KindSpec,
        batch_size: int,
        out: queue.Queue[Any],
        stop: threading.Event,
        limit: int | None,
    ) -> None:
        self.row = row
        self.spec = spec
        self.batch_size = batch_size
        self.out = out
        self.stop = stop
        self.limit = limit
        # Set once the writer exists: its ``prepare`` (pure Python: references resolved,
        # records built) runs here, off the event loop that feeds the database.
        self.prepare: Callable[[Sequence[MappedRow]], tuple[Any, list[RowError]]] | None = None
        self.ready = threading.Event()
        self.columns: dict[str, str] = {}  # field -> the column it is read from

    def run(self, plaintext: Any) -> None:
        try:
            self._parse(plaintext)
        except StreamStoppedError:
            return
        except ImportDecryptionError as exc:
            self._put(_Failure(exc.code, exc.message, exc.message_zh))
        except FileFormatError as exc:
            self._put(_Failure(exc.code, exc.message, exc.message_zh))
        except Exception:
            _log.exception("import_parser_crashed", import_id=str(self.row.id))
            self._put(
                _Failure(
                    "INTERNAL",
                    f"unexpected error while reading the file; the worker log has the details "
                    f"(import {self.row.id})",
                    f"读取文件时发生意外错误；详情见后台日志（导入 {self.row.id}）",
                )
            )

    def _parse(self, plaintext: Any) -> None:
        reader = open_reader(self.row.format, plaintext)
        headers = list(reader.headers)
        try:
            mapping, suggestion = resolve_mapping(
                self.spec, self.row.mapping, self.row.profile, headers
            )
        except Exception as exc:  # a stored mapping that no longer parses
            self._put(_Failure("MAPPING_INVALID", str(exc), f"映射无效：{exc}"))
            return
        # Warnings (an optional column the file lacks) do not stop a run.
        problems = [p for p in mapping.check(self.spec, headers) if not p.warning]
        if problems:
            details = [
                {"field": p.field, "message": p.message, "messageZh": p.message_zh}
                for p in problems
            ]
            first = problems[0]
            self._put(
                _Failure(
                    "MAPPING_INVALID",
                    f"the mapping does not fit the file: {first.message}",
                    f"映射与文件不符：{first.message_zh}",
                    details,
                )
            )
            return
        if not self._put(_Header(headers, reader.encoding, mapping, suggestion)):
            return
        while not self.ready.wait(0.2):
            if self.stop.is_set():
                return
        self.columns = {mapped.field: column for column, mapped in mapping.columns.items()}
        mapper = RowMapper(self.spec, mapping, headers)
        rows: list[MappedRow] = []
        errors: list[RowError] = []
        cleansing: Counter[str] = Counter()
        read = 0
        for item in reader:
            read += 1
            if isinstance(item, RawRow):
                mapped, problems_of_row, cleaned = mapper.map(item)
                if cleaned:
                    for change in cleaned:
                        cleansing[change.rule] += 1
                if mapped is not None:
                    rows.append(mapped)
                else:
                    errors.extend(problems_of_row)
            else:
                errors.append(item)
            if len(rows) >= self.batch_size or len(errors) >= MAX_BATCH_ERRORS:
                if not self._put(self._batch(rows, errors, cleansing, read)):
                    return
                rows, errors, cleansing, read = [], [], Counter(), 0
            if self.limit is not None and read >= self.limit:
                break
        if not self._put(self._batch(rows, errors, cleansing, read)):
            return
        self._put(_Done())

    def _batch(
        self, rows: list[MappedRow], errors: list[RowError], cleansing: Counter[str], read: int
    ) -> _Batch:
        if self.prepare is None or not rows:
            return _Batch(rows, errors, cleansing, read)
        prepared, refused = self.prepare(rows)
        named = [_by_column(error, self.columns) for error in refused]
        return _Batch([], errors + named, cleansing, read, prepared)

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False


# --- the job ---------------------------------------------------------------------------------


@dataclass
class _Totals:
    read: int = 0
    valid: int = 0
    invalid: int = 0
    cleansing: Counter[str] = field(default_factory=Counter)
    written: WriteReport = field(default_factory=WriteReport)


def _refs_of(spec: KindSpec) -> set[RefKind]:
    return {f.ref for f in spec.fields if f.ref is not None}


async def run_import(context: JobContext) -> None:
    """The ``imports.run`` job: one run of one import."""
    tenant = context.tenant_id
    import_id = UUID(str(context.payload["import_id"]))
    run = int(context.payload["run"])
    async with tenant_transaction(tenant):
        row = await repo.get_import(tenant, import_id, for_update=True)
        if row is None or row.run != run or row.status not in ACTIVE_STATUSES:
            context.counts["skipped"] = 1
            return
        if row.cancel_requested:
            await _finish(tenant, import_id, run, ImportStatus.CANCELLED, _cancelled_fields())
            context.counts["skipped"] = 1
            return
        # A run taken over from a dead worker starts over: its transaction left nothing.
        await repo.delete_chunks(tenant, import_id, ERRORS_PART)
        if row.mode == ImportMode.PREVIEW:
            await repo.delete_chunks(tenant, import_id, PREVIEW_PART)
        await repo.update_import(
            tenant,
            import_id,
            status=ImportStatus.RUNNING,
            started_at=datetime.now(UTC),
            progress_at=datetime.now(UTC),
            bytes_processed=0,
            rows_read=0,
            rows_valid=0,
            rows_invalid=0,
            rows_written=0,
            summary={},
        )
    actor = AuditActor(kind="import", id=row.created_by, label=f"import {import_id}")
    with acting_as(actor):
        await _run(context, row, run)


async def _run(context: JobContext, row: Import, run: int) -> None:
    tenant, import_id = context.tenant_id, row.id
    keys = import_keys()
    spec = kind_spec(row.kind)
    side = SideChannel(tenant, import_id, run)
    side.start()
    stop = threading.Event()
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    source = ChunkSource(chunks, stop)
    feeder = asyncio.create_task(
        feed_chunks(tenant, import_id, SOURCE_PART, row.chunk_count, chunks, stop),
        context=contextvars.Context(),
    )
    async with tenant_transaction(tenant):
        plaintext = await keys.decrypting_stream(tenant, cast("BinaryIO", source))
        primitive = await report_primitive(tenant)
    mode = row.mode or ImportMode.DRY_RUN
    batch_size = 500 if mode == ImportMode.PREVIEW else _batch_size(row.kind)
    parser = Parser(
        row, spec, batch_size, batches, stop, PREVIEW_ROWS if mode == ImportMode.PREVIEW else None
    )
    thread = threading.Thread(
        target=parser.run, args=(plaintext,), name="renshi-import-parse", daemon=True
    )
    thread.start()
    sink = ReportSink(
        primitive, report_associated_data(tenant, import_id, ERRORS_PART), CHUNK_BYTES
    )
    report = ErrorReport(sink, side, tenant, import_id)
    totals = _Totals()
    started = time.monotonic()
    try:
        first = await get_blocking(batches)
        if isinstance(first, _Failure):
            raise ImportFailedError(first)
        header: _Header = first
        await _record_header(tenant, row, run, header)
        if mode == ImportMode.PREVIEW:
            parser.ready.set()
            await _preview(tenant, import_id, run, header, batches, primitive, totals, report, side)
            return
        side.progress(status=ImportStatus.VALIDATING)
        await _load(context, row, run, spec, header, parser, side, report, totals, source)
    except ImportFailedError as exc:
        await _fail(side, report, tenant, import_id, run, exc.failure, totals)
    except _CancelledError:
        report.close()
        await side.flush()
        async with tenant_transaction(tenant):
            await _finish(tenant, import_id, run, ImportStatus.CANCELLED, {
                **_counts(totals, report), **_cancelled_fields(),
            })  # fmt: skip
    except Exception:
        # Unexpected (a database error, say): the import must not look as if it still ran.
        _log.exception("import_crashed", import_id=str(import_id))
        failure = _Failure(
            "INTERNAL",
            f"unexpected error; nothing was written; the worker log has the details "
            f"(import {import_id})",
            f"意外错误，未写入任何数据；详情见后台日志（导入 {import_id}）",
        )
        await _fail(side, report, tenant, import_id, run, failure, totals)
    finally:
        stop.set()
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        await asyncio.to_thread(thread.join, 10)
        await side.close()
        context.counts.update(
            rows_read=totals.read,
            rows_valid=totals.valid,
            rows_invalid=totals.invalid,
            rows_written=totals.written.written,
        )
        _log.info(
            "import_finished",
            import_id=str(import_id),
            seconds=round(time.monotonic() - started, 3),
            rows=totals.read,
        )


def _batch_size(kind: str) -> int:
    return 20_000 if kind == "facts" else 500


async def _load(
    context: JobContext,
    row: Import,
    run: int,
    spec: KindSpec,
    header: _Header,
    parser: Parser,
    side: SideChannel,
    report: ErrorReport,
    totals: _Totals,
    source: ChunkSource,
) -> None:
    tenant, import_id = context.tenant_id, row.id
    columns = {mapped.field: column for column, mapped in header.mapping.columns.items()}
    try:
        async with tenant_transaction(tenant, statement_timeout_ms=IMPORT_STATEMENT_TIMEOUT_MS):
            references = await TenantReferences.load(tenant, _refs_of(spec))
            writer = await kind_writer(row.kind)(
                WriteContext(
                    tenant=tenant,
                    import_id=import_id,
                    source=header.mapping.source_system or "import",
                    references=references,
                    timezone=header.mapping.timezone,
                )
            )
            if isinstance(writer, PreparingWriter):
                parser.prepare = writer.prepare
            parser.ready.set()
            while True:
                item = await get_blocking(parser.out)
                if isinstance(item, _Failure):
                    raise ImportFailedError(item)
                if isinstance(item, _Done):
                    break
                batch: _Batch = item
                if batch.prepared is not None and isinstance(writer, PreparingWriter):
                    written = await writer.write_prepared(batch.prepared)
                elif batch.rows:
                    written = await writer.write(batch.rows)
                else:
                    written = WriteReport()
                _tally(totals, batch, written, report, columns)
                side.progress(
                    bytes_processed=source.consumed,
                    rows_read=totals.read,
                    rows_valid=totals.valid,
                    rows_invalid=totals.invalid,
                )
                if side.cancel_requested:
                    raise _CancelledError
            # The parser read the stream to its end: every segment authenticated.
            side.progress(status=ImportStatus.LOADING, bytes_processed=row.byte_size)
            finished = await writer.finish()
            _tally(totals, _Batch([], [], Counter(), 0), finished, report, columns)
            if side.cancel_requested:
                raise _CancelledError
            report.close()
            await side.flush()
            mode = row.mode or ImportMode.DRY_RUN
            if mode == ImportMode.DRY_RUN or (
                totals.invalid and row.on_error == OnError.ALL_OR_NOTHING
            ):
                raise _RollbackError
            await _finish(tenant, import_id, run, ImportStatus.SUCCEEDED, _counts(totals, report))
    except _RollbackError:
        mode = row.mode or ImportMode.DRY_RUN
        counts = _counts(totals, report)
        async with tenant_transaction(tenant):
            if mode == ImportMode.DRY_RUN:
                # A dry run says what a commit would write; nothing of it was kept.
                counts["summary"]["wouldWrite"] = counts.pop("rows_written")
                counts["rows_written"] = 0
                await _finish(tenant, import_id, run, ImportStatus.SUCCEEDED, counts)
            else:
                counts["rows_written"] = 0
                await _finish(
                    tenant,
                    import_id,
                    run,
                    ImportStatus.FAILED,
                    {
                        **counts,
                        "error_code": "INVALID_ROWS",
                        "error_message": f"{totals.invalid} row(s) are invalid; nothing was "
                        "written (all or nothing). Fix them, or run with skip_invalid.",
                        "error_message_zh": f"{totals.invalid} 行无效，未写入任何数据"
                        "（全部或全不）。请修正，或以“跳过无效行”方式运行。",
                    },
                )


def _tally(
    totals: _Totals,
    batch: _Batch,
    written: WriteReport,
    report: ErrorReport,
    columns: dict[str, str],
) -> None:
    refused = [_by_column(error, columns) for error in written.errors]
    errors = batch.errors + refused
    bad_rows = len({e.row for e in errors})
    totals.read += batch.read
    totals.invalid += bad_rows
    totals.valid = totals.read - totals.invalid
    totals.cleansing.update(batch.cleansing)
    totals.written.add(WriteReport(created=written.created, updated=written.updated,
                                   unchanged=written.unchanged))  # fmt: skip
    if errors:
        report.add(sorted(errors, key=lambda e: e.row))


def _by_column(error: RowError, columns: dict[str, str]) -> RowError:
    """A writer's error names a field; the person fixing the file looks for the column."""
    column = columns.get(error.column, error.column)
    return RowError(error.row, column, error.code, error.message, error.message_zh, error.value)


def _counts(totals: _Totals, report: ErrorReport) -> dict[str, Any]:
    return {
        "rows_read": totals.read,
        "rows_valid": totals.valid,
        "rows_invalid": totals.invalid,
        "rows_written": totals.written.written,
        "summary": {
            "created": totals.written.created,
            "updated": totals.written.updated,
            "unchanged": totals.written.unchanged,
            "errors": report.count,
            "cleansing": dict(totals.cleansing),
        },
    }


def _cancelled_fields() -> dict[str, Any]:
    return {
        "error_code": "CANCELLED",
        "error_message": "cancelled; nothing was written",
        "error_message_zh": "已取消，未写入任何数据",
        "rows_written": 0,
    }


async def _finish(
    tenant: TenantID, import_id: UUID, run: int, status: ImportStatus, values: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    await repo.update_if_active(
        tenant, import_id, run, status=status, finished_at=now, progress_at=now, **values
    )


async def _fail(
    side: SideChannel,
    report: ErrorReport,
    tenant: TenantID,
    import_id: UUID,
    run: int,
    failure: _Failure,
    totals: _Totals,
) -> None:
    report.close()
    await side.flush()
    counts = _counts(totals, report)
    counts["rows_written"] = 0
    if failure.details:
        counts["summary"]["problems"] = failure.details
    async with tenant_transaction(tenant):
        await _finish(
            tenant,
            import_id,
            run,
            ImportStatus.FAILED,
            {
                **counts,
                "error_code": failure.code,
                "error_message": failure.message,
                "error_message_zh": failure.message_zh,
            },
        )


async def _record_header(tenant: TenantID, row: Import, run: int, header: _Header) -> None:
    """What the file turned out to hold, and the mapping the run uses. A mapping derived
    from a profile keeps the profile's name, so a new upload derives it again."""
    derived = not row.mapping
    async with tenant_transaction(tenant):
        await repo.update_if_active(
            tenant,
            row.id,
            run,
            headers=header.headers,
            encoding=header.encoding,
            mapping=header.mapping.to_json(),
            profile=(row.profile or "generic") if derived else row.profile,
        )


async def _preview(
    tenant: TenantID,
    import_id: UUID,
    run: int,
    header: _Header,
    batches: queue.Queue[Any],
    primitive: Any,
    totals: _Totals,
    report: ErrorReport,
    side: SideChannel,
) -> None:
    """The first rows after mapping, stored encrypted; the import is ready to run."""
    rows: list[dict[str, Any]] = []
    errors: list[RowError] = []
    while True:
        item = await get_blocking(batches)
        if isinstance(item, _Failure):
            raise ImportFailedError(item)
        if isinstance(item, _Done):
            break
        rows.extend({"row": r.number, "values": r.values} for r in item.rows)
        errors.extend(item.errors)
        totals.read += item.read
        totals.cleansing.update(item.cleansing)
    totals.invalid = len({e.row for e in errors})
    totals.valid = totals.read - totals.invalid
    report.add(errors)
    report.close()
    document = {
        "headers": header.headers,
        "mapping": header.mapping.to_json(),
        "suggestion": header.suggestion,
        "rows": rows,
    }
    sink = ReportSink(
        primitive, report_associated_data(tenant, import_id, PREVIEW_PART), CHUNK_BYTES
    )
    sink.write(orjson.dumps(document, default=str))
    chunks = sink.close()
    async with tenant_transaction(tenant):
        for seq, chunk in enumerate(chunks):
            await repo.insert_chunk(tenant, import_id, PREVIEW_PART, seq, chunk)
    await side.flush()  # the error chunks, stored before the import says it is ready
    counts = _counts(totals, report)
    counts["rows_written"] = 0
    counts["summary"]["suggestion"] = header.suggestion
    async with tenant_transaction(tenant):
        await _finish(tenant, import_id, run, ImportStatus.READY, counts)
