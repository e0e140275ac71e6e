"""Key material: the master key and the JWT signing key set.

Both come from the environment when given (``RENSHI_MASTER_KEY``, ``RENSHI_JWT_KEYS``) and
otherwise from files under ``RENSHI_HOME``, generated on first use with 0600 permissions.
The newest signing key signs; every key in the set verifies, so rotating keeps tokens signed
by the previous key valid until they expire. Running servers re-read the key file when it
changes, so ``renshi keys rotate`` needs no restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey

from tenants.settings import Settings

ALGORITHM = "ES256"
_FORMAT = "renshi-jwt-keys/v1"
# Keys retired longer ago than the longest token lifetime plus this margin are dropped.
_RETENTION_MARGIN_S = 300
# How often a running server looks at the key file's modification time.
_RELOAD_CHECK_S = 5.0


class KeyConfigurationError(RuntimeError):
    """Key material is missing, malformed or not writable; the message says which and where."""


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_master_key(settings: Settings) -> bytes:
    """The 32-byte master key that wraps tenant keysets; generated into the home if absent."""
    if settings.master_key is not None:
        raw = settings.master_key.get_secret_value()
        source = "RENSHI_MASTER_KEY"
    else:
        path = settings.master_key_file
        if not path.exists():
            write_private_file(path, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        raw = path.read_text().strip()
        source = str(path)
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigurationError(f"{source}: not valid base64") from exc
    if len(key) != 32:
        raise KeyConfigurationError(f"{source}: expected 32 bytes, found {len(key)}")
    return key


@dataclass(frozen=True)
class SigningKey:
    key: ECKey
    created_at: int

    @property
    def kid(self) -> str:
        return str(self.key.kid)


def generate_signing_key(now: int | None = None) -> SigningKey:
    key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": ALGORITHM}, private=True)
    key.ensure_kid()
    return SigningKey(key=key, created_at=int(now if now is not None else time.time()))


def _parse_key_set(text: str, source: str) -> list[SigningKey]:
    try:
        document = json.loads(text)
        if document.get("format") != _FORMAT:
            raise ValueError(f"expected format {_FORMAT!r}")
        keys = []
        for entry in document["keys"]:
            key = ECKey.import_key(entry["jwk"])
            if not key.is_private:
                raise ValueError(f"key {key.kid} has no private part")
            key.ensure_kid()
            keys.append(SigningKey(key=key, created_at=int(entry["created_at"])))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyConfigurationError(f"{source}: not a Renshi JWT key set ({exc})") from exc
    if not keys:
        raise KeyConfigurationError(f"{source}: the key set is empty")
    return sorted(keys, key=lambda k: k.created_at)


def serialize_key_set(keys: list[SigningKey]) -> str:
    entries: list[dict[str, Any]] = [
        {"created_at": k.created_at, "jwk": k.key.as_dict(private=True)} for k in keys
    ]
    return json.dumps({"format": _FORMAT, "keys": entries}, indent=2) + "\n"


def retained_keys(keys: list[SigningKey], *, max_token_ttl: int, now: int) -> list[SigningKey]:
    """Drop keys that no unexpired token can have been signed with."""
    ordered = sorted(keys, key=lambda k: k.created_at)
    kept = []
    for index, key in enumerate(ordered):
        retired_at = ordered[index + 1].created_at if index + 1 < len(ordered) else None
        if retired_at is None or now - retired_at <= max_token_ttl + _RETENTION_MARGIN_S:
            kept.append(key)
    return kept


def rotate_key_file(settings: Settings, *, now: int | None = None) -> SigningKey:
    """Add a new signing key to the key file; old keys stay until their tokens expired."""
    if settings.jwt_keys is not None:
        raise KeyConfigurationError(
            "RENSHI_JWT_KEYS is set, so keys come from the environment: generate a key set "
            "with `renshi keys rotate` against a file (RENSHI_JWT_KEYS_FILE) and deploy it"
        )
    moment = int(now if now is not None else time.time())
    path = settings.resolved_jwt_keys_file
    existing = _parse_key_set(path.read_text(), str(path)) if path.exists() else []
    fresh = generate_signing_key(moment)
    ttl = max(settings.access_token_ttl, settings.client_token_ttl)
    keys = retained_keys([*existing, fresh], max_token_ttl=ttl, now=moment)
    write_private_file(path, serialize_key_set(keys).encode())
    return fresh


class KeyRing:
    """The current signing key and all verification keys, reloaded when the file changes."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._checked_at = 0.0
        self._keys: list[SigningKey] = []
        self._by_kid: dict[str, SigningKey] = {}
        self._load(force=True)

    def _load(self, *, force: bool = False) -> None:
        settings = self._settings
        if settings.jwt_keys is not None:
            if force:
                self._install(
                    _parse_key_set(settings.jwt_keys.get_secret_value(), "RENSHI_JWT_KEYS")
                )
            return
        path = settings.resolved_jwt_keys_file
        if not path.exists():
            rotate_key_file(settings)
        mtime = path.stat().st_mtime
        if force or mtime != self._mtime:
            self._install(_parse_key_set(path.read_text(), str(path)))
            self._mtime = mtime

    def _install(self, keys: list[SigningKey]) -> None:
        self._keys = keys
        self._by_kid = {k.kid: k for k in keys}

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < _RELOAD_CHECK_S:
            return
        with self._lock:
            self._checked_at = now
            self._load()

    @property
    def signing_key(self) -> SigningKey:
        self._maybe_reload()
        return self._keys[-1]

    def verification_key(self, kid: str) -> ECKey | None:
        found = self._by_kid.get(kid)
        if found is None:
            # A key rotated in by another process: look at the file now, not in 5 seconds.
            self._checked_at = 0.0
            self._maybe_reload()
            found = self._by_kid.get(kid)
        return found.key if found is not None else None

    def jwks(self) -> dict[str, Any]:
        """The public keys, as published at ``/.well-known/jwks.json``."""
        self._maybe_reload()
        return {"keys": [k.key.as_dict(private=False) for k in self._keys]}
