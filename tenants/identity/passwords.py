"""Password and client-secret hashing with argon2id (argon2-cffi defaults, RFC 9106)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

# Verified when the account does not exist, so a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("renshi-timing-equaliser")


class WeakPasswordError(ValueError):
    """The password does not meet the policy; the message says which rule."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPasswordError(f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    if password.strip() != password or not password.strip():
        raise WeakPasswordError("must not start or end with whitespace")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches; a missing hash still spends the time of a check."""
    try:
        return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(secret_hash: str) -> bool:
    return _hasher.check_needs_rehash(secret_hash)


async def hash_secret_async(secret: str) -> str:
    """Hash off the event loop: argon2id is deliberately slow (tens of milliseconds)."""
    return await asyncio.to_thread(hash_secret, secret)


async def verify_secret_async(secret_hash: str | None, secret: str) -> bool:
    return await asyncio.to_thread(verify_secret, secret_hash, secret)
