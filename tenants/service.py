"""Business rules of tenants, user accounts and API clients.

Services never open or commit transactions: the GraphQL operation, the CLI command or the
job that calls them owns the tenant transaction.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import email_validator
from email_validator import EmailNotValidError, validate_email

from tenants import repository as repo
from tenants.authorization import Role, load_matrix
from tenants.crypto.imports import IMPORT_PURPOSE
from tenants.crypto.keysets import TenantKeysets
from tenants.errors import ErrorCode, ServiceError, invalid, not_found
from tenants.identity.passwords import (
    WeakPasswordError,
    check_password_policy,
    hash_secret_async,
    verify_secret_async,
)
from tenants.models import ApiClient, Tenant, User
from tenants.scope import TenantID

# Intranet addresses (teacher@school.local) are real addresses for our customers; the
# library documents this list as the place to allow such special-use domains.
email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = [
    d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d not in {"local", "test"}
]

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_SETTINGS_BYTES = 64 * 1024


def normalise_email(email: str) -> str:
    try:
        checked = validate_email(
            email.strip(),
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
        )
        return checked.normalized.lower()
    except EmailNotValidError as exc:
        raise invalid("email", f"not a valid email address: {exc}", "邮箱地址无效") from exc


def clean_name(value: str, field: str, *, max_length: int = 200) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise invalid(field, "must not be empty", "不能为空")
    if len(cleaned) > max_length:
        raise invalid(
            field, f"must be at most {max_length} characters", f"不能超过 {max_length} 个字符"
        )
    return cleaned


def parse_roles(roles: Sequence[str]) -> list[str]:
    if not roles:
        raise invalid("roles", "at least one role is required", "至少需要一个角色")
    parsed = []
    for role in roles:
        try:
            parsed.append(Role(role).value)
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise invalid(
                "roles", f"unknown role {role!r} (known: {known})", f"未知角色 {role!r}"
            ) from None
    return sorted(set(parsed))


def check_password(password: str, field: str = "password") -> None:
    try:
        check_password_policy(password)
    except WeakPasswordError as exc:
        raise ServiceError(
            ErrorCode.WEAK_PASSWORD,
            f"password {exc}",
            "密码不符合要求（至少 12 个字符，首尾不能是空格）",
            field=field,
        ) from exc


def check_settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise invalid("settings", "settings must be a JSON object", "设置必须是 JSON 对象")
    if len(json.dumps(settings, ensure_ascii=False).encode()) > MAX_SETTINGS_BYTES:
        raise invalid("settings", "settings must be at most 64 KiB of JSON", "设置不能超过 64 KiB")
    return settings


class TenantService:
    def __init__(self) -> None:
        self._keysets: TenantKeysets | None = None

    def use_keysets(self, keysets: TenantKeysets | None) -> None:
        """The process's tenant keysets (its ``PiiCipher``'s): set at start-up, like the sealer.

        With keysets, a new tenant's ``import`` keyset is made in its creating transaction;
        without, it is made on first use, as every keyset can be.
        """
        self._keysets = keysets

    async def create_tenant(
        self,
        tenant: TenantID,
        *,
        slug: str,
        name: str,
        template_code: str,
        known_templates: Collection[str],
        settings: dict[str, Any] | None = None,
    ) -> Tenant:
        """Create the tenant row; ``tenant`` is the fresh id the caller's transaction is for."""
        if not SLUG_PATTERN.match(slug):
            raise invalid(
                "slug",
                "use 1-63 lower-case letters, digits and inner hyphens",
                "只能使用 1-63 个小写字母、数字和中间的连字符",
            )
        if template_code not in known_templates:
            raise invalid(
                "template",
                f"unknown template {template_code!r} "
                f"(installed: {', '.join(sorted(known_templates))})",
                f"未知模板 {template_code!r}",
            )
        if await repo.platform_slug_taken(slug):
            raise ServiceError(
                ErrorCode.DUPLICATE, f"slug {slug!r} is taken", "该标识已被使用", field="slug"
            )
        try:
            row = await repo.insert_tenant(
                tenant,
                slug=slug,
                name=clean_name(name, "name"),
                template_code=template_code,
                settings=check_settings(settings or {}),
            )
        except repo.DuplicateError as exc:
            raise ServiceError(
                ErrorCode.DUPLICATE, f"slug {slug!r} is taken", "该标识已被使用", field="slug"
            ) from exc
        if self._keysets is not None:
            # In the same transaction: a tenant exists with its import keyset or not at all.
            await self._keysets.handle(tenant, IMPORT_PURPOSE)
        return row

    async def get(self, tenant: TenantID) -> Tenant:
        row = await repo.get_tenant(tenant)
        if row is None:
            raise not_found("tenant", "组织")
        return row

    async def update(
        self, tenant: TenantID, *, name: str | None = None, settings: Any = None
    ) -> Tenant:
        row = await self.get(tenant)
        changed = []
        if name is not None:
            row.name = clean_name(name, "name")
            changed.append("name")
        if settings is not None:
            row.settings = check_settings(settings)
            changed.append("settings")
        if changed:
            await repo.save_tenant(tenant, row, changed)
        return row


