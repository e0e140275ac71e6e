"""The template pack a tenant works with."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from domain.templates.registry import PackFile, pack_for
from tenants.scope import TenantID
from tenants.service import tenant_service

# A tenant's template never changes once chosen, so its code is safe to keep in memory.
_codes: dict[TenantID, str] = {}
# The resolvers of one page ask for the pack all at once; one of them looks it up, the others
# wait for it instead of each running the same query. A failed lookup leaves the next waiter
# to try again in its own transaction.
_lookups: defaultdict[TenantID, asyncio.Lock] = defaultdict(asyncio.Lock)


async def pack_of(tenant: TenantID) -> PackFile:
    """The pack of ``tenant`` (in its open transaction on first use)."""
    code = _codes.get(tenant)
    if code is None:
        async with _lookups[tenant]:
            code = _codes.get(tenant)
            if code is None:
                code = (await tenant_service.get(tenant)).template_code
                _codes[tenant] = code
    return pack_for(code)


def known_pack(tenant: TenantID) -> PackFile | None:
    """The pack of ``tenant`` if ``pack_of`` has looked it up in this process, else None."""
    code = _codes.get(tenant)
    return pack_for(code) if code is not None else None
