"""Encrypted import files: the tenant's ``import`` keys, their download bundles, and decryption.

A tenant's import files are encrypted by the sender with Tink streaming AEAD
(``AES256_GCM_HKDF_1MB``) under a key of the tenant's ``import`` keyset, with the associated
data ``renshi-import:v1:<tenant uuid>``. This module owns:

- the keys: ``ImportKeys.create_key`` adds a key, makes it primary and returns it once as a
  downloadable one-key bundle (the server never shows key material again); ``list_keys``
  and ``disable_key`` manage them;
- decryption: ``ImportKeys.decrypting_stream`` opens a file with any enabled key of the
  tenant and turns Tink's errors into an ``ImportDecryptionError`` with a stable code;
- database-free helpers for the ``renshi encrypt`` command, tests and benchmarks:
  ``load_bundle``, ``encrypt_file`` and ``encrypt_bytes``.

How a failure is classified (Tink says little more than "authentication failed"):

- The first segment (the first megabyte) is checked at the first read. If it does not open
  under any enabled key, the code is ``IMPORT_KEY_MISMATCH``: the scheme has no key check
  separate from the segment's tag, so a wrong key, another tenant's key, a disabled key, the
  wrong associated data, a file that is not a Tink stream and an alteration of the first
  megabyte all look the same. Exception: a file too short to hold a header and one segment
  tag ("Could not read stream header", "ciphertext too short") is ``IMPORT_TRUNCATED``.
- A later segment that does not authenticate is ``IMPORT_TRUNCATED`` when Tink says the
  ciphertext is too short (the file ends on a segment boundary) or when it is the last
  segment of the file (the source was exhausted and no ciphertext follows it: the file was
  cut inside that segment). Otherwise it is ``IMPORT_TAMPERED`` (altered or re-ordered). An
  alteration inside a short last segment therefore reads as ``IMPORT_TRUNCATED``: the bytes
  alone cannot tell a cut-off segment from an altered one. (A full-length last segment
  fails before the end of the source is seen, and reads as ``IMPORT_TAMPERED``.)
- An exception raised by the ciphertext source itself is raised as it is, never classified:
  the file is not at fault.

Segments are authenticated one at a time, so the plaintext of early segments is returned
before a later segment fails: a reader must treat what it read as provisional until the
stream reports its end, and discard it on ``ImportDecryptionError``.
"""

from __future__ import annotations

import io
import json
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NamedTuple, Protocol, TypedDict
from uuid import UUID

import tink
from tink import secret_key_access, streaming_aead
from tink.proto import aes_gcm_hkdf_streaming_pb2, tink_pb2

from tenants.crypto import repository as repo
from tenants.crypto.keysets import (
    PURPOSES,
    KeysetHandle,
    TenantKeysets,
    handle_from_proto,
    keyset_proto,
    single_key_handles,
)
from tenants.crypto.provider import provider_from_settings
from tenants.errors import ErrorCode, ServiceError, not_found
from tenants.scope import TenantID, require_tenant
from tenants.settings import Settings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

streaming_aead.register()

IMPORT_PURPOSE = "import"
BUNDLE_FORMAT = "renshi-import-keyset/v1"
DEFAULT_CHUNK_SIZE = 1024 * 1024

_KEY_TYPE_URL = "type.googleapis.com/google.crypto.tink.AesGcmHkdfStreamingKey"
_TAG_BYTES = 16  # AES-GCM tag at the end of each segment
_NONCE_PREFIX_BYTES = 7  # fixed by Tink's AES-GCM-HKDF streaming format

# The segment geometry of the import template, read from the template rather than repeated:
# a ciphertext is a header (its length byte, the HKDF salt, the nonce prefix) followed by
# segments of SEGMENT_BYTES, the first one shortened by the header so that every segment
# after it starts at a multiple of SEGMENT_BYTES. Used to tell which segment failed.
_FORMAT = aes_gcm_hkdf_streaming_pb2.AesGcmHkdfStreamingKeyFormat.FromString(
    PURPOSES[IMPORT_PURPOSE].value
)
SEGMENT_BYTES: int = _FORMAT.params.ciphertext_segment_size
HEADER_BYTES: int = 1 + _FORMAT.params.derived_key_size + _NONCE_PREFIX_BYTES
_FIRST_SEGMENT_PLAINTEXT = SEGMENT_BYTES - HEADER_BYTES - _TAG_BYTES
_SEGMENT_PLAINTEXT = SEGMENT_BYTES - _TAG_BYTES


