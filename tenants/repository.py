"""Every query of the tenancy and identity area.

Functions take the ``TenantID`` they work for and check it is the tenant in scope; the
row-level-security policies and the scoped managers filter on it again. The two platform
functions (``platform_*``) are the only ones that run before a tenant is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tenants.models import ApiClient, RefreshToken, Tenant, TenantStatus, User
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateError(Exception):
    """A unique key (per tenant) is already taken."""


@dataclass(frozen=True)
class TenantRef:
    id: TenantID
    status: TenantStatus


# --- platform ------------------------------------------------------------------------------


async def platform_find_tenant_by_slug(slug: str) -> TenantRef | None:
    """Resolve a login's tenant slug. Sees only the one row whose slug it names."""
    async with in_transaction() as client, client.acquire_connection() as conn:
        await conn.execute("SELECT set_config('app.tenant_slug', $1, true)", slug)
        row = await conn.fetchrow("SELECT id, status FROM tenants WHERE slug = $1", slug)
    if row is None:
        return None
    return TenantRef(id=TenantID(row["id"]), status=TenantStatus(row["status"]))


async def platform_slug_taken(slug: str) -> bool:
    return await platform_find_tenant_by_slug(slug) is not None


# --- tenants -------------------------------------------------------------------------------


async def insert_tenant(
    tenant: TenantID, *, slug: str, name: str, template_code: str, settings: dict[str, Any]
) -> Tenant:
    require_tenant(tenant)
    try:
        return await Tenant.create(
            id=tenant, slug=slug, name=name, template_code=template_code, settings=settings
        )
    except IntegrityError as exc:
        raise DuplicateError("slug") from exc


async def get_tenant(tenant: TenantID) -> Tenant | None:
    require_tenant(tenant)
    return await Tenant.get_or_none(id=tenant)


