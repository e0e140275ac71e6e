"""The local master-key provider: wrapped key material opens only with its key and context."""

from __future__ import annotations

import secrets
from uuid import uuid4

import pytest

from tenants.crypto.keysets import keyset_context
from tenants.crypto.provider import (
    KeyProvider,
    KeyUnwrapError,
    LocalMasterKeyProvider,
    provider_from_settings,
)
from tenants.identity.keys import load_master_key
from tenants.scope import TenantID
from tenants.settings import Settings

KEYSET = b"serialized keyset bytes"
TENANT_A, TENANT_B = TenantID(uuid4()), TenantID(uuid4())
CONTEXT_A = keyset_context(TENANT_A, "pii")


def _provider() -> LocalMasterKeyProvider:
    return LocalMasterKeyProvider(secrets.token_bytes(32))


def test_wrapped_key_material_unwraps_with_the_same_key_and_context() -> None:
    provider = _provider()
    wrapped = provider.wrap(KEYSET, CONTEXT_A)
    assert provider.unwrap(wrapped, CONTEXT_A) == KEYSET
    # version byte, 96-bit nonce, ciphertext, 128-bit tag; nothing readable left
    assert wrapped[0] == 1
    assert len(wrapped) == 1 + 12 + len(KEYSET) + 16
    assert KEYSET not in wrapped


def test_each_wrap_uses_a_fresh_nonce() -> None:
    provider = _provider()
    first, second = provider.wrap(KEYSET, CONTEXT_A), provider.wrap(KEYSET, CONTEXT_A)
    assert first != second
    assert provider.unwrap(second, CONTEXT_A) == provider.unwrap(first, CONTEXT_A) == KEYSET


def test_another_master_key_does_not_unwrap() -> None:
    wrapped = _provider().wrap(KEYSET, CONTEXT_A)
    with pytest.raises(KeyUnwrapError, match="master key or the context"):
        _provider().unwrap(wrapped, CONTEXT_A)


@pytest.mark.parametrize(
    "context",
    [
        keyset_context(TENANT_B, "pii"),  # a row copied to another tenant
        keyset_context(TENANT_A, "import"),  # or to another purpose
        b"",
    ],
)
def test_another_context_does_not_unwrap(context: bytes) -> None:
    provider = _provider()
    wrapped = provider.wrap(KEYSET, CONTEXT_A)
    with pytest.raises(KeyUnwrapError):
        provider.unwrap(wrapped, context)


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (0, "version"),  # the version byte
        (5, "does not unwrap"),  # the nonce
        (14, "does not unwrap"),  # the ciphertext
        (-1, "does not unwrap"),  # the tag
    ],
)
def test_altered_key_material_does_not_unwrap(position: int, expected: str) -> None:
    provider = _provider()
    wrapped = bytearray(provider.wrap(KEYSET, CONTEXT_A))
    wrapped[position] ^= 0x01
    with pytest.raises(KeyUnwrapError, match=expected):
        provider.unwrap(bytes(wrapped), CONTEXT_A)


def test_truncated_key_material_does_not_unwrap() -> None:
    provider = _provider()
    wrapped = provider.wrap(KEYSET, CONTEXT_A)
    for length in (0, 1, 28, len(wrapped) - 1):
        with pytest.raises(KeyUnwrapError):
            provider.unwrap(wrapped[:length], CONTEXT_A)


def test_the_master_key_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LocalMasterKeyProvider(b"k" * 16)


def test_the_provider_from_settings_wraps_with_the_deployment_master_key(
    settings: Settings,
) -> None:
    provider: KeyProvider = provider_from_settings(settings)
    assert provider.name == "local"
    wrapped = provider.wrap(KEYSET, CONTEXT_A)
    same_key = LocalMasterKeyProvider(load_master_key(settings))
    assert same_key.unwrap(wrapped, CONTEXT_A) == KEYSET
    with pytest.raises(KeyUnwrapError):
        same_key.unwrap(wrapped, keyset_context(TENANT_B, "pii"))
