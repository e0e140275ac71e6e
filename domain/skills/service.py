"""Skills: the tenant's catalogue (names, aliases, ERP sync), the level each person has in a
skill now, and the history of every change to it.

A name or alias is compared in its key form (half-width, case-folded, single spaces), so
"PY", "py" and "ｐｙ" are one alias, and a key names at most one skill of the tenant,
archived skills included. A person's level is 1-5; every change appends an event, which is
what the evolution of a skill over time is read from. Every change is audited.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
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
from domain.org.service import external_key as clean_external_key
from domain.people import repository as people_repo
from domain.people.validation import half_width
from domain.skills import repository as repo
from domain.skills.models import EmployeeSkill, EmployeeSkillEvent, Skill, SkillSource
from domain.skills.repository import HeldSkill
from tenants.errors import ErrorCode, ServiceError, combined, invalid, not_found
from tenants.pagination import Page
from tenants.scope import TenantID
from tenants.service import clean_name

AUDITED = ("name", "name_zh", "name_en", "category", "aliases", "external_key", "archived_at")
ENTITY = "skill"
NAME_LENGTH = 120
MAX_ALIASES = 50
LOWEST_LEVEL, HIGHEST_LEVEL = 1, 5


def name_key(text: str) -> str:
    """The form names and aliases are compared in: half-width, case-folded, single spaces."""
    return " ".join(half_width(text).casefold().split())


def skill_not_found(field: str = "id") -> ServiceError:
    return not_found("skill", "技能", field=field)


def today() -> date:
    return datetime.now(UTC).date()


@dataclass
class SkillChanges:
    """What to set; a field left at ``KEEP`` is not touched, ``None`` clears it.

    ``aliases`` replaces the whole list; a ``None`` name is refused, a skill needs one.
    """

    name: str | Keep | None = KEEP
    name_zh: str | Keep | None = KEEP
    name_en: str | Keep | None = KEEP
    category: str | Keep | None = KEEP
    aliases: Sequence[str] | Keep = KEEP
    external_key: str | Keep | None = KEEP

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not isinstance(getattr(self, f.name), Keep)
        }


@dataclass(frozen=True)
class SkillItem:
    """One skill of an ERP sync: its whole state, keyed by ``external_key`` (required)."""

    external_key: str | None
    name: str
    name_zh: str | None = None
    name_en: str | None = None
    category: str | None = None
    aliases: Sequence[str] = ()


def _key(value: str, field: str) -> str:
    key = name_key(value)
    if not key:
        raise invalid(field, "must not be empty", "不能为空")
    if len(key) > NAME_LENGTH:
        raise invalid(
            field, f"must be at most {NAME_LENGTH} characters", f"不能超过 {NAME_LENGTH} 个字符"
        )
    return key


def _aliases(values: Sequence[str], own_key: str | None) -> list[str]:
    """Alias keys, unique and sorted (so a reordered list is no change); the skill's own
    name is dropped, as it resolves anyway."""
    if isinstance(values, str):
        raise invalid("aliases", "must be a list of names", "必须是名称列表")
    keys = {_key(value, "aliases") for value in values} - {own_key}
    if len(keys) > MAX_ALIASES:
        raise invalid("aliases", f"at most {MAX_ALIASES} aliases", f"最多 {MAX_ALIASES} 个别名")
    return sorted(keys)


def _optional_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    return clean_name(value, field, max_length=max_length)


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int):
        raise invalid("level", "must be a whole number", "必须是整数")
    if not LOWEST_LEVEL <= level <= HIGHEST_LEVEL:
        raise invalid(
            "level",
            f"must be between {LOWEST_LEVEL} and {HIGHEST_LEVEL}",
            f"必须在 {LOWEST_LEVEL} 到 {HIGHEST_LEVEL} 之间",
        )
    return level


def _check_source(source: SkillSource | str) -> SkillSource:
    try:
        return SkillSource(source)
    except ValueError:
        known = [s.value for s in SkillSource]
        raise invalid("source", f"must be one of {known}", f"必须是以下之一：{known}") from None


def _check_evaluated_on(evaluated_on: date) -> date:
    # A day of slack: the caller's "today" may be ahead of UTC.
    if evaluated_on > today() + timedelta(days=1):
        raise invalid("evaluatedOn", "must not be in the future", "不能是将来的日期")
    return evaluated_on


def _evaluation(level: int | None, source: SkillSource, evaluated_on: date) -> dict[str, Any]:
    return {"level": level, "source": source, "evaluated_on": evaluated_on}


class SkillService:
    # --- the catalogue ---------------------------------------------------------------------

    async def get(self, tenant: TenantID, skill_id: UUID) -> Skill:
        skill = await repo.get_skill(tenant, skill_id)
        if skill is None:
            raise skill_not_found()
        return skill

    async def resolve(self, tenant: TenantID, text: str) -> Skill | None:
        """The active skill ``text`` names, by name or alias, in any case or width."""
        return (await self.resolve_many(tenant, [text])).get(text)

    async def resolve_many(self, tenant: TenantID, texts: Sequence[str]) -> dict[str, Skill]:
        """``resolve`` for many texts in one query (imports); unknown texts are left out."""
        keys = {text: name_key(text) for text in texts}
        wanted = sorted({key for key in keys.values() if key})
        if not wanted:
            return {}
        by_name: dict[str, Skill] = {}
        by_alias: dict[str, Skill] = {}
        for skill in await repo.find_by_keys(tenant, wanted):
            by_name[skill.name_key] = skill
            for alias in skill.aliases:
                by_alias[alias] = skill
        found: dict[str, Skill] = {}
        for text, key in keys.items():
            match = by_name.get(key) or by_alias.get(key)
            if match is not None:
                found[text] = match
        return found

    async def page(
        self,
        tenant: TenantID,
        *,
        first: int,
        after: str | None,
        search: str | None = None,
        category: str | None = None,
        include_archived: bool = False,
    ) -> Page[Skill]:
        """The catalogue by name; ``search`` matches names in part and aliases exactly."""
        cleaned = " ".join(half_width(search).split()) if search else None
        return await repo.list_skills(
            tenant,
            first=first,
            after=after,
            search_key=name_key(cleaned) if cleaned else None,
            search=cleaned,
            category=" ".join(category.split()) if category else None,
            include_archived=include_archived,
        )

    async def create(
        self,
        tenant: TenantID,
        *,
        name: str,
        name_zh: str | None = None,
        name_en: str | None = None,
        category: str | None = None,
        aliases: Sequence[str] = (),
        external_key: str | None = None,
    ) -> Skill:
        changes = SkillChanges(
            name=name,
            name_zh=name_zh,
            name_en=name_en,
            category=category,
            aliases=aliases,
            external_key=external_key,
        )
        return await self._create(tenant, changes)

    async def _create(self, tenant: TenantID, changes: SkillChanges) -> Skill:
        values = await self._values(tenant, changes.given(), current=None)
        try:
            skill = await repo.insert_skill(tenant, **values)
        except repo.DuplicateError as exc:
            raise _duplicate(str(exc), values) from exc
        await audit.record(
            tenant,
            entity_type=ENTITY,
            entity_id=skill.id,
            action="create",
            after=snapshot(skill, AUDITED),
        )
        return skill

    async def update(self, tenant: TenantID, skill_id: UUID, changes: SkillChanges) -> Skill:
        return await self._apply(tenant, await self.get(tenant, skill_id), changes)

    async def _apply(self, tenant: TenantID, skill: Skill, changes: SkillChanges) -> Skill:
        before = snapshot(skill, AUDITED)
        values = await self._values(tenant, changes.given(), current=skill)
        changed = [name for name, value in values.items() if getattr(skill, name) != value]
        for name in changed:
            setattr(skill, name, values[name])
        if changed:
            try:
                await repo.save_skill(tenant, skill, changed)
            except repo.DuplicateError as exc:
                raise _duplicate(str(exc), values) from exc
        await audit.record(
            tenant,
            entity_type=ENTITY,
            entity_id=skill.id,
            action="update",
            before=before,
            after=snapshot(skill, AUDITED),
        )
        return skill

    async def archive(self, tenant: TenantID, skill_id: UUID) -> Skill:
        """Retire a skill: it leaves the catalogue and people's lists, its name stays taken."""
        skill = await self.get(tenant, skill_id)
        if skill.archived_at is None:
            before = snapshot(skill, AUDITED)
            skill.archived_at = datetime.now(UTC)
            await repo.save_skill(tenant, skill, ["archived_at"])
            await audit.record(
                tenant,
                entity_type=ENTITY,
                entity_id=skill.id,
                action="archive",
                before=before,
                after=snapshot(skill, AUDITED),
            )
        return skill

    async def upsert(self, tenant: TenantID, items: Sequence[SkillItem]) -> list[UpsertResult]:
        """Create or update skills by external key, each item's whole state. Idempotent: the
        same batch again changes nothing and reports every item unchanged."""
        check_batch_size(len(items))
        keys: list[str | None] = []
        for item in items:
            try:
                keys.append(clean_external_key(item.external_key))
            except ServiceError:
                keys.append(None)
        repeated = {key for key in keys if key is not None and keys.count(key) > 1}
        existing = {
            skill.external_key: skill
            for skill in await repo.get_skills_by_external_key(
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
                results.append(await self._upsert_one(tenant, key, item, existing))
        return results

    async def _upsert_one(
        self, tenant: TenantID, key: str, item: SkillItem, existing: dict[str | None, Skill]
    ) -> UpsertResult:
        changes = SkillChanges(
            name=item.name,
            name_zh=item.name_zh,
            name_en=item.name_en,
            category=item.category,
            aliases=item.aliases,
        )
        current = existing.get(key)
        if current is None:
            changes.external_key = key
        return await upsert_one(
            key,
            current,
            functools.partial(self._create, tenant, changes),
            functools.partial(self._update_with, tenant, changes),
        )

    async def _update_with(
        self, tenant: TenantID, changes: SkillChanges, current: Skill
    ) -> tuple[Skill, bool]:
        before = snapshot(current, AUDITED)
        updated = await self._apply(tenant, current, changes)
        return updated, snapshot(updated, AUDITED) != before

    async def _values(
        self, tenant: TenantID, given: dict[str, Any], current: Skill | None
    ) -> dict[str, Any]:
        """Checked, normal values of the given fields; every problem reported at once."""
        problems = Problems()
        values: dict[str, Any] = {}
        if "name" in given and given["name"] is None:
            # Clearing the name is asking for a skill without one.
            problems.found.append(invalid("name", "is required", "必填"))
        elif "name" in given:
            name = given["name"]
            values["name"] = problems.take(
                functools.partial(clean_name, name, "name", max_length=NAME_LENGTH)
            )
            if values["name"] is not None:  # one problem per field
                values["name_key"] = problems.take(functools.partial(_key, name, "name"))
        for optional in ("name_zh", "name_en", "category"):
            if optional in given:
                camel = {"name_zh": "nameZh", "name_en": "nameEn"}.get(optional, optional)
                values[optional] = problems.take(
                    functools.partial(_optional_text, given[optional], camel, NAME_LENGTH)
                )
        own_key = values.get("name_key", current.name_key if current is not None else None)
        if "aliases" in given or (current is not None and "name_key" in values):
            aliases = given.get("aliases", current.aliases if current is not None else ())
            values["aliases"] = problems.take(functools.partial(_aliases, aliases, own_key))
        if "external_key" in given:
            values["external_key"] = problems.take(
                functools.partial(clean_external_key, given["external_key"])
            )
        problems.raise_any()
        await self._check_clashes(tenant, values, current)
        return values

    async def _check_clashes(
        self, tenant: TenantID, values: Mapping[str, Any], current: Skill | None
    ) -> None:
        """Only keys new to this skill are checked: its own ones cannot clash with itself."""
        new_name = values.get("name_key")
        if current is not None and new_name == current.name_key:
            new_name = None
        had = set(current.aliases) if current is not None else set()
        new_aliases = [alias for alias in values.get("aliases", ()) if alias not in had]
        new_external = values.get("external_key")
        if current is not None and new_external == current.external_key:
            new_external = None
        keys = [*new_aliases, *([new_name] if new_name else [])]
        if not keys and new_external is None:
            return
        await repo.lock_catalogue(tenant)
        taken = await repo.clashes(
            tenant,
            keys,
            external_key=new_external,
            excluding=current.id if current is not None else None,
        )
        problems: list[ServiceError] = []
        for other in taken:
            names = {other.name_key, *other.aliases}
            if new_name is not None and new_name in names:
                problems.append(_name_taken("name", values["name"], other))
            problems.extend(
                _name_taken("aliases", alias, other) for alias in new_aliases if alias in names
            )
            if new_external is not None and other.external_key == new_external:
                problems.append(_duplicate("externalKey", values))
        if problems:
            raise combined(problems)

    # --- people's levels -------------------------------------------------------------------

    async def set_level(
        self,
        tenant: TenantID,
        employee_id: UUID,
        skill_id: UUID,
        *,
        level: int,
        source: SkillSource,
        evaluated_on: date | None = None,
        recorded_by: UUID | None = None,
    ) -> EmployeeSkill:
        """Set a person's level in a skill, appending the change to its history.

        The same level and source on the same date again is no change. An evaluation older
        than the current one (history being imported) joins the history only.
        """
        on = evaluated_on or today()
        problems = Problems()
        problems.take(functools.partial(_check_level, level))
        problems.take(functools.partial(_check_source, source))
        problems.take(functools.partial(_check_evaluated_on, on))
        await problems.take_async(self._active_employee(tenant, employee_id))
        await problems.take_async(self._active_skill(tenant, skill_id))
        problems.raise_any()
        checked_source = SkillSource(source)
        current = await repo.current_level(tenant, employee_id, skill_id)
        if current is not None:
            if (current.level, current.source, current.evaluated_on) == (level, checked_source, on):
                return current
            if on < current.evaluated_on:
                await self._record_past(
                    tenant, employee_id, skill_id, level, checked_source, on, recorded_by
                )
                return current
        row = await repo.upsert_level(
            tenant,
            employee_id=employee_id,
            skill_id=skill_id,
            level=level,
            source=checked_source,
            evaluated_on=on,
        )
        await repo.append_event(
            tenant,
            employee_id=employee_id,
            skill_id=skill_id,
            level=level,
            source=checked_source,
            evaluated_on=on,
            recorded_by=recorded_by,
        )
        key = f"skills.{skill_id}"
        await audit.record(
            tenant,
            entity_type="employee",
            entity_id=employee_id,
            action="set_skill",
            before={key: _state(current)},
            after={key: _evaluation(level, checked_source, on)},
        )
        return row

    async def _record_past(
        self,
        tenant: TenantID,
        employee_id: UUID,
        skill_id: UUID,
        level: int,
        source: SkillSource,
        on: date,
        recorded_by: UUID | None,
    ) -> None:
        known = await repo.has_event(
            tenant,
            employee_id=employee_id,
            skill_id=skill_id,
            level=level,
            source=source,
            evaluated_on=on,
        )
        if known:
            return
        await repo.append_event(
            tenant,
            employee_id=employee_id,
            skill_id=skill_id,
            level=level,
            source=source,
            evaluated_on=on,
            recorded_by=recorded_by,
        )
        await audit.record(
            tenant,
            entity_type="employee",
            entity_id=employee_id,
            action="record_skill_history",
            after={f"skills.{skill_id}": _evaluation(level, source, on)},
        )

    async def remove(
        self,
        tenant: TenantID,
        employee_id: UUID,
        skill_id: UUID,
        *,
        recorded_by: UUID | None = None,
    ) -> bool:
        """Remove a person's skill; False when they had none (nothing is recorded then)."""
        removed = await repo.delete_level(tenant, employee_id, skill_id)
        if removed is None:
            return False
        await repo.append_event(
            tenant,
            employee_id=employee_id,
            skill_id=skill_id,
            level=None,
            source=removed.source,
            evaluated_on=today(),
            recorded_by=recorded_by,
        )
        key = f"skills.{skill_id}"
        await audit.record(
            tenant,
            entity_type="employee",
            entity_id=employee_id,
            action="remove_skill",
            before={key: _state(removed)},
            after={key: None},
        )
        return True

    async def _active_employee(self, tenant: TenantID, employee_id: UUID) -> None:
        employee = await people_repo.get_employee(tenant, employee_id)
        if employee is None or employee.archived_at is not None:
            raise not_found("employee", "员工", field="employeeId")

    async def _active_skill(self, tenant: TenantID, skill_id: UUID) -> None:
        skill = await repo.get_skill(tenant, skill_id)
        if skill is None or skill.archived_at is not None:
            raise skill_not_found("skillId")

    # --- reading, batched for DataLoaders --------------------------------------------------

    async def current_skills(
        self, tenant: TenantID, employee_ids: Sequence[UUID]
    ) -> dict[UUID, list[tuple[HeldSkill, Skill]]]:
        """Every employee's current skills (highest level first, then by name), one query.

        Every requested id has an entry; archived skills are left out.
        """
        found: dict[UUID, list[tuple[HeldSkill, Skill]]] = {i: [] for i in employee_ids}
        for held, skill in await repo.current_skills(tenant, list(found)):
            found[held.employee_id].append((held, skill))
        return found

    async def evolution(
        self, tenant: TenantID, employee_id: UUID, skill_id: UUID | None = None
    ) -> list[EmployeeSkillEvent]:
        """A person's skill history, oldest evaluation first; removals have no level."""
        return await repo.events(tenant, employee_id, skill_id)


def _state(row: EmployeeSkill | None) -> dict[str, Any] | None:
    return _evaluation(row.level, row.source, row.evaluated_on) if row is not None else None


def _name_taken(field: str, key: str, other: Skill) -> ServiceError:
    archived = " (archived)" if other.archived_at is not None else ""
    archived_zh = "（已归档）" if other.archived_at is not None else ""
    return ServiceError(
        ErrorCode.DUPLICATE,
        f"{key!r} is already the name or an alias of skill {other.name!r}{archived}",
        f"“{key}”已是技能“{other.name}”{archived_zh}的名称或别名",
        field=field,
    )


def _duplicate(field: str, values: Mapping[str, Any]) -> ServiceError:
    if field == "name":
        return ServiceError(
            ErrorCode.DUPLICATE,
            f"a skill named {values.get('name')!r} exists",
            f"技能“{values.get('name')}”已存在",
            field="name",
        )
    key = values.get("external_key")
    return ServiceError(
        ErrorCode.DUPLICATE,
        f"external key {key!r} is taken",
        f"外部编号 {key!r} 已被使用",
        field="externalKey",
    )


skill_service = SkillService()
