"""What a new tenant gets from its pack: its indicator set (version 1) and custom fields."""

from __future__ import annotations

from domain.indicators.service import indicator_sets
from domain.people.models import CustomFieldType
from domain.people.service import EnumOption, custom_field_service
from domain.templates.service import pack_of
from tenants.scope import TenantID


async def provision_pack(tenant: TenantID) -> None:
    """Seed a freshly created tenant from its pack, in the creating transaction."""
    pack = await pack_of(tenant)
    await indicator_sets.provision(tenant)
    for position, seed in enumerate(pack.custom_fields):
        await custom_field_service.create(
            tenant,
            key=seed.key,
            label_zh=seed.label.zh,
            label_en=seed.label.en,
            kind=CustomFieldType(seed.type),
            required=seed.required,
            options=[EnumOption(value=o.value, zh=o.zh, en=o.en) for o in seed.options],
            position=position,
        )
