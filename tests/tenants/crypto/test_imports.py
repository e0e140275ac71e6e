"""Import keys and encrypted import files: bundles, rotation, disabling, classified failures."""

from __future__ import annotations

import ast
import asyncio
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO, cast
from uuid import uuid4

import pytest
import tink
from tink import daead, secret_key_access
from tink.proto import tink_pb2

from domain.templates.registry import pack_codes
from tenants import repository as tenant_repo
from tenants.crypto.imports import (
    BUNDLE_FORMAT,
    HEADER_BYTES,
    IMPORT_PURPOSE,
    SEGMENT_BYTES,
    ImportBundleError,
    ImportDecryptionError,
    ImportErrorCode,
    ImportKeyBundle,
    ImportKeys,
    encrypt_bytes,
    encrypt_file,
    import_associated_data,
    import_keys_from_settings,
    load_bundle,
)
from tenants.crypto.keysets import PURPOSES, TenantKeysets
from tenants.crypto.provider import provider_from_settings
from tenants.errors import ErrorCode, ServiceError
from tenants.models import Tenant, TenantKey
from tenants.scope import TenantID, TenantScopeError, tenant_transaction
from tenants.service import tenant_service
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "imports" / "encrypt_example.py"

# Over three segments, so that a middle segment can be altered or two swapped.
BIG = os.urandom(3 * SEGMENT_BYTES + 12_345)


@pytest.fixture
def keys(settings: Settings) -> ImportKeys:
    return import_keys_from_settings(settings)


async def _tenant() -> Tenant:
    return await create_tenant()


async def _create_key(keys: ImportKeys, tenant: Tenant) -> ImportKeyBundle:
    async with tenant_transaction(tenant_id(tenant)):
        return await keys.create_key(tenant_id(tenant), tenant_slug=tenant.slug)


def _encrypt(bundle: ImportKeyBundle, plaintext: bytes) -> bytes:
    loaded = load_bundle(json.dumps(bundle).encode())
    return encrypt_bytes(loaded.handle, loaded.associated_data, plaintext)


async def _decrypt(keys: ImportKeys, tenant: Tenant, ciphertext: bytes) -> bytes:
    async with tenant_transaction(tenant_id(tenant)):
        stream = await keys.decrypting_stream(tenant_id(tenant), io.BytesIO(ciphertext))
    # Read after the transaction, in a thread: as the import worker does.
    with stream:
        return await asyncio.to_thread(stream.read)


async def _failure(keys: ImportKeys, tenant: Tenant, ciphertext: bytes) -> ImportDecryptionError:
    with pytest.raises(ImportDecryptionError) as caught:
        await _decrypt(keys, tenant, ciphertext)
    error = caught.value
    assert error.message
    assert error.message_zh
    assert error.field == "file"
    return error


def _segments(ciphertext: bytes) -> list[bytes]:
    """The ciphertext cut at its segment boundaries; the first piece carries the header."""
    return [ciphertext[i : i + SEGMENT_BYTES] for i in range(0, len(ciphertext), SEGMENT_BYTES)]


async def test_create_key_returns_a_one_key_bundle_the_tenant_decrypts(keys: ImportKeys) -> None:
    tenant = await _tenant()
    tid = tenant_id(tenant)
    # when
    bundle = await _create_key(keys, tenant)
    # then a JSON file with one key, for this tenant, which becomes the primary
    assert json.loads(json.dumps(bundle)) == bundle
    assert bundle["format"] == BUNDLE_FORMAT
    assert (bundle["tenantId"], bundle["tenantSlug"]) == (str(tid), tenant.slug)
    assert bundle["associatedData"] == f"renshi-import:v1:{tid}"
    assert import_associated_data(tid) == bundle["associatedData"].encode()
    assert [key["keyId"] for key in bundle["keyset"]["key"]] == [bundle["keyId"]]
    assert bundle["keyset"]["primaryKeyId"] == bundle["keyId"]
    async with tenant_transaction(tid):
        listed = await keys.list_keys(tid)
    assert [k.key_id for k in listed if k.primary] == [bundle["keyId"]]
    # and what it encrypts, small or over several segments, the tenant decrypts
    for plaintext in (b"", "工号,姓名\n1,张三\n".encode(), BIG):
        assert await _decrypt(keys, tenant, _encrypt(bundle, plaintext)) == plaintext


async def test_encrypt_file_streams_and_counts_what_it_wrote(keys: ImportKeys) -> None:
    tenant = await _tenant()
    loaded = load_bundle(json.dumps(await _create_key(keys, tenant)).encode())
    source, destination = io.BytesIO(BIG), io.BytesIO()
    # when, in chunks smaller than a segment
    written = encrypt_file(
        loaded.handle, loaded.associated_data, source, destination, chunk_size=64 * 1024
    )
    # then the destination is left open and holds exactly what was counted
    assert not destination.closed
    assert written == len(destination.getvalue()) > len(BIG)
    assert await _decrypt(keys, tenant, destination.getvalue()) == BIG
    assert (loaded.tenant_id, loaded.tenant_slug) == (tenant.id, tenant.slug)


