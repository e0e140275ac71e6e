"""Encryption of tenant data: the master-key provider, per-tenant Tink keysets, PII sealing.

The package owns every key below the master key. ``provider`` wraps and unwraps key material
with the master key (locally today, a KMS later); ``keysets`` keeps one Tink keyset per tenant
and purpose, stored wrapped in ``tenant_keys`` (``repository`` holds its queries) and rotated
without losing old keys; ``pii`` seals personal fields deterministically, so that they can be
matched exactly without being stored in clear.
"""
