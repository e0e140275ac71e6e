"""Sealed personal fields: deterministic per tenant and field, readable across rotations."""

from __future__ import annotations

import pytest

from tenants.crypto.pii import PiiCipher, PiiDecryptionError, pii_cipher_from_settings
from tenants.scope import TenantID, TenantScopeError, tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id

NATIONAL_ID = "110101199003074512"


@pytest.fixture
def pii(settings: Settings) -> PiiCipher:
    return pii_cipher_from_settings(settings)


async def _tenant() -> TenantID:
    return tenant_id(await create_tenant())


async def _seal(pii: PiiCipher, tenant: TenantID, value: str, field: str = "national_id") -> bytes:
    async with tenant_transaction(tenant):
        return await pii.seal(tenant, field, value)


async def _open(pii: PiiCipher, tenant: TenantID, sealed: bytes, field: str = "national_id") -> str:
    async with tenant_transaction(tenant):
        return await pii.open(tenant, field, sealed)


async def _rotate(pii: PiiCipher, tenant: TenantID) -> None:
    async with tenant_transaction(tenant):
        await pii.keysets.rotate(tenant, "pii")


async def test_a_sealed_value_opens_and_hides_the_value(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    for tenant in (a, b):
        for value in (NATIONAL_ID, "张三", ""):
            sealed = await _seal(pii, tenant, value)
            if value:
                assert value.encode() not in sealed
            assert await _open(pii, tenant, sealed) == value


async def test_sealing_is_deterministic_within_a_tenant_and_field(
    pii: PiiCipher, settings: Settings
) -> None:
    a, b = await _tenant(), await _tenant()
    sealed = await _seal(pii, a, NATIONAL_ID)
    assert await _seal(pii, a, NATIONAL_ID) == sealed
    # also in another process, which reads the keyset from the database
    assert await _seal(pii_cipher_from_settings(settings), a, NATIONAL_ID) == sealed
    assert await _seal(pii, a, NATIONAL_ID + "0") != sealed
    assert await _seal(pii, b, NATIONAL_ID) == await _seal(pii, b, NATIONAL_ID)


async def test_equal_values_differ_across_tenants_and_fields(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    sealed = {
        await _seal(pii, a, NATIONAL_ID),
        await _seal(pii, b, NATIONAL_ID),
        await _seal(pii, a, NATIONAL_ID, field="bank_account"),
        await _seal(pii, b, NATIONAL_ID, field="bank_account"),
    }
    assert len(sealed) == 4


async def test_a_value_sealed_for_one_tenant_does_not_open_for_another(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    sealed_a, sealed_b = await _seal(pii, a, NATIONAL_ID), await _seal(pii, b, NATIONAL_ID)
    with pytest.raises(PiiDecryptionError, match="another tenant or field"):
        await _open(pii, b, sealed_a)
    with pytest.raises(PiiDecryptionError):
        await _open(pii, a, sealed_b)


async def test_a_value_sealed_for_one_field_does_not_open_as_another(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    for tenant in (a, b):
        sealed = await _seal(pii, tenant, NATIONAL_ID)
        with pytest.raises(PiiDecryptionError):
            await _open(pii, tenant, sealed, field="bank_account")


async def test_an_altered_value_does_not_open(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    for tenant in (a, b):
        sealed = await _seal(pii, tenant, NATIONAL_ID)
        for position in (0, 3, 10, len(sealed) - 1):
            altered = bytearray(sealed)
            altered[position] ^= 0x01
            with pytest.raises(PiiDecryptionError):
                await _open(pii, tenant, bytes(altered))
        with pytest.raises(PiiDecryptionError):
            await _open(pii, tenant, sealed[:-1])


async def test_after_rotation_new_seals_use_the_new_key_and_old_ones_still_open(
    pii: PiiCipher,
) -> None:
    a, b = await _tenant(), await _tenant()
    old, other_tenant = await _seal(pii, a, NATIONAL_ID), await _seal(pii, b, NATIONAL_ID)
    # when
    await _rotate(pii, a)
    # then
    new = await _seal(pii, a, NATIONAL_ID)
    assert new != old
    assert await _seal(pii, a, NATIONAL_ID) == new
    assert await _open(pii, a, old) == NATIONAL_ID
    assert await _open(pii, a, new) == NATIONAL_ID
    # and the other tenant is untouched
    assert await _seal(pii, b, NATIONAL_ID) == other_tenant


async def test_lookup_values_cover_every_key_of_the_keyset(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    old = await _seal(pii, a, NATIONAL_ID)
    async with tenant_transaction(a):
        assert await pii.lookup_values(a, "national_id", NATIONAL_ID) == [old]
    # when
    await _rotate(pii, a)
    new = await _seal(pii, a, NATIONAL_ID)
    # then one form per key, the current one first, so rows sealed before and after match
    async with tenant_transaction(a) as tx:
        found = await pii.lookup_values(a, "national_id", NATIONAL_ID)
        assert found == [new, old]
        stored = [old, new, await pii.seal(a, "national_id", "another person")]
        matched = await tx.fetchrow(
            "SELECT count(*) AS n FROM unnest($1::bytea[]) AS stored(v) WHERE v = ANY($2)",
            stored,
            found,
        )
        assert matched["n"] == 2
        assert await pii.lookup_values(a, "bank_account", NATIONAL_ID) != found
    async with tenant_transaction(b):
        [other] = await pii.lookup_values(b, "national_id", NATIONAL_ID)
    assert other not in found
    assert await _seal(pii, b, NATIONAL_ID) == other


async def test_a_value_sealed_after_another_process_rotated_opens_here(
    pii: PiiCipher, settings: Settings
) -> None:
    a, b = await _tenant(), await _tenant()
    await _seal(pii, a, NATIONAL_ID)  # this process caches the one-key keyset
    await _seal(pii, b, NATIONAL_ID)
    other_process = pii_cipher_from_settings(settings)
    # when the other process rotates and seals under the new key
    await _rotate(other_process, a)
    new = await _seal(other_process, a, NATIONAL_ID)
    # then this process, its cache still warm, opens it by reading the keyset again
    assert await _open(pii, a, new) == NATIONAL_ID
    assert await _seal(pii, a, NATIONAL_ID) == new
    with pytest.raises(PiiDecryptionError):
        await _open(pii, b, new)


async def test_pii_needs_the_tenant_in_scope(pii: PiiCipher) -> None:
    a, b = await _tenant(), await _tenant()
    sealed = await _seal(pii, a, NATIONAL_ID)
    with pytest.raises(TenantScopeError):
        await pii.seal(a, "national_id", NATIONAL_ID)
    with pytest.raises(TenantScopeError):
        await pii.open(a, "national_id", sealed)
    with pytest.raises(TenantScopeError):
        await pii.lookup_values(a, "national_id", NATIONAL_ID)
    async with tenant_transaction(b):
        with pytest.raises(TenantScopeError):
            await pii.seal(a, "national_id", NATIONAL_ID)
        with pytest.raises(TenantScopeError):
            await pii.open(a, "national_id", sealed)
