"""GraphQL of imports: the ``Import`` type, its kinds, mappings and keys, and the mutations
that create, upload (multipart), run and cancel one. ``api.import_http`` serves the
streaming upload and the error report download over plain HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, bad_input_from, error_from, unauthenticated
from api.graphql.fields import field, root_field, root_mutation, root_subscription
from api.graphql.mutations import attempt
from api.graphql.relay import PAGE_SIZE, node_type, paginated, require_node_id, to_connection
from api.tenancy import LocalizedText
from domain.audit.service import audit
from domain.imports import repository as imports_repo
from domain.imports.fields import FieldSpec, KindSpec
from domain.imports.kinds import KINDS, kind_spec
from domain.imports.mapping import suggest_mapping
from domain.imports.models import (
    Import,
    ImportFormat,
    ImportMode,
    ImportProfile,
    ImportStatus,
    OnError,
)
from domain.imports.profiles import BUILTIN_PROFILES
from domain.imports.reports import first_errors, import_keys, preview_document
from domain.imports.service import (
    UploadTooLargeError,
    import_not_found,
    import_service,
)
from tenants.authorization import Reach
from tenants.crypto.imports import ImportKeyBundle, ImportKeyInfo
from tenants.errors import ServiceError, invalid
from tenants.identity.service import NotAuthenticatedError
from tenants.scope import tenant_transaction
from tenants.service import tenant_service

ImportStatusType = strawberry.enum(
    ImportStatus,
    name="ImportStatus",
    description="AWAITING_UPLOAD, READY (uploaded; nothing run or a preview done), QUEUED, "
    "RUNNING, VALIDATING, LOADING, SUCCEEDED, FAILED or CANCELLED.",
)
ImportModeType = strawberry.enum(
    ImportMode,
    name="ImportMode",
    description="PREVIEW (headers, suggested mapping, first rows), DRY_RUN (everything "
    "checked, nothing kept) or COMMIT.",
)
OnErrorType = strawberry.enum(
    OnError,
    name="ImportOnError",
    description="ALL_OR_NOTHING (any invalid row: nothing written) or SKIP_INVALID.",
)
ImportFormatType = strawberry.enum(ImportFormat, name="ImportFormat")
IMPORT_NODE = "Import"


@strawberry.type(description="A run's failure: a code and what to do about it.")
class ImportFailure:
    code: str
    message: str
    message_zh: str


@strawberry.type(description="One problem of one row of the file.")
class ImportRowError:
    row: int = strawberry.field(description="Data row, counted from 1 (the header is not a row).")
    column: str
    code: str
    message: str
    message_zh: str
    value: str


@strawberry.type(description="The first rows of the file after mapping.")
class ImportPreview:
    headers: list[str]
    mapping: JSON
    suggestion: JSON | None
    rows: JSON


@strawberry.type(name="Import", description="An encrypted file to import and its latest run.")
class ImportType(relay.Node):
    id: relay.NodeID[str]
    kind: str
    format: ImportFormat
    file_name: str | None
    status: ImportStatus
    mode: ImportMode | None
    on_error: OnError
    mapping: JSON = strawberry.field(description="The mapping of the latest run (or given).")
    profile: str | None
    byte_size: int = strawberry.field(description="Ciphertext bytes stored.")
    sha256: str | None = strawberry.field(description="SHA-256 of the ciphertext, hex.")
    bytes_processed: int
    rows_read: int
    rows_valid: int
    rows_invalid: int
    rows_written: int
    encoding: str | None
    headers: list[str]
    summary: JSON = strawberry.field(
        description="created / updated / unchanged, errors, cleansing changes by rule; a dry "
        "run's wouldWrite; a preview's suggestion."
    )
    error: ImportFailure | None
    created_at: datetime
    uploaded_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    upload_path: str = strawberry.field(
        description="Where to PUT the encrypted file with a bearer token (streaming upload)."
    )
    errors_path: str = strawberry.field(
        description="Where to GET the rows in error as CSV with a bearer token."
    )

    @field(description="Share of the file processed, 0 to 1.")
    def progress(self) -> float | None:
        if self.status in (ImportStatus.SUCCEEDED, ImportStatus.READY) and self.started_at:
            return 1.0
        if not self.byte_size:
            return None
        return min(1.0, self.bytes_processed / self.byte_size)

    @field(description="Seconds left, estimated from the pace so far; null until known.")
    def eta_seconds(self) -> float | None:
        if self.status not in (ImportStatus.VALIDATING, ImportStatus.LOADING, ImportStatus.RUNNING):
            return None
        if not self.started_at or not self.bytes_processed or not self.byte_size:
            return None
        elapsed = (datetime.now(UTC) - self.started_at).total_seconds()
        left = self.byte_size - self.bytes_processed
        # The last phase (writing what was staged) is not in the byte count; the estimate
        # covers reading and checking.
        return round(max(0.0, elapsed * left / self.bytes_processed), 1)

    @field(description="The first rows in error (the whole list: errorsPath).")
    async def first_errors(self, info: Info, limit: int = 20) -> list[ImportRowError]:
        if not 1 <= limit <= 1000:
            raise bad_input_from(invalid("limit", "1 to 1000", "1 到 1000"))
        rows = await first_errors(info.context.tenant_id, UUID(self.id), limit)
        return [ImportRowError(**row) for row in rows]

    @field(description="The preview of the latest PREVIEW run, if any.")
    async def preview(self, info: Info) -> ImportPreview | None:
        document = await preview_document(info.context.tenant_id, UUID(self.id))
        if document is None:
            return None
        return ImportPreview(
            headers=document["headers"],
            mapping=JSON(document["mapping"]),
            suggestion=JSON(document["suggestion"]) if document.get("suggestion") else None,
            rows=JSON(document["rows"]),
        )

    @classmethod
    def from_model(cls, row: Import) -> ImportType:
        error = (
            ImportFailure(
                code=row.error_code,
                message=row.error_message or "",
                message_zh=row.error_message_zh or "",
            )
            if row.error_code
            else None
        )
        return cls(
            id=str(row.id),
            kind=row.kind,
            format=row.format,
            file_name=row.file_name,
            status=row.status,
            mode=row.mode,
            on_error=row.on_error,
            mapping=JSON(row.mapping),
            profile=row.profile,
            byte_size=row.byte_size,
            sha256=row.sha256,
            bytes_processed=row.bytes_processed,
            rows_read=row.rows_read,
            rows_valid=row.rows_valid,
            rows_invalid=row.rows_invalid,
            rows_written=row.rows_written,
            encoding=row.encoding,
            headers=list(row.headers or []),
            summary=JSON(row.summary or {}),
            error=error,
            created_at=row.created_at,
            uploaded_at=row.uploaded_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            upload_path=f"/imports/{row.id}/content",
            errors_path=f"/imports/{row.id}/errors.csv",
        )


@node_type(IMPORT_NODE)
async def load_import(context: RequestContext, node_id: UUID, reach: Reach) -> ImportType | None:
    row = await imports_repo.get_import(context.tenant_id, node_id)
    return ImportType.from_model(row) if row is not None else None


# --- kinds, profiles, suggestions ------------------------------------------------------------


@strawberry.type(description="A field an import kind accepts.")
class ImportField:
    name: str
    type: str
    label: LocalizedText
    required: bool
    reference: str | None = strawberry.field(description="ORG_UNIT, EMPLOYEE or SKILL.")
    choices: list[str]
    synonyms: list[str]
    description: str


@strawberry.type(description="A kind of record an import can carry.")
class ImportKind:
    code: str
    label: LocalizedText
    key: list[str] = strawberry.field(description="The fields that identify a record.")
    fields: list[ImportField]


def _field(spec: FieldSpec) -> ImportField:
    return ImportField(
        name=spec.name,
        type=spec.type.value.upper(),
        label=LocalizedText(zh=spec.label_zh, en=spec.label_en),
        required=spec.required,
        reference=spec.ref.value.upper() if spec.ref is not None else None,
        choices=[choice.value for choice in spec.choices],
        synonyms=list(spec.synonyms),
        description=spec.description,
    )


def _kind(spec: KindSpec) -> ImportKind:
    return ImportKind(
        code=spec.code,
        label=LocalizedText(zh=spec.label_zh, en=spec.label_en),
        key=list(spec.key),
        fields=[_field(f) for f in spec.fields],
    )


@strawberry.type(description="A mapping profile: built in, or saved for a source system.")
class ImportMappingProfile:
    id: str | None = strawberry.field(description="Null for built-in profiles.")
    name: str
    kind: str | None = strawberry.field(description="Null: any kind (the generic profile).")
    builtin: bool
    source_system: str | None
    label: LocalizedText | None
    mapping: JSON | None = strawberry.field(
        description="Null when the mapping follows the file's headers (generic)."
    )

    @classmethod
    def from_model(cls, row: ImportProfile) -> ImportMappingProfile:
        return cls(
            id=str(row.id),
            name=row.name,
            kind=row.kind,
            builtin=False,
            source_system=row.source_system,
            label=None,
            mapping=JSON(row.mapping),
        )


@strawberry.type(description="A column and the field suggested for it.")
class ImportColumnMatch:
    column: str
    field: str | None
    score: float
    reason: str


@strawberry.type(description="A mapping suggested from a file's headers.")
class ImportMappingSuggestion:
    mapping: JSON
    matches: list[ImportColumnMatch]


# --- mutations' payloads ---------------------------------------------------------------------


@strawberry.type
class ImportPayload:
    import_: ImportType = strawberry.field(name="import")


@strawberry.type
class ImportError(Error):
    pass


ImportResult = Annotated[ImportPayload | ImportError, strawberry.union("ImportResult")]


@strawberry.type
class ImportProfilePayload:
    profile: ImportMappingProfile


ImportProfileResult = Annotated[
    ImportProfilePayload | ImportError, strawberry.union("ImportProfileResult")
]


@strawberry.type
class ImportDeletePayload:
    deleted_id: str


ImportDeleteResult = Annotated[
    ImportDeletePayload | ImportError, strawberry.union("ImportDeleteResult")
]


@strawberry.input(
    description="A new import. Give the file here (multipart request) or PUT "
    "it to the import's uploadPath afterwards (streaming, for large files)."
)
class ImportCreateInput:
    kind: str
    format: ImportFormat
    file_name: str | None = None
    mapping: JSON | None = strawberry.field(
        default=None, description="columns / constants / choices / timezone ...; or a profile."
    )
    profile: str | None = strawberry.field(
        default=None, description="A built-in (generic, jira) or saved profile's name."
    )
    file: Upload | None = None
    start: ImportMode | None = strawberry.field(
        default=None, description="Start a run at once when the file is given."
    )
    on_error: OnError = OnError.ALL_OR_NOTHING


@strawberry.input
class ImportStartInput:
    id: relay.GlobalID
    mode: ImportMode
    on_error: OnError = OnError.ALL_OR_NOTHING
    mapping: JSON | None = None
    profile: str | None = None


@strawberry.input
class ImportProfileInput:
    kind: str
    name: str
    mapping: JSON
    source_system: str | None = None


def _json_object(value: Any) -> dict[str, Any] | None:
    """A JSON argument that must be an object (a mapping)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("mapping", "must be a JSON object", "须为 JSON 对象")
    return value


