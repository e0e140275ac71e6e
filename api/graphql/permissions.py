"""The authorization every root field goes through: a lookup in the authorization matrix.

Root fields are declared with ``root_field`` / ``root_mutation`` (``api.graphql.fields``),
which wrap the resolver in ``guarded``: the check runs first, in the resolver's own call,
rather than through strawberry's permission extension, whose machinery cost more per
request than the check itself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from api.graphql.context import Info
from api.graphql.errors import forbidden, unauthenticated

F = TypeVar("F", bound=Callable[..., Any])

GUARD_MARK = "__renshi_authorized__"


def authorize(info: Info) -> None:
    """Allow the field when the matrix row ``<Type>.<field>`` allows the caller.

    Refusals raise so the error carries the right code: UNAUTHENTICATED for anonymous
    callers, FORBIDDEN for everyone else.
    """
    operation = f"{info.path.typename}.{info.field_name}"
    context = info.context
    principal = context.actor.principal if context.actor is not None else None
    decision = context.runtime.matrix.decide(operation, principal)
    if not decision.allowed:
        raise unauthenticated() if principal is None else forbidden()
    if decision.reach is not None:
        context.reaches[operation] = decision.reach


def guarded(resolver: F) -> F:
    """``resolver``, authorized first. Resolvers of root fields take ``info`` by keyword."""
    if inspect.isasyncgenfunction(resolver):

        @functools.wraps(resolver)
        async def guarded_stream(*args: Any, **kwargs: Any) -> Any:
            authorize(kwargs["info"])
            async for event in resolver(*args, **kwargs):
                yield event

        wrapper: Any = guarded_stream
    elif inspect.iscoroutinefunction(resolver):

        @functools.wraps(resolver)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            authorize(kwargs["info"])
            return await resolver(*args, **kwargs)

        wrapper = guarded_async
    else:

        @functools.wraps(resolver)
        def guarded_sync(*args: Any, **kwargs: Any) -> Any:
            authorize(kwargs["info"])
            return resolver(*args, **kwargs)

        wrapper = guarded_sync
    setattr(wrapper, GUARD_MARK, True)
    return cast("F", wrapper)


def is_guarded(resolver: Any) -> bool:
    return bool(getattr(resolver, GUARD_MARK, False))