async def test_a_file_of_an_old_key_decrypts_after_two_more_keys(keys: ImportKeys) -> None:
    tenant = await _tenant()
    first = await _create_key(keys, tenant)
    old_file = _encrypt(first, BIG)
    # when
    second, third = await _create_key(keys, tenant), await _create_key(keys, tenant)
    # then every key's files decrypt, and the last key is the primary
    assert len({first["keyId"], second["keyId"], third["keyId"]}) == 3
    assert await _decrypt(keys, tenant, old_file) == BIG
    assert await _decrypt(keys, tenant, _encrypt(second, b"second")) == b"second"
    assert await _decrypt(keys, tenant, _encrypt(third, b"third")) == b"third"
    async with tenant_transaction(tenant_id(tenant)):
        listed = await keys.list_keys(tenant_id(tenant))
    ids = [info.key_id for info in listed]
    assert ids[-3:] == [first["keyId"], second["keyId"], third["keyId"]]
    assert [info.key_id for info in listed if info.primary] == [third["keyId"]]
    assert all(info.status == "enabled" for info in listed)


async def test_a_key_created_by_another_process_opens_files_at_once(
    keys: ImportKeys, settings: Settings
) -> None:
    tenant = await _tenant()
    await _create_key(keys, tenant)
    assert await _decrypt(keys, tenant, _encrypt(await _create_key(keys, tenant), b"x")) == b"x"
    # when another process adds a key, within this process's keyset cache lifetime
    other_process = import_keys_from_settings(settings)
    bundle = await _create_key(other_process, tenant)
    # then this process opens its files all the same
    assert await _decrypt(keys, tenant, _encrypt(bundle, b"new")) == b"new"


