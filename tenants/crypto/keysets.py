"""Per-tenant Tink keysets: one per tenant and purpose, created on first use, rotated in place.

A keyset is serialized with Tink's proto format, wrapped by the ``KeyProvider`` with a context
naming the tenant and purpose (so a row copied to another tenant or purpose does not unwrap)
and stored in ``tenant_keys``. Rotation adds a key and makes it primary; old keys stay, so what
they encrypted still decrypts.

Unwrapped handles are cached per process for a short time, so that a rotation done by another
process is picked up within ``cache_ttl`` seconds; expired handles are dropped, used or not
(an erased tenant's are besides forgotten at once: ``tenants.lifecycle.notices``).

Only committed keysets enter that cache: a keyset created or rotated in a transaction that
rolls back must never be used afterwards, or what it encrypted would become unreadable once
the cache expired. Within the transaction that wrote it, a keyset is read from the database
on each use for the same reason: a savepoint may still undo the write.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import tink
from tink import daead, secret_key_access, streaming_aead
from tink.proto import tink_pb2

from tenants.crypto import repository as repo
from tenants.crypto.provider import KeyProvider
from tenants.scope import TenantID, TenantTransaction, require_tenant

daead.register()
streaming_aead.register()

KeysetHandle = Any  # tink.KeysetHandle: tink ships no type information

PURPOSES: Mapping[str, Any] = MappingProxyType(
    {
        # Deterministic: equal values give equal ciphertexts, so sealed fields can be matched.
        "pii": daead.deterministic_aead_key_templates.AES256_SIV,
        # Streaming: import files are encrypted at rest in 1 MB segments (the import feature).
        "import": streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB,
    }
)
"""The key template of each purpose. A purpose name is at most 32 characters (the column)."""

DEFAULT_CACHE_TTL_S = 60.0


class UnknownKeyPurposeError(ValueError):
    """A keyset was asked for a purpose that is not in ``PURPOSES``."""


class KeysetProviderMismatchError(RuntimeError):
    """A stored keyset was wrapped by a provider other than the one this process uses."""


def keyset_context(tenant: TenantID, purpose: str) -> bytes:
    """The wrapping context of a tenant's keyset: it binds the wrapped bytes to their row."""
    return f"renshi-keyset:v1:{tenant}:{purpose}".encode()


def keyset_proto(handle: KeysetHandle) -> Any:
    """A copy of the keyset with its key material (``tink_pb2.Keyset``); keep it in memory."""
    return tink_pb2.Keyset.FromString(
        tink.proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
    )


def handle_from_proto(keyset: Any) -> KeysetHandle:
    return tink.proto_keyset_format.parse(keyset.SerializeToString(), secret_key_access.TOKEN)


def single_key_handles(handle: KeysetHandle) -> list[KeysetHandle]:
    """One handle per enabled key of ``handle``, each with that key as its primary.

    The primary key comes first. Disabled keys are left out: Tink does not use them either.
    """
    keyset = keyset_proto(handle)
    enabled = [key for key in keyset.key if key.status == tink_pb2.ENABLED]
    enabled.sort(key=lambda key: key.key_id != keyset.primary_key_id)
    handles = []
    for key in enabled:
        single = tink_pb2.Keyset(primary_key_id=key.key_id)
        single.key.append(key)
        handles.append(handle_from_proto(single))
    return handles


def with_new_primary_key(handle: KeysetHandle, template: Any) -> KeysetHandle:
    """``handle``'s keyset plus a fresh key from ``template``, which becomes the primary.

    Python Tink has no public keyset manager: the fresh key is taken from a new one-key
    keyset (the public way to generate key material) and appended under an unused key id.
    """
    keyset = keyset_proto(handle)
    used = {key.key_id for key in keyset.key}
    while True:
        fresh = keyset_proto(tink.new_keyset_handle(template)).key[0]
        # Key ids are random 32-bit numbers; a clash with an existing key is unlikely, not
        # impossible, and would make the key id prefix of ciphertexts ambiguous.
        if fresh.key_id not in used:
            break
    keyset.key.append(fresh)
    keyset.primary_key_id = fresh.key_id
    return handle_from_proto(keyset)


@dataclass(frozen=True)
class _Cached:
    handle: KeysetHandle
    expires_at: float


