"""The base of every tenant-owned model and its fail-closed manager.

A tenant model's default manager filters on the tenant in scope and raises
``TenantScopeError`` when there is none; saving checks the row belongs to that tenant. The
database enforces the same through row-level security; this layer turns a forgotten scope
into a loud error in development instead of an empty result.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self
from uuid import uuid4

from tortoise import fields
from tortoise.manager import Manager
from tortoise.models import Model
from tortoise.queryset import QuerySet

from tenants.scope import TenantScopeError, current_tenant


class TenantScopedManager(Manager):
    """Default manager of tenant models: always filtered on the tenant in scope."""

    def get_queryset(self) -> QuerySet[Any]:
        return QuerySet(self._model).filter(tenant_id=current_tenant())


class TenantModel(Model):
    """A row owned by one tenant. Subclasses get a scoped manager of their own."""

    id = fields.UUIDField(primary_key=True, default=uuid4)
    tenant: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "renshi.Tenant", related_name=False, on_delete=fields.RESTRICT, db_index=False
    )
    tenant_id: Any

    _tenant_scoped: ClassVar[bool] = True

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Tortoise shares a Meta's manager instance between classes; each concrete model
        # needs its own, bound to itself.
        if not cls._meta.abstract:
            cls._meta.manager = TenantScopedManager(cls)

    @classmethod
    def unscoped(cls) -> QuerySet[Self]:
        """All rows the database lets us see, without the tenant filter. Platform code only.

        Row-level security still applies: inside a tenant transaction this returns that
        tenant's rows, outside one it returns nothing.
        """
        return QuerySet(cls)

    async def save(self, *args: Any, **kwargs: Any) -> None:
        tenant = current_tenant()
        if self.tenant_id is None:
            self.tenant_id = tenant
        elif self.tenant_id != tenant:
            raise TenantScopeError(f"{type(self).__name__} belongs to another tenant")
        await super().save(*args, **kwargs)

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        if self.tenant_id != current_tenant():
            raise TenantScopeError(f"{type(self).__name__} belongs to another tenant")
        await super().delete(*args, **kwargs)
