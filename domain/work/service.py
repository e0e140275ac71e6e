"""Work items from request to delivery: creation, validated transitions, causes, corrections,
bulk upserts from ticket systems, and the facts each change derives.

Statuses move only along ``TRANSITIONS``; anything else is a ``CONFLICT`` that names the
status and what may follow it. Every change re-derives the item's facts (and, for a defect,
those of the item it is linked to) through ``domain.work.derivation``: recorded under
stable external keys, so deriving twice changes nothing and a corrected timestamp supersedes
exactly the facts it moves. A promised date is checked against the earliest date matching
could show at that moment; a promise earlier than that is over-promised, and if the item is
then late its delay cause is `sales_overpromise` unless someone says otherwise, with a
comment, in the audit log.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.audit.service import audit
from domain.indicators import repository as facts_repo
from domain.indicators.service import fact_service
from domain.org import repository as org_repo
from domain.people import repository as people_repo
from domain.skills import repository as skills_repo
from domain.templates.registry import PackFile
from domain.templates.service import pack_of
from domain.templates.work_items import CAUSES, WorkItemKind
from domain.work import derivation, matching
from domain.work import repository as repo
from domain.work.derivation import Context, Share
from domain.work.models import FoundIn, Verdict, WorkItem, WorkStatus
from tenants.errors import ErrorCode, ServiceError, combined, invalid, not_found
from tenants.scope import TenantID

MAX_ITEMS_PER_CALL = 500
CLOCK_SKEW = timedelta(minutes=5)
S = WorkStatus

# What may follow each status. `promise` keeps an item planned (or in progress) with a new
# date; a kind without a feasibility answer starts from `new`.
TRANSITIONS: dict[str, dict[WorkStatus, tuple[WorkStatus, ...]]] = {
    "answer": {S.NEW: (S.ANSWERED,)},
    "promise": {S.NEW: (S.PLANNED,), S.ANSWERED: (S.PLANNED,), S.PLANNED: (S.PLANNED,),
                S.IN_PROGRESS: (S.IN_PROGRESS,)},
    "start": {S.NEW: (S.IN_PROGRESS,), S.ANSWERED: (S.IN_PROGRESS,), S.PLANNED: (S.IN_PROGRESS,)},
    "deliver": {S.IN_PROGRESS: (S.DELIVERED,)},
    "close": {S.DELIVERED: (S.CLOSED,)},
    "cancel": {S.NEW: (S.CANCELLED,), S.ANSWERED: (S.CANCELLED,), S.PLANNED: (S.CANCELLED,),
               S.IN_PROGRESS: (S.CANCELLED,)},
}  # fmt: skip


def item_not_found() -> ServiceError:
    return not_found("work item", "工作项")


def illegal(action: str, status: WorkStatus) -> ServiceError:
    allowed = sorted(str(s) for s, nexts in TRANSITIONS[action].items())
    return ServiceError(
        ErrorCode.CONFLICT,
        f"cannot {action} an item that is {status.value}: only from {', '.join(allowed)}",
        f"状态为 {status.value} 的工作项不能执行 {action}：仅可从 {'、'.join(allowed)} 执行",
        field="status",
    )


@dataclass(frozen=True)
class Assignment:
    employee_id: UUID
    share: float


@dataclass(frozen=True)
class WorkItemInput:
    """An item as a client creates it, or as a ticket system or ERP sends its whole state
    (then its status follows from the timestamps given)."""

    kind: str
    title: str
    requested_at: datetime | None = None
    customer: str | None = None
    requester_id: UUID | None = None
    requester_name: str | None = None
    org_unit_id: UUID | None = None
    skills: tuple[matching.SkillNeed, ...] = ()
    size: float | None = None
    assignees: tuple[Assignment, ...] = ()
    found_in: FoundIn | None = None
    linked_item_id: UUID | None = None
    cause: str | None = None
    source: str = "api"
    external_key: str | None = None
    # The rest of the lifecycle, for synchronisation.
    answered_at: datetime | None = None
    answered_by: UUID | None = None
    verdict: Verdict | None = None
    estimate_days: float | None = None
    promised_on: date | None = None
    started_at: datetime | None = None
    delivered_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    delay_cause: str | None = None


@dataclass(frozen=True)
class TimesCorrection:
    requested_at: datetime | None = None
    answered_at: datetime | None = None
    started_at: datetime | None = None
    delivered_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True)
class UpsertResult:
    key: str
    outcome: str  # created, updated, unchanged, failed
    item: WorkItem | None = None
    error: ServiceError | None = None


@dataclass
class _Checked:
    kind: WorkItemKind
    values: dict[str, Any] = field(default_factory=dict)
    assignees: list[tuple[UUID, float]] = field(default_factory=list)


class WorkItemService:
    # --- creating ------------------------------------------------------------------------

    async def create(self, tenant: TenantID, data: WorkItemInput) -> WorkItem:
        """A new item (status from the timestamps given: `new` when none are)."""
        pack = await pack_of(tenant)
        checked = await self._check(tenant, pack, data, datetime.now(UTC))
        try:
            item = await repo.insert_item(tenant, **checked.values)
        except repo.DuplicateKeyError as exc:
            raise ServiceError(
                ErrorCode.DUPLICATE,
                "another work item of this source has this external key",
                "该来源已有使用此外部键的工作项",
                field="externalKey",
            ) from exc
        await repo.replace_assignees(tenant, item.id, checked.assignees)
        await self._after_promise(tenant, item, data.promised_on is not None)
        await audit.record(
            tenant,
            entity_type="work_item",
            entity_id=item.id,
            action="create",
            after=_audited(item),
        )
        await self._derive(tenant, pack, item)
        return item

    async def upsert_many(
        self, tenant: TenantID, items: Sequence[WorkItemInput]
    ) -> list[UpsertResult]:
        """Up to 500 items keyed by (source, external key): each valid one created or
        brought to the state given, each invalid one reported; sending the same twice
        changes nothing."""
        if len(items) > MAX_ITEMS_PER_CALL:
            raise invalid(
                "items",
                f"at most {MAX_ITEMS_PER_CALL} items a call",
                f"每次最多 {MAX_ITEMS_PER_CALL} 项",
            )
        pack = await pack_of(tenant)
        now = datetime.now(UTC)
        results: list[UpsertResult] = []
        keys: dict[str, list[str]] = {}
        for data in items:
            if data.external_key:
                keys.setdefault(data.source, []).append(data.external_key)
        existing: dict[tuple[str, str], WorkItem] = {}
        for source, found in keys.items():
            for key, row in (await repo.items_by_external_key(tenant, source, found)).items():
                existing[(source, key)] = row
        seen: set[tuple[str, str]] = set()
        for index, data in enumerate(items):
            label = data.external_key or f"#{index + 1}"
            if not data.external_key:
                results.append(
                    UpsertResult(
                        label,
                        "failed",
                        error=invalid(
                            "externalKey", "required for a bulk upsert", "批量写入须提供外部键"
                        ),
                    )
                )
                continue
            ident = (data.source, data.external_key)
            if ident in seen:
                results.append(
                    UpsertResult(
                        label,
                        "failed",
                        error=invalid("externalKey", "repeated in this call", "在本次调用中重复"),
                    )
                )
                continue
            seen.add(ident)
            try:
                checked = await self._check(tenant, pack, data, now)
            except ServiceError as exc:
                results.append(UpsertResult(label, "failed", error=exc))
                continue
            previous = existing.get(ident)
            if previous is not None and data.requested_at is None:
                # A ticket system that does not send when it was asked keeps the first time.
                checked.values["requested_at"] = previous.requested_at
                checked.values["promised_at"] = previous.promised_at
            if previous is None:
                item = await repo.insert_item(tenant, **checked.values)
                await repo.replace_assignees(tenant, item.id, checked.assignees)
                await self._after_promise(tenant, item, data.promised_on is not None)
                await audit.record(
                    tenant,
                    entity_type="work_item",
                    entity_id=item.id,
                    action="create",
                    after=_audited(item),
                )
                await self._derive(tenant, pack, item)
                results.append(UpsertResult(label, "created", item))
                continue
            before = _audited(previous)
            old_assignees = await repo.assignees_of(tenant, [previous.id])
            fixed = ("kind", "source", "external_key")
            changed = [
                name
                for name, value in checked.values.items()
                if name not in fixed and getattr(previous, name) != value
            ]
            same_people = sorted(
                (a.employee_id, a.share) for a in old_assignees[previous.id]
            ) == sorted(checked.assignees)
            if previous.kind != checked.values["kind"]:
                results.append(
                    UpsertResult(
                        label,
                        "failed",
                        error=invalid(
                            "kind", "an item's kind cannot change", "工作项的类型不能更改"
                        ),
                    )
                )
                continue
            if not changed and same_people:
                results.append(UpsertResult(label, "unchanged", previous))
                continue
            for name in changed:
                setattr(previous, name, checked.values[name])
            await repo.save_item(tenant, previous, changed)
            if not same_people:
                await repo.replace_assignees(tenant, previous.id, checked.assignees)
            if "promised_on" in changed:
                await self._after_promise(tenant, previous, previous.promised_on is not None)
            await audit.record(
                tenant,
                entity_type="work_item",
                entity_id=previous.id,
                action="update",
                before=before,
                after=_audited(previous),
            )
            await self._derive(tenant, pack, previous)
            results.append(UpsertResult(label, "updated", previous))
        return results

    # --- transitions -----------------------------------------------------------------------

    async def answer(
        self,
        tenant: TenantID,
        item_id: UUID,
        *,
        verdict: Verdict,
        by: UUID,
        estimate_days: float | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> WorkItem:
        """R&D's feasibility answer to a request."""
        pack, item, kind = await self._load(tenant, item_id)
        if not kind.feasibility:
            raise invalid("kind", f"a {kind.code} has no feasibility answer", "该类型无可行性答复")
        if estimate_days is not None and not (0 < estimate_days <= 3650):
            raise invalid("estimateDays", "between 0 and 3650 days", "须在 0 到 3650 天之间")
        await _require_people(tenant, [by], "answeredById")
        at = _at(at, item.requested_at, "answeredAt")
        before = self._move(item, "answer")
        item.answered_at, item.answered_by, item.verdict = at, by, verdict
        item.estimate_days, item.answer_note = estimate_days, _text(note)
        fields = ["status", "answered_at", "answered_by", "verdict", "estimate_days", "answer_note"]
        return await self._changed(tenant, pack, item, fields, "answer", before)

    async def promise(
        self, tenant: TenantID, item_id: UUID, promised_on: date, *, at: datetime | None = None
    ) -> WorkItem:
        """Promise a date to the requester; flags it when earlier than matching could show
        feasible at this moment."""
        pack, item, kind = await self._load(tenant, item_id)
        if not kind.promise:
            raise invalid("kind", f"a {kind.code} has no promised date", "该类型无承诺日期")
        if item.verdict == Verdict.NOT_FEASIBLE:
            raise ServiceError(
                ErrorCode.CONFLICT,
                "R&D answered that this is not feasible: answer again before promising",
                "研发答复不可行：请先重新评估再承诺",
                field="verdict",
            )
        at = _at(at, item.requested_at, "promisedAt")
        if promised_on < at.date():
            raise invalid("promisedOn", "a date in the past", "承诺日期早于今天")
        before = self._move(item, "promise")
        item.promised_on, item.promised_at = promised_on, at
        await self._after_promise(tenant, item, True, save=False)
        fields = ["status", "promised_on", "promised_at", "feasible_on", "overpromised"]
        return await self._changed(tenant, pack, item, fields, "promise", before)

    async def assign(
        self, tenant: TenantID, item_id: UUID, assignees: Sequence[Assignment]
    ) -> WorkItem:
        pack, item, _ = await self._load(tenant, item_id)
        if item.status not in (S.NEW, S.ANSWERED, S.PLANNED, S.IN_PROGRESS):
            raise ServiceError(
                ErrorCode.CONFLICT,
                f"a {item.status.value} item cannot be reassigned",
                f"状态为 {item.status.value} 的工作项不能重新分配",
                field="status",
            )
        shares = await _check_assignees(tenant, assignees)
        old = await repo.assignees_of(tenant, [item.id])
        await repo.replace_assignees(tenant, item.id, shares)
        await audit.record(
            tenant,
            entity_type="work_item",
            entity_id=item.id,
            action="assign",
            before={"assignees": _shares([(a.employee_id, a.share) for a in old[item.id]])},
            after={"assignees": _shares(shares)},
        )
        await self._derive(tenant, pack, item)
        return item

    async def start(
        self, tenant: TenantID, item_id: UUID, *, at: datetime | None = None
    ) -> WorkItem:
        pack, item, kind = await self._load(tenant, item_id)
        if kind.feasibility and item.status == S.NEW:
            raise ServiceError(
                ErrorCode.CONFLICT,
                "a request is answered before work starts: this one is new",
                "需求须先答复可行性再开始：当前状态为 new",
                field="status",
            )
        if not (await repo.assignees_of(tenant, [item.id]))[item.id]:
            raise invalid("assignees", "assign someone before starting", "开始前须分配人员")
        at = _at(at, item.answered_at or item.requested_at, "startedAt")
        before = self._move(item, "start")
        item.started_at = at
        return await self._changed(tenant, pack, item, ["status", "started_at"], "start", before)

    async def deliver(
        self, tenant: TenantID, item_id: UUID, *, at: datetime | None = None
    ) -> WorkItem:
        """Delivered; an over-promised item delivered late takes `sales_overpromise`."""
        pack, item, _ = await self._load(tenant, item_id)
        at = _at(at, item.started_at or item.requested_at, "deliveredAt")
        before = self._move(item, "deliver")
        item.delivered_at = at
        fields = ["status", "delivered_at"]
        if item.overpromised and derivation.is_late(item) and item.delay_cause is None:
            item.delay_cause = "sales_overpromise"
            fields.append("delay_cause")
        return await self._changed(tenant, pack, item, fields, "deliver", before)

    async def close(
        self,
        tenant: TenantID,
        item_id: UUID,
        *,
        delay_cause: str | None = None,
        comment: str | None = None,
        at: datetime | None = None,
    ) -> WorkItem:
        """Closed; a late item needs a delay cause (given here or earlier)."""
        pack, item, _ = await self._load(tenant, item_id)
        if delay_cause is not None:
            _check_cause(delay_cause, "delayCause")
        at = _at(at, item.delivered_at or item.requested_at, "closedAt")
        late = derivation.is_late(item)
        if not late and delay_cause is not None:
            raise invalid("delayCause", "the item was not late", "该工作项未延期")
        cause = delay_cause or item.delay_cause
        if late and cause is None:
            raise invalid(
                "delayCause",
                f"delivered after the promised {item.promised_on}: say why ({', '.join(CAUSES)})",
                f"晚于承诺日期 {item.promised_on} 交付：须说明原因（{'、'.join(CAUSES)}）",
            )
        # Overriding the default (or an earlier cause) is said with a comment.
        overriding = delay_cause is not None and item.delay_cause not in (None, delay_cause)
        if overriding and not _text(comment):
            raise invalid("comment", "say why the cause changes", "更改原因须附说明")
        before = self._move(item, "close")
        item.closed_at, item.delay_cause = at, cause
        if comment:
            item.cause_comment = _text(comment)
        fields = ["status", "closed_at", "delay_cause", "cause_comment"]
        return await self._changed(tenant, pack, item, fields, "close", before)

    async def cancel(
        self, tenant: TenantID, item_id: UUID, reason: str, *, at: datetime | None = None
    ) -> WorkItem:
        pack, item, _ = await self._load(tenant, item_id)
        if not _text(reason):
            raise invalid("reason", "say why it is cancelled", "须说明取消原因")
        at = _at(at, item.requested_at, "cancelledAt")
        before = self._move(item, "cancel")
        item.cancelled_at, item.cause_comment = at, _text(reason)
        fields = ["status", "cancelled_at", "cause_comment"]
        return await self._changed(tenant, pack, item, fields, "cancel", before)

    async def set_cause(
        self,
        tenant: TenantID,
        item_id: UUID,
        *,
        cause: str,
        comment: str,
        delay: bool,
    ) -> WorkItem:
        """Change a late item's delay cause (``delay``) or a complaint's cause, with a
        comment; audited, and the facts follow (R&D is scored only for its own delays)."""
        pack, item, kind = await self._load(tenant, item_id)
        _check_cause(cause, "cause")
        if not _text(comment):
            raise invalid("comment", "say why the cause changes", "更改原因须附说明")
        if delay and not derivation.is_late(item):
            raise invalid("cause", "the item was not delivered late", "该工作项未延期交付")
        if not delay and not kind.caused:
            raise invalid("cause", f"a {kind.code} carries no cause", "该类型不记录原因")
        before = _audited(item)
        if delay:
            item.delay_cause = cause
        else:
            item.cause = cause
        item.cause_comment = _text(comment)
        fields = ["delay_cause" if delay else "cause", "cause_comment"]
        return await self._changed(tenant, pack, item, fields, "set_cause", before, moved=False)

    async def link_defect(
        self, tenant: TenantID, defect_id: UUID, item_id: UUID | None, found_in: FoundIn
    ) -> WorkItem:
        """Link a defect to the item it was found in (or unlink it, ``item_id`` None); both
        items' facts follow."""
        pack, defect, kind = await self._load(tenant, defect_id)
        if not kind.defect:
            raise invalid("kind", f"a {kind.code} is not a defect", "该类型不是缺陷")
        previous = defect.linked_item_id
        if item_id is not None:
            await self._linkable(tenant, pack, item_id, defect.id)
        before = _audited(defect)
        defect.linked_item_id, defect.found_in = item_id, found_in
        await self._changed(
            tenant, pack, defect, ["linked_item_id", "found_in"], "link", before, moved=False
        )
        if previous is not None and previous != item_id:
            old = await repo.get_item(tenant, previous)
            if old is not None:
                await self._derive(tenant, pack, old)
        return defect

    async def correct_times(
        self, tenant: TenantID, item_id: UUID, changes: TimesCorrection
    ) -> WorkItem:
        """Correct timestamps already recorded; facts derived from them are superseded."""
        pack, item, _ = await self._load(tenant, item_id)
        names = ("requested_at", "answered_at", "started_at", "delivered_at", "closed_at")
        fields = []
        for name in names:
            value = getattr(changes, name)
            if value is None:
                continue
            if getattr(item, name) is None:
                raise invalid(_camel(name), "not recorded yet: use the transition", "尚未记录")
            setattr(item, name, _aware(value, _camel(name)))
            fields.append(name)
        if not fields:
            raise invalid("times", "nothing to correct", "没有需要更正的时间")
        _check_order(item)
        before = _audited(await repo.get_item(tenant, item.id) or item)
        return await self._changed(tenant, pack, item, fields, "correct", before, moved=False)

    async def rederive(self, tenant: TenantID, item_id: UUID) -> WorkItem:
        """Derive the item's facts again (after the pack's derivations changed, say);
        facts that come out the same are left as they are."""
        pack, item, _ = await self._load(tenant, item_id)
        await self._derive(tenant, pack, item)
        return item

    async def get(self, tenant: TenantID, item_id: UUID) -> WorkItem:
        item = await repo.get_item(tenant, item_id)
        if item is None:
            raise item_not_found()
        return item

    # --- internals -------------------------------------------------------------------------

    async def _load(
        self, tenant: TenantID, item_id: UUID
    ) -> tuple[PackFile, WorkItem, WorkItemKind]:
        item = await repo.get_item(tenant, item_id, for_update=True)
        if item is None:
            raise item_not_found()
        pack = await pack_of(tenant)
        kind = pack.work_item_kind(item.kind)
        if kind is None:
            raise invalid("kind", f"the pack has no kind {item.kind!r}", "模板中没有该类型")
        return pack, item, kind

    def _move(self, item: WorkItem, action: str) -> dict[str, Any]:
        nexts = TRANSITIONS[action].get(item.status)
        if nexts is None:
            raise illegal(action, item.status)
        before = _audited(item)
        item.status = nexts[0]
        return before

    async def _changed(
        self,
        tenant: TenantID,
        pack: PackFile,
        item: WorkItem,
        fields: list[str],
        action: str,
        before: dict[str, Any],
        *,
        moved: bool = True,
    ) -> WorkItem:
        await repo.save_item(tenant, item, fields)
        await audit.record(
            tenant,
            entity_type="work_item",
            entity_id=item.id,
            action=action,
            before=before,
            after=_audited(item),
        )
        await self._derive(tenant, pack, item)
        return item

    async def _after_promise(
        self, tenant: TenantID, item: WorkItem, promised: bool, *, save: bool = True
    ) -> None:
        """What matching could promise at this moment, and whether the promise beats it."""
        if not promised or item.promised_on is None or not item.skills:
            item.feasible_on, item.overpromised = None, False
        else:
            request = matching.MatchRequest(
                skills=tuple(
                    matching.SkillNeed(UUID(s["skillId"]), int(s["minLevel"])) for s in item.skills
                ),
                size=item.size or 1.0,
                deadline=item.promised_on,
                org_unit_id=item.org_unit_id,
                now=item.promised_at or datetime.now(UTC),
                exclude_item_id=item.id,
            )
            item.feasible_on = await matching.earliest_feasible_date(tenant, request)
            item.overpromised = item.feasible_on is not None and item.promised_on < item.feasible_on
        if save:
            await repo.save_item(tenant, item, ["feasible_on", "overpromised"])

    async def _derive(self, tenant: TenantID, pack: PackFile, item: WorkItem) -> None:
        """Record what the item derives now and retract what it no longer does; a defect's
        linked item follows."""
        await self._derive_one(tenant, pack, item)
        kind = pack.work_item_kind(item.kind)
        if kind is not None and kind.defect and item.linked_item_id is not None:
            linked = await repo.get_item(tenant, item.linked_item_id)
            if linked is not None:
                await self._derive_one(tenant, pack, linked)

    async def _derive_one(self, tenant: TenantID, pack: PackFile, item: WorkItem) -> None:
        kind = pack.work_item_kind(item.kind)
        if kind is None:
            return
        context = await self._context(tenant, pack, item, kind)
        wanted = derivation.derive(kind, item, context)
        if wanted:
            results = await fact_service.record_many(tenant, wanted)
            problems = [r.error for r in results if r.error is not None]
            if problems:
                raise combined(problems)
        current = await facts_repo.current_facts_by_key_prefix(
            tenant, derivation.SOURCE, derivation.key_prefix(item.id)
        )
        keys = {fact.external_key for fact in wanted}
        stale = [fact for fact in current if fact.external_key not in keys]
        if stale:
            await fact_service.retract(tenant, stale)

    async def _context(
        self, tenant: TenantID, pack: PackFile, item: WorkItem, kind: WorkItemKind
    ) -> Context:
        ids = [item.id] + ([item.linked_item_id] if item.linked_item_id else [])
        assignees = await repo.assignees_of(tenant, ids)
        linked = await repo.get_item(tenant, item.linked_item_id) if item.linked_item_id else None
        defect_kinds = [k.code for k in pack.work_item_kinds if k.defect]
        counts = (
            await repo.linked_defect_counts(tenant, [item.id], defect_kinds)
            if any(d.measure == "linked_defects" for d in kind.facts)
            else {}
        )
        return Context(
            assignees=tuple(Share(a.employee_id, a.share) for a in assignees[item.id]),
            linked=linked,
            linked_assignees=tuple(
                Share(a.employee_id, a.share) for a in assignees.get(linked.id, [])
            )
            if linked is not None
            else (),
            linked_defects=counts.get(item.id, 0),
        )

    async def _linkable(
        self, tenant: TenantID, pack: PackFile, item_id: UUID, defect_id: UUID
    ) -> WorkItem:
        target = await repo.get_item(tenant, item_id)
        if target is None:
            raise not_found("linked work item", "关联的工作项", field="linkedItemId")
        target_kind = pack.work_item_kind(target.kind)
        if target.id == defect_id or target_kind is None or target_kind.defect:
            raise invalid(
                "linkedItemId",
                "a defect links to the work it was found in",
                "缺陷须关联到发现它的工作项",
            )
        return target

    async def _check(
        self, tenant: TenantID, pack: PackFile, data: WorkItemInput, now: datetime
    ) -> _Checked:
        """Every problem of an input at once, or the row's values."""
        problems: list[ServiceError] = []
        kind = pack.work_item_kind(data.kind)
        if kind is None:
            codes = ", ".join(k.code for k in pack.work_item_kinds)
            raise invalid("kind", f"one of {codes}", f"须为以下之一：{codes}")
        checked = _Checked(kind)
        title = _text(data.title)
        if not title or len(title) > 300:
            problems.append(invalid("title", "1-300 characters", "1-300 个字符"))
        if data.size is not None and not (0 < data.size <= 10_000):
            problems.append(invalid("size", "between 0 and 10000 points", "须在 0 到 10000 之间"))
        if data.estimate_days is not None and not (0 < data.estimate_days <= 3650):
            problems.append(
                invalid("estimateDays", "between 0 and 3650 days", "须在 0 到 3650 天之间")
            )
        skills = []
        for need in data.skills:
            if not 1 <= need.min_level <= 5:
                problems.append(invalid("skills", "minimum levels are 1-5", "最低等级须为 1-5"))
            skills.append({"skillId": str(need.skill_id), "minLevel": need.min_level})
        if len({s["skillId"] for s in skills}) != len(skills):
            problems.append(invalid("skills", "a skill is repeated", "技能重复"))
        if (data.found_in is not None or data.linked_item_id is not None) and not kind.defect:
            problems.append(invalid("foundIn", f"a {kind.code} is not a defect", "该类型不是缺陷"))
        if data.cause is not None:
            if not kind.caused:
                problems.append(
                    invalid("cause", f"a {kind.code} carries no cause", "该类型不记录原因")
                )
            elif data.cause not in CAUSES:
                problems.append(_cause_problem("cause"))
        if data.delay_cause is not None and data.delay_cause not in CAUSES:
            problems.append(_cause_problem("delayCause"))
        if data.verdict is not None and not kind.feasibility:
            problems.append(
                invalid("verdict", f"a {kind.code} has no feasibility answer", "该类型无可行性答复")
            )
        if data.promised_on is not None and not kind.promise:
            problems.append(
                invalid("promisedOn", f"a {kind.code} has no promised date", "该类型无承诺日期")
            )
        if data.answered_at is not None and (data.verdict is None or data.answered_by is None):
            problems.append(
                invalid(
                    "verdict", "an answer has a verdict and who gave it", "答复须有结论和答复人"
                )
            )
        if data.requester_id is not None and data.requester_name is not None:
            problems.append(
                invalid(
                    "requesterName",
                    "a requester on the records or a name, not both",
                    "请求人只能二选一",
                )
            )
        try:
            checked.assignees = await _check_assignees(tenant, data.assignees)
        except ServiceError as exc:
            problems.append(exc)
        people = [p for p in (data.requester_id, data.answered_by) if p is not None]
        try:
            await _require_people(tenant, people, "requesterId")
        except ServiceError as exc:
            problems.append(exc)
        skill_ids = [need.skill_id for need in data.skills]
        if skill_ids and len(await skills_repo.get_skills(tenant, skill_ids)) != len(
            set(skill_ids)
        ):
            problems.append(not_found("skill", "技能", field="skills"))
        if (
            data.org_unit_id is not None
            and await org_repo.get_unit(tenant, data.org_unit_id) is None
        ):
            problems.append(not_found("org unit", "组织单元", field="orgUnitId"))
        if data.linked_item_id is not None and kind.defect:
            try:
                await self._linkable(tenant, pack, data.linked_item_id, UUID(int=0))
            except ServiceError as exc:
                problems.append(exc)
        values: dict[str, Any] = {
            "kind": kind.code, "title": title, "customer": _text(data.customer),
            "requester_id": data.requester_id, "requester_name": _text(data.requester_name),
            "org_unit_id": data.org_unit_id, "skills": skills, "size": data.size,
            "found_in": data.found_in, "linked_item_id": data.linked_item_id,
            "cause": data.cause, "source": data.source, "external_key": data.external_key,
            "answered_by": data.answered_by, "verdict": data.verdict,
            "estimate_days": data.estimate_days, "promised_on": data.promised_on,
            "delay_cause": data.delay_cause,
        }  # fmt: skip
        times = {
            "requested_at": data.requested_at or now,
            "answered_at": data.answered_at, "started_at": data.started_at,
            "delivered_at": data.delivered_at, "closed_at": data.closed_at,
            "cancelled_at": data.cancelled_at,
        }  # fmt: skip
        for name, value in times.items():
            try:
                values[name] = _aware(value, _camel(name)) if value is not None else None
            except ServiceError as exc:
                problems.append(exc)
        if problems:
            raise combined(problems)
        values["status"] = _status_of(values)
        values["promised_at"] = (
            values["answered_at"] or values["requested_at"] if data.promised_on else None
        )
        probe = WorkItem(**values)
        try:
            _check_order(probe)
        except ServiceError as exc:
            raise combined([exc]) from None
        if probe.status in (S.IN_PROGRESS, S.DELIVERED, S.CLOSED) and not checked.assignees:
            raise invalid("assignees", "work started: say who does it", "已开始的工作须有负责人")
        if probe.status == S.CLOSED and derivation.is_late(probe) and not data.delay_cause:
            raise invalid(
                "delayCause",
                "a late item is closed with a delay cause",
                "延期的工作项关闭时须说明原因",
            )
        checked.values = values
        return checked


