"""Work history: engagements (a project in R&D, a class or a course in a school) with the
skills they used, and past appraisals.

An engagement's kind and the figures it records (its outcomes) come from the tenant's
template pack and are checked against it on every write, every problem reported at once.
ERP syncs upsert both by external key. Every change is audited; archived rows leave the
readers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from domain.audit.service import audit, snapshot
from domain.changes import (
    KEEP,
    Keep,
    Problems,
    UpsertResult,
    check_batch_size,
    failed,
    upsert_one,
)
from domain.history import repository as repo
from domain.history.models import Appraisal, AppraisalSource, Engagement
from domain.org.service import external_key as clean_external_key
from domain.people import repository as people_repo
from domain.skills import repository as skills_repo
from domain.skills.models import Skill
from domain.templates.registry import EngagementKind
from domain.templates.service import pack_of
from tenants.errors import ErrorCode, ServiceError, invalid, not_found
from tenants.pagination import Page
from tenants.scope import TenantID
from tenants.service import clean_name

ENGAGEMENT_AUDITED = (
    "employee_id",
    "kind",
    "name",
    "role",
    "started_on",
    "ended_on",
    "outcomes",
    "external_key",
    "archived_at",
)
APPRAISAL_AUDITED = (
    "employee_id",
    "period",
    "period_start",
    "period_end",
    "score",
    "grade",
    "reviewer",
    "comments",
    "source",
    "external_key",
    "archived_at",
)
COMMENTS_LENGTH = 10_000
SCORE_MIN, SCORE_MAX = Decimal(0), Decimal(100)
CENT = Decimal("0.01")


def engagement_not_found(field: str = "id") -> ServiceError:
    return not_found("engagement", "工作经历", field=field)


def appraisal_not_found(field: str = "id") -> ServiceError:
    return not_found("appraisal", "考核记录", field=field)


def _given(changes: Any) -> dict[str, Any]:
    return {
        f.name: getattr(changes, f.name)
        for f in fields(changes)
        if not isinstance(getattr(changes, f.name), Keep)
    }


def _required(
    given: Mapping[str, Any], names: Mapping[str, str], *, creating: bool
) -> list[ServiceError]:
    """A required field missing on create, or cleared on update."""
    return [
        invalid(camel, "is required", "必填")
        for name, camel in names.items()
        if (creating or name in given) and given.get(name) in (None, "")
    ]


def _optional_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return clean_name(value, field, max_length=max_length)


def _check_period(start: Any, end: Any, end_field: str) -> None:
    if isinstance(start, date) and isinstance(end, date) and end < start:
        raise invalid(end_field, "must not be before the start", "不能早于开始日期")


async def _active_employee(tenant: TenantID, employee_id: UUID) -> UUID:
    employee = await people_repo.get_employee(tenant, employee_id)
    if employee is None or employee.archived_at is not None:
        raise not_found("employee", "员工", field="employeeId")
    return employee.id


def _duplicate_key(key: str | None) -> ServiceError:
    return ServiceError(
        ErrorCode.DUPLICATE,
        f"external key {key!r} is taken",
        f"外部编号 {key!r} 已被使用",
        field="externalKey",
    )


def _batch_keys(items: Sequence[Any]) -> tuple[list[str | None], set[str]]:
    """Each item's cleaned external key (None when missing or malformed), and the repeated."""
    keys: list[str | None] = []
    for item in items:
        raw = item.external_key
        try:
            keys.append(clean_external_key(raw) if isinstance(raw, str) else None)
        except ServiceError:
            keys.append(None)
    repeated = {key for key in keys if key is not None and keys.count(key) > 1}
    return keys, repeated


def _batch_failure(item: Any, key: str | None) -> UpsertResult:
    """The answer for an item without a usable key, or with one repeated in its batch."""
    if key is None:
        raw = item.external_key if isinstance(item.external_key, str) else ""
        return failed(
            raw, invalid("externalKey", "is required (1-128 characters)", "必填（1-128 个字符）")
        )
    return failed(key, invalid("externalKey", "repeated in this batch", "本批次中重复"))


