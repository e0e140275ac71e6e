"""Keyset pagination: opaque cursors over a stable sort key, pages capped at 100.

A cursor encodes the sort-key values of the last row seen, so the next page is one indexed
range scan however deep the client pages, and rows inserted meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

M = TypeVar("M", bound=Model)


class PaginationError(ValueError):
    """A page request that cannot be served; the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def _encode_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return {"u": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    # After datetime: every datetime is also a date.
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "u":
            return UUID(raw)
        if kind == "t":
            return datetime.fromisoformat(raw)
        if kind == "d":
            return date.fromisoformat(raw)
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("wrong shape")
        return [_decode_value(v) for v in values]
    except (ValueError, binascii.Error, UnicodeDecodeError, TypeError) as exc:
        raise PaginationError("after", "not a cursor returned by this list") from exc


def check_page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise PaginationError("first", f"must be between 1 and {MAX_PAGE_SIZE}")
    return first


async def paginate(
    query: QuerySet[M], *, order_by: tuple[str, ...], first: int, after: str | None
) -> Page[M]:
    """One page of ``query`` in ``order_by`` order; the last key must be unique.

    A key written ``-name`` sorts descending, as in the ORM's ``order_by``.
    """
    check_page_size(first)
    names = [key.lstrip("-") for key in order_by]
    if after is not None:
        values = decode_cursor(after, len(order_by))
        # (a, b, id) > (va, vb, vid)  ==  a > va  OR  (a = va AND b > vb)  OR  ...
        clauses = []
        for depth, key in enumerate(order_by):
            equal = {names[i]: values[i] for i in range(depth)}
            beyond = "lt" if key.startswith("-") else "gt"
            clauses.append(Q(**equal, **{f"{names[depth]}__{beyond}": values[depth]}))
        query = query.filter(Q(*clauses, join_type="OR"))
    rows = await query.order_by(*order_by).limit(first + 1)
    items = rows[:first]
    cursors = [encode_cursor([getattr(item, name) for name in names]) for item in items]
    return Page(
        items=items,
        cursors=cursors,
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
    )
