"""Every query of the feedback area: writing feedback, named pages and summary aggregates.

The summary query returns aggregates only (counts and means per group), never feedback rows,
so anonymous ratings leave the database already mixed with others; the service decides which
of those aggregates may be shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from tortoise.exceptions import IntegrityError

from domain.feedback.models import Feedback, FeedbackSource
from tenants.pagination import Page, paginate
from tenants.scope import TenantID, require_tenant


class DuplicateKeyError(Exception):
    """The external key is taken (the only unique key feedback has)."""


async def insert_feedback(tenant: TenantID, **values: Any) -> Feedback:
    require_tenant(tenant)
    try:
        return await Feedback.create(tenant_id=tenant, **values)
    except IntegrityError as exc:
        raise DuplicateKeyError("externalKey") from exc


async def get_feedback(tenant: TenantID, feedback_id: UUID) -> Feedback | None:
    require_tenant(tenant)
    return await Feedback.get_or_none(id=feedback_id)


async def get_feedback_by_external_key(tenant: TenantID, keys: Sequence[str]) -> list[Feedback]:
    require_tenant(tenant)
    return await Feedback.filter(external_key__in=list(keys))


async def save_feedback(tenant: TenantID, feedback: Feedback, fields: Sequence[str]) -> None:
    require_tenant(tenant)
    try:
        await feedback.save(update_fields=list(fields))
    except IntegrityError as exc:
        raise DuplicateKeyError("externalKey") from exc


async def list_named(
    tenant: TenantID, *, subject_id: UUID, first: int, after: str | None
) -> Page[Feedback]:
    """Named, current feedback about one person, newest first (the subject index's order)."""
    require_tenant(tenant)
    query = Feedback.filter(subject_id=subject_id, anonymous=False, archived_at=None)
    return await paginate(query, order_by=("-given_at", "-id"), first=first, after=after)


@dataclass(frozen=True)
class AggregateRow:
    """One group of current feedback about one person.

    ``source`` None: every source together. ``criterion`` None: the group's response count
    (``responses``) with no mean; otherwise ``responses`` is how many rated that criterion.
    """

    subject_id: UUID
    anonymous: bool
    source: FeedbackSource | None
    criterion: str | None
    responses: int
    mean: float | None


# Four grouping sets in one pass: per source and across sources, each with one row per
# criterion (count and mean of its ratings) and one row for the group's response count. The
# LEFT JOIN keeps a response with no ratings counted; its NULL criterion row is dropped.
_AGGREGATES_SQL = """
    SELECT f.subject_id,
           f.anonymous,
           f.source,
           r.key AS criterion,
           GROUPING(f.source) = 1 AS all_sources,
           GROUPING(r.key) = 1 AS all_criteria,
           count(DISTINCT f.id) AS responses,
           avg(r.value::numeric)::float8 AS mean
    FROM feedback f
    LEFT JOIN LATERAL jsonb_each_text(f.ratings) AS r(key, value) ON true
    WHERE f.tenant_id = $1 AND f.subject_id = ANY($2::uuid[]) AND f.archived_at IS NULL
    GROUP BY GROUPING SETS (
        (f.subject_id, f.anonymous, f.source, r.key),
        (f.subject_id, f.anonymous, f.source),
        (f.subject_id, f.anonymous, r.key),
        (f.subject_id, f.anonymous)
    )
"""


async def aggregates(tenant: TenantID, subject_ids: Sequence[UUID]) -> list[AggregateRow]:
    """Counts and per-criterion means of current feedback about ``subject_ids``: one query."""
    tx = require_tenant(tenant)
    if not subject_ids:
        return []
    rows = await tx.fetch(_AGGREGATES_SQL, tenant, list(set(subject_ids)))
    found: list[AggregateRow] = []
    for row in rows:
        if not row["all_criteria"] and row["criterion"] is None:
            continue  # responses without ratings: counted in the group row only
        found.append(
            AggregateRow(
                subject_id=row["subject_id"],
                anonymous=row["anonymous"],
                source=None if row["all_sources"] else FeedbackSource(row["source"]),
                criterion=None if row["all_criteria"] else row["criterion"],
                responses=row["responses"],
                mean=None if row["all_criteria"] else row["mean"],
            )
        )
    return found
