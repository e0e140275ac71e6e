"""What a run reports, read back: the rows in error (CSV) and the preview (JSON).

Both are stored encrypted with the tenant's import keyset (``domain.imports.streams``); this
module opens them for the API. The process's import keys are plugged in at start-up.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

import orjson
from tink import streaming_aead

from domain.imports.streams import decrypted, in_tenant, report_associated_data
from tenants.crypto.imports import IMPORT_PURPOSE, ImportKeys
from tenants.scope import TenantID

ERRORS_PART = "errors"
PREVIEW_PART = "preview"

_keys: ImportKeys | None = None


def use_import_keys(keys: ImportKeys | None) -> None:
    """Plug in this process's import keys (built from its settings at start-up)."""
    global _keys
    _keys = keys


def import_keys() -> ImportKeys:
    if _keys is None:
        raise RuntimeError("no import keys: call use_import_keys() at start-up")
    return _keys


async def report_primitive(tenant: TenantID) -> Any:
    """The streaming AEAD that seals and opens the tenant's import reports (inside a tenant
    transaction: the keyset may be read from the database)."""
    handle = await import_keys().keysets.handle(tenant, IMPORT_PURPOSE)
    return handle.primitive(streaming_aead.StreamingAead)


async def report_chunks(
    tenant: TenantID, import_id: UUID, part: str
) -> AsyncGenerator[bytes, None]:
    """The plaintext of a report, piece by piece (an empty report yields nothing)."""
    async with in_tenant(tenant):
        primitive = await report_primitive(tenant)
    associated_data = report_associated_data(tenant, import_id, part)
    async for piece in decrypted(
        tenant,
        import_id,
        part,
        lambda source: primitive.new_decrypting_stream(source, associated_data),
    ):
        yield piece


async def first_errors(tenant: TenantID, import_id: UUID, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of the error report."""
    text = io.StringIO()
    rows: list[dict[str, Any]] = []
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    async with contextlib.aclosing(report_chunks(tenant, import_id, ERRORS_PART)) as pieces:
        async for piece in pieces:
            text.write(decoder.decode(piece))
            # Enough complete lines for ``limit`` rows? The rest is not read.
            if text.getvalue().count("\n") > limit + 1:
                break
    reader = csv.reader(io.StringIO(text.getvalue()))
    next(reader, None)  # the header line
    for cells in reader:
        if len(rows) >= limit or len(cells) < 6:
            break
        rows.append(
            {
                "row": int(cells[0]),
                "column": cells[1],
                "code": cells[2],
                "message": cells[3],
                "message_zh": cells[4],
                "value": cells[5],
            }
        )
    return rows


async def preview_document(tenant: TenantID, import_id: UUID) -> dict[str, Any] | None:
    data = bytearray()
    async for piece in report_chunks(tenant, import_id, PREVIEW_PART):
        data += piece
    if not data:
        return None
    document: dict[str, Any] = orjson.loads(bytes(data))
    return document
