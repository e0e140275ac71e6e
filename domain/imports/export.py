"""Each import's files, decrypted, in the tenant export: the archive part the imports add.

The platform's export (``tenants.lifecycle.export``) writes the tables; it cannot read an
import's stored files without knowing the imports, which would point the dependency the
wrong way. ``write_import_files`` is handed to it as an ``ArchivePart`` by whoever wants the
full archive (the ``tenant export`` command) and writes, under ``imports/<import id>/``, the
uploaded file as ``upload<extension>`` and its run's reports as ``errors.csv`` and
``preview.json``, each listed in the manifest with its size and SHA-256, or listed as not
exported with its reason.

Import files are stored as chunked streaming-AEAD ciphertext (``import_chunks``); they are
read in the export's snapshot, on its connection, and decrypted as a stream
(``domain.imports.streams.decrypted``), never whole in memory. Tink authenticates a stream
segment by segment, so a file can fail after part of it was returned: each file is
therefore decrypted twice, once to check that all of it opens and once into the archive,
and a file that does not open (altered or missing chunk, no enabled key) is left out of the
archive and listed in the manifest with its reason, never written in part. The export goes
on without it: one bad file must not withhold the rest of the organisation's data; the
command line warns about each one. A file still being uploaded, or the reports of a run
still going, are listed likewise (they are not complete in the snapshot).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import IO, Any, BinaryIO, cast
from uuid import UUID

import asyncpg
import tink
from tink import streaming_aead

from domain.imports.models import ACTIVE_STATUSES, ImportStatus
from domain.imports.reports import ERRORS_PART, PREVIEW_PART
from domain.imports.repository import SOURCE_PART
from domain.imports.streams import CallerChunks, decrypted, report_associated_data
from tenants.crypto.imports import (
    IMPORT_PURPOSE,
    ImportDecryptionError,
    import_associated_data,
    open_decrypting_stream,
)
from tenants.crypto.keysets import KeysetHandle, TenantKeysets
from tenants.lifecycle.export import (
    ExportedFile,
    ExportManifest,
    SkipCode,
    SkippedFile,
    TenantExportError,
    stored_keyset,
)
from tenants.scope import TenantID

IMPORTS_DIR = "imports"
UPLOAD_FILE = "upload"
REPORT_FILES: Mapping[str, str] = MappingProxyType(
    {ERRORS_PART: "errors.csv", PREVIEW_PART: "preview.json"}
)
"""The archive name of each report part (as the API serves them); another part keeps its
stored name."""

_IMPORTS = (
    "SELECT id, status, format, file_name, chunk_count FROM imports WHERE tenant_id = $1 "
    "ORDER BY created_at, id"
)
_STORED_PARTS = (
    "SELECT import_id, part, count(*) AS chunks FROM import_chunks WHERE tenant_id = $1 "
    "GROUP BY import_id, part"
)
_CHUNK = (
    "SELECT data FROM import_chunks WHERE tenant_id = $1 AND import_id = $2 AND part = $3 "
    "AND seq = $4"
)
_PLAIN_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")


@dataclass(frozen=True)
class _StoredPart:
    import_id: UUID
    part: str
    chunks: int
    file: str
    skip: tuple[str, str] | None  # (code, reason) when it is not to be read at all


def _upload_file(file_name: str | None, format: str) -> str:
    """``upload`` with the original file's extension, or the declared format's when the
    name has none a file system would take as is."""
    suffix = PurePosixPath((file_name or "").replace("\\", "/")).suffix
    if not _PLAIN_SUFFIX.fullmatch(suffix):
        suffix = f".{format}"
    return f"{UPLOAD_FILE}{suffix}"


async def _stored_parts(conn: asyncpg.Connection, tenant: TenantID) -> list[_StoredPart]:
    """Every import file of the snapshot, the upload before its reports, oldest import first."""
    counts: dict[UUID, dict[str, int]] = {}
    for row in await conn.fetch(_STORED_PARTS, tenant):
        counts.setdefault(row["import_id"], {})[row["part"]] = row["chunks"]
    parts: list[_StoredPart] = []
    for row in await conn.fetch(_IMPORTS, tenant):
        import_id, status = row["id"], ImportStatus(row["status"])
        stored = counts.get(import_id, {})
        folder = f"{IMPORTS_DIR}/{import_id}"
        upload = f"{folder}/{_upload_file(row['file_name'], row['format'])}"
        if status == ImportStatus.AWAITING_UPLOAD:
            if stored.get(SOURCE_PART):
                incomplete = "the file was still being uploaded when the export was taken"
                parts.append(
                    _StoredPart(
                        import_id, SOURCE_PART, 0, upload, (SkipCode.UPLOAD_INCOMPLETE, incomplete)
                    )
                )
        elif row["chunk_count"] > 0:
            # The import row's count, not the stored rows': a chunk lost is then reported.
            parts.append(_StoredPart(import_id, SOURCE_PART, row["chunk_count"], upload, None))
        for part in sorted(set(stored) - {SOURCE_PART}):
            skip: tuple[str, str] | None = None
            if status in ACTIVE_STATUSES:
                reason = "the import was running when the export was taken: its report is partial"
                skip = (SkipCode.RUN_IN_PROGRESS, reason)
            name = f"{folder}/{REPORT_FILES.get(part, part)}"
            parts.append(_StoredPart(import_id, part, stored[part], name, skip))
    return parts


class _ChunksOf:
    """One part's chunks fetched on the export's connection, remembering what went wrong.

    Tink wraps what its source raises into a ``TinkError``: what this saw tells a missing
    chunk or a database failure apart from ciphertext that does not authenticate.
    """

    def __init__(self, conn: asyncpg.Connection, tenant: TenantID, part: _StoredPart) -> None:
        self._conn = conn
        self._tenant = tenant
        self._part = part
        self.missing: int | None = None
        self.failure: Exception | None = None

    async def fetch(self, seq: int) -> bytes | None:
        try:
            data: bytes | None = await self._conn.fetchval(
                _CHUNK, self._tenant, self._part.import_id, self._part.part, seq
            )
        except Exception as exc:
            self.failure = exc
            raise
        if data is None:
            self.missing = seq
        return data


def _opener(tenant: TenantID, handle: KeysetHandle, part: _StoredPart) -> Callable[[Any], Any]:
    """How ``part``'s ciphertext is opened: an upload as the import worker opens it, a report
    as the API does."""
    if part.part == SOURCE_PART:
        associated_data = import_associated_data(tenant)
        return lambda source: open_decrypting_stream(
            handle, associated_data, cast("BinaryIO", source)
        )
    primitive = handle.primitive(streaming_aead.StreamingAead)
    report_data = report_associated_data(tenant, part.import_id, part.part)
    return lambda source: primitive.new_decrypting_stream(source, report_data)


async def _decrypt_into(
    conn: asyncpg.Connection,
    tenant: TenantID,
    handle: KeysetHandle,
    part: _StoredPart,
    out: IO[bytes] | None,
) -> ExportedFile | SkippedFile:
    """Decrypt ``part`` into ``out`` (or only check that it opens, with None)."""
    chunks = _ChunksOf(conn, tenant, part)
    digest, size = hashlib.sha256(), 0
    pieces = decrypted(
        tenant,
        part.import_id,
        part.part,
        _opener(tenant, handle, part),
        chunks=CallerChunks(part.chunks, chunks.fetch),
    )
    try:
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                digest.update(piece)
                size += len(piece)
                if out is not None:
                    out.write(piece)
    except Exception as exc:
        if chunks.failure is not None:  # the database's fault, not the file's: no export
            raise chunks.failure from exc
        if chunks.missing is not None:
            return SkippedFile(
                part.import_id,
                part.part,
                SkipCode.CHUNK_MISSING,
                f"chunk {chunks.missing} of the stored file is missing",
            )
        if isinstance(exc, ImportDecryptionError):
            return SkippedFile(part.import_id, part.part, exc.code.value, exc.message)
        if isinstance(exc, tink.TinkError):
            return SkippedFile(
                part.import_id,
                part.part,
                SkipCode.REPORT_UNREADABLE,
                "the report does not authenticate under the tenant's import keys: it was "
                "altered, or the key it was written with was disabled",
            )
        raise
    return ExportedFile(part.import_id, part.part, part.file, size, digest.hexdigest())


async def write_import_files(
    conn: asyncpg.Connection,
    archive: zipfile.ZipFile,
    tenant: TenantID,
    keysets: TenantKeysets,
    manifest: ExportManifest,
) -> None:
    """Write each import file of the export's snapshot into ``archive`` decrypted, listing it
    in ``manifest.files``, or in ``manifest.skipped_files`` with why it is left out.

    An ``ArchivePart`` of ``tenants.lifecycle.export.export_tenant``: ``conn`` is the
    export's snapshot. Raises ``TenantExportError`` when a file reads differently twice.
    """
    parts = await _stored_parts(conn, tenant)
    readable = [p for p in parts if p.skip is None]
    handle = await stored_keyset(tenant, keysets, IMPORT_PURPOSE) if readable else None
    for part in parts:
        if part.skip is not None:
            manifest.skipped_files.append(SkippedFile(part.import_id, part.part, *part.skip))
            continue
        if handle is None:
            reason = "the tenant has no import keyset to open it with"
            skipped = SkippedFile(part.import_id, part.part, SkipCode.NO_IMPORT_KEYSET, reason)
            manifest.skipped_files.append(skipped)
            continue
        # A first pass only checks: a file that fails part-way must leave nothing behind.
        checked = await _decrypt_into(conn, tenant, handle, part, None)
        if isinstance(checked, SkippedFile):
            manifest.skipped_files.append(checked)
            continue
        with archive.open(part.file, "w", force_zip64=True) as out:
            written = await _decrypt_into(conn, tenant, handle, part, out)
        if not isinstance(written, ExportedFile) or written.sha256 != checked.sha256:
            # The same chunks in the same snapshot: only a fault of the machine differs.
            raise TenantExportError(f"import file {part.file} changed between two reads")
        manifest.files.append(written)
