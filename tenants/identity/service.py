"""Logging in, refreshing, logging out, and checking that a token's subject may still act.

Refresh tokens are opaque: ``rt1.<tenant id>.<secret>``. Only the SHA-256 of the secret is
stored (the secret has 256 bits of entropy, so a slow hash adds nothing). The tenant id in
the token lets the refresh open the right tenant scope; a forged id only leads to a tenant
where that hash does not exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from tenants import repository as repo
from tenants.authorization import Principal, Role
from tenants.errors import ErrorCode, ServiceError
from tenants.identity.passwords import (
    hash_secret_async,
    needs_rehash,
    verify_secret_async,
)
from tenants.identity.tokens import TokenIssuer
from tenants.models import ApiClient, TenantStatus, User
from tenants.scope import TenantID, tenant_transaction
from tenants.settings import Settings

_REFRESH_PREFIX = "rt1"


class NotAuthenticatedError(Exception):
    """The token was valid, but its user or client may no longer act."""


def invalid_credentials() -> ServiceError:
    return ServiceError(
        ErrorCode.INVALID_CREDENTIALS,
        "the organisation, email or password is wrong",
        "组织、邮箱或密码不正确",
    )


def invalid_refresh_token() -> ServiceError:
    return ServiceError(
        ErrorCode.INVALID_TOKEN,
        "the refresh token is invalid, expired or revoked",
        "刷新令牌无效、已过期或已撤销",
        field="refreshToken",
    )


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class Actor:
    """An authenticated principal, with its roles and scopes as the database says now."""

    principal: Principal
    user: User | None
    client: ApiClient | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_refresh_token(token: str) -> tuple[TenantID, str] | None:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _REFRESH_PREFIX or len(parts[2]) < 32:
        return None
    try:
        return TenantID(UUID(hex=parts[1])), parts[2]
    except ValueError:
        return None


class IdentityService:
    def __init__(self, tokens: TokenIssuer, settings: Settings) -> None:
        self.tokens = tokens
        self._settings = settings

    def _user_principal(self, tenant: TenantID, user: User) -> Principal:
        return Principal(
            tenant_id=tenant,
            subject_id=user.id,
            kind="user",
            roles=frozenset(Role(r) for r in user.roles if r in Role._value2member_map_),
        )

    async def _new_refresh_token(
        self, tenant: TenantID, user_id: UUID, family_id: UUID, now: datetime
    ) -> str:
        secret = secrets.token_urlsafe(32)
        await repo.insert_refresh_token(
            tenant,
            user_id=user_id,
            family_id=family_id,
            token_hash=_hash(secret),
            expires_at=now + timedelta(seconds=self._settings.refresh_token_ttl),
        )
        return f"{_REFRESH_PREFIX}.{tenant.hex}.{secret}"

    async def login(self, *, tenant_slug: str, email: str, password: str) -> Session:
        """Check the password and open a session. Every failure reads the same."""
        ref = await repo.platform_find_tenant_by_slug(tenant_slug.strip().lower())
        user: User | None = None
        if ref is not None:
            async with tenant_transaction(ref.id):
                user = await repo.get_user_by_email(ref.id, email.strip().lower())
        # Checked even for an unknown user, so response time does not reveal who exists.
        password_ok = await verify_secret_async(user.password_hash if user else None, password)
        if (
            ref is None
            or user is None
            or not password_ok
            or not user.is_active
            or ref.status != TenantStatus.ACTIVE
        ):
            raise invalid_credentials()
        rehashed = (
            await hash_secret_async(password) if needs_rehash(user.password_hash or "") else None
        )
        now = datetime.now(UTC)
        async with tenant_transaction(ref.id):
            refresh = await self._new_refresh_token(ref.id, user.id, uuid4(), now)
            await repo.touch_login(ref.id, user.id, now)
            if rehashed is not None:
                user.password_hash = rehashed
                await repo.save_user(ref.id, user, ["password_hash"])
        access = self.tokens.issue(
            self._user_principal(ref.id, user), ttl=self._settings.access_token_ttl
        )
        return Session(
            access_token=access.token, refresh_token=refresh, expires_in=access.expires_in
        )

    async def refresh(self, refresh_token: str) -> Session:
        """Trade a refresh token for a new pair; the old one is dead from now on.

        Presenting an already-used token means two parties hold it: the whole session
        family is revoked, and both must log in again.
        """
        parsed = parse_refresh_token(refresh_token)
        if parsed is None:
            raise invalid_refresh_token()
        tenant, secret = parsed
        now = datetime.now(UTC)
        session: tuple[User, str] | None = None
        async with tenant_transaction(tenant):
            row = await repo.lock_refresh_token(tenant, _hash(secret))
            if row is not None and row.revoked_at is None:
                if row.used_at is not None or row.expires_at <= now:
                    await repo.revoke_refresh_family(tenant, row.family_id, now)
                else:
                    user = await repo.get_active_user(tenant, row.user_id)
                    if user is None:
                        await repo.revoke_refresh_family(tenant, row.family_id, now)
                    else:
                        await repo.mark_refresh_token_used(tenant, row.id, now)
                        new = await self._new_refresh_token(tenant, user.id, row.family_id, now)
                        session = (user, new)
        if session is None:
            raise invalid_refresh_token()
        user, new_refresh = session
        access = self.tokens.issue(
            self._user_principal(tenant, user), ttl=self._settings.access_token_ttl
        )
        return Session(
            access_token=access.token, refresh_token=new_refresh, expires_in=access.expires_in
        )

    async def logout(self, refresh_token: str) -> None:
        """End the session the refresh token belongs to (every token of its family)."""
        parsed = parse_refresh_token(refresh_token)
        if parsed is None:
            raise invalid_refresh_token()
        tenant, secret = parsed
        async with tenant_transaction(tenant):
            row = await repo.lock_refresh_token(tenant, _hash(secret))
            if row is not None:
                await repo.revoke_refresh_family(tenant, row.family_id, datetime.now(UTC))
        if row is None:
            raise invalid_refresh_token()

    async def authenticate(self, principal: Principal) -> Actor:
        """Reload the token's subject inside the open tenant transaction.

        Roles and scopes come from the database, so a demotion or a narrowed client acts at
        once rather than when the token expires.
        """
        tenant = principal.tenant_id
        if principal.kind == "user":
            user = await repo.get_active_user(tenant, principal.subject_id)
            if user is None:
                raise NotAuthenticatedError
            fresh = self._user_principal(tenant, user)
            return Actor(
                principal=Principal(
                    tenant_id=tenant,
                    subject_id=user.id,
                    kind="user",
                    roles=fresh.roles,
                    token_id=principal.token_id,
                ),
                user=user,
                client=None,
            )
        client = await repo.get_active_api_client(tenant, principal.subject_id)
        if client is None or client.client_id != principal.client_id:
            raise NotAuthenticatedError
        return Actor(
            principal=Principal(
                tenant_id=tenant,
                subject_id=client.id,
                kind="client",
                scopes=principal.scopes & frozenset(client.scopes),
                token_id=principal.token_id,
                client_id=client.client_id,
            ),
            user=None,
            client=client,
        )

    def client_principal(
        self, tenant: TenantID, client: ApiClient, scopes: frozenset[str]
    ) -> Principal:
        return Principal(
            tenant_id=tenant,
            subject_id=client.id,
            kind="client",
            scopes=scopes,
            client_id=client.client_id,
        )
