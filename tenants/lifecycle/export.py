"""Exporting all of one tenant's data to one archive, readable by the organisation itself.

The archive is a zip of one JSON-lines file per tenant-owned table (``tables/<table>.jsonl``,
one object per row, PostgreSQL's own JSON rendering of each value), the tenant's row
(``tables/tenants.jsonl``), whatever the caller's ``ArchivePart``s add, and
``manifest.json``: the format, the tenant, when it was made, the schema's migration, each
table's file, row count and columns, which columns were decrypted or left out and why, and
what the parts recorded (each import file's size and SHA-256, each import file that is not
in the archive and why).

Every table is read in one REPEATABLE READ, read-only transaction of the application role
with the tenant set, so row-level security confines it to the tenant and all tables are
read as of one instant. Rows are streamed through server-side cursors, never held whole.

Personal fields sealed with the tenant's ``pii`` keyset are written decrypted: the export is
for the organisation (the controller) and the people it answers to, and ciphertext under a
key the archive does not carry would be no export at all. Secrets are left out (see
``EXCLUDED_COLUMNS``).

What a table row alone does not give comes from the layers above, which this module must
not import (dependencies point domain -> tenants): they hand ``export_tenant`` their
``ArchivePart``s, run in the same snapshot. Each import's files, decrypted under
``imports/<import id>/``, are such a part (``domain.imports.export.write_import_files``,
passed by the ``tenant export`` command).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Protocol
from uuid import UUID

import asyncpg
import tink
from tink import daead
from tortoise import connections

from tenants.crypto import repository as key_repo
from tenants.crypto.keysets import KeysetHandle, TenantKeysets
from tenants.crypto.pii import PURPOSE as PII_PURPOSE
from tenants.crypto.pii import PiiCipher, PiiDecryptionError, pii_associated_data
from tenants.lifecycle.catalog import (
    TENANT_COLUMN,
    TenantTable,
    quote_ident,
    tenant_tables,
    tenants_table,
)
from tenants.scope import TenantID, tenant_transaction

EXPORT_FORMAT = "renshi-tenant-export/v1"
MANIFEST = "manifest.json"
CURSOR_PREFETCH = 1000
EXCLUDED_COLUMNS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("users", "password_hash"): (
            "a credential, not information about the person: an argon2 hash that can be "
            "attacked offline once it leaves the database"
        ),
        ("refresh_tokens", "token_hash"): (
            "a credential: the hash of a live session token; the session's dates are exported"
        ),
        ("api_clients", "secret_hash"): (
            "a credential: the hash of an integration's client secret"
        ),
        ("tenant_keys", "wrapped_keyset"): (
            "key material, wrapped by this deployment's master key: useless outside it and "
            "never to be handed out; what it protects is exported decrypted instead"
        ),
        ("import_chunks", "data"): (
            "ciphertext under the tenant's import keys (which are not exported): each "
            "import's uploaded file and reports are in the archive decrypted instead, under "
            "imports/<import id>/ (see import_files; the records an import wrote are in "
            "their own tables)"
        ),
    }
)
"""Columns never written to an export, with the reason (it is repeated in the manifest)."""

SEALED_COLUMNS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        # The field name ``employee_service`` seals national ids under (its associated data).
        ("employees", "national_id"): "national_id",
    }
)
"""Columns sealed with the tenant's ``pii`` keyset, and the field each was sealed as:
exported decrypted."""

BINARY_COLUMNS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("scorecards", "digest"): "a digest of the card's figures, to skip unchanged rewrites",
    }
)
"""Binary columns exported as they are (PostgreSQL's ``\\x`` hex text). Every binary column
of a tenant table is in exactly one of these three mappings: the tests check it, so a new
sealed column cannot leave in its encrypted form by oversight."""

_SCHEMA_VERSION = "SELECT name FROM tortoise_migrations ORDER BY applied_at DESC, id DESC LIMIT 1"
# Transaction-local, like the tenant transaction's: nothing stays on the pooled connection.
# UTC makes the timestamps of the archive the same whichever server wrote it.
_SET_SCOPE = (
    "SELECT set_config('app.tenant_id', $1, true), set_config('TimeZone', 'UTC', true), "
    "set_config('statement_timeout', '0', true)"
)


class TenantExportError(Exception):
    """The export could not be completed; no archive was left behind."""


class SkipCode:
    """Why an import file is not in the archive (``import_files_not_exported``)."""

    CHUNK_MISSING = "CHUNK_MISSING"
    NO_IMPORT_KEYSET = "NO_IMPORT_KEYSET"
    REPORT_UNREADABLE = "REPORT_UNREADABLE"
    UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
    RUN_IN_PROGRESS = "RUN_IN_PROGRESS"
    # An upload that does not decrypt has the import's own codes (IMPORT_KEY_MISMATCH,
    # IMPORT_TAMPERED, IMPORT_TRUNCATED), as its failed run reported them.


@dataclass(frozen=True)
class ExportedTable:
    table: str
    file: str
    rows: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ExportedFile:
    """An import file written decrypted: ``bytes`` and ``sha256`` are of the plaintext."""

    import_id: UUID
    part: str
    file: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class SkippedFile:
    """An import file left out of the archive, and why."""

    import_id: UUID
    part: str
    code: str
    reason: str


@dataclass
class ExportManifest:
    tenant_id: TenantID
    slug: str
    name: str
    schema_version: str | None
    created_at: datetime
    tables: list[ExportedTable] = field(default_factory=list)
    excluded: list[tuple[str, str]] = field(default_factory=list)
    decrypted: list[tuple[str, str]] = field(default_factory=list)
    files: list[ExportedFile] = field(default_factory=list)
    skipped_files: list[SkippedFile] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": EXPORT_FORMAT,
            "created_at": self.created_at.isoformat(),
            "tenant": {"id": str(self.tenant_id), "slug": self.slug, "name": self.name},
            "schema_version": self.schema_version,
            "tables": [
                {"table": t.table, "file": t.file, "rows": t.rows, "columns": list(t.columns)}
                for t in self.tables
            ],
            "excluded_columns": [
                {"table": t, "column": c, "reason": EXCLUDED_COLUMNS[t, c]}
                for t, c in self.excluded
            ],
            "decrypted_columns": [{"table": t, "column": c} for t, c in self.decrypted],
            "import_files": [
                {
                    "import_id": str(f.import_id),
                    "part": f.part,
                    "file": f.file,
                    "bytes": f.bytes,
                    "sha256": f.sha256,
                }
                for f in self.files
            ],
            "import_files_not_exported": [
                {"import_id": str(f.import_id), "part": f.part, "code": f.code, "reason": f.reason}
                for f in self.skipped_files
            ],
        }


class _Opener:
    """Opens sealed values with the tenant's ``pii`` keyset, every key of it."""

    def __init__(self, tenant: TenantID, handle: KeysetHandle | None) -> None:
        self._tenant = tenant
        self._cipher = handle.primitive(daead.DeterministicAead) if handle is not None else None

    def open(self, field_name: str, sealed_hex: str) -> str:
        if self._cipher is None:
            raise PiiDecryptionError("a sealed value exists but the tenant has no pii keyset")
        sealed = bytes.fromhex(sealed_hex.removeprefix("\\x"))
        try:
            plaintext: bytes = self._cipher.decrypt_deterministically(
                sealed, pii_associated_data(self._tenant, field_name)
            )
            return plaintext.decode()
        except (tink.TinkError, UnicodeDecodeError):
            raise PiiDecryptionError(
                f"a sealed {field_name} of the tenant does not open under its keyset"
            ) from None


async def stored_keyset(
    tenant: TenantID, keysets: TenantKeysets, purpose: str
) -> KeysetHandle | None:
    """The tenant's keyset for ``purpose`` as stored now, or None when it never had one.

    Loaded after the export's snapshot was taken: keys are only ever added, so it holds
    every key that sealed a value the snapshot can see (a rotation in between included).
    Not created when absent: an export writes nothing.
    """
    async with tenant_transaction(tenant):
        if await key_repo.get_tenant_key(tenant, purpose) is None:
            return None
        return await keysets.handle(tenant, purpose, fresh=True)


class ArchivePart(Protocol):
    """Writes into the archive what a table row alone does not give, from a layer above.

    The platform cannot know a domain's stored data (an import's encrypted files, say)
    without importing the domain; a part brings it instead. Parts run in the export's
    snapshot (``conn``, read-only: what they read agrees with the tables), after the tables
    and before the manifest, so what they record in ``manifest`` is written with it;
    ``keysets`` opens what the tenant's keys sealed (see ``stored_keyset``). A part raises
    ``TenantExportError`` when the archive cannot be complete: the export fails with it
    (``export_tenant_to_path`` then leaves no file).
    """

    async def __call__(
        self,
        conn: asyncpg.Connection,
        archive: zipfile.ZipFile,
        tenant: TenantID,
        keysets: TenantKeysets,
        manifest: ExportManifest,
        /,
    ) -> None: ...


@contextlib.asynccontextmanager
async def _snapshot(tenant: TenantID) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the application's pool in a read-only snapshot of the tenant."""
    client = connections.get("default")
    async with (
        client.acquire_connection() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        # The first statement fixes the snapshot every later one reads.
        await conn.execute(_SET_SCOPE, str(tenant))
        yield conn


def _select(table: TenantTable, columns: tuple[str, ...], key: str) -> str:
    # Identifiers come from the catalog and are quoted; the tenant is a parameter.
    listed = ", ".join(quote_ident(c) for c in columns)
    return (
        f"SELECT row_to_json(r)::text FROM (SELECT {listed} FROM {quote_ident(table.name)} "  # noqa: S608
        f"WHERE {quote_ident(key)} = $1) r"
    )


async def _write_table(
    conn: asyncpg.Connection,
    archive: zipfile.ZipFile,
    tenant: TenantID,
    table: TenantTable,
    *,
    key: str,
    opener: _Opener,
) -> ExportedTable:
    columns = tuple(c for c in table.columns if (table.name, c) not in EXCLUDED_COLUMNS)
    sealed = {
        c: SEALED_COLUMNS[table.name, c] for c in columns if (table.name, c) in SEALED_COLUMNS
    }
    name = f"tables/{table.name}.jsonl"
    rows = 0
    with archive.open(name, "w", force_zip64=True) as out:
        async for (line,) in conn.cursor(
            _select(table, columns, key), tenant, prefetch=CURSOR_PREFETCH
        ):
            if sealed:
                row = json.loads(line)
                for column, field_name in sealed.items():
                    if row[column] is not None:
                        row[column] = opener.open(field_name, row[column])
                line = json.dumps(row, ensure_ascii=False)
            out.write(line.encode())
            out.write(b"\n")
            rows += 1
    return ExportedTable(table=table.name, file=name, rows=rows, columns=columns)


async def export_tenant(
    tenant: TenantID,
    destination: IO[bytes],
    *,
    pii: PiiCipher,
    parts: Sequence[ArchivePart] = (),
) -> ExportManifest:
    """Write the tenant's archive to ``destination``; the manifest of what was written.

    ``parts`` add what the tables do not hold, in their order (see ``ArchivePart``): the
    full archive, as the ``tenant export`` command writes it, has the import files'
    (``domain.imports.export.write_import_files``); without parts it has the tables only.

    Raises ``TenantExportError`` when the tenant does not exist (an empty archive would
    pass for the export of a tenant with no data).
    """
    created_at = datetime.now(UTC)
    async with _snapshot(tenant) as conn:
        tenant_row = await conn.fetchrow("SELECT slug, name FROM tenants WHERE id = $1", tenant)
        if tenant_row is None:
            raise TenantExportError(f"no tenant with id {tenant}")
        opener = _Opener(tenant, await stored_keyset(tenant, pii.keysets, PII_PURPOSE))
        manifest = ExportManifest(
            tenant_id=tenant,
            slug=tenant_row["slug"],
            name=tenant_row["name"],
            schema_version=await conn.fetchval(_SCHEMA_VERSION),
            created_at=created_at,
        )
        tables = [await tenants_table(conn), *await tenant_tables(conn)]
        with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for table in tables:
                key = "id" if table.name == "tenants" else TENANT_COLUMN
                manifest.tables.append(
                    await _write_table(conn, archive, tenant, table, key=key, opener=opener)
                )
                manifest.excluded += [
                    (table.name, c) for c in table.columns if (table.name, c) in EXCLUDED_COLUMNS
                ]
                manifest.decrypted += [
                    (table.name, c) for c in table.columns if (table.name, c) in SEALED_COLUMNS
                ]
            for part in parts:
                await part(conn, archive, tenant, pii.keysets, manifest)
            archive.writestr(MANIFEST, json.dumps(manifest.as_json(), ensure_ascii=False, indent=2))
    return manifest


async def export_tenant_to_path(
    tenant: TenantID, path: Path, *, pii: PiiCipher, parts: Sequence[ArchivePart] = ()
) -> ExportManifest:
    """``export_tenant`` (with ``parts``) into the file ``path``, readable by its owner only.

    Written aside and renamed when complete: a failed export never leaves a partial archive
    under the final name.
    """
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        # mkstemp's file is already 0600: personal data in clear must not be world-readable.
        with os.fdopen(fd, "wb") as destination:
            manifest = await export_tenant(tenant, destination, pii=pii, parts=parts)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise
    return manifest
