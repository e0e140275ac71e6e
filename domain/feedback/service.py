"""Feedback on people: giving it, archiving it, named pages and per-person summaries.

Who may give feedback (the sources) and on what (the criteria) come from the tenant's template
pack. Ratings are whole numbers from 1 to 5 per criterion.

Anonymity rules:

- Anonymous feedback stores no author: no user id, no label, whatever the caller passed. Its
  audit entry names no actor either (only the actor's kind) and keeps neither the ratings nor
  the comment, because the audit log is read more widely and would show it individually.
- Anonymous feedback is never shown individually: ``named_page`` lists named feedback only,
  and summaries show anonymous ratings only as aggregates of ``MIN_ANONYMOUS_RESPONSES`` or
  more, per source, per criterion and across sources. Below that the aggregate is withheld
  and says so, so nobody can read a lone anonymous rating.
- Named and anonymous aggregates stay separate: a mixed mean minus the named ratings (which
  managers may read one by one) would give the anonymous ones back. For the same reason a
  figure across sources is withheld for a criterion when it would differ from the shown
  per-source figures by only one or two ratings.
- Self-assessments cannot be anonymous: their author is the subject.

A summary reflects the feedback at the time it is read; comparing summaries before and after
one new (or archived) response is a limit every live aggregate shares.

Imports and ERP syncs upsert feedback by its external key (the key in the system it came
from). Once given, feedback keeps its anonymity: turning named feedback anonymous would leave
its author in the earlier audit entries, and the reverse would name the author of ratings
given in confidence.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.audit.service import AuditActor, acting_as, audit, current_actor, snapshot
from domain.changes import (
    KEEP,
    Keep,
    Problems,
    UpsertResult,
    check_batch_size,
    failed,
    upsert_one,
)
from domain.feedback import repository as repo
from domain.feedback.models import Feedback, FeedbackSource
from domain.org.service import external_key as clean_external_key
from domain.people.service import employee_not_found, employee_service
from domain.templates.registry import PackFile
from domain.templates.service import pack_of
from tenants.errors import ErrorCode, ServiceError, combined, invalid, not_found
from tenants.pagination import Page
from tenants.scope import TenantID
from tenants.service import clean_name

ENTITY = "feedback"
MIN_ANONYMOUS_RESPONSES = 3
MIN_RATING, MAX_RATING = 1, 5
MAX_COMMENT_LENGTH = 4000
MAX_LABEL_LENGTH = 200
# Feedback typed on a device with a slightly fast clock is still "now".
CLOCK_SKEW = timedelta(minutes=5)

NAMED_AUDITED = (
    "subject_id",
    "source",
    "anonymous",
    "author_user_id",
    "author_label",
    "ratings",
    "comment",
    "given_at",
    "external_key",
    "archived_at",
)
# Not the external key either: a survey tool's response id may lead back to the respondent.
ANONYMOUS_AUDITED = ("subject_id", "source", "anonymous", "given_at", "archived_at")


def feedback_not_found(field: str = "id") -> ServiceError:
    return not_found("feedback", "反馈", field=field)


@dataclass(frozen=True)
class Aggregate:
    """``count`` responses; ``means`` per criterion, only for criteria that may be shown."""

    count: int
    means: dict[str, float]


@dataclass(frozen=True)
class SourceSummary:
    """One source's feedback about a person, named and anonymous kept apart.

    ``anonymous`` is None with ``anonymous_withheld`` True when there is anonymous feedback
    but too little of it to show.
    """

    source: FeedbackSource
    named: Aggregate | None
    anonymous: Aggregate | None
    anonymous_withheld: bool


@dataclass(frozen=True)
class FeedbackSummary:
    """Everything current about one person, per source, plus anonymous feedback overall."""

    subject_id: UUID
    sources: dict[FeedbackSource, SourceSummary] = field(default_factory=dict)
    anonymous: Aggregate | None = None
    anonymous_withheld: bool = False


@dataclass(frozen=True)
class FeedbackItem:
    """One feedback of an import or ERP sync, keyed by ``external_key`` (required).

    A field left at ``KEEP`` keeps the stored value on update and takes the default of
    ``give`` on create (no comment, named, given now).
    """

    external_key: str | None
    subject_id: UUID
    source: FeedbackSource | str
    ratings: Mapping[str, int]
    comment: str | Keep | None = KEEP
    anonymous: bool | Keep = KEEP
    author_user_id: UUID | Keep | None = KEEP
    author_label: str | Keep | None = KEEP
    given_at: datetime | Keep | None = KEEP  # None keeps the stored time (now on create)


class FeedbackService:
    # --- writing ---------------------------------------------------------------------------

    async def give(
        self,
        tenant: TenantID,
        *,
        subject_id: UUID,
        source: FeedbackSource | str,
        ratings: Mapping[str, int],
        comment: str | None,
        anonymous: bool,
        author_user_id: UUID | None,
        author_label: str | None = None,
        given_at: datetime | None = None,
        external_key: str | None = None,
    ) -> Feedback:
        """Record feedback about ``subject_id``; every problem of the input reported at once."""
        problems = Problems()
        key = problems.take(functools.partial(clean_external_key, external_key))
        await problems.take_async(self._subject(tenant, subject_id))
        pack = await pack_of(tenant)
        values: dict[str, Any] = {
            "subject_id": subject_id,
            "source": problems.take(lambda: _source(pack, source)),
            "ratings": problems.take(lambda: _ratings(pack, ratings)),
            "comment": problems.take(lambda: _comment(comment)),
            "given_at": problems.take(lambda: _given_at(given_at)),
            "anonymous": anonymous,
            # Dropped here, before anything is written, so no code path can keep them.
            "author_user_id": None if anonymous else author_user_id,
            "author_label": None if anonymous else problems.take(lambda: _label(author_label)),
            "external_key": key,
        }
        if anonymous and source == FeedbackSource.SELF:
            problems.found.append(_self_anonymous())
        problems.raise_any()
        try:
            feedback = await repo.insert_feedback(tenant, **values)
        except repo.DuplicateKeyError as exc:
            raise _duplicate_key(key) from exc
        await self._audit(tenant, feedback, "create", before=None)
        return feedback

    async def upsert(self, tenant: TenantID, items: Sequence[FeedbackItem]) -> list[UpsertResult]:
        """Create or update feedback by external key (required on every item).

        Idempotent: the same batch again changes nothing and reports every item unchanged.
        """
        check_batch_size(len(items))
        keys: list[str | None] = []
        for item in items:
            try:
                keys.append(clean_external_key(item.external_key))
            except ServiceError:
                keys.append(None)
        repeated = {key for key in keys if key is not None and keys.count(key) > 1}
        existing = {
            feedback.external_key: feedback
            for feedback in await repo.get_feedback_by_external_key(
                tenant, [key for key in keys if key is not None]
            )
        }
        results = []
        for key, item in zip(keys, items, strict=True):
            if key is None:
                error = invalid(
                    "externalKey", "is required (1-128 characters)", "必填（1-128 个字符）"
                )
                results.append(failed(item.external_key or "", error))
            elif key in repeated:
                error = invalid("externalKey", "repeated in this batch", "本批次中重复")
                results.append(failed(key, error))
            else:
                results.append(
                    await upsert_one(
                        key,
                        existing.get(key),
                        functools.partial(self._create_item, tenant, key, item),
                        functools.partial(self._update_with, tenant, item),
                    )
                )
        return results

    async def _create_item(self, tenant: TenantID, key: str, item: FeedbackItem) -> Feedback:
        return await self.give(
            tenant,
            subject_id=item.subject_id,
            source=item.source,
            ratings=item.ratings,
            comment=_or(item.comment, None),
            anonymous=_or(item.anonymous, False),
            author_user_id=_or(item.author_user_id, None),
            author_label=_or(item.author_label, None),
            given_at=_or(item.given_at, None),
            external_key=key,
        )

    async def _update_with(
        self, tenant: TenantID, item: FeedbackItem, current: Feedback
    ) -> tuple[Feedback, bool]:
        """``current`` set to ``item``; every problem reported at once."""
        problems = Problems()
        pack = await pack_of(tenant)
        anonymous = _or(item.anonymous, current.anonymous)
        if anonymous != current.anonymous:
            problems.found.append(
                ServiceError(
                    ErrorCode.CONFLICT,
                    "feedback cannot become named or anonymous once given",
                    "反馈提交后不能更改是否匿名",
                    field="anonymous",
                )
            )
        values: dict[str, Any] = {
            "source": problems.take(lambda: _source(pack, item.source)),
            "ratings": problems.take(lambda: _ratings(pack, item.ratings)),
        }
        if item.subject_id != current.subject_id:
            # Only a new subject is checked: feedback on someone who left since stays theirs.
            await problems.take_async(self._subject(tenant, item.subject_id))
            values["subject_id"] = item.subject_id
        comment, given_at, label = item.comment, item.given_at, item.author_label
        if not isinstance(comment, Keep):
            values["comment"] = problems.take(functools.partial(_comment, comment))
        if not isinstance(given_at, Keep) and given_at is not None:
            values["given_at"] = problems.take(functools.partial(_given_at, given_at))
        if current.anonymous:
            values["author_user_id"] = values["author_label"] = None
        else:
            if not isinstance(item.author_user_id, Keep):
                values["author_user_id"] = item.author_user_id
            if not isinstance(label, Keep):
                values["author_label"] = problems.take(functools.partial(_label, label))
        if current.anonymous and values["source"] == FeedbackSource.SELF:
            problems.found.append(_self_anonymous())
        problems.raise_any()
        before = _snapshot(current)
        changed = [name for name, value in values.items() if getattr(current, name) != value]
        for name in changed:
            setattr(current, name, values[name])
        if changed:
            await repo.save_feedback(tenant, current, changed)
            await self._audit(tenant, current, "update", before=before)
        return current, bool(changed)

    async def archive(self, tenant: TenantID, feedback_id: UUID) -> Feedback:
        """Take feedback out of pages and summaries; archiving twice changes nothing."""
        feedback = await repo.get_feedback(tenant, feedback_id)
        if feedback is None:
            raise feedback_not_found()
        if feedback.archived_at is None:
            before = _snapshot(feedback)
            feedback.archived_at = datetime.now(UTC)
            await repo.save_feedback(tenant, feedback, ["archived_at"])
            await self._audit(tenant, feedback, "archive", before=before)
        return feedback

    async def _subject(self, tenant: TenantID, subject_id: UUID) -> None:
        try:
            subject = await employee_service.get(tenant, subject_id)
        except ServiceError:
            raise employee_not_found("subjectId") from None
        if subject.archived_at is not None:
            raise employee_not_found("subjectId")

    async def _audit(
        self, tenant: TenantID, feedback: Feedback, action: str, before: dict[str, Any] | None
    ) -> None:
        # An update of anonymous feedback keeps its actor: that is whoever syncs it (an ERP,
        # an HR import), and the snapshot of anonymous feedback holds no ratings or comment.
        actor = current_actor()
        if feedback.anonymous and action == "create":
            # The creator of anonymous feedback is its author: keep only what kind of actor.
            actor = AuditActor(kind=actor.kind)
        with acting_as(actor):
            await audit.record(
                tenant,
                entity_type=ENTITY,
                entity_id=feedback.id,
                action=action,
                before=before,
                after=_snapshot(feedback),
            )

    # --- reading ---------------------------------------------------------------------------

    async def named_page(
        self, tenant: TenantID, *, subject_id: UUID, first: int, after: str | None
    ) -> Page[Feedback]:
        """Named feedback about one person, newest first. Anonymous feedback never appears."""
        return await repo.list_named(tenant, subject_id=subject_id, first=first, after=after)

    async def summary(
        self, tenant: TenantID, subject_ids: Sequence[UUID]
    ) -> dict[UUID, FeedbackSummary]:
        """Summaries of current feedback for every id asked for, in one query.

        A person with no feedback (or of another tenant) gets an empty summary.
        """
        groups: dict[UUID, _SubjectGroups] = {sid: _SubjectGroups() for sid in subject_ids}
        for row in await repo.aggregates(tenant, subject_ids):
            groups[row.subject_id].add(row)
        return {sid: found.summary(sid) for sid, found in groups.items()}


# --- checks ------------------------------------------------------------------------------------


def _or(value: Any, default: Any) -> Any:
    return default if isinstance(value, Keep) else value


def _self_anonymous() -> ServiceError:
    return invalid("anonymous", "a self-assessment cannot be anonymous", "自评不能匿名")


def _duplicate_key(key: str | None) -> ServiceError:
    return ServiceError(
        ErrorCode.DUPLICATE,
        f"external key {key!r} is taken",
        f"外部编号 {key!r} 已被使用",
        field="externalKey",
    )


def _source(pack: PackFile, source: FeedbackSource | str) -> FeedbackSource:
    known = list(pack.feedback_sources)
    try:
        checked = FeedbackSource(source)
    except ValueError:
        checked = None
    if checked is None or checked.value not in known:
        raise invalid(
            "source",
            f"unknown feedback source {source!s} for this organisation (known: {known})",
            f"本组织不支持的反馈来源 {source!s}",
        )
    return checked


def _ratings(pack: PackFile, ratings: Mapping[str, int]) -> dict[str, int]:
    if not ratings:
        raise invalid("ratings", "rate at least one criterion", "至少评价一项")
    known = [criterion.code for criterion in pack.feedback_criteria]
    problems: list[ServiceError] = []
    for code, value in ratings.items():
        where = f"ratings.{str(code)[:63]}"
        if code not in known:
            problems.append(invalid(where, f"unknown criterion (known: {known})", "未知的评价项"))
        # bool is an int in Python, and 4.0 is not a rating someone chose.
        elif (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not MIN_RATING <= value <= MAX_RATING
        ):
            problems.append(
                invalid(
                    where,
                    f"must be a whole number from {MIN_RATING} to {MAX_RATING}",
                    f"必须是 {MIN_RATING} 到 {MAX_RATING} 的整数",
                )
            )
    if problems:
        raise combined(problems)
    return dict(ratings)


def _comment(comment: str | None) -> str | None:
    if comment is None or not comment.strip():
        return None
    cleaned = comment.strip()
    if len(cleaned) > MAX_COMMENT_LENGTH:
        raise invalid(
            "comment",
            f"must be at most {MAX_COMMENT_LENGTH} characters",
            f"不能超过 {MAX_COMMENT_LENGTH} 个字符",
        )
    return cleaned


def _label(label: str | None) -> str | None:
    if label is None or not label.strip():
        return None
    return clean_name(label, "authorLabel", max_length=MAX_LABEL_LENGTH)


def _given_at(given_at: datetime | None) -> datetime:
    now = datetime.now(UTC)
    if given_at is None:
        return now
    if given_at.tzinfo is None:
        raise invalid("givenAt", "needs a time zone", "需要时区")
    if given_at > now + CLOCK_SKEW:
        raise invalid("givenAt", "cannot be in the future", "不能晚于当前时间")
    return given_at


def _snapshot(feedback: Feedback) -> dict[str, Any]:
    return snapshot(feedback, ANONYMOUS_AUDITED if feedback.anonymous else NAMED_AUDITED)


# --- summaries ---------------------------------------------------------------------------------


@dataclass
class _Group:
    """The aggregate rows of one (person, source or all, named or anonymous) group."""

    count: int = 0
    criteria: dict[str, tuple[int, float]] = field(default_factory=dict)  # code: (n, mean)


@dataclass
class _SubjectGroups:
    named: dict[FeedbackSource, _Group] = field(default_factory=lambda: defaultdict(_Group))
    anonymous: dict[FeedbackSource, _Group] = field(default_factory=lambda: defaultdict(_Group))
    anonymous_overall: _Group | None = None

    def add(self, row: repo.AggregateRow) -> None:
        if row.source is None:
            if not row.anonymous:
                return  # named feedback across sources is not part of the summary
            if self.anonymous_overall is None:
                self.anonymous_overall = _Group()
            group = self.anonymous_overall
        else:
            group = (self.anonymous if row.anonymous else self.named)[row.source]
        if row.criterion is None:
            group.count = row.responses
        elif row.mean is not None:
            group.criteria[row.criterion] = (row.responses, row.mean)

    def summary(self, subject_id: UUID) -> FeedbackSummary:
        shown = {
            source: _disclosed(group)
            for source, group in self.anonymous.items()
            if group.count >= MIN_ANONYMOUS_RESPONSES
        }
        sources: dict[FeedbackSource, SourceSummary] = {}
        for source in FeedbackSource:
            named, anonymous = self.named.get(source), self.anonymous.get(source)
            if named is None and anonymous is None:
                continue
            sources[source] = SourceSummary(
                source=source,
                named=_all_of(named) if named is not None else None,
                anonymous=shown.get(source),
                anonymous_withheld=anonymous is not None and source not in shown,
            )
        overall = self.anonymous_overall
        overall_shown = overall is not None and overall.count >= MIN_ANONYMOUS_RESPONSES
        return FeedbackSummary(
            subject_id=subject_id,
            sources=sources,
            anonymous=_across(overall, self.anonymous, shown) if overall_shown else None,
            anonymous_withheld=overall is not None and not overall_shown,
        )


def _all_of(group: _Group) -> Aggregate:
    return Aggregate(group.count, {code: mean for code, (_, mean) in group.criteria.items()})


def _disclosed(group: _Group) -> Aggregate:
    """An anonymous aggregate without the criteria fewer than the minimum rated."""
    return Aggregate(
        group.count,
        {code: mean for code, (n, mean) in group.criteria.items() if n >= MIN_ANONYMOUS_RESPONSES},
    )


def _across(
    overall: _Group | None,
    by_source: Mapping[FeedbackSource, _Group],
    shown: Mapping[FeedbackSource, Aggregate],
) -> Aggregate | None:
    """Anonymous feedback across sources, without the criteria that would give away a few.

    A criterion's overall mean, with the per-source means already shown, gives away the
    ratings in the withheld cells: shown only when those are none or at least the minimum.
    """
    if overall is None:
        return None
    means: dict[str, float] = {}
    for code, (n, mean) in overall.criteria.items():
        if n < MIN_ANONYMOUS_RESPONSES:
            continue
        in_shown_cells = sum(
            by_source[source].criteria[code][0]
            for source, aggregate in shown.items()
            if code in aggregate.means
        )
        if 0 < n - in_shown_cells < MIN_ANONYMOUS_RESPONSES:
            continue
        means[code] = mean
    return Aggregate(overall.count, means)


feedback_service = FeedbackService()