def _import_id(global_id: relay.GlobalID) -> UUID:
    return require_node_id(global_id, IMPORT_NODE, "import", "导入")


async def _store_upload(context: RequestContext, import_id: UUID, upload: Any) -> None:
    """The multipart file's bytes as chunks, in the operation's transaction."""

    async def body() -> AsyncIterator[bytes]:
        while data := await upload.read(1024 * 1024):
            yield data

    await import_service.receive(
        context.tenant_id, import_id, body(), limit=context.runtime.settings.import_max_bytes
    )


def _too_large(exc: UploadTooLargeError) -> ServiceError:
    return invalid(
        "file",
        f"the file is larger than the limit of {exc.limit} bytes",
        f"文件超过 {exc.limit} 字节的上限",
    )


@strawberry.type(description="A key of the tenant's import keyset (no key material).")
class ImportKey:
    key_id: int = strawberry.field(description="Tink's key id (in each file's header).")
    enabled: bool
    primary: bool = strawberry.field(description="The key new files should be encrypted with.")


@strawberry.type(description="A new import key. The keyset is shown this once: store it.")
class ImportKeyCreatePayload:
    key_id: int
    associated_data: str
    keyset_file: JSON = strawberry.field(
        description="The file to hand to the sender (renshi encrypt --keyset FILE): tenant "
        "id and slug, the associated data and a one-key Tink JSON keyset."
    )


