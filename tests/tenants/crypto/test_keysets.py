"""Tenant keysets: created once per tenant and purpose, wrapped at rest, rotated in place."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
import tink
from tink import daead, streaming_aead
from tink.proto import aes_siv_pb2, tink_pb2

from tenants.crypto.keysets import (
    KeysetHandle,
    TenantKeysets,
    UnknownKeyPurposeError,
    keyset_context,
    keyset_proto,
)
from tenants.crypto.provider import KeyUnwrapError, LocalMasterKeyProvider, provider_from_settings
from tenants.models import TenantKey
from tenants.scope import TenantID, TenantScopeError, tenant_savepoint, tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id


@pytest.fixture
def keysets(settings: Settings) -> TenantKeysets:
    return TenantKeysets(provider_from_settings(settings))


async def _tenant() -> TenantID:
    return tenant_id(await create_tenant())


def _probe(handle: KeysetHandle) -> bytes:
    """A ciphertext that is equal for two handles exactly when they hold the same primary key."""
    sealed: bytes = handle.primitive(daead.DeterministicAead).encrypt_deterministically(
        b"probe", b""
    )
    return sealed


def _key_ids(handle: KeysetHandle) -> list[int]:
    return [key.key_id for key in keyset_proto(handle).key]


async def _handle(keysets: TenantKeysets, tenant: TenantID, purpose: str = "pii") -> Any:
    async with tenant_transaction(tenant):
        return await keysets.handle(tenant, purpose)


async def _rows(tenant: TenantID, purpose: str = "pii") -> list[TenantKey]:
    async with tenant_transaction(tenant):
        return await TenantKey.filter(purpose=purpose)


async def test_a_keyset_is_created_on_first_use_and_reused(
    keysets: TenantKeysets, settings: Settings
) -> None:
    tenant, other = await _tenant(), await _tenant()
    assert await _rows(tenant) == []
    # when
    first = await _handle(keysets, tenant)
    # then one row, and the same keyset from the cache, the database and another process
    assert len(await _rows(tenant)) == 1
    async with tenant_transaction(tenant) as tx:
        statements = tx.statements
        assert _probe(await keysets.handle(tenant, "pii")) == _probe(first)
        assert tx.statements == statements  # served from the cache
    keysets.clear_cache()
    assert _probe(await _handle(keysets, tenant)) == _probe(first)
    another_process = TenantKeysets(provider_from_settings(settings))
    assert _probe(await _handle(another_process, tenant)) == _probe(first)
    assert len(await _rows(tenant)) == 1
    assert await _rows(other) == []


async def test_two_tenants_get_different_keysets(keysets: TenantKeysets) -> None:
    a, b = await _tenant(), await _tenant()
    handle_a, handle_b = await _handle(keysets, a), await _handle(keysets, b)
    assert _probe(handle_a) != _probe(handle_b)
    assert set(_key_ids(handle_a)).isdisjoint(_key_ids(handle_b))
    # and the cache keeps them apart
    assert _probe(await _handle(keysets, a)) == _probe(handle_a)
    assert _probe(await _handle(keysets, b)) == _probe(handle_b)


async def test_each_purpose_has_its_own_keyset(keysets: TenantKeysets) -> None:
    a, b = await _tenant(), await _tenant()
    for tenant in (a, b):
        pii, imports = await _handle(keysets, tenant), await _handle(keysets, tenant, "import")
        assert pii.keyset_info().key_info[0].type_url.endswith("AesSivKey")
        assert imports.keyset_info().key_info[0].type_url.endswith("AesGcmHkdfStreamingKey")
        assert imports.primitive(streaming_aead.StreamingAead) is not None
    assert len(await _rows(a, "import")) == len(await _rows(b, "import")) == 1


async def test_an_unknown_purpose_is_refused(keysets: TenantKeysets) -> None:
    tenant = await _tenant()
    async with tenant_transaction(tenant):
        with pytest.raises(UnknownKeyPurposeError, match="'payroll'"):
            await keysets.handle(tenant, "payroll")


async def test_the_stored_keyset_is_wrapped(keysets: TenantKeysets) -> None:
    a, b = await _tenant(), await _tenant()
    for tenant in (a, b):
        handle = await _handle(keysets, tenant)
        [row] = await _rows(tenant)
        raw_key = aes_siv_pb2.AesSivKey.FromString(keyset_proto(handle).key[0].key_data.value)
        assert len(raw_key.key_value) == 64
        assert raw_key.key_value not in row.wrapped_keyset
        assert row.provider == "local"
        with pytest.raises(KeyUnwrapError):
            LocalMasterKeyProvider(secrets.token_bytes(32)).unwrap(
                row.wrapped_keyset, keyset_context(tenant, "pii")
            )


async def test_a_keyset_copied_to_another_tenant_or_purpose_does_not_unwrap(
    keysets: TenantKeysets,
) -> None:
    a, b = await _tenant(), await _tenant()
    await _handle(keysets, a)
    await _handle(keysets, b)
    await _handle(keysets, b, "import")
    [row_a] = await _rows(a)
    # when tenant A's wrapped keyset is copied over tenant B's, and over B's import keyset
    async with tenant_transaction(b):
        await TenantKey.filter(purpose="pii").update(wrapped_keyset=row_a.wrapped_keyset)
        await TenantKey.filter(purpose="import").update(wrapped_keyset=row_a.wrapped_keyset)
    keysets.clear_cache()
    # then neither unwraps
    async with tenant_transaction(b):
        with pytest.raises(KeyUnwrapError):
            await keysets.handle(b, "pii")
        with pytest.raises(KeyUnwrapError):
            await keysets.handle(b, "import")


async def test_keysets_need_the_tenant_in_scope(keysets: TenantKeysets) -> None:
    a, b = await _tenant(), await _tenant()
    with pytest.raises(TenantScopeError):
        await keysets.handle(a, "pii")
    with pytest.raises(TenantScopeError):
        await keysets.rotate(a, "pii")
    await _handle(keysets, a)  # cached now; the cache must not bypass the scope check
    with pytest.raises(TenantScopeError):
        await keysets.handle(a, "pii")
    async with tenant_transaction(b):
        with pytest.raises(TenantScopeError):
            await keysets.handle(a, "pii")
        with pytest.raises(TenantScopeError):
            await keysets.rotate(a, "pii")


async def test_concurrent_first_uses_create_one_keyset(settings: Settings) -> None:
    a, b = await _tenant(), await _tenant()
    # two processes (two caches), both finding no keyset
    first, second = (TenantKeysets(provider_from_settings(settings)) for _ in range(2))
    for tenant in (a, b):
        handles = await asyncio.gather(_handle(first, tenant), _handle(second, tenant))
        assert len(await _rows(tenant)) == 1
        assert _probe(handles[0]) == _probe(handles[1])
    assert _probe(await _handle(first, a)) != _probe(await _handle(first, b))


async def test_the_loser_of_a_first_use_race_reads_the_winners_keyset(settings: Settings) -> None:
    tenant, other = await _tenant(), await _tenant()
    first, second = (TenantKeysets(provider_from_settings(settings)) for _ in range(2))
    created = asyncio.Event()

    async def winner() -> Any:
        async with tenant_transaction(tenant):
            handle = await first.handle(tenant, "pii")
            created.set()
            # hold the uncommitted row while the loser inserts its own and waits on it
            await asyncio.sleep(0.3)
            return handle

    async def loser() -> Any:
        await created.wait()
        async with tenant_transaction(tenant):
            assert await TenantKey.filter(purpose="pii").count() == 0  # not committed yet
            return await second.handle(tenant, "pii")

    won, lost = await asyncio.gather(winner(), loser())
    assert _probe(won) == _probe(lost)
    assert len(await _rows(tenant)) == 1
    assert await _rows(other) == []


async def test_rotation_adds_a_primary_key_and_keeps_the_old_one(
    keysets: TenantKeysets, settings: Settings
) -> None:
    a, b = await _tenant(), await _tenant()
    before_a, before_b = await _handle(keysets, a), await _handle(keysets, b)
    # when
    async with tenant_transaction(a):
        await keysets.rotate(a, "pii")
    # then this process sees the new keyset at once, and so does the database
    for after in (
        await _handle(keysets, a),
        await _handle(TenantKeysets(provider_from_settings(settings)), a),
    ):
        ids = _key_ids(after)
        assert len(ids) == 2
        assert ids[0] == _key_ids(before_a)[0]
        assert keyset_proto(after).primary_key_id == ids[1]
        assert _probe(after) != _probe(before_a)
        # what the old key encrypted still decrypts
        cipher = after.primitive(daead.DeterministicAead)
        assert cipher.decrypt_deterministically(_probe(before_a), b"") == b"probe"
    # and the other tenant is untouched
    assert _probe(await _handle(keysets, b)) == _probe(before_b)
    assert len(_key_ids(await _handle(keysets, b))) == 1


async def test_a_first_rotation_creates_the_keyset_first(keysets: TenantKeysets) -> None:
    # The pii keyset is made on first use (the import keyset comes with the tenant).
    a, b = await _tenant(), await _tenant()
    assert await _rows(a, "pii") == []
    async with tenant_transaction(a):
        await keysets.rotate(a, "pii")
    assert len(_key_ids(await _handle(keysets, a, "pii"))) == 2
    assert await _rows(b, "pii") == []


async def test_another_process_sees_a_rotation_once_its_cache_expires(settings: Settings) -> None:
    a, b = await _tenant(), await _tenant()
    rotating = TenantKeysets(provider_from_settings(settings))
    cached = TenantKeysets(provider_from_settings(settings), cache_ttl=60)
    expiring = TenantKeysets(provider_from_settings(settings), cache_ttl=0.2)
    for tenant in (a, b):
        await _handle(cached, tenant)
        await _handle(expiring, tenant)
    # when
    async with tenant_transaction(a):
        await rotating.rotate(a, "pii")
    # then
    assert len(_key_ids(await _handle(cached, a))) == 1  # still cached
    await asyncio.sleep(0.25)
    assert len(_key_ids(await _handle(expiring, a))) == 2
    async with tenant_transaction(a):
        assert len(_key_ids(await cached.handle(a, "pii", fresh=True))) == 2
    assert len(_key_ids(await _handle(expiring, b))) == 1


async def test_concurrent_rotations_keep_every_key(settings: Settings) -> None:
    a, b = await _tenant(), await _tenant()
    first, second = (TenantKeysets(provider_from_settings(settings)) for _ in range(2))
    await _handle(first, a)

    async def rotate(keysets: TenantKeysets) -> None:
        async with tenant_transaction(a):
            await keysets.rotate(a, "pii")

    await asyncio.gather(rotate(first), rotate(second))
    first.clear_cache()
    assert len(set(_key_ids(await _handle(first, a)))) == 3
    assert len(await _rows(a)) == 1
    assert await _rows(b) == []


async def test_a_keyset_created_in_a_rolled_back_transaction_is_forgotten(
    keysets: TenantKeysets,
) -> None:
    a, b = await _tenant(), await _tenant()
    rolled_back: list[bytes] = []

    async def create_then_fail() -> None:
        async with tenant_transaction(a):
            rolled_back.append(_probe(await keysets.handle(a, "pii")))
            raise RuntimeError("the operation failed after its first use of the keyset")

    with pytest.raises(RuntimeError):
        await create_then_fail()
    # then the cache does not serve it: the next use creates (and keeps) another keyset
    assert await _rows(a) == []
    kept = await _handle(keysets, a)
    assert _probe(kept) != rolled_back[0]
    keysets.clear_cache()
    assert _probe(await _handle(keysets, a)) == _probe(kept)
    assert await _rows(b) == []


async def test_a_keyset_created_in_a_failed_savepoint_is_not_used_afterwards(
    keysets: TenantKeysets, settings: Settings
) -> None:
    a, b = await _tenant(), await _tenant()
    undone: list[bytes] = []

    async def create_in_savepoint() -> None:
        async with tenant_savepoint():
            undone.append(_probe(await keysets.handle(a, "pii")))
            raise ValueError("this mutation failed")

    # when one mutation of an operation creates the keyset and fails, and a later one seals
    async with tenant_transaction(a):
        with pytest.raises(ValueError, match="failed"):
            await create_in_savepoint()
        used = _probe(await keysets.handle(a, "pii"))
        assert _probe(await keysets.handle(a, "pii")) == used
    # then what the later one sealed is under the keyset that was committed
    assert used != undone[0]
    assert _probe(await _handle(keysets, a)) == used
    assert _probe(await _handle(TenantKeysets(provider_from_settings(settings)), a)) == used
    assert await _rows(b) == []


async def test_a_rolled_back_rotation_is_forgotten(keysets: TenantKeysets) -> None:
    a, b = await _tenant(), await _tenant()
    before = await _handle(keysets, a)
    await _handle(keysets, b)

    async def rotate_then_fail() -> None:
        async with tenant_transaction(a):
            await keysets.rotate(a, "pii")
            assert len(_key_ids(await keysets.handle(a, "pii"))) == 2
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await rotate_then_fail()
    after = await _handle(keysets, a)
    assert _key_ids(after) == _key_ids(before)
    assert _probe(after) == _probe(before)


def test_pii_keys_prefix_their_ciphertexts_with_the_key_id() -> None:
    # the assumption lookup_values relies on: one ciphertext per key, all different
    handle = tink.new_keyset_handle(daead.deterministic_aead_key_templates.AES256_SIV)
    [key] = keyset_proto(handle).key
    assert key.status == tink_pb2.ENABLED
    assert key.output_prefix_type == tink_pb2.TINK


async def test_forgetting_a_tenant_drops_its_handles_only(keysets: TenantKeysets) -> None:
    first, second = await _tenant(), await _tenant()
    for tenant in (first, second):
        await _handle(keysets, tenant, "pii")
        await _handle(keysets, tenant, "import")
    assert keysets.cached_tenants() == {first, second}

    keysets.forget(first)
    assert keysets.cached_tenants() == {second}
    keysets.forget(None)
    assert keysets.cached_tenants() == set()


async def test_expired_handles_are_dropped_even_when_their_tenant_is_not_used_again(
    settings: Settings,
) -> None:
    # given a tenant's handle, left to expire (an erased tenant is never asked for again)
    keysets = TenantKeysets(provider_from_settings(settings), cache_ttl=0.05)
    idle, busy = await _tenant(), await _tenant()
    await _handle(keysets, idle)
    await asyncio.sleep(0.1)

    # when another tenant's keyset is used
    await _handle(keysets, busy)

    # then the expired handle is gone from memory
    assert keysets.cached_tenants() == {busy}


class _ForgottenWhileReading(TenantKeysets):
    """Keysets whose tenant is forgotten (its erasure's notice) while a handle is read."""

    def _unwrap(
        self, tenant: TenantID, purpose: str, wrapped: bytes, provider: str
    ) -> KeysetHandle:
        self.forget(tenant)
        return super()._unwrap(tenant, purpose, wrapped, provider)


async def test_a_handle_read_while_its_tenant_is_forgotten_is_not_cached(
    settings: Settings,
) -> None:
    tenant = await _tenant()
    await _handle(TenantKeysets(provider_from_settings(settings)), tenant)  # created
    keysets = _ForgottenWhileReading(provider_from_settings(settings))

    handle = await _handle(keysets, tenant)

    assert _key_ids(handle)  # the caller has its keyset
    assert keysets.cached_tenants() == set()
