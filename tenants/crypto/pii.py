"""Sealing personal fields (national ids, bank accounts) with the tenant's ``pii`` keyset.

Sealing is deterministic (AES-SIV): the same value of the same field of the same tenant
always gives the same bytes, so a sealed column can be matched exactly and carry a unique
index without the value ever being stored in clear. The associated data names the tenant and
the field, so equal values differ across tenants and fields, and a sealed value copied to
another tenant or field does not open.
"""

from __future__ import annotations

from typing import Any

import tink
from tink import daead

from tenants.crypto.keysets import TenantKeysets, single_key_handles
from tenants.crypto.provider import provider_from_settings
from tenants.scope import TenantID
from tenants.settings import Settings

PURPOSE = "pii"


class PiiDecryptionError(Exception):
    """A sealed value does not open: it belongs to another tenant or field, or was altered."""


def pii_associated_data(tenant: TenantID, field: str) -> bytes:
    return f"renshi-pii:v1:{tenant}:{field}".encode()


class PiiCipher:
    """Seals and opens personal fields inside the caller's tenant transaction."""

    def __init__(self, keysets: TenantKeysets) -> None:
        self.keysets = keysets

    async def seal(self, tenant: TenantID, field: str, value: str) -> bytes:
        """``value`` encrypted under the tenant's current primary ``pii`` key."""
        cipher = await self._cipher(tenant)
        sealed: bytes = cipher.encrypt_deterministically(
            value.encode(), pii_associated_data(tenant, field)
        )
        return sealed

    async def open(self, tenant: TenantID, field: str, sealed: bytes) -> str:
        """The value ``seal`` was given; any key of the keyset opens it, rotated-out ones too."""
        associated_data = pii_associated_data(tenant, field)
        try:
            return _decrypt(await self._cipher(tenant), sealed, associated_data)
        except PiiDecryptionError:
            # It may be sealed under a key another process added by a rotation after this
            # process cached the keyset: look at the stored keyset once before giving up.
            fresh = await self.keysets.handle(tenant, PURPOSE, fresh=True)
            return _decrypt(fresh.primitive(daead.DeterministicAead), sealed, associated_data)

    async def lookup_values(self, tenant: TenantID, field: str, value: str) -> list[bytes]:
        """What ``value`` looks like sealed under each key of the keyset, the primary's first.

        Deterministic sealing makes exact matching a plain equality on the sealed column,
        but only under one key: after a rotation, rows sealed earlier hold the old key's
        bytes (rows are not re-sealed), new rows the new key's. Searching for every form,
        ``WHERE national_id = ANY($1)``, finds both. Tink prefixes each ciphertext with its
        key's id, so the forms differ from one another and one per key is enough.
        """
        plaintext, associated_data = value.encode(), pii_associated_data(tenant, field)
        handle = await self.keysets.handle(tenant, PURPOSE)
        values: list[bytes] = [
            single.primitive(daead.DeterministicAead).encrypt_deterministically(
                plaintext, associated_data
            )
            for single in single_key_handles(handle)
        ]
        return values

    async def _cipher(self, tenant: TenantID) -> Any:
        handle = await self.keysets.handle(tenant, PURPOSE)
        return handle.primitive(daead.DeterministicAead)


def _decrypt(cipher: Any, sealed: bytes, associated_data: bytes) -> str:
    try:
        plaintext: bytes = cipher.decrypt_deterministically(sealed, associated_data)
        return plaintext.decode()
    except (tink.TinkError, UnicodeDecodeError):
        raise PiiDecryptionError(
            "the sealed value does not open: it was sealed for another tenant or field, "
            "under a key this tenant does not have, or it was altered"
        ) from None


def pii_cipher_from_settings(settings: Settings) -> PiiCipher:
    """A cipher over keysets wrapped by this deployment's provider. Build one per process:
    its keyset cache lives in it."""
    return PiiCipher(TenantKeysets(provider_from_settings(settings)))
