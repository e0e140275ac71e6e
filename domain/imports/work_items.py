"""Importing work items (tickets from Jira, an ERP or a school system) through the work
items' own bulk upsert, so that lifecycle checks, over-promise flags and derived facts are
exactly those of the API.

Items are keyed by (source, external key). A defect may name the item it was found in by
that item's external key: the item must be in the tenant already or earlier in the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.imports.fields import MappedRow, RefKind, RowError, RowErrorCode
from domain.imports.records import refused_rows
from domain.imports.specs_work import WORK_ITEMS
from domain.imports.writers import WriteContext, WriteReport
from domain.work import repository as work_repo
from domain.work.matching import SkillNeed
from domain.work.models import FoundIn, Verdict
from domain.work.service import (
    MAX_ITEMS_PER_CALL,
    Assignment,
    UpsertResult,
    WorkItemInput,
    work_items,
)

_SKILL_LEVEL = re.compile(r"^(?P<name>.+?)\s*[:：]\s*(?P<level>[1-5])$")
# Fields of the work item service that the import names otherwise.
_RENAMED = {
    "requesterId": "requester",
    "orgUnitId": "org_unit",
    "linkedItemId": "linked_item",
    "estimateDays": "estimate",
}


class WorkItemsWriter:
    batch_size = MAX_ITEMS_PER_CALL

    def __init__(self, context: WriteContext) -> None:
        self.context = context
        self.zone = ZoneInfo(context.timezone)
        # Items of this file already written, by (source, key), for links from later rows.
        self.ids: dict[tuple[str, str], UUID] = {}

    async def write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        group: list[tuple[MappedRow, WorkItemInput]] = []
        for row in rows:
            link = self._link_key(row)
            if (
                link is not None
                and link not in self.ids
                and any((data.source, data.external_key) == link for _, data in group)
            ):
                await self._flush(group, report)  # the linked item comes first
                group = []
            data = await self._input(row, report.errors)
            if data is not None:
                group.append((row, data))
        await self._flush(group, report)
        return report

    async def finish(self) -> WriteReport:
        return WriteReport()

    def _link_key(self, row: MappedRow) -> tuple[str, str] | None:
        linked = row.values.get("linked_item")
        if not linked:
            return None
        return (row.values.get("source") or self.context.source, linked)

    async def _flush(
        self, group: list[tuple[MappedRow, WorkItemInput]], report: WriteReport
    ) -> None:
        if not group:
            return
        results = await work_items.upsert_many(self.context.tenant, [data for _, data in group])
        for (row, data), result in zip(group, results, strict=True):
            _count(result, row, report)
            if result.item is not None and data.external_key:
                self.ids[(data.source, data.external_key)] = result.item.id

    async def _input(self, row: MappedRow, errors: list[RowError]) -> WorkItemInput | None:
        values = row.values
        resolve = self.context.references.resolve
        problems: list[RowError] = []

        def ref(field: str, kind: RefKind, text: str) -> UUID | None:
            found = resolve(kind, text)
            if isinstance(found, RowErrorCode):
                message = "names nothing" if found == RowErrorCode.NOT_FOUND else "is ambiguous"
                message_zh = "未找到" if found == RowErrorCode.NOT_FOUND else "匹配到多条记录"
                problems.append(
                    RowError(row.number, field, found, f"{text!r} {message}", message_zh, text)
                )
                return None
            return found

        requester = (
            ref("requester", RefKind.EMPLOYEE, values["requester"])
            if values.get("requester")
            else None
        )
        org_unit = (
            ref("org_unit", RefKind.ORG_UNIT, values["org_unit"])
            if values.get("org_unit")
            else None
        )
        people = [
            found
            for text in values.get("assignees") or []
            if (found := ref("assignees", RefKind.EMPLOYEE, text)) is not None
        ]
        skills: list[SkillNeed] = []
        for text in values.get("skills") or []:
            match = _SKILL_LEVEL.match(text)
            name, level = (match["name"], int(match["level"])) if match else (text, 1)
            skill = ref("skills", RefKind.SKILL, name)
            if skill is not None:
                skills.append(SkillNeed(skill_id=skill, min_level=level))
        source = values.get("source") or self.context.source
        linked_id: UUID | None = None
        if values.get("linked_item"):
            key = (source, values["linked_item"])
            linked_id = self.ids.get(key)
            if linked_id is None:
                stored = await work_repo.items_by_external_key(
                    self.context.tenant, source, [values["linked_item"]]
                )
                item = stored.get(values["linked_item"])
                linked_id = item.id if item is not None else None
            if linked_id is None:
                problems.append(
                    RowError(
                        row.number,
                        "linked_item",
                        RowErrorCode.NOT_FOUND,
                        "no item of this source has that key (it must come earlier in the "
                        "file or be imported already)",
                        "未找到该编号的工作项（须在文件前面出现或已导入）",
                        values["linked_item"],
                    )
                )
        if problems:
            errors.extend(problems)
            return None
        share = 1.0 / len(people) if people else 0.0
        estimate = values.get("estimate")
        return WorkItemInput(
            kind=values["kind"],
            title=values["title"],
            requested_at=self._moment(values.get("requested_at")),
            customer=values.get("customer"),
            requester_id=requester,
            org_unit_id=org_unit,
            skills=tuple(skills),
            size=values.get("size"),
            assignees=tuple(Assignment(employee_id=p, share=share) for p in people),
            found_in=FoundIn(values["found_in"]) if values.get("found_in") else None,
            linked_item_id=linked_id,
            cause=values.get("cause"),
            source=source,
            external_key=values["external_key"],
            answered_at=self._moment(values.get("answered_at")),
            verdict=Verdict(values["verdict"]) if values.get("verdict") else None,
            estimate_days=None if estimate is None else float(estimate) / 24,
            promised_on=values.get("promised_on"),
            started_at=self._moment(values.get("started_at")),
            delivered_at=self._moment(values.get("delivered_at")),
            closed_at=self._moment(values.get("closed_at")),
            cancelled_at=self._moment(values.get("cancelled_at")),
            delay_cause=values.get("delay_cause"),
        )

    def _moment(self, value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        # A date alone (a ticket system's "Resolved" day): the end of that day, local time.
        return datetime.combine(value, time(23, 59, 59), tzinfo=self.zone).astimezone(UTC)


def _count(result: UpsertResult, row: MappedRow, report: WriteReport) -> None:
    outcome = str(result.outcome)
    if outcome == "created":
        report.created += 1
    elif outcome == "updated":
        report.updated += 1
    elif outcome == "unchanged":
        report.unchanged += 1
    elif result.error is not None:
        report.errors.extend(refused_rows(row, result.error, WORK_ITEMS, _RENAMED))


async def work_items_writer(context: WriteContext) -> WorkItemsWriter:
    return WorkItemsWriter(context)