def _status_of(values: dict[str, Any]) -> WorkStatus:
    """A synchronised item's status, from the furthest step it has a timestamp for."""
    if values["cancelled_at"] is not None:
        return S.CANCELLED
    for name, status in (
        ("closed_at", S.CLOSED),
        ("delivered_at", S.DELIVERED),
        ("started_at", S.IN_PROGRESS),
    ):
        if values[name] is not None:
            return status
    if values["promised_on"] is not None:
        return S.PLANNED
    if values["answered_at"] is not None:
        return S.ANSWERED
    return S.NEW


def _check_order(item: WorkItem) -> None:
    """Timestamps follow the lifecycle: an answer and a start after the request, delivery
    after the start, closing after delivery."""
    after = (
        ("answeredAt", item.answered_at, "requestedAt", item.requested_at),
        ("startedAt", item.started_at, "requestedAt", item.requested_at),
        ("deliveredAt", item.delivered_at, "startedAt", item.started_at),
        ("closedAt", item.closed_at, "deliveredAt", item.delivered_at),
    )
    for name, value, earlier_name, earlier in after:
        if value is None:
            continue
        if earlier is None:
            raise invalid(name, f"needs {earlier_name} first", f"须先有 {earlier_name}")
        if value < earlier:
            raise invalid(name, f"before {earlier_name}", f"早于 {earlier_name}")


