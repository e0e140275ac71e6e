"""Roles, principals and the authorization matrix (``authorization.toml``).

The matrix is data: one row per operation, naming the roles allowed and their reach, the
client scopes that grant it, and whether anonymous callers get in. ``decide`` is the only
place that reads it; the GraphQL layer asks it before every root field and node lookup.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from tenants.scope import TenantID

MATRIX_PATH = Path(__file__).with_name("authorization.toml")


class Role(StrEnum):
    ADMIN = "admin"
    HR = "hr"
    MANAGER = "manager"
    EMPLOYEE = "employee"
    SALES = "sales"


ROLE_LABELS: dict[Role, dict[str, str]] = {
    Role.ADMIN: {"en": "Administrator", "zh": "管理员"},
    Role.HR: {"en": "HR", "zh": "人力资源"},
    Role.MANAGER: {"en": "Manager", "zh": "经理"},
    Role.EMPLOYEE: {"en": "Employee", "zh": "员工"},
    Role.SALES: {"en": "Sales", "zh": "销售"},
}


class Reach(IntEnum):
    """How far an allowed principal sees; wider reaches compare greater."""

    SELF = 1
    SUBTREE = 2
    TENANT = 3


_REACH_NAMES = {"self": Reach.SELF, "subtree": Reach.SUBTREE, "tenant": Reach.TENANT}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user with roles, or an integrator's client with scopes."""

    tenant_id: TenantID
    subject_id: UUID
    kind: Literal["user", "client"]
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[str] = frozenset()
    token_id: str = ""
    client_id: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reach: Reach | None = None


DENIED = Decision(False)


@dataclass(frozen=True)
class Rule:
    operation: str
    roles: dict[Role, Reach] = field(default_factory=dict)
    scopes: frozenset[str] = frozenset()
    clients: bool = False
    anonymous: bool = False


class MatrixError(ValueError):
    """The matrix file is malformed; the message names the row and the problem."""


@dataclass(frozen=True)
class Matrix:
    rules: dict[str, Rule]
    scopes: dict[str, dict[str, str]]

    def decide(self, operation: str, principal: Principal | None) -> Decision:
        rule = self.rules.get(operation)
        if rule is None:
            return DENIED  # fail closed: an operation nobody wrote down is nobody's
        if principal is None:
            return Decision(True) if rule.anonymous else DENIED
        if principal.kind == "client":
            if rule.clients or principal.scopes & rule.scopes:
                return Decision(True, Reach.TENANT)
            return DENIED
        reaches = [rule.roles[role] for role in principal.roles if role in rule.roles]
        return Decision(True, max(reaches)) if reaches else DENIED


def parse_matrix(document: dict[str, Any], source: str = "matrix") -> Matrix:
    declared = document.get("roles")
    if sorted(declared or []) != sorted(r.value for r in Role):
        raise MatrixError(f"{source}: `roles` must list exactly {[r.value for r in Role]}")
    scopes = document.get("scopes", {})
    for name, labels in scopes.items():
        if set(labels) != {"en", "zh"}:
            raise MatrixError(f"{source}: scope {name!r} needs exactly `en` and `zh` labels")
    rules: dict[str, Rule] = {}
    for operation, row in document.get("operations", {}).items():
        unknown = set(row) - {"roles", "scopes", "clients", "anonymous"}
        if unknown:
            raise MatrixError(f"{source}: {operation}: unknown keys {sorted(unknown)}")
        roles: dict[Role, Reach] = {}
        for role_name, reach_name in row.get("roles", {}).items():
            try:
                roles[Role(role_name)] = _REACH_NAMES[reach_name]
            except (ValueError, KeyError):
                raise MatrixError(
                    f"{source}: {operation}: {role_name} = {reach_name!r} is not a role and reach"
                ) from None
        row_scopes = frozenset(row.get("scopes", []))
        if row_scopes - set(scopes):
            raise MatrixError(
                f"{source}: {operation}: undeclared scopes {sorted(row_scopes - set(scopes))}"
            )
        rules[operation] = Rule(
            operation=operation,
            roles=roles,
            scopes=row_scopes,
            clients=bool(row.get("clients", False)),
            anonymous=bool(row.get("anonymous", False)),
        )
    return Matrix(rules=rules, scopes=scopes)


@lru_cache(maxsize=1)
def load_matrix(path: Path = MATRIX_PATH) -> Matrix:
    with path.open("rb") as handle:
        return parse_matrix(tomllib.load(handle), str(path))
