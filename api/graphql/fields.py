"""Typed shorthands for declaring GraphQL fields.

``strawberry.field(...)`` called with options returns ``Any``, which would make every
resolver untyped to mypy. These wrappers keep resolvers typed, and the root-field ones add
the ``Authorized`` permission so a root field cannot be declared without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

from api.graphql.permissions import Authorized

F = TypeVar("F", bound=Callable[..., Any])


def root_field(*, description: str | None = None) -> Callable[[F], F]:
    """A ``Query`` field, guarded by the authorization matrix."""
    return cast(
        "Callable[[F], F]",
        strawberry.field(permission_classes=[Authorized], description=description),
    )


def root_mutation(*, description: str | None = None) -> Callable[[F], F]:
    """A ``Mutation`` field, guarded by the authorization matrix."""
    return cast(
        "Callable[[F], F]",
        strawberry.mutation(permission_classes=[Authorized], description=description),
    )


def field(*, description: str) -> Callable[[F], F]:
    """A resolver field of an object type, with a description."""
    return cast("Callable[[F], F]", strawberry.field(description=description))