async def _check_assignees(
    tenant: TenantID, assignees: Sequence[Assignment]
) -> list[tuple[UUID, float]]:
    if not assignees:
        return []
    people = [a.employee_id for a in assignees]
    if len(set(people)) != len(people):
        raise invalid("assignees", "a person is listed twice", "同一人重复")
    if any(not (0 < a.share <= 1) for a in assignees):
        raise invalid("assignees", "each share is above 0 and at most 1", "份额须大于 0 且不超过 1")
    if not math.isclose(sum(a.share for a in assignees), 1.0, abs_tol=1e-6):
        raise invalid("assignees", "shares add up to 1", "份额之和须为 1")
    await _require_people(tenant, people, "assignees")
    return [(a.employee_id, a.share) for a in assignees]


async def _require_people(tenant: TenantID, people: Sequence[UUID], field_name: str) -> None:
    if not people:
        return
    found = await people_repo.existing_employee_ids(tenant, people)
    if set(people) - set(found):
        raise not_found("employee", "员工", field=field_name)


def _check_cause(cause: str, field_name: str) -> None:
    if cause not in CAUSES:
        raise _cause_problem(field_name)


def _cause_problem(field_name: str) -> ServiceError:
    return invalid(field_name, f"one of {', '.join(CAUSES)}", f"须为以下之一：{'、'.join(CAUSES)}")


