"""The import kinds of the records areas (org units, employees, skills, people's skill levels,
engagements, appraisals, feedback) and their writers.

Every writer goes through its area's service, in batches of at most ``MAX_BATCH`` rows, so an
imported record is checked, sealed, audited and given its history exactly as one entered
through the API. Writers run in the import's tenant transaction and open none of their own:
the services' per-item savepoints keep one refused row from undoing the others.

A row is mapped onto the record this way:

- an empty optional field keeps the record's value, whether its cell is empty or the
  mapping leaves it out (the mapper hands both over as None): a file without a phone
  column changes nobody's phone, and an import never clears a value. A unit whose parent
  is empty stays where it is (a new one is a top unit).
- a reference (a unit, a person, a skill) is resolved through the import's ``References``;
  a row naming nothing, or something ambiguous, is reported without reaching the domain.
- values the tenant's template pack defines (levels, unit and engagement kinds, outcome and
  feedback criteria) may be given by code, by name in either language, or by a unique
  beginning of one ("高级" or "Sr" for a senior level); anything else goes to the domain as
  given, which refuses it naming the codes it knows.
- the domain's refusals come back as ``RowError``s naming the row and the field at fault
  (``REJECTED``, or ``NOT_FOUND`` for a missing record), in both languages.

Importing the same rows again changes nothing and reports every row unchanged. Units,
employees and skills a batch writes are made nameable to the file's later rows.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import orjson

from domain.audit.service import snapshot
from domain.changes import KEEP, MAX_BATCH, Keep, Outcome, UpsertResult, upsert_one
from domain.feedback.service import FeedbackItem, feedback_service
from domain.history.models import AppraisalSource
from domain.history.service import (
    AppraisalChanges,
    EngagementChanges,
    appraisal_service,
    engagement_service,
)
from domain.imports.fields import (
    Choice,
    FieldSpec,
    FieldType,
    KindSpec,
    MappedRow,
    RefKind,
    RowError,
    RowErrorCode,
)
from domain.imports.references import (
    employee_names,
    org_unit_names,
    skill_names,
    unit_paths,
)
from domain.imports.writers import KindWriter, WriteContext, WriteReport, WriterFactory
from domain.org import repository as org_repo
from domain.org.models import OrgUnit
from domain.org.service import AUDITED as UNIT_AUDITED
from domain.org.service import OrgUnitItem, org_service
from domain.people.models import EmployeeStatus
from domain.people.service import EmployeeChanges, employee_service
from domain.skills import repository as skills_repo
from domain.skills.models import SkillSource
from domain.skills.repository import HeldSkill
from domain.skills.service import SkillItem, name_key, skill_service, today
from domain.templates.registry import Coded, PackFile
from domain.templates.service import pack_of
from tenants.errors import ErrorCode, ServiceError
from tenants.scope import TenantID, tenant_savepoint

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

# --- the kinds ---------------------------------------------------------------------------------

_EMPLOYEE_SYNONYMS = ("employee number", "employee no", "emp no", "staff id", "staff no",
                      "工号", "员工编号", "员工工号", "email", "邮箱")  # fmt: skip
_KEY_SYNONYMS = ("id", "key", "code", "record id", "编号", "编码", "记录编号")

ORG_UNITS = KindSpec(
    code="org_units",
    label_en="Org units",
    label_zh="组织单元",
    key=("external_key",),
    fields=(
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", required=True,
            max_length=128,
            synonyms=(*_KEY_SYNONYMS, "unit id", "department id", "department code", "dept id",
                      "部门编号", "部门编码", "组织编码", "组织编号"),
        ),
        FieldSpec(
            "name", FieldType.TEXT, "Name", "名称", required=True, max_length=200,
            synonyms=("unit name", "department", "department name", "team", "部门", "部门名称",
                      "组织名称", "单元名称"),
        ),
        FieldSpec(
            "kind", FieldType.TEXT, "Unit kind", "单元类型", required=True, max_length=63,
            synonyms=("type", "unit type", "level", "类型", "组织类型", "层级"),
            description="a unit kind of the tenant's pack, by code or name "
            "(department, 部门, team, 年级组)",
        ),
        FieldSpec(
            "parent", FieldType.TEXT, "Parent unit", "上级单元", ref=RefKind.ORG_UNIT,
            synonyms=("parent", "parent department", "parent code", "parent id", "上级",
                      "上级部门", "上级单位", "上级编号", "上级组织"),
            description="external key, path of names from the root (R&D/Platform) or unique "
            "name; empty for a top unit",
        ),
    ),
)  # fmt: skip

EMPLOYEES = KindSpec(
    code="employees",
    label_en="Employees",
    label_zh="员工",
    key=("employee_number",),
    fields=(
        FieldSpec(
            "employee_number", FieldType.TEXT, "Employee number", "工号", required=True,
            max_length=64,
            synonyms=("employee no", "emp no", "staff id", "staff no", "employee id", "number",
                      "员工编号", "员工工号", "职工号", "编号"),
        ),
        FieldSpec(
            "name", FieldType.TEXT, "Name", "姓名", required=True, max_length=200,
            synonyms=("full name", "employee name", "名字", "员工姓名"),
        ),
        FieldSpec(
            "email", FieldType.EMAIL, "E-mail", "邮箱",
            synonyms=("email", "e-mail address", "mail", "电子邮箱", "邮件", "邮箱地址"),
        ),
        FieldSpec(
            "phone", FieldType.PHONE, "Phone", "手机",
            synonyms=("mobile", "telephone", "tel", "cell", "手机号", "电话", "联系电话"),
        ),
        FieldSpec(
            "org_unit", FieldType.TEXT, "Org unit", "部门", ref=RefKind.ORG_UNIT,
            synonyms=("department", "dept", "team", "unit", "所属部门", "团队", "组织", "单元"),
            description="external key, path of names (R&D/Platform) or unique name",
        ),
        FieldSpec(
            "level", FieldType.TEXT, "Level", "职级", max_length=63,
            synonyms=("grade", "rank", "job level", "级别", "职称", "等级"),
            description="a level of the tenant's pack, by code or name (senior, 高级, Sr)",
        ),
        FieldSpec(
            "title", FieldType.TEXT, "Job title", "职位", max_length=200,
            synonyms=("title", "position", "job", "岗位", "头衔", "职务"),
        ),
        FieldSpec(
            "hire_date", FieldType.DATE, "Hire date", "入职日期",
            synonyms=("hired", "hired on", "start date", "joined", "date joined", "入职时间",
                      "入职"),
        ),
        FieldSpec(
            "status", FieldType.ENUM, "Status", "状态",
            choices=(
                Choice("active", ("在职", "正常", "employed", "current", "试用", "正式")),
                Choice("on_leave", ("on leave", "leave", "休假", "请假", "停薪留职")),
                Choice("left", ("离职", "已离职", "resigned", "terminated", "former", "inactive")),
            ),
            synonyms=("employment status", "在职状态", "员工状态"),
        ),
        FieldSpec(
            "national_id", FieldType.TEXT, "National id", "证件号", max_length=32,
            synonyms=("id number", "id card", "identity card", "passport", "身份证",
                      "身份证号", "身份证号码", "证件号码"),
            description="stored encrypted; shown to administrators and HR only",
        ),
        FieldSpec(
            "custom_fields", FieldType.JSON, "Custom fields", "自定义字段",
            synonyms=("custom", "extra fields", "扩展字段"),
            description='an object of the tenant\'s custom field keys to values, '
            'e.g. {"subject": "math"}; keys left out keep their value',
        ),
    ),
)  # fmt: skip

SKILLS = KindSpec(
    code="skills",
    label_en="Skills",
    label_zh="技能",
    key=("external_key",),
    fields=(
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", required=True,
            max_length=128, synonyms=(*_KEY_SYNONYMS, "skill id", "skill code", "技能编号"),
        ),
        FieldSpec(
            "name", FieldType.TEXT, "Name", "名称", required=True, max_length=120,
            synonyms=("skill", "skill name", "技能", "技能名称"),
        ),
        FieldSpec(
            "name_zh", FieldType.TEXT, "Chinese name", "中文名称", max_length=120,
            synonyms=("name (zh)", "chinese", "中文名"),
        ),
        FieldSpec(
            "name_en", FieldType.TEXT, "English name", "英文名称", max_length=120,
            synonyms=("name (en)", "english", "英文名"),
        ),
        FieldSpec(
            "category", FieldType.TEXT, "Category", "类别", max_length=120,
            synonyms=("group", "type", "分类", "技能类别"),
        ),
        FieldSpec(
            "aliases", FieldType.LIST, "Aliases", "别名",
            synonyms=("alias", "other names", "also known as", "同义词", "其他名称"),
            description="other names that resolve to the skill (py for Python); "
            "replaces the skill's aliases",
        ),
    ),
)  # fmt: skip

EMPLOYEE_SKILLS = KindSpec(
    code="employee_skills",
    label_en="People's skill levels",
    label_zh="员工技能",
    key=("employee", "skill", "evaluated_on"),
    fields=(
        FieldSpec(
            "employee", FieldType.TEXT, "Employee", "员工", required=True, ref=RefKind.EMPLOYEE,
            synonyms=_EMPLOYEE_SYNONYMS, description="employee number or e-mail",
        ),
        FieldSpec(
            "skill", FieldType.TEXT, "Skill", "技能", required=True, ref=RefKind.SKILL,
            synonyms=("skill name", "skill id", "技能名称", "技能编号"),
            description="external key, name or alias of a skill of the catalogue",
        ),
        FieldSpec(
            "level", FieldType.INTEGER, "Level (1-5)", "等级（1-5）", required=True,
            synonyms=("level", "proficiency", "rating", "score", "等级", "熟练度", "级别", "评分"),
        ),
        FieldSpec(
            "evaluated_on", FieldType.DATE, "Evaluated on", "评定日期",
            synonyms=("date", "assessed on", "as of", "日期", "评估日期", "评定时间"),
            description="defaults to the day of the import; an earlier date than the "
            "person's current level joins the history only",
        ),
        FieldSpec(
            "source", FieldType.ENUM, "Assessed by", "评定来源",
            choices=(
                Choice("self", ("self-assessed", "self assessment", "自评", "本人")),
                Choice("manager", ("manager", "supervisor", "上级", "主管", "经理", "上级评定")),
                Choice("verified", ("certified", "certificate", "认证", "已认证", "证书")),
                Choice("derived", ("inferred", "system", "推断", "系统推断")),
            ),
            synonyms=("source", "assessor", "来源", "评定人"),
            description="defaults to manager",
        ),
    ),
)  # fmt: skip

ENGAGEMENTS = KindSpec(
    code="engagements",
    label_en="Engagements (projects, classes, courses)",
    label_zh="工作经历（项目、班级、课程）",
    key=("external_key",),
    fields=(
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", required=True,
            max_length=128, synonyms=(*_KEY_SYNONYMS, "project id", "项目编号"),
        ),
        FieldSpec(
            "employee", FieldType.TEXT, "Employee", "员工", required=True, ref=RefKind.EMPLOYEE,
            synonyms=_EMPLOYEE_SYNONYMS, description="employee number or e-mail",
        ),
        FieldSpec(
            "kind", FieldType.TEXT, "Kind", "类型", required=True, max_length=63,
            synonyms=("type", "engagement kind", "经历类型"),
            description="an engagement kind of the tenant's pack, by code or name "
            "(project, 项目, class, 任教班级)",
        ),
        FieldSpec(
            "name", FieldType.TEXT, "Name", "名称", required=True, max_length=200,
            synonyms=("project", "project name", "class", "course", "项目名称", "项目",
                      "班级", "课程"),
        ),
        FieldSpec(
            "role", FieldType.TEXT, "Role", "角色", max_length=120,
            synonyms=("position", "responsibility", "担任角色", "职责"),
        ),
        FieldSpec(
            "started_on", FieldType.DATE, "Started on", "开始日期", required=True,
            synonyms=("start", "start date", "from", "开始", "开始时间", "起始日期"),
        ),
        FieldSpec(
            "ended_on", FieldType.DATE, "Ended on", "结束日期",
            synonyms=("end", "end date", "to", "until", "结束", "结束时间", "截止日期"),
        ),
        FieldSpec(
            "skills", FieldType.LIST, "Skills used", "使用技能", ref=RefKind.SKILL,
            synonyms=("skills", "technologies", "tech stack", "技能", "技术栈"),
            description="names, aliases or external keys of skills of the catalogue",
        ),
        FieldSpec(
            "outcomes", FieldType.JSON, "Outcomes", "成果",
            synonyms=("results", "metrics", "figures", "结果", "指标", "成果数据"),
            description='an object of the kind\'s outcome codes or names to numbers, '
            'e.g. {"cycle_days": 42}',
        ),
    ),
)  # fmt: skip

APPRAISALS = KindSpec(
    code="appraisals",
    label_en="Appraisals",
    label_zh="考核结果",
    key=("external_key",),
    fields=(
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", required=True,
            max_length=128, synonyms=(*_KEY_SYNONYMS, "appraisal id", "考核编号"),
        ),
        FieldSpec(
            "employee", FieldType.TEXT, "Employee", "员工", required=True, ref=RefKind.EMPLOYEE,
            synonyms=_EMPLOYEE_SYNONYMS, description="employee number or e-mail",
        ),
        FieldSpec(
            "period", FieldType.TEXT, "Period", "考核周期", required=True, max_length=32,
            synonyms=("appraisal period", "cycle", "周期", "考核期间"),
            description="a label such as 2024, 2024H1 or 2024Q3",
        ),
        FieldSpec(
            "period_start", FieldType.DATE, "Period start", "周期开始", required=True,
            synonyms=("start", "from", "开始日期", "起始日期"),
        ),
        FieldSpec(
            "period_end", FieldType.DATE, "Period end", "周期结束", required=True,
            synonyms=("end", "to", "结束日期", "截止日期"),
        ),
        FieldSpec(
            "score", FieldType.NUMBER, "Score (0-100)", "分数（0-100）",
            synonyms=("score", "points", "result", "得分", "分数", "考核分数"),
        ),
        FieldSpec(
            "grade", FieldType.TEXT, "Grade", "等级", max_length=16,
            synonyms=("rating", "band", "考核等级", "评级"),
        ),
        FieldSpec(
            "reviewer", FieldType.TEXT, "Reviewer", "评价人", max_length=200,
            synonyms=("appraiser", "assessed by", "考核人", "评估人"),
        ),
        FieldSpec(
            "comments", FieldType.TEXT, "Comments", "评语", max_length=10_000,
            synonyms=("comment", "remarks", "notes", "备注", "评价"),
        ),
    ),
)  # fmt: skip

FEEDBACK = KindSpec(
    code="feedback",
    label_en="Feedback",
    label_zh="反馈",
    key=("external_key",),
    fields=(
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", required=True,
            max_length=128, synonyms=(*_KEY_SYNONYMS, "response id", "survey id", "反馈编号"),
        ),
        FieldSpec(
            "subject", FieldType.TEXT, "About", "被评价人", required=True, ref=RefKind.EMPLOYEE,
            synonyms=("subject", "employee", "rated", "ratee", "员工", "被评人", "工号", "邮箱"),
            description="employee number or e-mail of the person the feedback is about",
        ),
        FieldSpec(
            "source", FieldType.ENUM, "Given by", "反馈来源", required=True,
            choices=(
                Choice("manager", ("supervisor", "boss", "上级", "经理", "主管", "领导")),
                Choice("peer", ("colleague", "coworker", "同事", "同级", "同行")),
                Choice("subordinate", ("direct report", "report", "下属", "下级")),
                Choice("self", ("self-assessment", "self assessment", "自评", "本人")),
                Choice("sales", ("sales team", "销售", "销售部")),
                Choice("other_department", ("other department", "cross-department",
                                            "其他部门", "跨部门", "兄弟部门")),
                Choice("customer", ("client", "客户")),
                Choice("student", ("pupil", "学生")),
                Choice("parent", ("guardian", "家长")),
            ),
            synonyms=("source", "relationship", "rater", "来源", "评价人类型", "关系"),
        ),
        FieldSpec(
            "ratings", FieldType.JSON, "Ratings", "评分", required=True,
            synonyms=("scores", "rating", "评价", "打分"),
            description='an object of the pack\'s criteria (code or name) to whole numbers '
            'from 1 to 5, e.g. {"delivery": 4, "沟通": 5}',
        ),
        FieldSpec(
            "comment", FieldType.TEXT, "Comment", "评语", max_length=4000,
            synonyms=("comments", "remarks", "text", "留言", "意见", "备注"),
        ),
        FieldSpec(
            "anonymous", FieldType.BOOLEAN, "Anonymous", "匿名",
            synonyms=("is anonymous", "是否匿名"),
            description="anonymous feedback keeps no author and is shown only in aggregates; "
            "it cannot change once given",
        ),
        FieldSpec(
            "author_label", FieldType.TEXT, "Given by (name)", "评价人", max_length=200,
            synonyms=("author", "from", "rater name", "reviewer", "评价人姓名", "填写人"),
            description="ignored for anonymous feedback",
        ),
        FieldSpec(
            "given_at", FieldType.DATETIME, "Given at", "反馈时间",
            synonyms=("date", "time", "submitted", "submitted at", "日期", "时间", "提交时间"),
            description="defaults to the time of the import",
        ),
    ),
)  # fmt: skip


# --- shared machinery ------------------------------------------------------------------------

_REF_WORDS: dict[RefKind, tuple[str, str, str, str, str, str]] = {
    # what, what (zh), how it is named, (zh), what names it uniquely, (zh)
    RefKind.ORG_UNIT: (
        "org unit", "组织单元", "external key, path or name", "外部编号、路径或名称",
        "its external key or full path", "外部编号或完整路径",
    ),
    RefKind.EMPLOYEE: (
        "employee", "员工", "employee number or e-mail", "工号或邮箱",
        "the employee number", "工号",
    ),
    RefKind.SKILL: (
        "skill", "技能", "external key, name or alias", "外部编号、名称或别名",
        "its external key", "外部编号",
    ),
}  # fmt: skip

# Words an HR export abbreviates; expanded before matching the pack's codes and names.
_ABBREVIATIONS = {"sr": "senior", "snr": "senior", "jr": "junior", "jnr": "junior"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def refused_rows(
    row: MappedRow, error: ServiceError, spec: KindSpec, renamed: Mapping[str, str]
) -> list[RowError]:
    """One row error per problem the domain named, each under the spec field it concerns
    (``employeeId`` -> ``employee`` through ``renamed``, else camelCase to snake_case; the
    row's key field when the domain named none of the spec's fields)."""
    names = {field.name for field in spec.fields}
    found = []
    for problem in error.details or [error]:
        head = (problem.field or "").split(".", 1)[0]
        field = renamed.get(head) or _CAMEL.sub("_", head).lower()
        if field not in names:
            field = spec.key[0]
        message, message_zh = problem.message, problem.message_zh
        if problem.field and "." in problem.field:  # outcomes.cycle_days, ratings.care
            inner = problem.field.split(".", 1)[1]
            message, message_zh = f"{inner}: {message}", f"{inner}：{message_zh}"
        code = (
            RowErrorCode.NOT_FOUND if problem.code == ErrorCode.NOT_FOUND else RowErrorCode.REJECTED
        )
        value = _display(row.values.get(field))
        found.append(RowError(row.number, field, code, message, message_zh, value))
    return found


def _display(value: Any) -> str:
    """A cell value as an error report shows it."""
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, default=str).decode()
    return _text(value)


def _text(value: Any) -> str:
    """A key or name as text: spreadsheets hand over 1001 as a number, or 1001.0."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value).strip()


