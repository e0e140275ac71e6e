"""Relay plumbing: ``node(id:)`` over a registry of node types, and keyset connections.

An id of another tenant, of a type the caller may not read in that reach, or of nothing at
all resolves to the same ``null``: the answer never tells which.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from strawberry import relay
from tortoise.models import Model

from api.graphql.context import Info, RequestContext
from api.graphql.errors import bad_input, forbidden, unauthenticated
from tenants.authorization import Reach
from tenants.errors import not_found
from tenants.pagination import DEFAULT_PAGE_SIZE, Page, PaginationError

N = TypeVar("N", bound=relay.Node)
M = TypeVar("M", bound=Model)

NodeLoader = Callable[[RequestContext, UUID, Reach], Awaitable[relay.Node | None]]

_node_loaders: dict[str, NodeLoader] = {}


def node_type(type_name: str) -> Callable[[NodeLoader], NodeLoader]:
    """Register how ``node(id:)`` loads objects of ``type_name`` (a GraphQL type name)."""

    def register(loader: NodeLoader) -> NodeLoader:
        _node_loaders[type_name] = loader
        return loader

    return register


def registered_node_types() -> list[str]:
    return sorted(_node_loaders)


def parse_node_id(global_id: relay.GlobalID, type_name: str) -> UUID | None:
    """The UUID inside ``global_id`` if it names a ``type_name``; None otherwise."""
    if global_id.type_name != type_name:
        return None
    try:
        return UUID(global_id.node_id)
    except ValueError:
        return None


def require_node_id(
    global_id: relay.GlobalID, type_name: str, what: str, what_zh: str, *, field: str = "id"
) -> UUID:
    """The UUID inside ``global_id``; a NOT_FOUND service error when it names anything else."""
    node_id = parse_node_id(global_id, type_name)
    if node_id is None:
        raise not_found(what, what_zh, field=field)
    return node_id


async def resolve_node(info: Info, global_id: relay.GlobalID) -> relay.Node | None:
    context = info.context
    loader = _node_loaders.get(global_id.type_name)
    if loader is None:
        return None
    principal = context.actor.principal if context.actor is not None else None
    decision = context.runtime.matrix.decide(f"Node.{global_id.type_name}", principal)
    if not decision.allowed or decision.reach is None:
        raise unauthenticated() if principal is None else forbidden()
    node_id = parse_node_id(global_id, global_id.type_name)
    if node_id is None:
        return None
    return await loader(context, node_id, decision.reach)


def to_connection(page: Page[M], convert: Callable[[M], N]) -> relay.Connection[N]:
    edges = [
        relay.Edge(cursor=cursor, node=convert(item))
        for item, cursor in zip(page.items, page.cursors, strict=True)
    ]
    return relay.Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
    )


async def paginated(fetch: Callable[[], Awaitable[Page[M]]]) -> Page[M]:
    """Run a page query, turning bad ``first``/``after`` into a BAD_USER_INPUT error."""
    try:
        return await fetch()
    except PaginationError as exc:
        raise bad_input(exc.field, str(exc)) from exc


PAGE_SIZE = DEFAULT_PAGE_SIZE