class TenantKeysets:
    """The keysets of all tenants, loaded and created on demand, inside the caller's transaction.

    Build one per process (``pii_cipher_from_settings`` does) so that its cache is shared.
    """

    def __init__(self, provider: KeyProvider, *, cache_ttl: float = DEFAULT_CACHE_TTL_S) -> None:
        self._provider = provider
        self._cache_ttl = cache_ttl
        # Keyed by (tenant, purpose), never by purpose alone: one tenant's key for another
        # tenant's data would be a breach. ``require_tenant`` runs before any lookup, so the
        # tenant of the key is the tenant in scope.
        self._cache: dict[tuple[TenantID, str], _Cached] = {}
        # The open transaction, if any, that wrote a keyset row. A row lock (or the unique
        # key, for an insert) is held until that transaction ends, so at most one open
        # transaction has written a given row. What it reads back is not committed yet and
        # is cached only once it commits. Weak, so a finished transaction is neither kept
        # alive nor matched again.
        self._written_by: dict[tuple[TenantID, str], weakref.ref[TenantTransaction]] = {}
        self._pruned_at = time.monotonic()
        # Bumped by ``forget``: a handle read before it is not cached after it (a request
        # of an erased tenant may still be reading when the erasure's notice arrives).
        self._generation = 0

    async def handle(self, tenant: TenantID, purpose: str, *, fresh: bool = False) -> KeysetHandle:
        """The tenant's keyset for ``purpose``, created (in the open transaction) on first use.

        ``fresh`` skips the process cache: for a caller that met a ciphertext under a key
        another process added by a rotation less than ``cache_ttl`` seconds ago.
        """
        tx = require_tenant(tenant)
        template = _template(purpose)
        key = (tenant, purpose)
        generation = self._generation
        now = time.monotonic()
        self._prune(now)
        cached = self._cache.get(key)
        if not fresh and cached is not None and cached.expires_at > now:
            return cached.handle
        row = await repo.get_tenant_key(tenant, purpose)
        if row is None:
            stored = await repo.insert_tenant_key_if_absent(
                tenant,
                purpose,
                wrapped_keyset=self._wrap(tenant, purpose, tink.new_keyset_handle(template)),
                provider=self._provider.name,
            )
            if stored:
                self._written_by[key] = weakref.ref(tx)
            # Re-read rather than use the new keyset: a concurrent first use may have won.
            row = await repo.get_tenant_key(tenant, purpose)
            if row is None:  # pragma: no cover - the insert or its rival is visible by now
                raise RuntimeError(f"keyset {purpose!r} vanished after being stored")
        handle = self._unwrap(tenant, purpose, row.wrapped_keyset, row.provider)
        self._remember(tx, key, handle, generation)
        return handle

    async def rotate(self, tenant: TenantID, purpose: str) -> None:
        """Add a new primary key to the tenant's keyset for ``purpose``; old keys are kept."""
        tx = require_tenant(tenant)
        template = _template(purpose)
        key = (tenant, purpose)
        # Lock the row: two rotations at once would each append a key to the same old
        # keyset, and the later write would drop the other's key.
        row = await repo.get_tenant_key(tenant, purpose, for_update=True)
        if row is None:
            await self.handle(tenant, purpose)
            row = await repo.get_tenant_key(tenant, purpose, for_update=True)
            if row is None:  # pragma: no cover - handle() just stored or read it
                raise RuntimeError(f"keyset {purpose!r} vanished before rotation")
        current = self._unwrap(tenant, purpose, row.wrapped_keyset, row.provider)
        rotated = with_new_primary_key(current, template)
        await repo.save_tenant_key(
            tenant,
            row,
            wrapped_keyset=self._wrap(tenant, purpose, rotated),
            provider=self._provider.name,
        )
        self._written_by[key] = weakref.ref(tx)
        self._cache.pop(key, None)
        self._remember(tx, key, rotated)

    def clear_cache(self) -> None:
        """Forget every handle this process cached; the next use reads the database."""
        self._cache.clear()

    def forget(self, tenant: TenantID | None) -> None:
        """Forget the handles of ``tenant`` (of every tenant with ``None``)."""
        self._generation += 1
        if tenant is None:
            self.clear_cache()
            return
        for key in [key for key in self._cache if key[0] == tenant]:
            del self._cache[key]

    def cached_tenants(self) -> set[TenantID]:
        """The tenants with a handle in this process's cache, expired or not."""
        return {tenant for tenant, _purpose in self._cache}

    def _prune(self, now: float) -> None:
        """Drop expired handles, at most once per ``cache_ttl``: a tenant no longer used
        (erased, say) would otherwise keep its keys in memory until the process ends."""
        if now - self._pruned_at < self._cache_ttl:
            return
        self._pruned_at = now
        for key in [key for key, cached in self._cache.items() if cached.expires_at <= now]:
            del self._cache[key]

    def _remember(
        self,
        tx: TenantTransaction,
        key: tuple[TenantID, str],
        handle: Any,
        generation: int | None = None,
    ) -> None:
        """Cache ``handle``, at once or when ``tx`` commits (when ``tx`` wrote it); not when
        a ``forget`` came after ``generation``, the one the caller read it under."""
        writer = self._written_by.get(key)
        if writer is None or writer() is not tx:
            # Read in a transaction that did not write the row: committed by someone else.
            if generation in (None, self._generation):
                self._cache[key] = _Cached(handle, time.monotonic() + self._cache_ttl)
            return

        # Written by this transaction: cache it once committed. After a rollback (a failed
        # mutation's savepoint, too: it drops the callbacks registered inside it) the keyset
        # never existed, and a cached copy would encrypt data nothing could decrypt later.
        async def cache_after_commit() -> None:
            if writer is self._written_by.get(key):
                del self._written_by[key]
            self._cache[key] = _Cached(handle, time.monotonic() + self._cache_ttl)

        tx.on_commit(cache_after_commit)

    def _wrap(self, tenant: TenantID, purpose: str, handle: KeysetHandle) -> bytes:
        serialized: bytes = tink.proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
        return self._provider.wrap(serialized, keyset_context(tenant, purpose))

    def _unwrap(
        self, tenant: TenantID, purpose: str, wrapped: bytes, provider: str
    ) -> KeysetHandle:
        if provider != self._provider.name:
            raise KeysetProviderMismatchError(
                f"the {purpose!r} keyset was wrapped by provider {provider!r}, "
                f"this process unwraps with {self._provider.name!r}"
            )
        serialized = self._provider.unwrap(wrapped, keyset_context(tenant, purpose))
        return tink.proto_keyset_format.parse(serialized, secret_key_access.TOKEN)


def _template(purpose: str) -> Any:
    try:
        return PURPOSES[purpose]
    except KeyError:
        raise UnknownKeyPurposeError(
            f"unknown key purpose {purpose!r}; known: {', '.join(sorted(PURPOSES))}"
        ) from None
