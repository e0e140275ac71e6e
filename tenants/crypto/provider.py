"""Wrapping key material with the master key: the ``KeyProvider`` interface and its local form.

Tenant keysets are never stored in clear: a provider wraps them before they reach the
database. The provider is an interface so that a KMS-backed one can replace the local master
key without touching the keysets; ``provider`` column values name the one that wrapped a row.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tenants.identity.keys import load_master_key
from tenants.settings import Settings

_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class KeyUnwrapError(Exception):
    """Wrapped key material could not be unwrapped: wrong master key, wrong context, or altered."""


class KeyProvider(Protocol):
    """Wraps and unwraps key material; ``context`` binds the result to where it belongs."""

    @property
    def name(self) -> str:
        """Stored next to what it wrapped, so a row says which provider can unwrap it."""
        ...

    def wrap(self, plaintext: bytes, context: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """The plaintext; raises ``KeyUnwrapError`` for anything that did not come from ``wrap``
        with the same key and ``context``."""
        ...


class LocalMasterKeyProvider:
    """AES-256-GCM under the master key held by this process.

    Output: a version byte, a random 96-bit nonce, then the ciphertext with its tag. The
    context is the associated data, so a wrapped value moved elsewhere (another tenant's row,
    another purpose) no longer unwraps. Random nonces are safe here: the master key wraps a
    handful of keysets per tenant, far below the 2^32 messages a random-nonce GCM key allows.
    """

    name = "local"

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError(f"the master key must be 32 bytes, not {len(master_key)}")
        self._aead = AESGCM(master_key)

    def wrap(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if len(wrapped) < 1 + _NONCE_BYTES + _TAG_BYTES:
            raise KeyUnwrapError("wrapped key material is truncated")
        if wrapped[:1] != _VERSION:
            raise KeyUnwrapError(f"unknown wrapping format version {wrapped[0]}")
        nonce, ciphertext = wrapped[1 : 1 + _NONCE_BYTES], wrapped[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context)
        except InvalidTag:
            raise KeyUnwrapError(
                "wrapped key material does not unwrap: the master key or the context differs "
                "from the ones it was wrapped with, or the data was altered"
            ) from None


def provider_from_settings(settings: Settings) -> KeyProvider:
    """The provider this deployment wraps keys with: the local master key, for now."""
    return LocalMasterKeyProvider(load_master_key(settings))
