"""Key material: generated private, rotated without breaking live tokens, JWKS published."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from tenants.authorization import Principal
from tenants.identity.keys import (
    KeyConfigurationError,
    KeyRing,
    generate_signing_key,
    load_master_key,
    retained_keys,
    rotate_key_file,
    serialize_key_set,
)
from tenants.identity.tokens import InvalidTokenError, TokenIssuer
from tenants.scope import TenantID
from tenants.settings import Settings


def _settings(home: Path, **values: object) -> Settings:
    return Settings(home=home, **values)  # type: ignore[arg-type]


def _principal() -> Principal:
    return Principal(tenant_id=TenantID(uuid4()), subject_id=uuid4(), kind="user")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keys_are_generated_private_in_the_home(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    master = load_master_key(settings)
    KeyRing(settings)
    assert len(master) == 32
    assert load_master_key(settings) == master  # stable across restarts
    assert _mode(settings.master_key_file) == 0o600
    assert _mode(settings.resolved_jwt_keys_file) == 0o600


def test_keys_from_the_environment_are_used_and_checked(tmp_path: Path) -> None:
    key = base64.b64encode(b"k" * 32).decode()
    assert load_master_key(_settings(tmp_path, master_key=SecretStr(key))) == b"k" * 32
    with pytest.raises(KeyConfigurationError, match="expected 32 bytes"):
        load_master_key(
            _settings(tmp_path, master_key=SecretStr(base64.b64encode(b"short").decode()))
        )
    with pytest.raises(KeyConfigurationError, match="not valid base64"):
        load_master_key(_settings(tmp_path, master_key=SecretStr("%%%")))

    keys = SecretStr(serialize_key_set([generate_signing_key()]))
    ring = KeyRing(_settings(tmp_path / "env", jwt_keys=keys))
    assert len(ring.jwks()["keys"]) == 1
    assert not (tmp_path / "env" / "jwt-keys.json").exists()
    with pytest.raises(KeyConfigurationError, match="not a Renshi JWT key set"):
        KeyRing(_settings(tmp_path, jwt_keys=SecretStr('{"keys": []}')))
    with pytest.raises(KeyConfigurationError, match="RENSHI_JWT_KEYS is set"):
        rotate_key_file(_settings(tmp_path, jwt_keys=keys))


def test_rotation_signs_with_the_new_key_and_still_accepts_the_old(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ring = KeyRing(settings)
    issuer = TokenIssuer(ring, issuer=settings.issuer, audience=settings.audience)
    old_token = issuer.issue(_principal(), ttl=600).token
    old_kid = ring.signing_key.kid

    new = rotate_key_file(settings)
    # A running server notices the changed file (here: another ring, as another process would).
    fresh_ring = KeyRing(settings)
    fresh_issuer = TokenIssuer(fresh_ring, issuer=settings.issuer, audience=settings.audience)
    assert fresh_ring.signing_key.kid == new.kid != old_kid
    fresh_issuer.verify(old_token)
    new_token = fresh_issuer.issue(_principal(), ttl=600).token
    assert json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] == new.kid
    # and the ring that existed before rotating looks the unknown kid up in the file
    issuer.verify(new_token)
    assert {k["kid"] for k in fresh_ring.jwks()["keys"]} == {old_kid, new.kid}
    assert all("d" not in k for k in fresh_ring.jwks()["keys"])  # public parts only


def test_keys_no_token_can_use_are_dropped_on_rotation() -> None:
    first, second, third = (generate_signing_key(now) for now in (0, 1000, 5000))
    kept = retained_keys([first, second, third], max_token_ttl=900, now=5000)
    # `first` retired at 1000, 4000 s ago: tokens live at most 900 s (+300 s margin)
    assert [k.kid for k in kept] == [second.kid, third.kid]


def test_a_rotated_away_key_stops_verifying_once_pruned(tmp_path: Path) -> None:
    settings = _settings(tmp_path, access_token_ttl=60, client_token_ttl=60)
    ring = KeyRing(settings)
    issuer = TokenIssuer(ring, issuer=settings.issuer, audience=settings.audience)
    token = issuer.issue(_principal(), ttl=60).token
    created = ring.signing_key.created_at
    rotate_key_file(settings, now=created + 10)
    rotate_key_file(settings, now=created + 10_000)  # the first key retired long ago
    pruned = TokenIssuer(KeyRing(settings), issuer=settings.issuer, audience=settings.audience)
    with pytest.raises(InvalidTokenError):
        pruned.verify(token)


async def test_the_jwks_endpoint_publishes_the_public_keys(http: httpx.AsyncClient) -> None:
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    assert all(k["kty"] == "EC" and k["alg"] == "ES256" and "d" not in k for k in keys)
    assert response.headers["cache-control"] == "public, max-age=300"
