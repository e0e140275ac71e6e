"""Every query of tenant keysets (the ``tenant_keys`` table).

Functions take the ``TenantID`` they work for and check it is the tenant in scope; the
scoped manager and the row-level-security policy filter on it again.
"""

from __future__ import annotations

from uuid import uuid4

from tenants.models import TenantKey
from tenants.scope import TenantID, require_tenant

# ON CONFLICT DO NOTHING: two first uses racing each insert a keyset; the unique key
# (tenant_id, purpose) keeps the first and the loser's insert waits for it, then does nothing.
_INSERT_IF_ABSENT = """
    INSERT INTO tenant_keys
        (id, tenant_id, purpose, wrapped_keyset, provider, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, now(), now())
    ON CONFLICT (tenant_id, purpose) DO NOTHING
    RETURNING id
"""


async def get_tenant_key(
    tenant: TenantID, purpose: str, *, for_update: bool = False
) -> TenantKey | None:
    """The tenant's keyset row for ``purpose``; ``for_update`` locks it until commit."""
    require_tenant(tenant)
    query = TenantKey.filter(purpose=purpose)
    if for_update:
        query = query.select_for_update()
    return await query.first()


async def insert_tenant_key_if_absent(
    tenant: TenantID, purpose: str, *, wrapped_keyset: bytes, provider: str
) -> bool:
    """Store a keyset unless the tenant has one for ``purpose``; True when this one was stored."""
    tx = require_tenant(tenant)
    row = await tx.fetchrow(_INSERT_IF_ABSENT, uuid4(), tenant, purpose, wrapped_keyset, provider)
    return row is not None


async def save_tenant_key(
    tenant: TenantID, row: TenantKey, *, wrapped_keyset: bytes, provider: str
) -> None:
    require_tenant(tenant)
    row.wrapped_keyset = wrapped_keyset
    row.provider = provider
    await row.save(update_fields=["wrapped_keyset", "provider", "updated_at"])