class UserService:
    async def create(
        self,
        tenant: TenantID,
        *,
        email: str,
        display_name: str,
        roles: Sequence[str],
        password: str | None,
    ) -> User:
        address = normalise_email(email)
        name = clean_name(display_name, "displayName")
        parsed_roles = parse_roles(roles)
        password_hash = None
        if password is not None:
            check_password(password)
            password_hash = await hash_secret_async(password)
        try:
            return await repo.insert_user(
                tenant,
                email=address,
                display_name=name,
                roles=parsed_roles,
                password_hash=password_hash,
            )
        except repo.DuplicateError as exc:
            raise ServiceError(
                ErrorCode.DUPLICATE,
                f"a user with email {address} exists",
                "该邮箱已有用户",
                field="email",
            ) from exc

    async def get(self, tenant: TenantID, user_id: UUID) -> User:
        user = await repo.get_user(tenant, user_id)
        if user is None:
            raise not_found("user", "用户")
        return user

    async def update(
        self,
        tenant: TenantID,
        user_id: UUID,
        *,
        display_name: str | None = None,
        roles: Sequence[str] | None = None,
        is_active: bool | None = None,
    ) -> User:
        user = await self.get(tenant, user_id)
        changed = []
        if display_name is not None:
            user.display_name = clean_name(display_name, "displayName")
            changed.append("display_name")
        if roles is not None:
            new_roles = parse_roles(roles)
            if Role.ADMIN.value in user.roles and Role.ADMIN.value not in new_roles:
                await self._keep_an_admin(tenant, user)
            user.roles = new_roles
            changed.append("roles")
        if is_active is not None and is_active != user.is_active:
            if not is_active:
                await self._keep_an_admin(tenant, user)
                await repo.revoke_user_refresh_tokens(tenant, user.id, datetime.now(UTC))
            user.is_active = is_active
            changed.append("is_active")
        if changed:
            await repo.save_user(tenant, user, changed)
        return user

    async def delete(self, tenant: TenantID, user_id: UUID) -> UUID:
        user = await self.get(tenant, user_id)
        await self._keep_an_admin(tenant, user)
        await repo.delete_user(tenant, user)
        return user_id

    async def change_password(
        self, tenant: TenantID, user_id: UUID, *, current: str, new: str
    ) -> User:
        user = await self.get(tenant, user_id)
        if not await verify_secret_async(user.password_hash, current):
            raise ServiceError(
                ErrorCode.INVALID_CREDENTIALS,
                "the current password is wrong",
                "当前密码不正确",
                field="currentPassword",
            )
        check_password(new, "newPassword")
        user.password_hash = await hash_secret_async(new)
        await repo.save_user(tenant, user, ["password_hash"])
        # Other sessions end: whoever knew the old password must log in again.
        await repo.revoke_user_refresh_tokens(tenant, user.id, datetime.now(UTC))
        return user

    async def _keep_an_admin(self, tenant: TenantID, user: User) -> None:
        if Role.ADMIN.value not in user.roles or not user.is_active:
            return
        page = await repo.list_users(
            tenant, first=2, after=None, role=Role.ADMIN.value, active=True
        )
        if len(page.items) < 2:
            raise ServiceError(
                ErrorCode.CONFLICT,
                "the last active administrator cannot be removed, deactivated or demoted",
                "不能删除、停用或降级最后一位在职管理员",
                field="id",
            )


@dataclass(frozen=True)
class IssuedClient:
    client: ApiClient
    secret: str


class ApiClientService:
    async def create(self, tenant: TenantID, *, name: str, scopes: Sequence[str]) -> IssuedClient:
        known = load_matrix().scopes
        unknown = sorted(set(scopes) - set(known))
        if unknown:
            raise invalid(
                "scopes",
                f"unknown scopes {unknown} (known: {sorted(known)})",
                f"未知权限范围 {unknown}",
            )
        if not scopes:
            raise invalid("scopes", "at least one scope is required", "至少需要一个权限范围")
        row = await repo.get_tenant(tenant)
        if row is None:
            raise not_found("tenant", "组织")
        # The slug in the id lets the token endpoint find the tenant before authenticating.
        client_id = f"{row.slug}.{secrets.token_hex(10)}"
        secret = secrets.token_urlsafe(32)
        client = await repo.insert_api_client(
            tenant,
            client_id=client_id,
            name=clean_name(name, "name"),
            secret_hash=await hash_secret_async(secret),
            scopes=sorted(set(scopes)),
        )
        return IssuedClient(client=client, secret=secret)

    async def revoke(self, tenant: TenantID, row_id: UUID) -> ApiClient:
        client = await repo.get_api_client(tenant, row_id)
        if client is None:
            raise not_found("API client", "API 客户端")
        if client.is_active:
            client.is_active = False
            await repo.save_api_client(tenant, client, ["is_active"])
        return client


tenant_service = TenantService()
user_service = UserService()
api_client_service = ApiClientService()