def _at(at: datetime | None, not_before: datetime, field_name: str) -> datetime:
    value = _aware(at, field_name) if at is not None else datetime.now(UTC)
    if value < not_before:
        raise invalid(
            field_name,
            f"before the previous step ({not_before.isoformat()})",
            f"早于上一步（{not_before.isoformat()}）",
        )
    # A little leeway for clocks that run ahead of the server's.
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise invalid(field_name, "in the future", "晚于当前时间")
    return value


def _aware(value: datetime, field_name: str) -> datetime:
    if value.tzinfo is None:
        raise invalid(field_name, "a time with its offset (e.g. +08:00 or Z)", "须带时区")
    return value


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _shares(shares: Sequence[tuple[UUID, float]]) -> list[dict[str, Any]]:
    return [{"employee": str(person), "share": share} for person, share in shares]


def _audited(item: WorkItem) -> dict[str, Any]:
    return {
        name: getattr(item, name)
        for name in (
            "status", "title", "requested_at", "answered_at", "verdict", "promised_on",
            "feasible_on", "overpromised", "started_at", "delivered_at", "closed_at",
            "cancelled_at", "delay_cause", "cause", "cause_comment", "found_in",
            "linked_item_id",
        )
    }  # fmt: skip


work_items = WorkItemService()