def import_associated_data(tenant: TenantID | UUID) -> bytes:
    """The associated data of the tenant's import files: a file made for one tenant does not
    open for another, even under a key both had (there is none, but the binding is free)."""
    return f"renshi-import:v1:{tenant}".encode()


# --- errors ---------------------------------------------------------------------------------


class ImportErrorCode(StrEnum):
    """Why an import file does not decrypt; stable, shown to the tenant and in job reports."""

    IMPORT_KEY_MISMATCH = "IMPORT_KEY_MISMATCH"
    IMPORT_TAMPERED = "IMPORT_TAMPERED"
    IMPORT_TRUNCATED = "IMPORT_TRUNCATED"


class ImportDecryptionError(Exception):
    """An import file does not decrypt; ``code`` says why (see the module docstring).

    Shaped like ``ServiceError`` (``code``, ``message``, ``message_zh``, ``field``) but not
    one: its codes are not in the shared ``ErrorCode`` enum. ``plaintext_bytes`` is how much
    plaintext the stream had already returned: the caller must discard it.
    """

    def __init__(
        self, code: ImportErrorCode, message: str, message_zh: str, *, plaintext_bytes: int = 0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.field = "file"
        self.plaintext_bytes = plaintext_bytes


class ImportBundleError(ValueError):
    """A key bundle file is unreadable or not a Renshi import key bundle."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


# --- keys -----------------------------------------------------------------------------------


class ImportKeyBundle(TypedDict):
    """What ``create_key`` returns for download: JSON-serialisable as is, holds one secret key.

    The keys are the file's field names, hence camelCase.
    """

    format: str
    tenantId: str
    tenantSlug: str
    keyId: int
    associatedData: str
    keyset: dict[str, Any]


@dataclass(frozen=True)
class ImportKeyInfo:
    """One key of a tenant's import keyset, without its material."""

    key_id: int
    status: Literal["enabled", "disabled"]
    primary: bool


class ImportKeys:
    """The tenants' import keys, inside the caller's tenant transaction.

    Build one per process (``import_keys_from_settings``), or share the ``TenantKeysets`` of
    the process's ``PiiCipher``. Every method reads the stored keyset, not the process cache:
    a key created or disabled by another process must count at once, and these operations
    are rare enough (one per uploaded file or key change) for one row read each.
    """

    def __init__(self, keysets: TenantKeysets) -> None:
        self.keysets = keysets

    async def create_key(self, tenant: TenantID, *, tenant_slug: str) -> ImportKeyBundle:
        """Add a fresh key to the tenant's import keyset, make it primary, and return it.

        The bundle holds only that key, with its material: show it once and forget it. The
        keyset's first key, made with the tenant, is never handed out; it does no harm.
        """
        await self.keysets.rotate(tenant, IMPORT_PURPOSE)
        handle = await self.keysets.handle(tenant, IMPORT_PURPOSE, fresh=True)
        new_key = single_key_handles(handle)[0]  # the primary comes first: the new key
        key_id: int = new_key.keyset_info().primary_key_id
        keyset: dict[str, Any] = json.loads(
            tink.json_proto_keyset_format.serialize(new_key, secret_key_access.TOKEN)
        )
        return {
            "format": BUNDLE_FORMAT,
            "tenantId": str(tenant),
            "tenantSlug": tenant_slug,
            "keyId": key_id,
            "associatedData": import_associated_data(tenant).decode(),
            "keyset": keyset,
        }

    async def list_keys(self, tenant: TenantID) -> list[ImportKeyInfo]:
        """Every key of the tenant's import keyset, oldest first; ids and status only."""
        handle = await self.keysets.handle(tenant, IMPORT_PURPOSE, fresh=True)
        return _key_infos(handle)

    async def disable_key(self, tenant: TenantID, key_id: int) -> ImportKeyInfo:
        """Disable a key: files encrypted under it no longer decrypt. Disabling twice is fine.

        The primary key cannot be disabled (create a new key first): Tink would refuse to use
        a keyset whose primary is disabled.
        """

        def disable(keyset: Any) -> None:
            for key in keyset.key:
                if key.key_id != key_id:
                    continue
                if key.key_id == keyset.primary_key_id:
                    raise ServiceError(
                        ErrorCode.CONFLICT,
                        "the current (primary) import key cannot be disabled; "
                        "create a new key first",
                        "不能停用当前（主）导入密钥；请先创建新密钥",
                        field="keyId",
                    )
                key.status = tink_pb2.DISABLED
                return
            raise not_found("import key", "导入密钥", field="keyId")

        handle = await self._change_keyset(tenant, disable)
        return next(info for info in _key_infos(handle) if info.key_id == key_id)

    async def decrypting_stream(self, tenant: TenantID, ciphertext: BinaryIO) -> BinaryIO:
        """A readable plaintext stream over ``ciphertext``, opened by any enabled import key.

        Only fetching the keyset needs the transaction; the stream itself is synchronous and
        may be read in another thread after the transaction ended. Its reads raise
        ``ImportDecryptionError``. Closing it does not close ``ciphertext``.
        """
        handle = await self.keysets.handle(tenant, IMPORT_PURPOSE, fresh=True)
        return open_decrypting_stream(handle, import_associated_data(tenant), ciphertext)

    async def _change_keyset(self, tenant: TenantID, change: Callable[[Any], None]) -> KeysetHandle:
        """Apply ``change`` to the stored keyset proto under a row lock and store the result.

        This mirrors ``TenantKeysets.rotate`` (same locking, wrapping and after-commit
        caching) with another change than "add a primary key"; it uses that class's private
        helpers until ``TenantKeysets`` offers a public way to store a changed keyset.
        """
        keysets = self.keysets
        tx = require_tenant(tenant)
        cache_key = (tenant, IMPORT_PURPOSE)
        await keysets.handle(tenant, IMPORT_PURPOSE)  # creates the keyset if it is missing
        row = await repo.get_tenant_key(tenant, IMPORT_PURPOSE, for_update=True)
        if row is None:  # pragma: no cover - handle() just stored or read it
            raise RuntimeError("the import keyset vanished before it could be changed")
        current = keysets._unwrap(tenant, IMPORT_PURPOSE, row.wrapped_keyset, row.provider)
        keyset = keyset_proto(current)
        change(keyset)
        changed = handle_from_proto(keyset)
        await repo.save_tenant_key(
            tenant,
            row,
            wrapped_keyset=keysets._wrap(tenant, IMPORT_PURPOSE, changed),
            provider=keysets._provider.name,
        )
        # As rotate() does: the row is this transaction's until it commits; cache it only then.
        keysets._written_by[cache_key] = weakref.ref(tx)
        keysets._cache.pop(cache_key, None)
        keysets._remember(tx, cache_key, changed)
        return changed


def _key_infos(handle: KeysetHandle) -> list[ImportKeyInfo]:
    # keyset_info() carries ids and status only: no key material leaves this function.
    info = handle.keyset_info()
    return [
        ImportKeyInfo(
            key_id=key.key_id,
            status="enabled" if key.status == tink_pb2.ENABLED else "disabled",
            primary=key.key_id == info.primary_key_id,
        )
        for key in info.key_info
    ]


def import_keys_from_settings(settings: Settings) -> ImportKeys:
    """Import keys over keysets wrapped by this deployment's provider; one per process."""
    return ImportKeys(TenantKeysets(provider_from_settings(settings)))


# --- streams --------------------------------------------------------------------------------


class Readable(Protocol):
    """What is read from: a binary file, standard input's buffer, a ``CountingReader``."""

    def read(self, size: int = -1, /) -> bytes: ...


class CountingReader(io.RawIOBase):
    """Reads ``source`` and counts the bytes; ``at_eof`` once a read returned nothing.

    ``failure`` is what ``source`` raised, if it did; later reads raise it again without
    reading ``source``. Closing it leaves ``source`` open: the caller who opened it closes it.
    """

    def __init__(self, source: Readable) -> None:
        super().__init__()
        self._source = source
        self.bytes_read = 0
        self.at_eof = False
        self.failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self.failure is not None:
            # Tink tries each key from the start of the stream: after a failed read it would
            # read again, and a source fed by another task may then wait for ever.
            raise self.failure
        try:
            data = self._source.read(size)
        except BaseException as exc:
            self.failure = exc
            raise
        if not data:
            if size != 0:
                self.at_eof = True
            return b""
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class _NonClosingWriter(io.RawIOBase):
    """Passes writes to ``destination`` and counts them; closing it only flushes.

    Tink closes the destination when its encrypting stream is closed; the caller, who
    opened the destination, may still need it (a temporary file to rename, stdout).
    """

    def __init__(self, destination: BinaryIO) -> None:
        super().__init__()
        self._destination = destination
        self.bytes_written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        size = memoryview(data).nbytes
        self._destination.write(bytes(data))
        self.bytes_written += size
        return size

    def close(self) -> None:
        if not self.closed:
            self._destination.flush()
        super().close()


class _ClassifyingReader(io.RawIOBase):
    """The plaintext of a Tink decrypting stream; Tink's errors become ImportDecryptionError.

    It reads Tink's raw (unbuffered) stream, whose reads never span two segments, so the
    plaintext count at a failure is exactly that of the segments that authenticated.
    """

    def __init__(self, handle: KeysetHandle, associated_data: bytes, source: BinaryIO) -> None:
        super().__init__()
        self._source = CountingReader(source)
        self._plaintext = 0
        self._opened = False
        try:
            decrypting = handle.primitive(streaming_aead.StreamingAead).new_decrypting_stream(
                self._source, associated_data
            )
        except tink.TinkError as exc:  # pragma: no cover - Tink reads nothing before a read
            raise self._classify(exc) from exc
        # Below Tink's BufferedReader: a buffered read may span segments and lose the count.
        self._tink = decrypting
        self._raw = decrypting.raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._raw.read(len(view))
        except tink.TinkError as exc:
            if self._source.failure is not None:
                # Tink turns what the source raised (a stopped stream, a database error)
                # into a TinkError: that is no fault of the file, so raise the original.
                raise self._source.failure from None
            raise self._classify(exc) from exc
        if data is None:  # pragma: no cover - only non-blocking sources have nothing yet
            return 0
        self._opened = True
        self._plaintext += len(data)
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._tink.close()  # closes the CountingReader, which leaves the source open
        super().close()

    def _classify(self, exc: tink.TinkError) -> ImportDecryptionError:
        messages = " | ".join(str(error) for error in _error_chain(exc)).lower()
        too_short = "too short" in messages or "could not read stream header" in messages
        if not self._opened:
            if too_short:
                return self._truncated()
            if "corrupted header" in messages:
                return self._error(
                    ImportErrorCode.IMPORT_KEY_MISMATCH,
                    "the file is not an encrypted Renshi import file (its header is not a "
                    "Tink streaming header); encrypt it with the organisation's import key",
                    "该文件不是加密的 Renshi 导入文件（文件头无法识别）；请用本组织的导入密钥加密",
                )
            return self._error(
                ImportErrorCode.IMPORT_KEY_MISMATCH,
                "no import key of this organisation opens the file: it was encrypted with "
                "another key (another organisation's, a disabled one) or other associated "
                "data, or its first megabyte was altered",
                "本组织的导入密钥均无法解密该文件：它是用其他密钥（其他组织的或已停用的）"
                "或其他关联数据加密的，或其前 1 MB 被改动",
            )
        if too_short or self._failed_in_last_segment():
            return self._truncated()
        segment = self._failed_segment() + 1
        return self._error(
            ImportErrorCode.IMPORT_TAMPERED,
            f"part {segment} of the file (a 1 MB segment) does not authenticate: the file "
            "was altered or its parts re-ordered after encryption; send the original again",
            f"文件的第 {segment} 段（每段 1 MB）校验失败：文件在加密后被改动或被调换顺序；"
            "请重新发送原始文件",
        )

    def _failed_segment(self) -> int:
        """The index of the segment that failed: the ones before it all authenticated."""
        if self._plaintext < _FIRST_SEGMENT_PLAINTEXT:
            return 0
        return 1 + (self._plaintext - _FIRST_SEGMENT_PLAINTEXT) // _SEGMENT_PLAINTEXT

    def _failed_in_last_segment(self) -> bool:
        # The failing segment ends at (index + 1) * SEGMENT_BYTES at most; if the source is
        # exhausted and held no more than that, nothing follows it.
        if not self._source.at_eof:
            return False
        return self._source.bytes_read <= (self._failed_segment() + 1) * SEGMENT_BYTES

    def _truncated(self) -> ImportDecryptionError:
        return self._error(
            ImportErrorCode.IMPORT_TRUNCATED,
            "the file ends early: it was cut off during upload or copying; send it again",
            "文件不完整：上传或复制时被截断；请重新发送",
        )

    def _error(self, code: ImportErrorCode, message: str, zh: str) -> ImportDecryptionError:
        return ImportDecryptionError(code, message, zh, plaintext_bytes=self._plaintext)


def _error_chain(exc: BaseException) -> list[BaseException]:
    # Tink's key-trying wrapper replaces the first segment's error with "No matching key
    # found" and keeps the last key's error as the cause: that one says what went wrong.
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def open_decrypting_stream(
    handle: KeysetHandle, associated_data: bytes, ciphertext: BinaryIO
) -> BinaryIO:
    """A buffered plaintext stream over ``ciphertext`` (see ``ImportKeys.decrypting_stream``).

    Database-free, for a handle in hand (tests, benchmarks, a bundle's key)."""
    if not ciphertext.readable():
        raise ValueError("the ciphertext must be readable")
    return io.BufferedReader(_ClassifyingReader(handle, associated_data, ciphertext))


# --- bundles and encryption without a database ----------------------------------------------


class ImportBundle(NamedTuple):
    """A loaded key bundle: what a sender needs to encrypt one tenant's import files."""

    handle: KeysetHandle
    associated_data: bytes
    tenant_id: UUID
    tenant_slug: str


def load_bundle(source: str | os.PathLike[str] | bytes) -> ImportBundle:
    """Read and check a bundle made by ``create_key``: a path, or the file's bytes.

    Raises ``ImportBundleError`` when it is unreadable, not a bundle, or inconsistent.
    """
    if isinstance(source, bytes):
        raw = source
    else:
        try:
            with open(source, "rb") as file:
                raw = file.read()
        except OSError as exc:
            raise ImportBundleError(
                f"cannot read the key file {os.fspath(source)!r}: {exc.strerror or exc}",
                f"无法读取密钥文件 {os.fspath(source)!r}",
            ) from exc
    try:
        bundle = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bundle_error("it is not JSON", "不是 JSON") from exc
    if not isinstance(bundle, dict):
        raise _bundle_error("it is not a JSON object", "不是 JSON 对象")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise _bundle_error(
            f"its format is {bundle.get('format')!r}, not {BUNDLE_FORMAT!r}",
            f"格式不是 {BUNDLE_FORMAT!r}",
        )
    tenant_id = _bundle_uuid(bundle.get("tenantId"))
    slug = bundle.get("tenantSlug")
    if not isinstance(slug, str) or not slug:
        raise _bundle_error("tenantSlug is missing", "缺少 tenantSlug")
    associated_data = import_associated_data(tenant_id)
    if bundle.get("associatedData") != associated_data.decode():
        # Not taken from the file: a file encrypted with other associated data never opens.
        raise _bundle_error(
            f"associatedData must be {associated_data.decode()!r}",
            f"associatedData 必须是 {associated_data.decode()!r}",
        )
    handle = _bundle_keyset(bundle.get("keyset"))
    key_id = bundle.get("keyId")
    if key_id is not None and key_id != handle.keyset_info().primary_key_id:
        raise _bundle_error("keyId is not the keyset's key", "keyId 与密钥集不符")
    return ImportBundle(handle, associated_data, tenant_id, slug)


def _bundle_uuid(value: Any) -> UUID:
    problem = _bundle_error("tenantId is not a UUID", "tenantId 不是 UUID")
    if not isinstance(value, str):
        raise problem
    try:
        return UUID(value)
    except ValueError:
        raise problem from None


def _bundle_keyset(value: Any) -> KeysetHandle:
    if not isinstance(value, dict):
        raise _bundle_error("keyset is not a JSON object", "keyset 不是 JSON 对象")
    try:
        handle = tink.json_proto_keyset_format.parse(json.dumps(value), secret_key_access.TOKEN)
    except (tink.TinkError, ValueError) as exc:
        raise _bundle_error(
            f"keyset is not a Tink keyset ({exc})", "keyset 不是 Tink 密钥集"
        ) from exc
    if any(key.type_url != _KEY_TYPE_URL for key in handle.keyset_info().key_info):
        raise _bundle_error(
            "keyset holds a key that is not an AES-GCM-HKDF streaming key",
            "keyset 含有非 AES-GCM-HKDF 流式加密密钥",
        )
    try:
        handle.primitive(streaming_aead.StreamingAead)
    except tink.TinkError as exc:
        raise _bundle_error(f"keyset is unusable ({exc})", "keyset 无法使用") from exc
    return handle


def _bundle_error(problem: str, problem_zh: str) -> ImportBundleError:
    return ImportBundleError(
        f"not a Renshi import key file: {problem}", f"不是 Renshi 导入密钥文件：{problem_zh}"
    )


def encrypt_file(
    handle: KeysetHandle,
    associated_data: bytes,
    source: Readable,
    destination: BinaryIO,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Encrypt ``source`` into ``destination`` in constant memory; the bytes written.

    Neither stream is closed. A failure leaves a partial ``destination``: write to a
    temporary file and rename it once this returns.
    """
    sink = _NonClosingWriter(destination)
    encrypting = handle.primitive(streaming_aead.StreamingAead).new_encrypting_stream(
        sink, associated_data
    )
    with encrypting:
        while chunk := source.read(chunk_size):
            encrypting.write(chunk)
    written: int = sink.bytes_written
    return written


def encrypt_bytes(handle: KeysetHandle, associated_data: bytes, data: bytes) -> bytes:
    """``data`` encrypted as a whole file, in memory (tests, small files)."""
    out = io.BytesIO()
    encrypt_file(handle, associated_data, io.BytesIO(data), out)
    return out.getvalue()
