"""Cursors: the sort-key values of the last row survive the round trip, bad cursors are refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from tenants.pagination import PaginationError, check_page_size, decode_cursor, encode_cursor


def test_cursor_values_keep_their_types() -> None:
    values = [uuid4(), datetime(2026, 1, 2, 3, 4, tzinfo=UTC), date(2025, 12, 31), "Ada", 7, None]
    decoded = decode_cursor(encode_cursor(values), len(values))
    assert decoded == values
    assert [type(v) for v in decoded] == [type(v) for v in values]


@pytest.mark.parametrize("cursor", ["not-base64!", encode_cursor([1]), "W10"])
def test_a_foreign_or_misshapen_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(PaginationError) as caught:
        decode_cursor(cursor, 2)
    assert caught.value.field == "after"


@pytest.mark.parametrize("first", [0, -1, 101])
def test_page_size_is_bounded(first: int) -> None:
    with pytest.raises(PaginationError, match="between 1 and 100"):
        check_page_size(first)
