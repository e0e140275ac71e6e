"""Imports as the API sees them: create one, receive its ciphertext, run it, watch, cancel.

A file is uploaded once and can be run several times: a preview (headers, a suggested
mapping, the first rows mapped), dry runs while the mapping is being fixed, then a commit.
Each run is a job (``imports.run``) whose message names the import and the run number; a
run number that is no longer the import's latest (a newer run was started, or the run was
cancelled) is ignored by the worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from domain.audit.service import current_actor
from domain.imports import repository as repo
from domain.imports.kinds import kind_spec, known_kinds
from domain.imports.mapping import ImportMapping, MappingError
from domain.imports.models import (
    ACTIVE_STATUSES,
    Import,
    ImportFormat,
    ImportMode,
    ImportProfile,
    ImportStatus,
    OnError,
)
from domain.imports.profiles import BUILTIN_PROFILES
from domain.imports.streams import in_tenant
from domain.jobs.service import job_service
from tenants.errors import ErrorCode, ServiceError, invalid, not_found
from tenants.pagination import Page
from tenants.scope import TenantID

IMPORT_JOB = "imports.run"
CHUNK_BYTES = 1024 * 1024
SOURCE_PART = repo.SOURCE_PART
ERRORS_PART = "errors"
PREVIEW_PART = "preview"
RUN_RESET: dict[str, Any] = {
    "bytes_processed": 0,
    "rows_read": 0,
    "rows_valid": 0,
    "rows_invalid": 0,
    "rows_written": 0,
    "summary": {},
    "error_code": None,
    "error_message": None,
    "error_message_zh": None,
    "started_at": None,
    "finished_at": None,
    "cancel_requested": False,
}
FINISHED_STATUSES = frozenset(
    {ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELLED, ImportStatus.READY}
)


def import_not_found() -> ServiceError:
    return not_found("import", "导入")


def _conflict(message: str, message_zh: str, field: str | None = "id") -> ServiceError:
    return ServiceError(ErrorCode.CONFLICT, message, message_zh, field=field)


@dataclass(frozen=True)
class UploadReceipt:
    byte_size: int
    sha256: str
    chunk_count: int


class UploadTooLargeError(Exception):
    """The body passed the configured import size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit} bytes")
        self.limit = limit


