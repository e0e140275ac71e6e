"""Resolving list items without a task per item.

graphql-core runs every awaitable a resolver returns as an asyncio task, and gathers them
per object and per list: a page of 50 people with four async fields each costs some 250
tasks, more than the page's SQL. A list resolver that knows which fields its items need
loads them for the whole page first (``prime``); the items' resolvers then answer at once
(``now_or_later``) and fall back to the batching loader, awaited, only when nothing primed
it (a single node, a mutation's payload).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import TypeVar, cast

from strawberry.dataloader import DataLoader
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from api.graphql.context import Info

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
R = TypeVar("R")


def now_or_later(loader: DataLoader[K, V], key: K, convert: Callable[[V], R]) -> R:
    """``convert`` of ``loader``'s value for ``key``: computed now when the value is loaded,
    otherwise an awaitable of it, which graphql-core awaits like any async resolver's."""
    loaded = loader.cache_map.get(key)
    ready = loaded is not None and loaded.done() and not loaded.cancelled()
    if ready and loaded is not None and loaded.exception() is None:
        return convert(loaded.result())

    async def later() -> R:
        return convert(await loader.load(key))

    # Typed as the value: the resolver's declared type is what the schema shows.
    return cast("R", later())


def later(value: Awaitable[R]) -> R:
    """An awaitable handed back from a synchronous resolver (see ``now_or_later``)."""
    return cast("R", value)


def prime(loader: DataLoader[K, V], values: Mapping[K, V]) -> None:
    """Put a whole page's values in ``loader``, so its items resolve at once."""
    loader.prime_many(values)


def selected_below(info: Info, *path: str) -> frozenset[str]:
    """Names of the fields selected at ``path`` under the current field (fragments flattened),
    e.g. ``selected_below(info, "edges", "node")`` for the items of a connection."""
    # ``info.selected_fields`` holds the current field itself; its selections are level one.
    level: list[Selection] = [child for here in info.selected_fields for child in here.selections]
    for name in path:
        level = [child for item in _fields(level) if item.name == name for child in item.selections]
    names = {item.name for item in _fields(level)}
    return frozenset(names)


def _fields(selections: list[Selection]) -> list[SelectedField]:
    found: list[SelectedField] = []
    for item in selections:
        if isinstance(item, SelectedField):
            found.append(item)
        elif isinstance(item, (FragmentSpread, InlineFragment)):
            found.extend(_fields(list(item.selections)))
    return found