ImportKeyCreateResult = Annotated[
    ImportKeyCreatePayload | ImportError, strawberry.union("ImportKeyCreateResult")
]


@strawberry.type
class ImportKeyPayload:
    key: ImportKey


ImportKeyResult = Annotated[ImportKeyPayload | ImportError, strawberry.union("ImportKeyResult")]


def _key(info: ImportKeyInfo) -> ImportKey:
    return ImportKey(key_id=info.key_id, enabled=info.status == "enabled", primary=info.primary)


@strawberry.type
class ImportQueries:
    @root_field(description="Imports, oldest first.")
    async def imports(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        status: ImportStatus | None = None,
    ) -> relay.Connection[ImportType]:
        tenant = info.context.tenant_id
        page = await paginated(
            lambda: import_service.page(tenant, first=first, after=after, status=status)
        )
        return to_connection(page, ImportType.from_model)

    @root_field(description="The kinds of record an import can carry, with their fields.")
    def import_kinds(self, info: Info) -> list[ImportKind]:
        return [_kind(spec) for spec, _ in KINDS.values()]

    @root_field(description="Built-in and saved mapping profiles, optionally of one kind.")
    async def import_profiles(
        self, info: Info, kind: str | None = None
    ) -> list[ImportMappingProfile]:
        builtin = [
            ImportMappingProfile(
                id=None,
                name=profile.code,
                kind=profile.kind,
                builtin=True,
                source_system=profile.source_system,
                label=LocalizedText(zh=profile.label_zh, en=profile.label_en),
                mapping=None,
            )
            for profile in BUILTIN_PROFILES.values()
            if kind is None or profile.kind in (None, kind)
        ]
        try:
            saved = await import_service.profiles(info.context.tenant_id, kind)
        except ServiceError as exc:
            raise bad_input_from(exc) from None
        return builtin + [ImportMappingProfile.from_model(row) for row in saved]

    @root_field(description="The keys of the tenant's import keyset, oldest first.")
    async def import_keys(self, info: Info) -> list[ImportKey]:
        return [_key(key) for key in await import_keys().list_keys(info.context.tenant_id)]

    @root_field(description="A mapping suggested for a file with these headers (zh or en).")
    def suggest_import_mapping(
        self, info: Info, kind: str, headers: list[str]
    ) -> ImportMappingSuggestion:
        try:
            spec = kind_spec(kind)
        except KeyError:
            raise bad_input_from(
                invalid("kind", f"unknown kind {kind!r}", f"未知的导入类型 {kind!r}")
            ) from None
        if not 0 < len(headers) <= 500:
            raise bad_input_from(invalid("headers", "1 to 500", "1 到 500 个"))
        suggestion = suggest_mapping(spec, headers)
        return ImportMappingSuggestion(
            mapping=JSON(suggestion.mapping.to_json()),
            matches=[
                ImportColumnMatch(column=m.column, field=m.field, score=m.score, reason=m.reason)
                for m in suggestion.matches
            ],
        )


