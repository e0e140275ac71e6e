"""The schema refuses to build with a root field nobody wrote down or nobody guards."""

from __future__ import annotations

import pytest
import strawberry

from api.graphql.context import Info
from api.graphql.fields import root_field
from api.graphql.relay import registered_node_types
from api.graphql.schema import check_authorization_coverage
from tenants.authorization import Matrix, parse_matrix

ROLES = ["admin", "hr", "manager", "employee", "sales"]


@strawberry.type
class Guarded:
    @root_field()
    def listed(self, info: Info) -> int:
        return 1


@strawberry.type
class Unguarded:
    @strawberry.field
    def listed(self) -> int:
        return 1


def _matrix(*operations: str) -> Matrix:
    # Node types register themselves on import; their rows are not what these tests are about.
    rows = [*operations, *(f"Node.{name}" for name in registered_node_types())]
    return parse_matrix({"roles": ROLES, "operations": {op: {"anonymous": True} for op in rows}})


def test_a_guarded_field_with_a_row_passes() -> None:
    schema = strawberry.Schema(query=Guarded)
    check_authorization_coverage(schema, _matrix("Guarded.listed"), roots=[Guarded])


def test_a_field_without_a_matrix_row_is_refused() -> None:
    schema = strawberry.Schema(query=Guarded)
    with pytest.raises(RuntimeError, match=r"Guarded\.listed has no row"):
        check_authorization_coverage(schema, _matrix(), roots=[Guarded])


def test_a_field_declared_without_the_guard_is_refused() -> None:
    schema = strawberry.Schema(query=Unguarded)
    with pytest.raises(RuntimeError, match=r"Unguarded\.listed is not declared with root_field"):
        check_authorization_coverage(schema, _matrix("Unguarded.listed"), roots=[Unguarded])
