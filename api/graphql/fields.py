"""Typed shorthands for declaring GraphQL fields.

``strawberry.field(...)`` called with options returns ``Any``, which would make every
resolver untyped to mypy. These wrappers keep resolvers typed, and the root-field ones wrap
the resolver in the authorization check, so a root field cannot be declared without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry

from api.graphql.permissions import guarded

F = TypeVar("F", bound=Callable[..., Any])


def root_field(*, description: str | None = None) -> Callable[[F], F]:
    """A ``Query`` field, guarded by the authorization matrix."""

    def declare(resolver: F) -> F:
        return cast("F", strawberry.field(description=description)(guarded(resolver)))

    return declare


def root_mutation(*, description: str | None = None) -> Callable[[F], F]:
    """A ``Mutation`` field, guarded by the authorization matrix."""

    def declare(resolver: F) -> F:
        return cast("F", strawberry.mutation(description=description)(guarded(resolver)))

    return declare


def root_subscription(*, description: str | None = None) -> Callable[[F], F]:
    """A ``Subscription`` field, guarded by the authorization matrix when it is subscribed."""

    def declare(resolver: F) -> F:
        return cast("F", strawberry.subscription(description=description)(guarded(resolver)))

    return declare


def field(*, description: str) -> Callable[[F], F]:
    """A resolver field of an object type, with a description."""
    return cast("Callable[[F], F]", strawberry.field(description=description))