PROGRESS_POLL_S = 0.5
FINISHED = frozenset(
    {ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELLED, ImportStatus.READY}
)


@strawberry.type
class ImportSubscriptions:
    @root_subscription(
        description="The import as it changes (status, counts, bytes processed, time left), "
        "from its state now until its run finishes."
    )
    async def import_progress(
        self, info: Info, id: relay.GlobalID
    ) -> AsyncGenerator[ImportType, None]:
        context = info.context
        actor = context.require_actor()
        tenant = actor.principal.tenant_id
        import_id = _import_id_or_error(id)
        last: tuple[Any, ...] | None = None
        while True:
            # One short transaction per look, never one for the life of the socket; the
            # caller is authenticated again each time, so a revoked token stops the stream.
            async with tenant_transaction(tenant):
                try:
                    context.actor = await context.runtime.identity.authenticate(actor.principal)
                except NotAuthenticatedError:
                    raise unauthenticated() from None
                row = await imports_repo.get_import(tenant, import_id)
            if row is None:
                raise bad_input_from(import_not_found())
            seen = (row.status, row.run, row.bytes_processed, row.rows_read, row.rows_written)
            if seen != last:
                last = seen
                yield ImportType.from_model(row)
            if (row.status in FINISHED and row.started_at is not None) or (
                row.status == ImportStatus.AWAITING_UPLOAD
            ):
                return
            await asyncio.sleep(PROGRESS_POLL_S)


def _import_id_or_error(global_id: relay.GlobalID) -> UUID:
    try:
        return _import_id(global_id)
    except ServiceError as exc:
        raise bad_input_from(exc) from None


