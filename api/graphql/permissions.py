"""The one permission every root field carries: a lookup in the authorization matrix."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from api.graphql.context import Info
from api.graphql.errors import forbidden, unauthenticated


class Authorized(BasePermission):
    """Allows the field when the matrix row ``<Type>.<field>`` allows the caller.

    Refusals raise (rather than return False) so the error carries the right code:
    UNAUTHENTICATED for anonymous callers, FORBIDDEN for everyone else.
    """

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        operation = f"{info.path.typename}.{info.field_name}"
        context = info.context
        principal = context.actor.principal if context.actor is not None else None
        decision = context.runtime.matrix.decide(operation, principal)
        if not decision.allowed:
            raise unauthenticated() if principal is None else forbidden()
        if decision.reach is not None:
            context.reaches[operation] = decision.reach
        return True
