"""Recording changes to records, and who made them.

The actor of an operation is ambient: the GraphQL edge, a job or a command sets it once with
``acting_as`` and every service that changes a record calls ``audit.record`` with the
record's fields before and after. Only fields whose value changed are kept; sensitive fields
are kept as "changed" without their values.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from domain.audit import repository as repo
from domain.audit.models import AuditEntry
from tenants.pagination import Page
from tenants.scope import TenantID

# Shown as changed, never with their values: the audit log is read more widely than they are.
SENSITIVE_FIELDS = frozenset({"national_id", "password_hash", "secret_hash"})
REDACTED = "[redacted]"


@dataclass(frozen=True)
class AuditActor:
    kind: str  # user, client or system
    id: UUID | None = None
    label: str | None = None
    request_id: str | None = None


SYSTEM = AuditActor(kind="system", label="renshi")
_actor: ContextVar[AuditActor] = ContextVar("renshi_audit_actor", default=SYSTEM)


@contextmanager
def acting_as(actor: AuditActor) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> AuditActor:
    return _actor.get()


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a field value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return REDACTED
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{field: {"before": ..., "after": ...}}`` for every field whose value differs."""
    old, new = before or {}, after or {}
    changes: dict[str, Any] = {}
    for name in sorted(set(old) | set(new)):
        a, b = _plain(old.get(name)), _plain(new.get(name))
        if a == b:
            continue
        if name in SENSITIVE_FIELDS:
            changes[name] = {"changed": True}
        else:
            changes[name] = {"before": a, "after": b}
    return changes


def snapshot(row: Any, fields: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}


class AuditService:
    async def record(
        self,
        tenant: TenantID,
        *,
        entity_type: str,
        entity_id: UUID,
        action: str,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> AuditEntry | None:
        """Append an entry; nothing when an update changed nothing."""
        changes = diff(before, after)
        if action == "update" and not changes:
            return None
        actor = current_actor()
        return await repo.insert_entry(
            tenant,
            actor=actor,
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            changes=changes,
        )

    async def page(
        self,
        tenant: TenantID,
        *,
        first: int,
        after: str | None,
        entity_type: str | None = None,
        entity_id: UUID | None = None,
    ) -> Page[AuditEntry]:
        return await repo.list_entries(
            tenant, first=first, after=after, entity_type=entity_type, entity_id=entity_id
        )


audit = AuditService()