@strawberry.type
class ImportMutations:
    @root_mutation(description="Create an import; with a file (multipart), store it too.")
    async def create_import(self, info: Info, input: ImportCreateInput) -> ImportResult:
        context = info.context
        tenant = context.tenant_id

        async def create() -> Import:
            row = await import_service.create(
                tenant,
                kind=input.kind,
                format=input.format,
                file_name=input.file_name,
                mapping=_json_object(input.mapping),
                profile=input.profile,
            )
            if input.file is not None:
                try:
                    await _store_upload(context, row.id, input.file)
                except UploadTooLargeError as exc:
                    raise _too_large(exc) from None
                if input.start is not None:
                    return await import_service.start(
                        tenant, row.id, mode=input.start, on_error=input.on_error
                    )
            elif input.start is not None:
                raise invalid("start", "give the file to start at once", "须同时上传文件")
            return await import_service.get(tenant, row.id)

        result = await attempt(create)
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportPayload(import_=ImportType.from_model(result))

    @root_mutation(description="Run the uploaded file: a preview, a dry run or a commit.")
    async def start_import(self, info: Info, input: ImportStartInput) -> ImportResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: import_service.start(
                tenant,
                _import_id(input.id),
                mode=input.mode,
                on_error=input.on_error,
                mapping=_json_object(input.mapping),
                profile=input.profile,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportPayload(import_=ImportType.from_model(result))

    @root_mutation(description="Cancel a queued or running import; nothing of it is written.")
    async def cancel_import(self, info: Info, id: relay.GlobalID) -> ImportResult:
        tenant = info.context.tenant_id
        result = await attempt(lambda: import_service.cancel(tenant, _import_id(id)))
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportPayload(import_=ImportType.from_model(result))

    @root_mutation(description="Delete an import and its stored file (what it wrote stays).")
    async def delete_import(self, info: Info, id: relay.GlobalID) -> ImportDeleteResult:
        tenant = info.context.tenant_id

        async def delete() -> str:
            await import_service.delete(tenant, _import_id(id))
            return str(id)

        result = await attempt(delete)
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportDeletePayload(deleted_id=result)

    @root_mutation(
        description="Add a key to the tenant's import keyset and make it the one to encrypt "
        "with; its keyset is returned this once. Files made with older keys still open."
    )
    async def create_import_key(self, info: Info) -> ImportKeyCreateResult:
        tenant = info.context.tenant_id

        async def create() -> ImportKeyBundle:
            row = await tenant_service.get(tenant)
            bundle = await import_keys().create_key(tenant, tenant_slug=row.slug)
            await audit.record(
                tenant,
                entity_type="import_key",
                entity_id=tenant,
                action="create",
                after={"key_id": bundle["keyId"]},
            )
            return bundle

        result = await attempt(create)
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportKeyCreatePayload(
            key_id=result["keyId"],
            associated_data=result["associatedData"],
            keyset_file=JSON(dict(result)),
        )

    @root_mutation(description="Disable an old import key: files made with it stop opening.")
    async def disable_import_key(self, info: Info, key_id: int) -> ImportKeyResult:
        tenant = info.context.tenant_id

        async def disable() -> ImportKeyInfo:
            key = await import_keys().disable_key(tenant, key_id)
            await audit.record(
                tenant,
                entity_type="import_key",
                entity_id=tenant,
                action="disable",
                after={"key_id": key_id},
            )
            return key

        result = await attempt(disable)
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportKeyPayload(key=_key(result))

    @root_mutation(description="Save a mapping under a name, for a source system's next files.")
    async def save_import_profile(
        self, info: Info, input: ImportProfileInput
    ) -> ImportProfileResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: import_service.save_profile(
                tenant,
                kind=input.kind,
                name=input.name,
                mapping=_json_object(input.mapping) or {},
                source_system=input.source_system,
            )
        )
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportProfilePayload(profile=ImportMappingProfile.from_model(result))

    @root_mutation(description="Delete a saved mapping profile.")
    async def delete_import_profile(self, info: Info, id: str) -> ImportDeleteResult:
        tenant = info.context.tenant_id

        async def delete() -> str:
            try:
                profile_id = UUID(id)
            except ValueError:
                raise invalid("id", "not a profile id", "不是方案编号") from None
            await import_service.delete_profile(tenant, profile_id)
            return id

        result = await attempt(delete)
        if isinstance(result, ServiceError):
            return error_from(ImportError, result)
        return ImportDeletePayload(deleted_id=result)
