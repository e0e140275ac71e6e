"""Access tokens: every forgery and every stale token is refused, over HTTP with a bare 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from api.runtime import AppRuntime
from tenants.identity.keys import ALGORITHM
from tenants.identity.tokens import InvalidTokenError, TokenIssuer
from tests.factories import create_tenant, create_user, global_id, user_token
from tests.support.graphql import GraphQLClient

VIEWER = "{ viewer { user { email } } }"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(runtime: AppRuntime, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": runtime.settings.issuer,
        "aud": runtime.settings.audience,
        "sub": "00000000-0000-0000-0000-000000000001",
        "tid": "00000000-0000-0000-0000-000000000002",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 600,
        "jti": "j",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(
    runtime: AppRuntime, claims: dict[str, Any], *, key: ECKey | None = None, kid: str | None = None
) -> str:
    signing = runtime.keys.signing_key
    header = {"alg": ALGORITHM, "kid": kid or signing.kid}
    return jwt.encode(header, claims, key or signing.key, algorithms=[ALGORITHM])


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)]
    )


async def _assert_rejected(gql: GraphQLClient, token: str) -> None:
    response = await gql(VIEWER, token=token)
    assert response.status == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    # Nothing says which check failed.
    assert response.body == {
        "errors": [
            {"message": "invalid or expired token", "extensions": {"code": "UNAUTHENTICATED"}}
        ]
    }


async def test_a_valid_token_is_accepted(gql: GraphQLClient, runtime: AppRuntime) -> None:
    user = await create_user(await create_tenant())
    assert (await gql(VIEWER, token=user_token(runtime.tokens, user))).ok()["viewer"]["user"][
        "email"
    ] == user.email


async def test_alg_none_is_rejected(gql: GraphQLClient, runtime: AppRuntime) -> None:
    await _assert_rejected(gql, _unsigned({"alg": "none", "typ": "JWT"}, _claims(runtime)))


async def test_algorithm_confusion_with_the_public_key_as_hmac_secret_is_rejected(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    public_jwk = json.dumps(runtime.keys.jwks()["keys"][-1]).encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": runtime.keys.signing_key.kid}
    signing_input = (
        f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(runtime)).encode())}"
    )
    signature = hmac.new(public_jwk, signing_input.encode(), hashlib.sha256).digest()
    await _assert_rejected(gql, f"{signing_input}.{_b64(signature)}")


async def test_a_bad_signature_is_rejected(gql: GraphQLClient, runtime: AppRuntime) -> None:
    token = _sign(runtime, _claims(runtime))
    head, _body, signature = token.split(".")
    tampered_claims = _b64(json.dumps(_claims(runtime, roles=["admin", "hr"])).encode())
    await _assert_rejected(gql, f"{head}.{tampered_claims}.{signature}")


async def test_a_token_signed_by_a_foreign_key_with_our_kid_is_rejected(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    foreign = ECKey.generate_key("P-256", private=True)
    await _assert_rejected(gql, _sign(runtime, _claims(runtime), key=foreign))


async def test_an_expired_token_is_rejected(gql: GraphQLClient, runtime: AppRuntime) -> None:
    user = await create_user(await create_tenant())
    await _assert_rejected(
        gql, user_token(runtime.tokens, user, ttl=60, now=int(time.time()) - 3600)
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "urn:someone-else"},
        {"aud": "urn:another-api"},
        {"iss": None},
        {"aud": None},
        {"exp": None},
        {"tid": None},
        {"sub": None},
        {"jti": None},
        {"iat": int(time.time()) + 3600},
        {"tid": "not-a-uuid"},
        {"roles": ["emperor"]},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
async def test_wrong_or_missing_claims_are_rejected(
    gql: GraphQLClient, runtime: AppRuntime, overrides: dict[str, Any]
) -> None:
    await _assert_rejected(gql, _sign(runtime, _claims(runtime, **overrides)))


async def test_an_unknown_kid_is_rejected(gql: GraphQLClient, runtime: AppRuntime) -> None:
    await _assert_rejected(gql, _sign(runtime, _claims(runtime), kid="no-such-key"))


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt", "Token abc"]
)
async def test_malformed_authorization_headers_are_rejected(http: Any, header: str) -> None:
    response = await http.post(
        "/graphql", json={"query": VIEWER}, headers={"authorization": header}
    )
    assert response.status_code == 401


async def test_removed_and_deactivated_users_are_rejected(
    gql: GraphQLClient, runtime: AppRuntime
) -> None:
    tenant = await create_tenant()
    await create_user(tenant, roles=("admin",))  # keeps an administrator around
    deactivated = await create_user(tenant)
    removed = await create_user(tenant)
    tokens = {user.id: user_token(runtime.tokens, user) for user in (deactivated, removed)}
    admin = await create_user(tenant, roles=("admin",))
    admin_token = user_token(runtime.tokens, admin)

    update = "mutation($id: ID!) { updateUser(input: {id: $id, isActive: false}) { __typename } }"
    delete = "mutation($id: ID!) { deleteUser(id: $id) { __typename } }"

    assert (await gql(update, {"id": global_id("User", deactivated.id)}, token=admin_token)).ok()
    assert (await gql(delete, {"id": global_id("User", removed.id)}, token=admin_token)).ok()

    await _assert_rejected(gql, tokens[deactivated.id])
    await _assert_rejected(gql, tokens[removed.id])


def test_the_issuer_refuses_tokens_from_another_issuer(runtime: AppRuntime) -> None:
    other = TokenIssuer(runtime.keys, issuer="urn:other", audience=runtime.settings.audience)
    token = _sign(runtime, _claims(runtime))
    with pytest.raises(InvalidTokenError):
        other.verify(token)
