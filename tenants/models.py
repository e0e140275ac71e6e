"""Tables of the tenancy and identity area: tenants, users, refresh tokens, API clients."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import uuid4

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.indexes import Index
from tortoise.models import Model

from tenants.orm import TenantModel


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Tenant(Model):
    """A customer organisation. Its own row is visible only inside its own scope."""

    id = fields.UUIDField(primary_key=True, default=uuid4)
    # Globally unique on purpose: the slug is what people type to log in.
    slug = fields.CharField(max_length=63, unique=True)
    name = fields.CharField(max_length=200)
    template_code = fields.CharField(max_length=63)
    status = fields.CharEnumField(TenantStatus, max_length=16, default=TenantStatus.ACTIVE)
    settings: dict[str, Any] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tenants"


class User(TenantModel):
    """A person who logs in. Email is stored lower-cased and unique per tenant."""

    email = fields.CharField(max_length=254)
    display_name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255, null=True)
    roles: list[str] = ArrayField("TEXT", default=list)
    is_active = fields.BooleanField(default=True)
    last_login_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"
        unique_together = (("tenant", "email"),)


class RefreshToken(TenantModel):
    """One refresh token of a login session; only its SHA-256 is stored.

    Tokens of one login share a ``family_id``. Using a token marks it used and issues its
    successor; presenting a used token again revokes the whole family (token theft).
    """

    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "renshi.User", related_name=False, on_delete=fields.CASCADE, db_index=False
    )
    user_id: Any
    family_id = fields.UUIDField()
    token_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_tokens"
        unique_together = (("tenant", "token_hash"),)
        indexes = (
            Index(fields=("tenant_id", "family_id"), name="refresh_tokens_family_idx"),
            Index(fields=("tenant_id", "user_id"), name="refresh_tokens_user_idx"),
            Index(fields=("tenant_id", "expires_at"), name="refresh_tokens_expiry_idx"),
        )


class ApiClient(TenantModel):
    """An integrator's OAuth2 client (client credentials grant), with scopes."""

    client_id = fields.CharField(max_length=120)
    name = fields.CharField(max_length=200)
    secret_hash = fields.CharField(max_length=255)
    scopes: list[str] = ArrayField("TEXT", default=list)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_clients"
        unique_together = (("tenant", "client_id"),)


class TenantKey(TenantModel):
    """A tenant's Tink keyset for one purpose (``pii``, ``import``), wrapped by the master key.

    Rotating adds a key to the keyset and makes it primary; the old keys stay so that what
    they encrypted can still be read.
    """

    purpose = fields.CharField(max_length=32)
    wrapped_keyset = fields.BinaryField()
    provider = fields.CharField(max_length=32)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "tenant_keys"
        unique_together = (("tenant", "purpose"),)
