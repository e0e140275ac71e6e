"""Facts from a work item's lifecycle: what each kind's derivations say the item yields now.

Derivation is a pure function of the item, its assignees and (for defects) the item they
are linked to; ``domain.work.service`` records the result under external keys of source
``work_items`` (``<item id>:<fact kind>:<employee id>``), so deriving twice records nothing
new, a changed timestamp supersedes the fact it changes, and a fact no longer derived is
retracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from domain.indicators.service import FactInput
from domain.templates.work_items import FactDerivation, WorkItemKind
from domain.work.models import FoundIn, WorkItem

SOURCE = "work_items"
# Measures that count one item out of one (on-time items, escaped defects): rates.
PER_ITEM = frozenset({"on_time", "found_in_production"})
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Share:
    employee_id: UUID
    share: float


@dataclass(frozen=True)
class Context:
    """What derivation reads besides the item itself."""

    assignees: tuple[Share, ...]
    # For a defect: the item it is linked to, with that item's assignees.
    linked: WorkItem | None = None
    linked_assignees: tuple[Share, ...] = ()
    # For an item that can have defects: how many are linked to it.
    linked_defects: int = 0


def key_prefix(item_id: UUID) -> str:
    return f"{item_id}:"


def end_of_day(day: date) -> datetime:
    """A date promised to a customer is kept when delivered by the end of that day (UTC)."""
    return datetime.combine(day + timedelta(days=1), time.min, UTC)


def is_late(item: WorkItem) -> bool:
    if item.promised_on is None or item.delivered_at is None:
        return False
    return bool(item.delivered_at >= end_of_day(item.promised_on))


def derive(kind: WorkItemKind, item: WorkItem, context: Context) -> list[FactInput]:
    """Every fact the item yields now, one per derivation and person it is about."""
    facts: list[FactInput] = []
    for derivation in kind.facts:
        if derivation.causes and item.cause not in derivation.causes:
            continue
        measured = _measure(derivation, item, context)
        if measured is None:
            continue
        occurred_at, value, per_point = measured
        for person in _subjects(derivation, item, context):
            denominator = None
            if per_point is not None:
                denominator = per_point * person.share
            elif derivation.measure in PER_ITEM:
                denominator = 1.0
            facts.append(
                FactInput(
                    kind=derivation.fact_kind,
                    occurred_at=occurred_at,
                    value=value,
                    employee_id=person.employee_id,
                    denominator=denominator,
                    source=SOURCE,
                    external_key=f"{item.id}:{derivation.fact_kind}:{person.employee_id}",
                    attributes={"workItem": str(item.id), "share": person.share},
                )
            )
    return facts


def _subjects(derivation: FactDerivation, item: WorkItem, context: Context) -> tuple[Share, ...]:
    if derivation.about == "answerer":
        return (Share(item.answered_by, 1.0),) if item.answered_by is not None else ()
    if derivation.about == "linked_assignees":
        return context.linked_assignees
    return context.assignees


def _measure(
    derivation: FactDerivation, item: WorkItem, context: Context
) -> tuple[datetime, float, float | None] | None:
    """(occurred at, value, size for a per-point denominator) or None while not measurable."""
    measure = derivation.measure
    if measure == "one":
        return item.requested_at, 1.0, None
    if measure == "hours_to_answer":
        if item.answered_at is None:
            return None
        return item.answered_at, max(0.0, (item.answered_at - item.requested_at) / HOUR), None
    if item.status == "cancelled":
        return None
    if measure == "found_in_production":
        if item.found_in is None or context.linked is None:
            return None
        return item.requested_at, 1.0 if item.found_in == FoundIn.PRODUCTION else 0.0, None
    if item.delivered_at is None:
        return None
    delivered = item.delivered_at
    if measure == "hours_to_deliver":
        return delivered, max(0.0, (delivered - item.requested_at) / HOUR), None
    if measure == "cycle_days":
        if item.started_at is None:
            return None
        return delivered, max(0.0, (delivered - item.started_at) / DAY), item.size or 1.0
    if measure == "linked_defects":
        return delivered, float(context.linked_defects), None
    # on_time: a late item counts on its promised day, one delivered early when it was
    # delivered (its promised day may still be ahead, and facts are never in the future).
    # R&D answers only for delays it caused: a late item with another cause yields nothing
    # (an over-promised one has `sales_overpromise` by default).
    if item.promised_on is None:
        return None
    late = is_late(item)
    if late and item.delay_cause is not None and item.delay_cause != "rd":
        return None
    due = end_of_day(item.promised_on) - timedelta(seconds=1)
    return min(due, delivered), 0.0 if late else 1.0, None
