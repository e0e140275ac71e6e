"""Factories: small async functions that create rows the way the product does."""

from __future__ import annotations

import base64
import functools
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.jobs import repository as job_repo
from domain.jobs.models import Job
from domain.templates.registry import pack_codes
from tenants import repository as repo
from tenants.authorization import Principal, Role
from tenants.identity.passwords import hash_secret
from tenants.identity.tokens import TokenIssuer
from tenants.models import ApiClient, Tenant, User
from tenants.scope import TenantID, tenant_transaction
from tenants.service import IssuedClient, api_client_service, normalise_email, tenant_service

PASSWORD = "correct horse battery staple"


@functools.cache
def _password_hash() -> str:
    # argon2id costs ~50 ms by design; hash the shared test password once.
    return hash_secret(PASSWORD)


async def create_tenant(
    slug: str | None = None, *, template: str = "enterprise_rd", name: str = "Org"
) -> Tenant:
    tenant = TenantID(uuid4())
    async with tenant_transaction(tenant):
        return await tenant_service.create_tenant(
            tenant,
            slug=slug or f"t-{secrets.token_hex(5)}",
            name=name,
            template_code=template,
            known_templates=pack_codes(),
        )


def tenant_id(tenant: Tenant) -> TenantID:
    return TenantID(tenant.id)


async def create_user(
    tenant: Tenant,
    *,
    roles: tuple[str, ...] = ("employee",),
    email: str | None = None,
    name: str = "Test Person",
    active: bool = True,
    with_password: bool = True,
) -> User:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        user = await repo.insert_user(
            tid,
            email=normalise_email(email or f"u-{secrets.token_hex(4)}@example.com"),
            display_name=name,
            roles=sorted(roles),
            password_hash=_password_hash() if with_password else None,
        )
        if not active:
            user.is_active = False
            await repo.save_user(tid, user, ["is_active"])
    return user


async def create_api_client(
    tenant: Tenant, *, scopes: tuple[str, ...], name: str = "ERP"
) -> IssuedClient:
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await api_client_service.create(tid, name=name, scopes=list(scopes))


async def create_job(
    tenant: Tenant, *, kind: str = "identity.purge_sessions", enqueued_minutes_ago: float = 0
) -> Job:
    """A job row written directly, without dispatching a message (as if one was lost)."""
    tid = tenant_id(tenant)
    async with tenant_transaction(tid):
        return await job_repo.insert_job(
            tid,
            kind=kind,
            payload={},
            created_by=None,
            at=datetime.now(UTC) - timedelta(minutes=enqueued_minutes_ago),
        )


def user_token(tokens: TokenIssuer, user: User, *, ttl: int = 600, **overrides: Any) -> str:
    principal = Principal(
        tenant_id=TenantID(user.tenant_id),
        subject_id=user.id,
        kind="user",
        roles=frozenset(Role(r) for r in user.roles),
    )
    return tokens.issue(principal, ttl=ttl, **overrides).token


def client_token(
    tokens: TokenIssuer, client: ApiClient, *, scopes: tuple[str, ...] | None = None
) -> str:
    principal = Principal(
        tenant_id=TenantID(client.tenant_id),
        subject_id=client.id,
        kind="client",
        scopes=frozenset(scopes if scopes is not None else client.scopes),
        client_id=client.client_id,
    )
    return tokens.issue(principal, ttl=600).token


def global_id(type_name: str, node_id: UUID) -> str:
    return base64.b64encode(f"{type_name}:{node_id}".encode()).decode()


def node_uuid(global_id: str) -> UUID:
    """The UUID inside a Relay global id."""
    return UUID(base64.b64decode(global_id).decode().split(":", 1)[1])