def _words(text: str) -> str:
    return " ".join(
        _ABBREVIATIONS.get(word, word) for word in name_key(text).replace(".", " ").split()
    )


def coded(text: Any, options: Sequence[Coded]) -> str:
    """The code of the pack option ``text`` names: by code, by name in either language, or
    by a unique beginning of one ("高级" for 高级工程师), abbreviations expanded ("Sr").

    Anything else comes back as given, for the domain to refuse naming the codes it knows.
    """
    given = _text(text)
    wanted = _words(given)
    if not wanted:
        return given
    forms = {
        option.code: {
            _words(option.code),
            _words(option.code.replace("_", " ")),
            _words(option.name.en),
            _words(option.name.zh),
        }
        for option in options
    }
    named = [code for code, words in forms.items() if wanted in words]
    if len(named) == 1:
        return named[0]
    if len(wanted) >= 2:
        begun = [code for code, words in forms.items() if any(w.startswith(wanted) for w in words)]
        if len(begun) == 1:
            return begun[0]
    return given


def _ref_error(row: MappedRow, field: str, ref: RefKind, text: str, code: RowErrorCode) -> RowError:
    what, what_zh, how, how_zh, unique, unique_zh = _REF_WORDS[ref]
    if code == RowErrorCode.AMBIGUOUS:
        message = f"{text!r} names several {what}s; give {unique}"
        message_zh = f"“{text}”对应多个{what_zh}，请填写{unique_zh}"
    else:
        message = f"no {what} has the {how} {text!r}"
        message_zh = f"未找到{how_zh}为“{text}”的{what_zh}"
    return RowError(row.number, field, code, message, message_zh, text)


