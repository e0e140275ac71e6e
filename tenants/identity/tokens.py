"""Access tokens: short-lived ES256 JWTs, signed with the newest key of the key ring.

Claims: ``iss aud sub tid roles exp iat jti`` (plus ``client_id`` and ``scope`` for
integrator clients). Verification accepts exactly one algorithm, needs a known ``kid``, and
checks every claim; whatever fails, the caller learns only ``InvalidTokenError``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from tenants.authorization import Principal, Role
from tenants.identity.keys import ALGORITHM, KeyRing
from tenants.scope import TenantID

_LEEWAY_S = 30


class InvalidTokenError(Exception):
    """The token is not one of ours, or no longer valid. Deliberately says no more."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    jti: str


class TokenIssuer:
    def __init__(self, keys: KeyRing, *, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._claims = jwt.JWTClaimsRegistry(
            leeway=_LEEWAY_S,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            sub={"essential": True},
            tid={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )

    def issue(self, principal: Principal, *, ttl: int, now: int | None = None) -> IssuedToken:
        issued_at = int(now if now is not None else time.time())
        jti = secrets.token_urlsafe(16)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(principal.subject_id),
            "tid": str(principal.tenant_id),
            "roles": sorted(role.value for role in principal.roles),
            "iat": issued_at,
            "exp": issued_at + ttl,
            "jti": jti,
        }
        if principal.kind == "client":
            claims["client_id"] = principal.client_id
            claims["scope"] = " ".join(sorted(principal.scopes))
        key = self._keys.signing_key
        header = {"alg": ALGORITHM, "kid": key.kid}
        token = jwt.encode(header, claims, key.key, algorithms=[ALGORITHM])
        return IssuedToken(token=token, expires_in=ttl, jti=jti)

    def verify(self, token: str) -> Principal:
        """The principal a valid token speaks for; ``InvalidTokenError`` otherwise."""
        try:
            # One algorithm only (no `none`, no HMAC keyed with our public key), and the key
            # is chosen by `kid` among our own keys, never taken from the token.
            decoded = jwt.decode(token, self._key_for, algorithms=[ALGORITHM])
            self._claims.validate(decoded.claims)
            return _principal(decoded.claims)
        except InvalidTokenError:
            raise
        except (JoseError, ValueError, TypeError, KeyError, UnicodeError) as exc:
            raise InvalidTokenError from exc

    def _key_for(self, obj: Any) -> ECKey:
        kid = obj.headers().get("kid")
        key = self._keys.verification_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidTokenError
        return key


def _principal(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles", [])
    if not isinstance(roles, list):
        raise InvalidTokenError
    client_id = claims.get("client_id")
    scope = claims.get("scope", "")
    if not isinstance(scope, str) or (client_id is not None and not isinstance(client_id, str)):
        raise InvalidTokenError
    return Principal(
        tenant_id=TenantID(UUID(str(claims["tid"]))),
        subject_id=UUID(str(claims["sub"])),
        kind="client" if client_id is not None else "user",
        roles=frozenset(Role(r) for r in roles),
        scopes=frozenset(scope.split()),
        token_id=str(claims["jti"]),
        client_id=client_id,
    )
