"""What one API process holds for its lifetime: settings, keys, services, limiter, jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.ratelimit import RateLimiter
from domain.dashboards.cache import period_cache
from tenants.authorization import Matrix, load_matrix
from tenants.crypto.pii import PiiCipher, pii_cipher_from_settings
from tenants.identity.keys import KeyRing
from tenants.identity.service import IdentityService
from tenants.identity.tokens import TokenIssuer
from tenants.lifecycle.notices import ErasureListener
from tenants.scope import TenantID
from tenants.settings import Settings


@dataclass
class AppRuntime:
    settings: Settings
    keys: KeyRing
    tokens: TokenIssuer
    identity: IdentityService
    limiter: RateLimiter
    matrix: Matrix
    pii: PiiCipher
    jobs: Any = None  # workers.broker.JobRuntime once the lifespan started it
    notices: ErasureListener | None = None  # once the lifespan started it

    def forget(self, tenant: TenantID | None) -> None:
        """Drop what this process keeps of ``tenant`` (of every tenant with ``None``)."""
        self.pii.keysets.forget(tenant)
        period_cache.forget(tenant)

    @classmethod
    def create(cls, settings: Settings) -> AppRuntime:
        keys = KeyRing(settings)
        tokens = TokenIssuer(keys, issuer=settings.issuer, audience=settings.audience)
        return cls(
            settings=settings,
            keys=keys,
            tokens=tokens,
            identity=IdentityService(tokens, settings),
            limiter=RateLimiter(settings),
            matrix=load_matrix(),
            # One per process: the tenants' keysets are cached in it.
            pii=pii_cipher_from_settings(settings),
        )