def _not_an_object(row: MappedRow, field: str, example: str) -> RowError:
    return RowError(
        row.number,
        field,
        RowErrorCode.INVALID_VALUE,
        f"must be an object such as {example}",
        f"须为对象，例如 {example}",
        _display(row.values.get(field)),
    )


def _choice(row: MappedRow, field: str, choices: type[E], errors: list[RowError]) -> E | None:
    """The enum member of the row's ``field``; None when empty. The mapping only hands over
    choices of the field's spec, so an unknown value is a mapping profile out of date."""
    value = row.values.get(field)
    if value is None or value == "":
        return None
    try:
        return choices(value)
    except ValueError:
        known = [member.value for member in choices]
        errors.append(
            RowError(
                row.number,
                field,
                RowErrorCode.UNKNOWN_CHOICE,
                f"must be one of {known}",
                f"必须是以下之一：{known}",
                _display(value),
            )
        )
        return None


def _given(row: MappedRow, field: str) -> Any:
    """The row's value of ``field``, or ``KEEP`` when it is empty or not mapped."""
    value = row.values.get(field)
    return KEEP if value is None or value == "" else value


def _given_fields(row: MappedRow, fields: Sequence[str]) -> dict[str, Any]:
    """The row's values of those of ``fields`` it gives (neither empty nor unmapped)."""
    return {f: v for f in fields if not isinstance(v := _given(row, f), Keep)}


