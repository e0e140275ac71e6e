"""The kinds an import can carry: each one's spec and writer, by code."""

from __future__ import annotations

from domain.imports.facts import facts_writer
from domain.imports.fields import KindSpec
from domain.imports.records import RECORD_KINDS
from domain.imports.specs_work import FACTS, WORK_ITEMS
from domain.imports.work_items import work_items_writer
from domain.imports.writers import WriterFactory

KINDS: dict[str, tuple[KindSpec, WriterFactory]] = {
    **RECORD_KINDS,
    FACTS.code: (FACTS, facts_writer),
    WORK_ITEMS.code: (WORK_ITEMS, work_items_writer),
}


def kind_spec(code: str) -> KindSpec:
    """The spec of kind ``code``; ``KeyError`` when there is none."""
    return KINDS[code][0]


def kind_writer(code: str) -> WriterFactory:
    return KINDS[code][1]


def known_kinds() -> list[str]:
    return list(KINDS)