class ChunkWriter:
    """Cuts an incoming byte stream into fixed-size chunks and stores each one.

    The caller decides the transactions: the streaming upload commits chunk by chunk, the
    GraphQL upload writes them all in its operation's transaction.
    """

    def __init__(self, tenant: TenantID, import_id: UUID, *, limit: int) -> None:
        self.tenant = tenant
        self.import_id = import_id
        self.limit = limit
        self.size = 0
        self.seq = 0
        self._digest = hashlib.sha256()
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Take ``data``; returns the complete chunks now ready to be stored."""
        self.size += len(data)
        if self.size > self.limit:
            raise UploadTooLargeError(self.limit)
        self._digest.update(data)
        self._buffer += data
        ready = []
        while len(self._buffer) >= CHUNK_BYTES:
            ready.append(bytes(self._buffer[:CHUNK_BYTES]))
            del self._buffer[:CHUNK_BYTES]
        return ready

    def rest(self) -> list[bytes]:
        if not self._buffer:
            return []
        rest = [bytes(self._buffer)]
        self._buffer.clear()
        return rest

    async def store(self, chunk: bytes) -> None:
        await repo.insert_chunk(self.tenant, self.import_id, SOURCE_PART, self.seq, chunk)
        self.seq += 1

    def receipt(self) -> UploadReceipt:
        return UploadReceipt(self.size, self._digest.hexdigest(), self.seq)


class ImportService:
    # --- the API's side ------------------------------------------------------------------

    async def create(
        self,
        tenant: TenantID,
        *,
        kind: str,
        format: ImportFormat,
        file_name: str | None = None,
        mapping: dict[str, Any] | None = None,
        profile: str | None = None,
    ) -> Import:
        """A new import waiting for its file."""
        spec = _spec(kind)
        checked = await self._mapping(tenant, kind, mapping, profile)
        if checked is not None:
            problems = [p for p in checked.check(spec) if not p.warning]
            if problems:
                raise _mapping_problems(problems)
        if file_name is not None and len(file_name) > 255:
            raise invalid("fileName", "at most 255 characters", "最多 255 个字符")
        return await repo.insert_import(
            tenant,
            kind=spec.code,
            format=format,
            file_name=file_name,
            mapping=checked.to_json() if checked is not None else {},
            profile=profile,
            created_by=current_actor().id,
        )

    async def get(self, tenant: TenantID, import_id: UUID) -> Import:
        row = await repo.get_import(tenant, import_id)
        if row is None:
            raise import_not_found()
        return row

    async def page(
        self, tenant: TenantID, *, first: int, after: str | None, status: ImportStatus | None
    ) -> Page[Import]:
        return await repo.list_imports(tenant, first=first, after=after, status=status)

    async def begin_upload(self, tenant: TenantID, import_id: UUID) -> Import:
        """Make room for a (new) file: earlier chunks go; a running import is left alone."""
        row = await repo.get_import(tenant, import_id, for_update=True)
        if row is None:
            raise import_not_found()
        if row.status in ACTIVE_STATUSES:
            raise _conflict(
                f"the import is {row.status.value}; cancel it before uploading again",
                "导入正在进行，请先取消再重新上传",
            )
        for part in (SOURCE_PART, ERRORS_PART, PREVIEW_PART):
            await repo.delete_chunks(tenant, import_id, part)
        # A mapping a profile derived from the old file's headers is derived again.
        derived: dict[str, Any] = {"mapping": {}} if row.profile is not None else {}
        await repo.update_import(
            tenant,
            import_id,
            status=ImportStatus.AWAITING_UPLOAD,
            **derived,
            byte_size=0,
            sha256=None,
            chunk_count=0,
            uploaded_at=None,
            headers=[],
            encoding=None,
            **RUN_RESET,
        )
        return row

    async def receive(
        self, tenant: TenantID, import_id: UUID, body: AsyncIterable[bytes], *, limit: int
    ) -> Import:
        """Store an upload's ciphertext in chunks: in the caller's transaction when one is
        open (a GraphQL multipart upload), else each chunk committed on its own (a streaming
        upload of any size never sits in one transaction)."""
        async with in_tenant(tenant):
            await self.begin_upload(tenant, import_id)
        writer = ChunkWriter(tenant, import_id, limit=limit)
        async for data in body:
            for chunk in writer.feed(data):
                async with in_tenant(tenant):
                    await writer.store(chunk)
        for chunk in writer.rest():
            async with in_tenant(tenant):
                await writer.store(chunk)
        async with in_tenant(tenant):
            return await self.complete_upload(tenant, import_id, writer.receipt())

    async def complete_upload(
        self, tenant: TenantID, import_id: UUID, receipt: UploadReceipt
    ) -> Import:
        if receipt.byte_size == 0:
            raise invalid("file", "the file is empty", "文件为空")
        stored = await repo.chunk_count(tenant, import_id, SOURCE_PART)
        if stored != receipt.chunk_count:  # another upload of the same import interleaved
            raise _conflict(
                "another upload of this import ran at the same time; upload again",
                "该导入同时有另一次上传，请重新上传",
            )
        await repo.update_import(
            tenant,
            import_id,
            status=ImportStatus.READY,
            byte_size=receipt.byte_size,
            sha256=receipt.sha256,
            chunk_count=receipt.chunk_count,
            uploaded_at=datetime.now(UTC),
        )
        return await self.get(tenant, import_id)

    async def start(
        self,
        tenant: TenantID,
        import_id: UUID,
        *,
        mode: ImportMode,
        on_error: OnError = OnError.ALL_OR_NOTHING,
        mapping: dict[str, Any] | None = None,
        profile: str | None = None,
    ) -> Import:
        """Queue a run of the uploaded file; the job is sent when the transaction commits."""
        row = await repo.get_import(tenant, import_id, for_update=True)
        if row is None:
            raise import_not_found()
        if row.status == ImportStatus.AWAITING_UPLOAD:
            raise _conflict("upload the file first", "请先上传文件")
        if row.status in ACTIVE_STATUSES:
            raise _conflict(f"the import is already {row.status.value}", "导入正在进行", field="id")
        values: dict[str, Any] = {}
        if mapping is not None or profile is not None:
            checked = await self._mapping(tenant, row.kind, mapping, profile)
            if checked is not None:
                problems = [
                    p for p in checked.check(_spec(row.kind), row.headers or None) if not p.warning
                ]
                if problems:
                    raise _mapping_problems(problems)
            values["mapping"] = checked.to_json() if checked is not None else {}
            values["profile"] = profile
        await repo.bump_run(tenant, import_id)
        await repo.delete_chunks(tenant, import_id, ERRORS_PART)
        if mode != ImportMode.PREVIEW:
            await repo.delete_chunks(tenant, import_id, PREVIEW_PART)
        job = await job_service.create(
            tenant,
            kind=IMPORT_JOB,
            payload={"import_id": str(import_id), "run": row.run + 1},
            created_by=current_actor().id,
        )
        await repo.update_import(
            tenant,
            import_id,
            status=ImportStatus.QUEUED,
            mode=mode,
            on_error=on_error,
            job_id=job.id,
            **RUN_RESET,
            **values,
        )
        return await self.get(tenant, import_id)

    async def cancel(self, tenant: TenantID, import_id: UUID) -> Import:
        """A queued run is cancelled at once; a running one stops at its next batch and
        writes nothing."""
        row = await repo.get_import(tenant, import_id, for_update=True)
        if row is None:
            raise import_not_found()
        if row.status == ImportStatus.QUEUED:
            await repo.update_import(
                tenant,
                import_id,
                status=ImportStatus.CANCELLED,
                finished_at=datetime.now(UTC),
                error_code="CANCELLED",
                error_message="cancelled before it started",
                error_message_zh="开始前已取消",
            )
        elif row.status in ACTIVE_STATUSES:
            await repo.update_import(tenant, import_id, cancel_requested=True)
        else:
            raise _conflict(
                f"the import is {row.status.value}: nothing to cancel", "导入未在进行，无需取消"
            )
        return await self.get(tenant, import_id)

    async def delete(self, tenant: TenantID, import_id: UUID) -> None:
        """Forget an import and its ciphertext (what it wrote stays)."""
        row = await repo.get_import(tenant, import_id, for_update=True)
        if row is None:
            raise import_not_found()
        if row.status in ACTIVE_STATUSES:
            raise _conflict("cancel the import before deleting it", "请先取消导入再删除")
        await repo.delete_import(tenant, import_id)

    # --- mapping profiles ----------------------------------------------------------------

    async def profiles(self, tenant: TenantID, kind: str | None) -> list[ImportProfile]:
        if kind is not None:
            _spec(kind)
        return await repo.list_profiles(tenant, kind)

    async def save_profile(
        self,
        tenant: TenantID,
        *,
        kind: str,
        name: str,
        mapping: dict[str, Any],
        source_system: str | None = None,
    ) -> ImportProfile:
        spec = _spec(kind)
        name = name.strip()
        if not 0 < len(name) <= 63:
            raise invalid("name", "1-63 characters", "1-63 个字符")
        if name in BUILTIN_PROFILES:
            raise _conflict(
                f"{name!r} is a built-in profile; choose another name",
                f"{name!r} 是内置方案名，请换一个名称",
                field="name",
            )
        checked = _parse_mapping(mapping)
        problems = [p for p in checked.check(spec) if not p.warning]
        if problems:
            raise _mapping_problems(problems)
        try:
            return await repo.save_profile(
                tenant,
                kind=spec.code,
                name=name,
                source_system=source_system or checked.source_system,
                mapping=checked.to_json(),
                created_by=current_actor().id,
            )
        except repo.DuplicateProfileError:
            raise _conflict(
                "a profile of this name was saved meanwhile; try again",
                "同名方案刚被保存，请重试",
                field="name",
            ) from None

    async def delete_profile(self, tenant: TenantID, profile_id: UUID) -> None:
        if not await repo.delete_profile(tenant, profile_id):
            raise not_found("mapping profile", "映射方案")

    async def _mapping(
        self, tenant: TenantID, kind: str, mapping: dict[str, Any] | None, profile: str | None
    ) -> ImportMapping | None:
        """The mapping given, or the saved profile's; ``None`` when it is decided from the
        file's headers at run time (no mapping, or a built-in profile)."""
        if mapping is not None and profile is not None:
            raise invalid(
                "mapping", "give a mapping or a profile, not both", "映射与方案只能二选一"
            )
        if mapping is not None:
            return _parse_mapping(mapping)
        if profile is None:
            return None
        builtin = BUILTIN_PROFILES.get(profile)
        if builtin is not None:
            if builtin.kind is not None and builtin.kind != kind:
                raise invalid(
                    "profile",
                    f"profile {profile!r} maps {builtin.kind}, not {kind}",
                    f"方案 {profile!r} 适用于 {builtin.kind}，不适用于 {kind}",
                )
            return None
        saved = await repo.get_profile(tenant, kind, profile)
        if saved is None:
            raise not_found("mapping profile", "映射方案", field="profile")
        return _parse_mapping(saved.mapping)


def _spec(kind: str) -> Any:
    try:
        return kind_spec(kind)
    except KeyError:
        raise invalid(
            "kind",
            f"unknown kind {kind!r} (known: {', '.join(known_kinds())})",
            f"未知的导入类型 {kind!r}",
        ) from None


def _parse_mapping(mapping: dict[str, Any]) -> ImportMapping:
    try:
        return ImportMapping.from_json(mapping)
    except MappingError as exc:
        raise invalid(f"mapping.{exc.field}", exc.message, exc.message_zh) from None


def _mapping_problems(problems: Sequence[Any]) -> ServiceError:
    first = problems[0]
    details = [invalid(f"mapping.{p.field}", p.message, p.message_zh) for p in problems]
    return ServiceError(
        ErrorCode.INVALID,
        f"the mapping has {len(problems)} problem(s); the first: {first.message}",
        f"映射有 {len(problems)} 个问题；第一个：{first.message_zh}",
        field=f"mapping.{first.field or first.column}",
        details=details,
    )


import_service = ImportService()