def _chunks(rows: Sequence[T], size: int = MAX_BATCH) -> list[Sequence[T]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


@dataclass
class _Ready:
    """A row the domain will see, with what the service takes for it."""

    row: MappedRow
    item: Any


class RecordWriter(ABC):
    """What every records writer shares: batching, references, and turning the domain's
    answers into counts and row errors."""

    spec: ClassVar[KindSpec]
    # The domain's field names (camelCase, before any ".") that are not simply the spec
    # field's name in camelCase.
    renamed: ClassVar[Mapping[str, str]] = {}
    batch_size = MAX_BATCH

    def __init__(self, context: WriteContext) -> None:
        self.context = context
        self.tenant: TenantID = context.tenant
        self._pack: PackFile | None = None

    @classmethod
    async def create(cls, context: WriteContext) -> KindWriter:
        return cls(context)

    async def write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        for chunk in _chunks(rows):  # the pipeline keeps to batch_size; this makes it sure
            report.add(await self._write(chunk))
        return report

    async def finish(self) -> WriteReport:
        return WriteReport()  # every batch is written as it comes: nothing is staged

    @abstractmethod
    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        """Write one batch of at most 500 rows through the kind's domain upsert."""

    async def pack(self) -> PackFile:
        if self._pack is None:
            self._pack = await pack_of(self.tenant)
        return self._pack

    # --- references ------------------------------------------------------------------------

    def ref(self, row: MappedRow, field: str, ref: RefKind, errors: list[RowError]) -> UUID | None:
        """The id the row's ``field`` names; None when empty, or when it names nothing or
        several records (then reported in ``errors``)."""
        known = row.resolved.get(field)
        if isinstance(known, UUID):
            return known
        value = row.values.get(field)
        if value is None or _text(value) == "":
            return None
        text = _text(value)
        found = self.context.references.resolve(ref, text)
        if isinstance(found, UUID):
            row.resolved[field] = found
            return found
        errors.append(_ref_error(row, field, ref, text, found))
        return None

    def refs(self, row: MappedRow, field: str, ref: RefKind, errors: list[RowError]) -> list[UUID]:
        """The ids a list field names, each once, in order; unresolved ones in ``errors``."""
        known = row.resolved.get(field)
        if isinstance(known, list) and all(isinstance(i, UUID) for i in known):
            return list(dict.fromkeys(known))
        value = row.values.get(field)
        texts = [value] if isinstance(value, str) else list(value or ())
        found: list[UUID] = []
        for item in texts:
            text = _text(item)
            if not text:
                continue
            answer = self.context.references.resolve(ref, text)
            if isinstance(answer, UUID):
                found.append(answer)
            else:
                errors.append(_ref_error(row, field, ref, text, answer))
        found = list(dict.fromkeys(found))
        row.resolved[field] = found
        return found

    # --- the domain's answers --------------------------------------------------------------

    def refused(self, row: MappedRow, error: ServiceError) -> list[RowError]:
        return refused_rows(row, error, self.spec, self.renamed)

    def tally(self, report: WriteReport, row: MappedRow, result: UpsertResult) -> None:
        if result.outcome == Outcome.CREATED:
            report.created += 1
        elif result.outcome == Outcome.UPDATED:
            report.updated += 1
        elif result.outcome == Outcome.UNCHANGED:
            report.unchanged += 1
        elif result.error is not None:
            report.errors.extend(self.refused(row, result.error))

    async def upsert(
        self,
        report: WriteReport,
        ready: Sequence[_Ready],
        run: Callable[[list[Any]], Awaitable[list[UpsertResult]]],
    ) -> list[tuple[MappedRow, UpsertResult]]:
        """Hand the ready rows to the service's upsert, count what it did."""
        if not ready:
            return []
        results = await run([r.item for r in ready])
        answered = list(zip((r.row for r in ready), results, strict=True))
        for row, result in answered:
            self.tally(report, row, result)
        return answered


# --- org units ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ParentKey:
    """The parent named by external key (a unit of the batch, or one with a key)."""

    key: str


@dataclass(frozen=True)
class _ParentId:
    """The parent as a unit id (None: a top unit)."""

    unit_id: UUID | None


class OrgUnitsWriter(RecordWriter):
    """Through ``OrgService.upsert``, which writes parents before their children wherever
    they are in the batch.

    A parent may be named by path or name as well as by key. The upsert takes parents by
    external key, so a parent without one (a unit entered by hand) is written to with
    ``create``/``update`` directly, the way the upsert itself does it. A parent named by
    path or name that only a row of the same batch creates is found in a second pass, once
    that row is written.
    """

    spec = ORG_UNITS
    renamed: ClassVar[Mapping[str, str]] = {
        "parentId": "parent",
        "parentExternalKey": "parent",
        "id": "external_key",
    }

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        pack = await self.pack()
        keys = {row.number: _text(row.values.get("external_key")) for row in rows}
        existing = {
            unit.external_key: unit
            for unit in await org_repo.get_units_by_external_key(
                self.tenant, [k for k in keys.values() if k]
            )
        }
        waiting = list(rows)
        while waiting:
            batch_keys = {keys[row.number] for row in waiting}
            parents: dict[int, _ParentKey | _ParentId] = {}
            unresolved: dict[int, RowErrorCode] = {}
            for row in waiting:
                errors: list[RowError] = []
                parent = self._parent(row, keys[row.number], batch_keys, existing, errors)
                if isinstance(parent, RowErrorCode):
                    unresolved[row.number] = parent
                elif errors:
                    report.errors.extend(errors)
                else:
                    parents[row.number] = parent
            # A row whose parent is a waiting row's key waits for that row.
            waiting_keys = {keys[n] for n in unresolved}
            while True:
                blocked = [
                    number
                    for number, parent in parents.items()
                    if isinstance(parent, _ParentKey) and parent.key in waiting_keys
                ]
                if not blocked:
                    break
                for number in blocked:
                    unresolved[number] = RowErrorCode.NOT_FOUND
                    waiting_keys.add(keys[number])
                    del parents[number]
            ready = [row for row in waiting if row.number in parents]
            if not ready:
                for row in waiting:
                    if row.number in unresolved:
                        text = _text(row.values.get("parent"))
                        error = _ref_error(
                            row, "parent", RefKind.ORG_UNIT, text, unresolved[row.number]
                        )
                        report.errors.append(error)
                break
            await self._write_ready(report, pack, ready, keys, parents, existing)
            waiting = [row for row in waiting if row.number in unresolved]
        return report

    def _parent(
        self,
        row: MappedRow,
        key: str,
        batch_keys: set[str],
        existing: Mapping[str | None, OrgUnit],
        errors: list[RowError],
    ) -> _ParentKey | _ParentId | RowErrorCode:
        """Where the row's unit goes; ``NOT_FOUND`` when a later pass may know the parent."""
        given = _given(row, "parent")
        if isinstance(given, Keep):  # the unit stays where it is; a new one is a top unit
            current = existing.get(key)
            return _ParentId(current.parent_id if current is not None else None)
        text = _text(given)
        if text in batch_keys and text != key:
            return _ParentKey(text)
        found = self.context.references.resolve(RefKind.ORG_UNIT, text)
        if isinstance(found, UUID):
            return _ParentId(found)
        if found == RowErrorCode.NOT_FOUND:
            return found
        errors.append(_ref_error(row, "parent", RefKind.ORG_UNIT, text, found))
        return _ParentId(None)

    async def _write_ready(
        self,
        report: WriteReport,
        pack: PackFile,
        rows: Sequence[MappedRow],
        keys: Mapping[int, str],
        parents: Mapping[int, _ParentKey | _ParentId],
        existing: dict[str | None, OrgUnit],
    ) -> None:
        by_id = {unit.id: unit for unit in existing.values()}
        wanted = [
            p.unit_id
            for p in parents.values()
            if isinstance(p, _ParentId) and p.unit_id is not None and p.unit_id not in by_id
        ]
        if wanted:
            by_id.update({u.id: u for u in await org_repo.get_units(self.tenant, wanted)})
        through_upsert: list[_Ready] = []
        direct: list[tuple[MappedRow, UUID]] = []
        for row in rows:
            parent = parents[row.number]
            parent_key: str | None = None
            if isinstance(parent, _ParentKey):
                parent_key = parent.key
            elif parent.unit_id is not None:
                unit = by_id.get(parent.unit_id)
                if unit is None or unit.external_key is None:
                    direct.append((row, parent.unit_id))
                    continue
                parent_key = unit.external_key
            item = OrgUnitItem(
                external_key=keys[row.number],
                name=_text(row.values.get("name") or ""),
                kind=coded(row.values.get("kind") or "", pack.org_unit_kinds),
                parent_external_key=parent_key,
            )
            through_upsert.append(_Ready(row, item))
        answered: list[tuple[MappedRow, UpsertResult]] = []
        for row, parent_id in direct:  # their parents exist already: before the upsert
            result = await self._write_direct(row, keys[row.number], pack, parent_id)
            self.tally(report, row, result)
            answered.append((row, result))
        answered += await self.upsert(
            report, through_upsert, lambda items: org_service.upsert(self.tenant, items)
        )
        written = [r.record for _, r in answered if isinstance(r.record, OrgUnit)]
        for unit in written:
            existing[unit.external_key] = unit
        paths = await unit_paths(self.tenant, [unit.id for unit in written])
        for unit in written:
            names = org_unit_names(unit.external_key, paths.get(unit.id), unit.name)
            self.context.references.add(RefKind.ORG_UNIT, names, unit.id)

    async def _write_direct(
        self, row: MappedRow, key: str, pack: PackFile, parent_id: UUID
    ) -> UpsertResult:
        name = _text(row.values.get("name") or "")
        kind = coded(row.values.get("kind") or "", pack.org_unit_kinds)
        current = await org_repo.get_units_by_external_key(self.tenant, [key]) if key else []

        async def create() -> OrgUnit:
            return await org_service.create(
                self.tenant, name=name, kind=kind, parent_id=parent_id, external_key_value=key
            )

        async def update(unit: OrgUnit) -> tuple[OrgUnit, bool]:
            before = snapshot(unit, UNIT_AUDITED)
            updated = await org_service.update(
                self.tenant, unit.id, name=name, kind=kind, parent_id=parent_id
            )
            return updated, snapshot(updated, UNIT_AUDITED) != before

        return await upsert_one(key, current[0] if current else None, create, update)


# --- employees ---------------------------------------------------------------------------------


class EmployeesWriter(RecordWriter):
    """Through ``EmployeeService.upsert`` by employee number: national ids are sealed and
    custom fields checked against the tenant's definitions as for the API."""

    spec = EMPLOYEES
    renamed: ClassVar[Mapping[str, str]] = {
        "orgUnitId": "org_unit",
        "orgUnitExternalKey": "org_unit",
        "customFields": "custom_fields",
        "userId": "employee_number",
    }

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        pack = await self.pack()
        ready = []
        for row in rows:
            errors: list[RowError] = []
            changes = self._changes(row, pack, errors)
            if errors:
                report.errors.extend(errors)
            else:
                ready.append(_Ready(row, changes))
        answered = await self.upsert(
            report, ready, lambda items: employee_service.upsert(self.tenant, items)
        )
        for _, result in answered:
            if result.record is not None:
                employee = result.record
                names = employee_names(employee.employee_number, employee.email)
                self.context.references.add(RefKind.EMPLOYEE, names, employee.id)
        return report

    def _changes(self, row: MappedRow, pack: PackFile, errors: list[RowError]) -> EmployeeChanges:
        values = row.values
        changes = EmployeeChanges(
            employee_number=_text(values.get("employee_number") or ""),
            name=_text(values.get("name") or ""),
        )
        given = _given_fields(row, ("email", "phone", "title", "hire_date", "national_id"))
        for field, value in given.items():
            setattr(changes, field, _text(value) if isinstance(value, (str, int)) else value)
        if "level" in (given := _given_fields(row, ("level",))):
            changes.level = coded(given["level"], pack.levels)
        status = _choice(row, "status", EmployeeStatus, errors)
        if status is not None:  # a new person is active
            changes.status = status
        unit_id = self.ref(row, "org_unit", RefKind.ORG_UNIT, errors)
        if unit_id is not None:
            changes.org_unit_id = unit_id
        custom = values.get("custom_fields")
        if isinstance(custom, Mapping):  # merged over the stored ones by the service
            changes.custom_fields = dict(custom)
        elif custom is not None:
            errors.append(_not_an_object(row, "custom_fields", '{"subject": "math"}'))
        return changes


# --- skills ------------------------------------------------------------------------------------


class SkillsWriter(RecordWriter):
    """Through ``SkillService.upsert`` by external key. Its items are whole states, so a
    field the mapping leaves out is filled in from the stored skill."""

    spec = SKILLS
    renamed: ClassVar[Mapping[str, str]] = {"nameZh": "name_zh", "nameEn": "name_en"}

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        keys = [_text(row.values.get("external_key") or "") for row in rows]
        stored = {
            skill.external_key: skill
            for skill in await skills_repo.get_skills_by_external_key(
                self.tenant, [k for k in keys if k]
            )
        }
        ready = []
        for row, key in zip(rows, keys, strict=True):
            current = stored.get(key)
            values = row.values
            stored_state: dict[str, Any] = {"name_zh": None, "name_en": None, "category": None}
            if current is not None:
                stored_state = {
                    "name_zh": current.name_zh,
                    "name_en": current.name_en,
                    "category": current.category,
                    "aliases": list(current.aliases),
                }
            # What the row leaves empty stays as stored.
            state = {**stored_state, **_given_fields(row, ("name_zh", "name_en", "category"))}
            state.update(_given_fields(row, ("aliases",)))
            aliases = state.get("aliases") or []
            item = SkillItem(
                external_key=key,
                name=_text(values.get("name") or ""),
                name_zh=state["name_zh"],
                name_en=state["name_en"],
                category=state["category"],
                aliases=[_text(a) for a in ([aliases] if isinstance(aliases, str) else aliases)],
            )
            ready.append(_Ready(row, item))
        answered = await self.upsert(
            report, ready, lambda items: skill_service.upsert(self.tenant, items)
        )
        for _, result in answered:
            skill = result.record
            if skill is not None:
                names = skill_names(
                    skill.external_key, skill.name, skill.name_zh, skill.name_en, skill.aliases
                )
                self.context.references.add(RefKind.SKILL, names, skill.id)
        return report


# --- people's skill levels ---------------------------------------------------------------------


class EmployeeSkillsWriter(RecordWriter):
    """Through ``SkillService.set_level``, one savepoint a row: each change joins the
    person's skill history, an evaluation older than the current one joins it only.

    A row without a date that repeats the person's current level and source is no change:
    it would otherwise re-date the level every time the file is imported.
    """

    spec = EMPLOYEE_SKILLS
    renamed: ClassVar[Mapping[str, str]] = {"employeeId": "employee", "skillId": "skill"}

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        ready: list[tuple[MappedRow, UUID, UUID]] = []
        for row in rows:
            errors: list[RowError] = []
            employee_id = self.ref(row, "employee", RefKind.EMPLOYEE, errors)
            skill_id = self.ref(row, "skill", RefKind.SKILL, errors)
            _choice(row, "source", SkillSource, errors)
            if errors:
                report.errors.extend(errors)
            elif employee_id is not None and skill_id is not None:
                ready.append((row, employee_id, skill_id))
        held = await skill_service.current_skills(self.tenant, list({e for _, e, _ in ready}))
        current = {
            (skill.employee_id, skill.skill_id): skill
            for skills in held.values()
            for skill, _ in skills
        }
        for row, employee_id, skill_id in ready:
            result = await self._set(row, employee_id, skill_id, current)
            self.tally(report, row, result)
        return report

    async def _set(
        self,
        row: MappedRow,
        employee_id: UUID,
        skill_id: UUID,
        current: dict[tuple[UUID, UUID], HeldSkill],
    ) -> UpsertResult:
        values = row.values
        key = f"{employee_id}/{skill_id}"
        level: Any = values.get("level")
        source = SkillSource(values.get("source") or SkillSource.MANAGER)  # checked in _write
        held = current.get((employee_id, skill_id))
        on = values.get("evaluated_on")
        if on is None:
            if held is not None and (held.level, held.source) == (level, source):
                return UpsertResult(key, Outcome.UNCHANGED, held)
            on = today()
        if held is None:
            outcome = Outcome.CREATED
        elif (held.level, held.source, held.evaluated_on) == (level, source, on):
            return UpsertResult(key, Outcome.UNCHANGED, held)
        elif isinstance(on, date) and on < held.evaluated_on:
            known = await skills_repo.has_event(
                self.tenant,
                employee_id=employee_id,
                skill_id=skill_id,
                level=level,
                source=source,
                evaluated_on=on,
            )
            if known:
                return UpsertResult(key, Outcome.UNCHANGED, held)
            outcome = Outcome.UPDATED
        else:
            outcome = Outcome.UPDATED
        try:
            async with tenant_savepoint():
                saved = await skill_service.set_level(
                    self.tenant,
                    employee_id,
                    skill_id,
                    level=level,  # checked by the service: 1-5, a whole number
                    source=source,
                    evaluated_on=on,
                )
        except ServiceError as exc:
            return UpsertResult(key, Outcome.FAILED, error=exc)
        current[(employee_id, skill_id)] = HeldSkill(
            employee_id=employee_id,
            skill_id=skill_id,
            level=saved.level,
            source=SkillSource(saved.source),
            evaluated_on=saved.evaluated_on,
        )
        return UpsertResult(key, outcome, saved)


# --- engagements -------------------------------------------------------------------------------


class EngagementsWriter(RecordWriter):
    """Through ``EngagementService.upsert`` by external key; outcomes are checked against the
    engagement kind's definitions in the tenant's pack."""

    spec = ENGAGEMENTS
    renamed: ClassVar[Mapping[str, str]] = {"employeeId": "employee", "skillIds": "skills"}

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        pack = await self.pack()
        ready = []
        for row in rows:
            errors: list[RowError] = []
            changes = self._changes(row, pack, errors)
            if errors:
                report.errors.extend(errors)
            else:
                ready.append(_Ready(row, changes))
        await self.upsert(
            report, ready, lambda items: engagement_service.upsert(self.tenant, items)
        )
        return report

    def _changes(self, row: MappedRow, pack: PackFile, errors: list[RowError]) -> EngagementChanges:
        values = row.values
        employee_id = self.ref(row, "employee", RefKind.EMPLOYEE, errors)
        kind_code = coded(values.get("kind") or "", pack.engagement_kinds)
        changes = EngagementChanges(
            employee_id=employee_id if employee_id is not None else KEEP,
            kind=kind_code,
            name=_text(values.get("name") or ""),
            started_on=values.get("started_on") or KEEP,
            external_key=_text(values.get("external_key") or ""),
        )
        for field, value in _given_fields(row, ("role", "ended_on")).items():
            setattr(changes, field, value)
        if not isinstance(_given(row, "skills"), Keep):
            changes.skill_ids = self.refs(row, "skills", RefKind.SKILL, errors)
        outcomes = _given(row, "outcomes")
        if not isinstance(outcomes, Keep):
            if isinstance(outcomes, Mapping):
                kind = pack.engagement_kind(kind_code)
                definitions = kind.outcomes if kind is not None else ()
                changes.outcomes = {coded(k, definitions): v for k, v in outcomes.items()}
            else:
                errors.append(_not_an_object(row, "outcomes", '{"cycle_days": 42}'))
        return changes


# --- appraisals --------------------------------------------------------------------------------


class AppraisalsWriter(RecordWriter):
    """Through ``AppraisalService.upsert`` by external key; imported appraisals are marked
    as such, as the API's ERP upsert marks them."""

    spec = APPRAISALS
    renamed: ClassVar[Mapping[str, str]] = {"employeeId": "employee"}

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        ready = []
        for row in rows:
            errors: list[RowError] = []
            employee_id = self.ref(row, "employee", RefKind.EMPLOYEE, errors)
            if errors:
                report.errors.extend(errors)
                continue
            values = row.values
            changes = AppraisalChanges(
                employee_id=employee_id if employee_id is not None else KEEP,
                period=_text(values.get("period") or ""),
                period_start=values.get("period_start") or KEEP,
                period_end=values.get("period_end") or KEEP,
                source=AppraisalSource.IMPORTED,
                external_key=_text(values.get("external_key") or ""),
            )
            given = _given_fields(row, ("score", "grade", "reviewer", "comments"))
            for field, value in given.items():
                text = field != "score" and isinstance(value, (int, float, Decimal))
                setattr(changes, field, _text(value) if text else value)
            ready.append(_Ready(row, changes))
        await self.upsert(report, ready, lambda items: appraisal_service.upsert(self.tenant, items))
        return report


# --- feedback ----------------------------------------------------------------------------------


class FeedbackWriter(RecordWriter):
    """Through ``FeedbackService.upsert`` by external key: anonymous feedback keeps no
    author, whatever the file says, and cannot become named later."""

    spec = FEEDBACK
    renamed: ClassVar[Mapping[str, str]] = {"subjectId": "subject"}

    async def _write(self, rows: Sequence[MappedRow]) -> WriteReport:
        report = WriteReport()
        pack = await self.pack()
        ready = []
        for row in rows:
            errors: list[RowError] = []
            item = self._item(row, pack, errors)
            if errors or item is None:
                report.errors.extend(errors)
            else:
                ready.append(_Ready(row, item))
        await self.upsert(report, ready, lambda items: feedback_service.upsert(self.tenant, items))
        return report

    def _item(self, row: MappedRow, pack: PackFile, errors: list[RowError]) -> FeedbackItem | None:
        values = row.values
        subject_id = self.ref(row, "subject", RefKind.EMPLOYEE, errors)
        ratings = values.get("ratings")
        if not isinstance(ratings, Mapping):
            errors.append(_not_an_object(row, "ratings", '{"delivery": 4}'))
        if subject_id is None or errors or not isinstance(ratings, Mapping):
            return None
        given_at = _given(row, "given_at")
        if isinstance(given_at, datetime) and given_at.tzinfo is None:
            given_at = given_at.replace(tzinfo=ZoneInfo(self.context.timezone))
        anonymous = _given(row, "anonymous")  # empty: named on create, kept after
        return FeedbackItem(
            external_key=_text(values.get("external_key") or ""),
            subject_id=subject_id,
            source=values.get("source") or "",
            ratings={coded(k, pack.feedback_criteria): _rating(v) for k, v in ratings.items()},
            comment=_given(row, "comment"),
            anonymous=anonymous if isinstance(anonymous, Keep) else bool(anonymous),
            author_label=_given(row, "author_label"),
            given_at=given_at,
        )


def _rating(value: Any) -> Any:
    """A rating as the service takes it: "4" from a text cell is 4; anything else as given
    (the service refuses 4.5 or "good" naming the criterion)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


# --- the registry ------------------------------------------------------------------------------


RECORD_KINDS: dict[str, tuple[KindSpec, WriterFactory]] = {
    writer.spec.code: (writer.spec, writer.create)
    for writer in (
        OrgUnitsWriter,
        EmployeesWriter,
        SkillsWriter,
        EmployeeSkillsWriter,
        EngagementsWriter,
        AppraisalsWriter,
        FeedbackWriter,
    )
}