async def save_tenant(tenant: TenantID, row: Tenant, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    await row.save(update_fields=[*fields, "updated_at"])


# --- users ---------------------------------------------------------------------------------


async def get_user(tenant: TenantID, user_id: UUID) -> User | None:
    require_tenant(tenant)
    return await User.get_or_none(id=user_id)


# Written out by hand: it runs on every authenticated request, and building it through the
# ORM's query builder cost more than the rest of the request's database work.
ACTIVE_USER_SQL = """
    SELECT u.id, u.tenant_id, u.email, u.display_name, u.password_hash, u.roles, u.is_active,
           u.last_login_at, u.created_at, u.updated_at
    FROM users u JOIN tenants t ON t.id = u.tenant_id
    WHERE u.id = $1 AND u.tenant_id = $2 AND u.is_active AND t.status = $3
"""


async def get_active_user(tenant: TenantID, user_id: UUID) -> User | None:
    """The user behind an access token, if they may still act (user and tenant active)."""
    tx = require_tenant(tenant)
    row = await tx.fetchrow(ACTIVE_USER_SQL, user_id, tenant, TenantStatus.ACTIVE.value)
    return User._init_from_db(**row) if row is not None else None


async def get_users(tenant: TenantID, ids: Sequence[UUID]) -> list[User]:
    require_tenant(tenant)
    return await User.filter(id__in=list(ids))


async def get_user_by_email(tenant: TenantID, email: str) -> User | None:
    require_tenant(tenant)
    return await User.get_or_none(email=email)


async def list_users(
    tenant: TenantID,
    *,
    first: int,
    after: str | None,
    search: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    only_id: UUID | None = None,
) -> Page[User]:
    require_tenant(tenant)
    query = User.all()
    if search:
        query = query.filter(Q(email__icontains=search) | Q(display_name__icontains=search))
    if role is not None:
        query = query.filter(roles__contains=[role])
    if active is not None:
        query = query.filter(is_active=active)
    if only_id is not None:
        query = query.filter(id=only_id)
    return await paginate(query, order_by=("email", "id"), first=first, after=after)


async def insert_user(
    tenant: TenantID,
    *,
    email: str,
    display_name: str,
    roles: list[str],
    password_hash: str | None,
) -> User:
    require_tenant(tenant)
    try:
        return await User.create(
            tenant_id=tenant,
            email=email,
            display_name=display_name,
            roles=roles,
            password_hash=password_hash,
        )
    except IntegrityError as exc:
        raise DuplicateError("email") from exc


async def save_user(tenant: TenantID, user: User, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    await user.save(update_fields=[*fields, "updated_at"])


async def delete_user(tenant: TenantID, user: User) -> None:
    require_tenant(tenant)
    await user.delete()


async def touch_login(tenant: TenantID, user_id: UUID, at: datetime) -> None:
    require_tenant(tenant)
    await User.filter(id=user_id).update(last_login_at=at)


# --- refresh tokens ------------------------------------------------------------------------


async def insert_refresh_token(
    tenant: TenantID, *, user_id: UUID, family_id: UUID, token_hash: str, expires_at: datetime
) -> RefreshToken:
    require_tenant(tenant)
    return await RefreshToken.create(
        tenant_id=tenant,
        user_id=user_id,
        family_id=family_id,
        token_hash=token_hash,
        expires_at=expires_at,
    )


async def lock_refresh_token(tenant: TenantID, token_hash: str) -> RefreshToken | None:
    """The token row, locked: two concurrent refreshes with one token must not both win."""
    require_tenant(tenant)
    return await RefreshToken.filter(token_hash=token_hash).select_for_update().first()


async def mark_refresh_token_used(tenant: TenantID, token_id: UUID, at: datetime) -> None:
    require_tenant(tenant)
    await RefreshToken.filter(id=token_id).update(used_at=at)


async def revoke_refresh_family(tenant: TenantID, family_id: UUID, at: datetime) -> int:
    require_tenant(tenant)
    return await RefreshToken.filter(family_id=family_id, revoked_at=None).update(revoked_at=at)


async def revoke_user_refresh_tokens(tenant: TenantID, user_id: UUID, at: datetime) -> int:
    require_tenant(tenant)
    return await RefreshToken.filter(user_id=user_id, revoked_at=None).update(revoked_at=at)


async def delete_dead_refresh_tokens(tenant: TenantID, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` tokens that expired or were revoked before ``before``."""
    require_tenant(tenant)
    ids = await (
        RefreshToken.filter(Q(expires_at__lt=before) | Q(revoked_at__lt=before))
        .limit(limit)
        .values_list("id", flat=True)
    )
    if not ids:
        return 0
    return await RefreshToken.filter(id__in=list(ids)).delete()


async def count_dead_refresh_tokens(tenant: TenantID, *, before: datetime) -> int:
    require_tenant(tenant)
    return await RefreshToken.filter(Q(expires_at__lt=before) | Q(revoked_at__lt=before)).count()


# --- API clients ---------------------------------------------------------------------------


async def insert_api_client(
    tenant: TenantID, *, client_id: str, name: str, secret_hash: str, scopes: list[str]
) -> ApiClient:
    require_tenant(tenant)
    try:
        return await ApiClient.create(
            tenant_id=tenant, client_id=client_id, name=name, secret_hash=secret_hash, scopes=scopes
        )
    except IntegrityError as exc:
        raise DuplicateError("client_id") from exc


async def get_api_client(tenant: TenantID, row_id: UUID) -> ApiClient | None:
    require_tenant(tenant)
    return await ApiClient.get_or_none(id=row_id)


async def get_api_clients(tenant: TenantID, ids: Sequence[UUID]) -> list[ApiClient]:
    require_tenant(tenant)
    return await ApiClient.filter(id__in=list(ids))


async def get_api_client_by_client_id(tenant: TenantID, client_id: str) -> ApiClient | None:
    require_tenant(tenant)
    return await ApiClient.get_or_none(client_id=client_id)


async def get_active_api_client(tenant: TenantID, row_id: UUID) -> ApiClient | None:
    require_tenant(tenant)
    return await ApiClient.get_or_none(
        id=row_id, is_active=True, tenant__status=TenantStatus.ACTIVE
    )


async def list_api_clients(tenant: TenantID, *, first: int, after: str | None) -> Page[ApiClient]:
    require_tenant(tenant)
    return await paginate(ApiClient.all(), order_by=("name", "id"), first=first, after=after)


async def save_api_client(tenant: TenantID, client: ApiClient, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    await client.save(update_fields=list(fields))