# --- engagements -----------------------------------------------------------------------------


@dataclass
class EngagementChanges:
    """What to set; a field left at ``KEEP`` is not touched, ``None`` clears it.

    ``outcomes`` and ``skill_ids`` replace the whole mapping and set.
    """

    employee_id: UUID | Keep = KEEP
    kind: str | Keep = KEEP
    name: str | Keep = KEEP
    role: str | Keep | None = KEEP
    started_on: date | Keep = KEEP
    ended_on: date | Keep | None = KEEP
    outcomes: Mapping[str, float | int] | Keep = KEEP
    skill_ids: Sequence[UUID] | Keep = KEEP
    external_key: str | Keep | None = KEEP


def _outcome_value(kind: EngagementKind, code: str, value: Any) -> float | int:
    field = f"outcomes.{code}"
    definition = next((o for o in kind.outcomes if o.code == code), None)
    if definition is None:
        known = [o.code for o in kind.outcomes]
        raise invalid(
            field,
            f"{kind.code!r} records no outcome {code!r} (known: {known})",
            f"“{kind.name.zh}”没有结果项 {code!r}",
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid(field, "must be a number", "必须是数字")
    number: float | int
    if definition.type == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise invalid(field, "must be a whole number", "必须是整数")
        number = int(value)
    else:
        number = float(value)
    if definition.min is not None and number < definition.min:
        raise invalid(field, f"must be at least {definition.min:g}", f"不能小于 {definition.min:g}")
    if definition.max is not None and number > definition.max:
        raise invalid(field, f"must be at most {definition.max:g}", f"不能大于 {definition.max:g}")
    return number


def _outcomes(kind: EngagementKind, values: Mapping[str, Any]) -> dict[str, float | int]:
    """The outcomes checked against the kind's definitions; every bad one reported."""
    problems = Problems()
    checked: dict[str, float | int] = {}
    for code, value in values.items():
        number = problems.take(functools.partial(_outcome_value, kind, str(code), value))
        if number is not None:
            checked[str(code)] = number
    problems.raise_any()
    return checked


class EngagementService:
    async def get(self, tenant: TenantID, engagement_id: UUID) -> Engagement:
        engagement = await repo.get_engagement(tenant, engagement_id)
        if engagement is None:
            raise engagement_not_found()
        return engagement

    async def create(self, tenant: TenantID, changes: EngagementChanges) -> Engagement:
        given = _given(changes)
        values, skill_ids = await self._values(tenant, given, current=None, current_skills=[])
        try:
            engagement = await repo.insert_engagement(tenant, **values)
        except repo.DuplicateKeyError as exc:
            raise _duplicate_key(values.get("external_key")) from exc
        if skill_ids:
            await repo.replace_engagement_skills(tenant, engagement.id, skill_ids)
        await audit.record(
            tenant,
            entity_type="engagement",
            entity_id=engagement.id,
            action="create",
            after=_engagement_snapshot(engagement, skill_ids or []),
        )
        return engagement

    async def update(
        self, tenant: TenantID, engagement_id: UUID, changes: EngagementChanges
    ) -> Engagement:
        engagement, _ = await self._apply(tenant, await self.get(tenant, engagement_id), changes)
        return engagement

    async def _apply(
        self, tenant: TenantID, engagement: Engagement, changes: EngagementChanges
    ) -> tuple[Engagement, bool]:
        """The engagement with ``changes`` applied, and whether anything changed."""
        current_skills = await repo.engagement_skill_ids(tenant, engagement.id)
        before = _engagement_snapshot(engagement, current_skills)
        values, skill_ids = await self._values(
            tenant, _given(changes), current=engagement, current_skills=current_skills
        )
        changed = [name for name, value in values.items() if getattr(engagement, name) != value]
        for name in changed:
            setattr(engagement, name, values[name])
        if changed:
            try:
                await repo.save_engagement(tenant, engagement, changed)
            except repo.DuplicateKeyError as exc:
                raise _duplicate_key(engagement.external_key) from exc
        if skill_ids is not None and set(skill_ids) != set(current_skills):
            await repo.replace_engagement_skills(tenant, engagement.id, skill_ids)
            current_skills = skill_ids
        after = _engagement_snapshot(engagement, current_skills)
        await audit.record(
            tenant,
            entity_type="engagement",
            entity_id=engagement.id,
            action="update",
            before=before,
            after=after,
        )
        return engagement, after != before

    async def archive(self, tenant: TenantID, engagement_id: UUID) -> Engagement:
        engagement = await self.get(tenant, engagement_id)
        if engagement.archived_at is None:
            skill_ids = await repo.engagement_skill_ids(tenant, engagement.id)
            before = _engagement_snapshot(engagement, skill_ids)
            engagement.archived_at = datetime.now(UTC)
            await repo.save_engagement(tenant, engagement, ["archived_at"])
            await audit.record(
                tenant,
                entity_type="engagement",
                entity_id=engagement.id,
                action="archive",
                before=before,
                after=_engagement_snapshot(engagement, skill_ids),
            )
        return engagement

    async def upsert(
        self, tenant: TenantID, items: Sequence[EngagementChanges]
    ) -> list[UpsertResult]:
        """Create or update engagements by external key (required on every item).

        Idempotent: the same batch again changes nothing and reports every item unchanged.
        """
        check_batch_size(len(items))
        keys, repeated = _batch_keys(items)
        existing = {
            e.external_key: e
            for e in await repo.get_engagements_by_external_key(
                tenant, [key for key in keys if key is not None]
            )
        }
        results = []
        for key, item in zip(keys, items, strict=True):
            if key is None or key in repeated:
                results.append(_batch_failure(item, key))
                continue
            results.append(
                await upsert_one(
                    key,
                    existing.get(key),
                    functools.partial(self.create, tenant, item),
                    functools.partial(self._update_with, tenant, item),
                )
            )
        return results

    async def _update_with(
        self, tenant: TenantID, changes: EngagementChanges, current: Engagement
    ) -> tuple[Engagement, bool]:
        return await self._apply(tenant, current, changes)

    async def _values(
        self,
        tenant: TenantID,
        given: dict[str, Any],
        current: Engagement | None,
        current_skills: Sequence[UUID],
    ) -> tuple[dict[str, Any], list[UUID] | None]:
        """Checked, normal values of the given fields, and the skill ids when given; every
        problem reported at once."""
        problems = Problems()
        problems.found.extend(
            _required(
                given,
                {
                    "employee_id": "employeeId",
                    "kind": "kind",
                    "name": "name",
                    "started_on": "startedOn",
                },
                creating=current is None,
            )
        )
        values: dict[str, Any] = {}
        if given.get("name") is not None:
            values["name"] = problems.take(functools.partial(clean_name, given["name"], "name"))
        if "role" in given:
            values["role"] = problems.take(
                functools.partial(_optional_text, given["role"], "role", 120)
            )
        if "external_key" in given:
            key = problems.take(functools.partial(clean_external_key, given["external_key"]))
            values["external_key"] = key
            if key is not None and (current is None or key != current.external_key):
                exclude = current.id if current is not None else None
                if await repo.engagement_key_taken(tenant, key, exclude):
                    problems.found.append(_duplicate_key(key))
        employee_id = given.get("employee_id")
        if employee_id is not None and (current is None or employee_id != current.employee_id):
            values["employee_id"] = await problems.take_async(_active_employee(tenant, employee_id))
        if given.get("started_on") is not None:
            values["started_on"] = given["started_on"]
        if "ended_on" in given:
            values["ended_on"] = given["ended_on"]
        if "started_on" in values or "ended_on" in values:
            problems.take(
                functools.partial(
                    _check_period,
                    values.get("started_on", current.started_on if current else None),
                    values.get("ended_on", current.ended_on if current else None),
                    "endedOn",
                )
            )
        if given.get("kind") is not None or "outcomes" in given:
            await self._kind_and_outcomes(tenant, given, current, values, problems)
        skill_ids: list[UUID] | None = None
        if "skill_ids" in given:
            skill_ids = await problems.take_async(
                self._skill_ids(tenant, given["skill_ids"], current_skills)
            )
        problems.raise_any()
        return values, skill_ids

    async def _kind_and_outcomes(
        self,
        tenant: TenantID,
        given: Mapping[str, Any],
        current: Engagement | None,
        values: dict[str, Any],
        problems: Problems,
    ) -> None:
        pack = await pack_of(tenant)
        code = given.get("kind") or (current.kind if current is not None else None)
        if code is None:
            return  # reported as required
        kind = pack.engagement_kind(code)
        if kind is None:
            known = [k.code for k in pack.engagement_kinds]
            problems.found.append(
                invalid("kind", f"unknown kind {code!r} (known: {known})", f"未知的类型 {code!r}")
            )
            return
        values["kind"] = kind.code
        # A new kind re-checks the outcomes already recorded: they must fit it too.
        outcomes = given.get("outcomes", current.outcomes if current is not None else {})
        values["outcomes"] = problems.take(functools.partial(_outcomes, kind, outcomes or {}))

    async def _skill_ids(
        self, tenant: TenantID, wanted: Sequence[UUID], current: Sequence[UUID]
    ) -> list[UUID]:
        """The skills, each once; archived ones only where the engagement already had them."""
        ids = list(dict.fromkeys(wanted))
        usable = (
            {
                skill.id
                for skill in await skills_repo.get_skills(tenant, ids)
                if skill.archived_at is None or skill.id in current
            }
            if ids
            else set()
        )
        missing = [str(i) for i in ids if i not in usable]
        if missing:
            raise ServiceError(
                ErrorCode.NOT_FOUND,
                f"skills not found: {', '.join(missing)}",
                f"未找到技能：{', '.join(missing)}",
                field="skillIds",
            )
        return ids

    # --- reading, batched for DataLoaders ----------------------------------------------------

    async def engagements_of(
        self, tenant: TenantID, employee_ids: Sequence[UUID]
    ) -> dict[UUID, list[Engagement]]:
        """Every employee's active engagements, newest first; every id has an entry."""
        found: dict[UUID, list[Engagement]] = {i: [] for i in employee_ids}
        for engagement in await repo.engagements_of(tenant, list(found)):
            found[engagement.employee_id].append(engagement)
        return found

    async def skills_of_engagements(
        self, tenant: TenantID, engagement_ids: Sequence[UUID]
    ) -> dict[UUID, list[Skill]]:
        """Every engagement's (active) skills by name, in one query; every id has an entry."""
        found: dict[UUID, list[Skill]] = {i: [] for i in engagement_ids}
        for engagement_id, skill in await repo.skills_of_engagements(tenant, list(found)):
            found[engagement_id].append(skill)
        return found

    async def page(
        self, tenant: TenantID, *, employee_id: UUID, first: int, after: str | None
    ) -> Page[Engagement]:
        """One employee's active engagements, the latest started first."""
        return await repo.list_engagements(
            tenant, employee_id=employee_id, first=first, after=after
        )


def _engagement_snapshot(engagement: Engagement, skill_ids: Sequence[UUID]) -> dict[str, Any]:
    return {
        **snapshot(engagement, ENGAGEMENT_AUDITED),
        "skill_ids": sorted(str(i) for i in skill_ids),
    }


# --- appraisals ------------------------------------------------------------------------------


@dataclass
class AppraisalChanges:
    """What to set; a field left at ``KEEP`` is not touched, ``None`` clears it."""

    employee_id: UUID | Keep = KEEP
    period: str | Keep = KEEP
    period_start: date | Keep = KEEP
    period_end: date | Keep = KEEP
    score: Decimal | float | int | Keep | None = KEEP
    grade: str | Keep | None = KEEP
    reviewer: str | Keep | None = KEEP
    comments: str | Keep | None = KEEP
    source: AppraisalSource | Keep = KEEP
    external_key: str | Keep | None = KEEP


def _score(value: Decimal | float | int | str | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid("score", "must be a number", "必须是数字")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise invalid("score", "must be a number", "必须是数字") from None
    if not number.is_finite() or not SCORE_MIN <= number <= SCORE_MAX:
        raise invalid("score", "must be between 0 and 100", "必须在 0 到 100 之间")
    if number != number.quantize(CENT):
        raise invalid("score", "at most 2 decimal places", "最多保留两位小数")
    return number.quantize(CENT)


def _source(value: AppraisalSource | str) -> AppraisalSource:
    try:
        return AppraisalSource(value)
    except ValueError:
        known = [s.value for s in AppraisalSource]
        raise invalid("source", f"must be one of {known}", f"必须是以下之一：{known}") from None


def _comments(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > COMMENTS_LENGTH:
        raise invalid(
            "comments",
            f"must be at most {COMMENTS_LENGTH} characters",
            f"不能超过 {COMMENTS_LENGTH} 个字符",
        )
    return text


class AppraisalService:
    async def get(self, tenant: TenantID, appraisal_id: UUID) -> Appraisal:
        appraisal = await repo.get_appraisal(tenant, appraisal_id)
        if appraisal is None:
            raise appraisal_not_found()
        return appraisal

    async def create(self, tenant: TenantID, changes: AppraisalChanges) -> Appraisal:
        values = await self._values(tenant, _given(changes), current=None)
        try:
            appraisal = await repo.insert_appraisal(tenant, **values)
        except repo.DuplicateKeyError as exc:
            raise _duplicate_key(values.get("external_key")) from exc
        await audit.record(
            tenant,
            entity_type="appraisal",
            entity_id=appraisal.id,
            action="create",
            after=snapshot(appraisal, APPRAISAL_AUDITED),
        )
        return appraisal

    async def update(
        self, tenant: TenantID, appraisal_id: UUID, changes: AppraisalChanges
    ) -> Appraisal:
        return await self._apply(tenant, await self.get(tenant, appraisal_id), changes)

    async def _apply(
        self, tenant: TenantID, appraisal: Appraisal, changes: AppraisalChanges
    ) -> Appraisal:
        before = snapshot(appraisal, APPRAISAL_AUDITED)
        values = await self._values(tenant, _given(changes), current=appraisal)
        changed = [name for name, value in values.items() if getattr(appraisal, name) != value]
        for name in changed:
            setattr(appraisal, name, values[name])
        if changed:
            try:
                await repo.save_appraisal(tenant, appraisal, changed)
            except repo.DuplicateKeyError as exc:
                raise _duplicate_key(appraisal.external_key) from exc
        await audit.record(
            tenant,
            entity_type="appraisal",
            entity_id=appraisal.id,
            action="update",
            before=before,
            after=snapshot(appraisal, APPRAISAL_AUDITED),
        )
        return appraisal

    async def archive(self, tenant: TenantID, appraisal_id: UUID) -> Appraisal:
        appraisal = await self.get(tenant, appraisal_id)
        if appraisal.archived_at is None:
            before = snapshot(appraisal, APPRAISAL_AUDITED)
            appraisal.archived_at = datetime.now(UTC)
            await repo.save_appraisal(tenant, appraisal, ["archived_at"])
            await audit.record(
                tenant,
                entity_type="appraisal",
                entity_id=appraisal.id,
                action="archive",
                before=before,
                after=snapshot(appraisal, APPRAISAL_AUDITED),
            )
        return appraisal

    async def upsert(
        self, tenant: TenantID, items: Sequence[AppraisalChanges]
    ) -> list[UpsertResult]:
        """Create or update appraisals by external key (required on every item). Idempotent."""
        check_batch_size(len(items))
        keys, repeated = _batch_keys(items)
        existing = {
            a.external_key: a
            for a in await repo.get_appraisals_by_external_key(
                tenant, [key for key in keys if key is not None]
            )
        }
        results = []
        for key, item in zip(keys, items, strict=True):
            if key is None or key in repeated:
                results.append(_batch_failure(item, key))
                continue
            results.append(
                await upsert_one(
                    key,
                    existing.get(key),
                    functools.partial(self.create, tenant, item),
                    functools.partial(self._update_with, tenant, item),
                )
            )
        return results

    async def _update_with(
        self, tenant: TenantID, changes: AppraisalChanges, current: Appraisal
    ) -> tuple[Appraisal, bool]:
        before = snapshot(current, APPRAISAL_AUDITED)
        updated = await self._apply(tenant, current, changes)
        return updated, snapshot(updated, APPRAISAL_AUDITED) != before

    async def _values(
        self, tenant: TenantID, given: dict[str, Any], current: Appraisal | None
    ) -> dict[str, Any]:
        """Checked, normal values of the given fields; every problem reported at once."""
        problems = Problems()
        problems.found.extend(
            _required(
                given,
                {
                    "employee_id": "employeeId",
                    "period": "period",
                    "period_start": "periodStart",
                    "period_end": "periodEnd",
                },
                creating=current is None,
            )
        )
        values: dict[str, Any] = {}
        if given.get("period") is not None:
            values["period"] = problems.take(
                functools.partial(clean_name, given["period"], "period", max_length=32)
            )
        for name in ("period_start", "period_end"):
            if given.get(name) is not None:
                values[name] = given[name]
        if "period_start" in values or "period_end" in values:
            problems.take(
                functools.partial(
                    _check_period,
                    values.get("period_start", current.period_start if current else None),
                    values.get("period_end", current.period_end if current else None),
                    "periodEnd",
                )
            )
        if "score" in given:
            values["score"] = problems.take(functools.partial(_score, given["score"]))
        if "grade" in given:
            values["grade"] = problems.take(
                functools.partial(_optional_text, given["grade"], "grade", 16)
            )
        if "reviewer" in given:
            values["reviewer"] = problems.take(
                functools.partial(_optional_text, given["reviewer"], "reviewer", 200)
            )
        if "comments" in given:
            values["comments"] = problems.take(functools.partial(_comments, given["comments"]))
        if given.get("source") is not None:  # None keeps the default (entered)
            values["source"] = problems.take(functools.partial(_source, given["source"]))
        if "external_key" in given:
            key = problems.take(functools.partial(clean_external_key, given["external_key"]))
            values["external_key"] = key
            if key is not None and (current is None or key != current.external_key):
                exclude = current.id if current is not None else None
                if await repo.appraisal_key_taken(tenant, key, exclude):
                    problems.found.append(_duplicate_key(key))
        employee_id = given.get("employee_id")
        if employee_id is not None and (current is None or employee_id != current.employee_id):
            values["employee_id"] = await problems.take_async(_active_employee(tenant, employee_id))
        problems.raise_any()
        return values

    # --- reading, batched for DataLoaders ----------------------------------------------------

    async def latest_of(
        self, tenant: TenantID, employee_ids: Sequence[UUID]
    ) -> dict[UUID, Appraisal]:
        """Each employee's latest active appraisal (by period end), in one query; employees
        with none are left out."""
        return {
            a.employee_id: a
            for a in await repo.latest_appraisals(tenant, list(dict.fromkeys(employee_ids)))
        }

    async def page(
        self, tenant: TenantID, *, employee_id: UUID, first: int, after: str | None
    ) -> Page[Appraisal]:
        """One employee's active appraisals, the latest period first."""
        return await repo.list_appraisals(tenant, employee_id=employee_id, first=first, after=after)


engagement_service = EngagementService()
appraisal_service = AppraisalService()
