"""The template pack a tenant works with."""

from __future__ import annotations

from domain.templates.registry import PackFile, pack_for
from tenants.scope import TenantID
from tenants.service import tenant_service

# A tenant's template never changes once chosen, so its code is safe to keep in memory.
_codes: dict[TenantID, str] = {}


async def pack_of(tenant: TenantID) -> PackFile:
    """The pack of ``tenant`` (in its open transaction on first use)."""
    code = _codes.get(tenant)
    if code is None:
        code = (await tenant_service.get(tenant)).template_code
        _codes[tenant] = code
    return pack_for(code)