async def test_damaged_files_fail_with_the_right_code(keys: ImportKeys) -> None:
    tenant = await _tenant()
    ciphertext = _encrypt(await _create_key(keys, tenant), BIG)
    segments = _segments(ciphertext)
    assert len(segments) == 4
    assert len(segments[0]) == SEGMENT_BYTES
    assert ciphertext[0] == HEADER_BYTES  # Tink's header starts with its own length

    flipped = bytearray(ciphertext)
    flipped[SEGMENT_BYTES + SEGMENT_BYTES // 2] ^= 0x01  # inside the second segment
    error = await _failure(keys, tenant, bytes(flipped))
    assert error.code == ImportErrorCode.IMPORT_TAMPERED
    # the first segment had authenticated and been returned: the caller must discard it
    assert 0 < error.plaintext_bytes < SEGMENT_BYTES

    swapped = segments[0] + segments[2] + segments[1] + segments[3]
    assert len(swapped) == len(ciphertext)
    error = await _failure(keys, tenant, swapped)
    assert error.code == ImportErrorCode.IMPORT_TAMPERED

    # cut inside the last segment, on a segment boundary, inside the header, or empty
    for length in (len(ciphertext) - 1, 3 * SEGMENT_BYTES, 2 * SEGMENT_BYTES + 1000, 10, 0):
        error = await _failure(keys, tenant, ciphertext[:length])
        assert error.code == ImportErrorCode.IMPORT_TRUNCATED, length

    # not encrypted at all
    error = await _failure(keys, tenant, b"employee_no,name\n1,Zhang San\n" * 100)
    assert error.code == ImportErrorCode.IMPORT_KEY_MISMATCH
    assert error.plaintext_bytes == 0


async def test_a_foreign_key_or_associated_data_is_a_key_mismatch(keys: ImportKeys) -> None:
    tenant, other = await _tenant(), await _tenant()
    bundle, other_bundle = await _create_key(keys, tenant), await _create_key(keys, other)
    stranger = tink.new_keyset_handle(PURPOSES[IMPORT_PURPOSE])
    own_key = load_bundle(json.dumps(bundle).encode()).handle
    cases = {
        "another tenant's key": _encrypt(other_bundle, BIG),
        "a key Renshi never made": encrypt_bytes(stranger, import_associated_data(tenant.id), BIG),
        "the right key, another tenant's associated data": encrypt_bytes(
            own_key, import_associated_data(other.id), BIG
        ),
        "the right key, no associated data": encrypt_bytes(own_key, b"", b"small file"),
    }
    for case, ciphertext in cases.items():
        error = await _failure(keys, tenant, ciphertext)
        assert error.code == ImportErrorCode.IMPORT_KEY_MISMATCH, case
        assert error.plaintext_bytes == 0, case
    # and each file still opens for its own tenant
    assert await _decrypt(keys, other, cases["another tenant's key"]) == BIG


class _SourceFailedError(Exception):
    pass


class _FailingSource(io.RawIOBase):
    """Ciphertext that fails to read at ``fail_at``, as a stopped or broken upload feed does."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        super().__init__()
        self._data, self._fail_at, self.position, self.failed_reads = data, fail_at, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.position >= self._fail_at:
            self.failed_reads += 1
            raise _SourceFailedError("the feed stopped")
        size = min(len(buffer), self._fail_at - self.position)
        buffer[:size] = self._data[self.position : self.position + size]
        self.position += size
        return size


async def test_a_failing_source_raises_its_own_error(keys: ImportKeys) -> None:
    tenant = await _tenant()
    tid = tenant_id(tenant)
    for _ in range(3):  # several enabled keys: Tink would try each from the start
        bundle = await _create_key(keys, tenant)
    ciphertext = _encrypt(bundle, BIG)
    for fail_at in (0, 100, 2 * SEGMENT_BYTES + 5):
        source = _FailingSource(ciphertext, fail_at)
        async with tenant_transaction(tid):
            stream = await keys.decrypting_stream(tid, cast("BinaryIO", source))
        # then not a decryption error: the file is not at fault
        with stream, pytest.raises(_SourceFailedError):
            await asyncio.to_thread(stream.read)
        # and a failed source is not read again
        assert source.failed_reads == 1, fail_at


async def test_a_disabled_key_no_longer_opens_its_files(
    keys: ImportKeys, settings: Settings
) -> None:
    tenant = await _tenant()
    tid = tenant_id(tenant)
    old, current = await _create_key(keys, tenant), await _create_key(keys, tenant)
    old_file, current_file = _encrypt(old, b"old"), _encrypt(current, b"current")
    assert await _decrypt(keys, tenant, old_file) == b"old"

    async def disable_then_fail() -> None:
        async with tenant_transaction(tid):
            await keys.disable_key(tid, old["keyId"])
            raise RuntimeError("undo")

    # a disable that rolls back changes nothing, in this process's keyset cache either
    with pytest.raises(RuntimeError, match="undo"):
        await disable_then_fail()
    assert await _decrypt(keys, tenant, old_file) == b"old"
    async with tenant_transaction(tid):
        cached = await keys.keysets.handle(tid, IMPORT_PURPOSE)
    assert all(key.status == tink_pb2.ENABLED for key in cached.keyset_info().key_info)

    # when
    async with tenant_transaction(tid):
        info = await keys.disable_key(tid, old["keyId"])
    # then
    assert (info.key_id, info.status, info.primary) == (old["keyId"], "disabled", False)
    error = await _failure(keys, tenant, old_file)
    assert error.code == ImportErrorCode.IMPORT_KEY_MISMATCH
    # at once in another process too, whatever it had cached
    assert (await _failure(import_keys_from_settings(settings), tenant, old_file)).code == (
        ImportErrorCode.IMPORT_KEY_MISMATCH
    )
    assert await _decrypt(keys, tenant, current_file) == b"current"
    async with tenant_transaction(tid):
        statuses = {k.key_id: k.status for k in await keys.list_keys(tid)}
        assert (statuses[old["keyId"]], statuses[current["keyId"]]) == ("disabled", "enabled")
        # disabling twice is fine
        assert (await keys.disable_key(tid, old["keyId"])).status == "disabled"


async def test_the_primary_and_unknown_keys_cannot_be_disabled(keys: ImportKeys) -> None:
    tenant, other = await _tenant(), await _tenant()
    tid = tenant_id(tenant)
    bundle, other_bundle = await _create_key(keys, tenant), await _create_key(keys, other)
    async with tenant_transaction(tid):
        with pytest.raises(ServiceError) as primary:
            await keys.disable_key(tid, bundle["keyId"])
        assert (primary.value.code, primary.value.field) == (ErrorCode.CONFLICT, "keyId")
        assert primary.value.message_zh
        for unknown in (other_bundle["keyId"], 12345):
            with pytest.raises(ServiceError) as missing:
                await keys.disable_key(tid, unknown)
            assert missing.value.code == ErrorCode.NOT_FOUND
    assert await _decrypt(keys, tenant, _encrypt(bundle, b"still")) == b"still"


async def test_list_keys_shows_no_key_material(keys: ImportKeys) -> None:
    tenant = await _tenant()
    bundle = await _create_key(keys, tenant)
    secret = bundle["keyset"]["key"][0]["keyData"]["value"]
    async with tenant_transaction(tenant_id(tenant)):
        listed = await keys.list_keys(tenant_id(tenant))
    assert listed
    assert all(set(vars(info)) == {"key_id", "status", "primary"} for info in listed)
    assert secret not in repr(listed)


async def test_keys_need_their_tenant_in_scope(keys: ImportKeys) -> None:
    tenant, other = await _tenant(), await _tenant()
    with pytest.raises(TenantScopeError):
        await keys.list_keys(tenant_id(tenant))
    async with tenant_transaction(tenant_id(other)):
        with pytest.raises(TenantScopeError):
            await keys.decrypting_stream(tenant_id(tenant), io.BytesIO(b""))
        with pytest.raises(TenantScopeError):
            await keys.create_key(tenant_id(tenant), tenant_slug=tenant.slug)


async def test_a_new_tenant_gets_its_import_keyset_in_its_creating_transaction(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    keysets = TenantKeysets(provider_from_settings(settings))
    monkeypatch.setattr(tenant_service, "_keysets", None)
    tenant_service.use_keysets(keysets)
    # when the creation commits
    created = tenant_id(await create_tenant())
    async with tenant_transaction(created):
        assert len(await TenantKey.filter(purpose=IMPORT_PURPOSE)) == 1

    # when it rolls back, neither the tenant nor its keyset remain
    rolled_back = TenantID(uuid4())

    async def create_then_fail() -> None:
        async with tenant_transaction(rolled_back):
            await tenant_service.create_tenant(
                rolled_back,
                slug=f"rb-{rolled_back.hex[:8]}",
                name="Rolled back",
                template_code="enterprise_rd",
                known_templates=pack_codes(),
            )
            assert len(await TenantKey.filter(purpose=IMPORT_PURPOSE)) == 1
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError, match="undo"):
        await create_then_fail()
    async with tenant_transaction(rolled_back):
        assert await TenantKey.filter(purpose=IMPORT_PURPOSE) == []
        assert await tenant_repo.get_tenant(rolled_back) is None


def _bundle_file(bundle: Any) -> bytes:
    return json.dumps(bundle).encode()


async def test_load_bundle_refuses_what_is_not_a_bundle(keys: ImportKeys, tmp_path: Path) -> None:
    tenant = await _tenant()
    good: dict[str, Any] = dict(await _create_key(keys, tenant))
    path = tmp_path / "key.json"
    path.write_bytes(_bundle_file(good))
    assert load_bundle(path).tenant_slug == tenant.slug
    assert load_bundle(str(path)).associated_data == import_associated_data(tenant.id)

    pii_keyset = json.loads(
        tink.json_proto_keyset_format.serialize(
            tink.new_keyset_handle(daead.deterministic_aead_key_templates.AES256_SIV),
            secret_key_access.TOKEN,
        )
    )
    cases: list[tuple[bytes, str]] = [
        (b"\xff\xfe", "not JSON"),
        (b"[]", "not a JSON object"),
        (_bundle_file({**good, "format": "other/v1"}), "format"),
        (_bundle_file({**good, "tenantId": "acme"}), "tenantId"),
        (_bundle_file({**good, "tenantSlug": ""}), "tenantSlug"),
        (_bundle_file({**good, "associatedData": "renshi-import:v1:x"}), "associatedData"),
        (_bundle_file({**good, "keyset": "secret"}), "keyset is not a JSON object"),
        (_bundle_file({**good, "keyset": {"key": "x"}}), "not a Tink keyset"),
        (_bundle_file({**good, "keyset": pii_keyset}), "not an AES-GCM-HKDF"),
        (_bundle_file({**good, "keyId": good["keyId"] + 1}), "keyId"),
    ]
    for raw, problem in cases:
        with pytest.raises(ImportBundleError, match=problem) as caught:
            load_bundle(raw)
        assert caught.value.message_zh
    with pytest.raises(ImportBundleError, match="cannot read"):
        load_bundle(tmp_path / "missing.json")


async def test_the_documented_sender_example_makes_files_renshi_opens(
    keys: ImportKeys, tmp_path: Path
) -> None:
    tenant = await _tenant()
    key_file, plain, encrypted = tmp_path / "key.json", tmp_path / "in.csv", tmp_path / "out"
    key_file.write_text(json.dumps(await _create_key(keys, tenant)), encoding="utf-8")
    plain.write_bytes(BIG)
    # the example stands alone: Tink and the standard library only
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(EXAMPLE.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert imported == {"__future__", "json", "sys", "tink"}
    # when the sender runs it
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(EXAMPLE), str(key_file), str(plain), str(encrypted)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert tenant.slug in result.stdout
    # then Renshi opens the file
    assert await _decrypt(keys, tenant, encrypted.read_bytes()) == BIG
