"""Mappings and the row mapper: typed values, errors with row, column, code and value,
constants, extra choice synonyms and translation tables, typed cells, REQUIRED, TOO_LONG,
the cleansing reported, the problems ``check`` finds, the JSON form, and mappings suggested
from Chinese and English headers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.imports.fields import (
    Choice,
    Cleansing,
    FieldSpec,
    FieldType,
    KindSpec,
    MappedRow,
    RawRow,
    RefKind,
    RowError,
    RowErrorCode,
)
from domain.imports.mapping import (
    ColumnMapping,
    ImportMapping,
    MappingError,
    ProblemCode,
    RowMapper,
    SuggestedColumn,
    suggest_mapping,
)
from domain.imports.specs_work import FACTS, WORK_ITEMS

SHANGHAI = timezone(timedelta(hours=8))

FACT_HEADERS = ["工号", "指标", "日期", "数值", "编号"]
FACT_MAPPING = ImportMapping(
    columns={
        "工号": ColumnMapping("employee"),
        "指标": ColumnMapping("kind"),
        "日期": ColumnMapping("occurred_at"),
        "数值": ColumnMapping("value"),
        "编号": ColumnMapping("external_key"),
    },
    constants={"source": "gitlab"},
)

# A kind with the field types the work kinds lack, as records.py declares its own.
PEOPLE = KindSpec(
    code="people",
    label_en="People",
    label_zh="人员",
    key=("employee_number",),
    fields=(
        FieldSpec(
            "employee_number", FieldType.TEXT, "Employee number", "工号", required=True,
            max_length=32, synonyms=("employee no", "emp no", "staff id", "员工编号"),
        ),
        FieldSpec("name", FieldType.TEXT, "Name", "姓名", required=True, max_length=100),
        FieldSpec("email", FieldType.EMAIL, "E-mail", "邮箱", synonyms=("email address",)),
        FieldSpec("phone", FieldType.PHONE, "Phone", "电话", synonyms=("mobile", "手机")),
        FieldSpec("hired_on", FieldType.DATE, "Hire date", "入职日期", synonyms=("hired",)),
        FieldSpec(
            "level", FieldType.ENUM, "Level", "职级",
            choices=(Choice("junior", ("初级", "Jr")), Choice("senior", ("高级", "Sr", "Sr."))),
        ),
        FieldSpec("active", FieldType.BOOLEAN, "Active", "在职"),
        FieldSpec("grade", FieldType.INTEGER, "Grade", "等级"),
        FieldSpec(
            "manager", FieldType.TEXT, "Manager", "上级", ref=RefKind.EMPLOYEE,
            synonyms=("reports to", "直属上级"),
        ),
        FieldSpec("extra", FieldType.JSON, "Extra", "扩展信息"),
    ),
)  # fmt: skip


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """Pure functions: neither the application nor its database is needed here."""


def _map(
    spec: KindSpec, mapping: ImportMapping, cells: dict[str, Any], number: int = 1
) -> tuple[MappedRow | None, list[RowError], list[Cleansing]]:
    return RowMapper(spec, mapping, list(cells)).map(RawRow(number, cells))


def _fact(**cells: Any) -> dict[str, Any]:
    row = {"工号": "E1001", "指标": "commits", "日期": "2024-01-05", "数值": "3", "编号": "c-1"}
    row.update(cells)
    return row


def _people(**columns: str) -> ImportMapping:
    return ImportMapping(columns={header: ColumnMapping(name) for header, name in columns.items()})


# --- mapping rows -----------------------------------------------------------------------------


def test_a_fact_row_is_typed() -> None:
    mapped, errors, cleansing = _map(FACTS, FACT_MAPPING, _fact(), number=3)
    assert errors == []
    assert cleansing == []
    assert mapped == MappedRow(
        3,
        {
            "employee": "E1001",
            "kind": "commits",
            "occurred_at": datetime(2024, 1, 5, tzinfo=SHANGHAI),
            "value": 3.0,
            "denominator": None,
            "external_key": "c-1",
            "source": "gitlab",
            "attributes": None,
        },
    )


def test_errors_carry_row_column_code_bilingual_messages_and_the_value() -> None:
    mapped, errors, _ = _map(FACTS, FACT_MAPPING, _fact(日期="yesterday", 数值="lots"), number=7)
    assert mapped is None
    assert [(e.row, e.column, e.code, e.value) for e in errors] == [
        (7, "日期", RowErrorCode.INVALID_VALUE, "yesterday"),
        (7, "数值", RowErrorCode.INVALID_VALUE, "lots"),
    ]
    assert errors[0].message.startswith("Occurred at: 'yesterday' is not a date")
    assert errors[0].message_zh.startswith("发生时间：'yesterday' 不是有效日期")


def test_the_offending_value_is_cut_to_200_characters() -> None:
    _, errors, _ = _map(FACTS, FACT_MAPPING, _fact(数值="x" * 500))
    assert errors[0].value == "x" * 200


def test_required_cells_must_not_be_empty() -> None:
    mapped, errors, _ = _map(FACTS, FACT_MAPPING, _fact(工号="  ", 数值=None), number=2)
    assert mapped is None
    assert [(e.row, e.column, e.code) for e in errors] == [
        (2, "工号", RowErrorCode.REQUIRED),
        (2, "数值", RowErrorCode.REQUIRED),
    ]
    assert errors[0].message == "Employee is required"
    assert errors[0].message_zh == "员工为必填项"


def test_a_required_field_without_a_column_fails_every_row_under_its_name() -> None:
    mapping = ImportMapping(
        columns={
            header: column for header, column in FACT_MAPPING.columns.items() if header != "数值"
        }
    )
    mapper = RowMapper(FACTS, mapping, FACT_HEADERS)
    for number in (1, 2):
        mapped, errors, _ = mapper.map(RawRow(number, _fact()))
        assert mapped is None
        assert [(e.row, e.column, e.code) for e in errors] == [
            (number, "value", RowErrorCode.REQUIRED)
        ]


def test_a_mapped_column_the_file_lacks_is_an_unmapped_field() -> None:
    headers = [h for h in FACT_HEADERS if h != "编号"]
    mapper = RowMapper(FACTS, FACT_MAPPING, headers)
    mapped, errors, _ = mapper.map(RawRow(1, {h: _fact()[h] for h in headers}))
    assert errors == []
    assert mapped is not None
    assert mapped.values["external_key"] is None


def test_constants_fill_absent_columns_and_empty_cells_only() -> None:
    mapping = ImportMapping(
        columns={**FACT_MAPPING.columns, "来源": ColumnMapping("source")},
        constants={"source": "gitlab", "denominator": "10"},
    )
    mapper = RowMapper(FACTS, mapping, [*FACT_HEADERS, "来源"])
    given, _, _ = mapper.map(RawRow(1, {**_fact(), "来源": "jenkins"}))
    empty, _, _ = mapper.map(RawRow(2, {**_fact(), "来源": ""}))
    assert given is not None
    assert empty is not None
    assert given.values["source"] == "jenkins"
    assert empty.values["source"] == "gitlab"
    assert given.values["denominator"] == 10.0  # constants are typed like cells


def test_a_constant_stands_in_for_a_required_field() -> None:
    mapping = ImportMapping(columns=FACT_MAPPING.columns, constants={"kind": "commits"})
    mapped, errors, _ = _map(FACTS, mapping, _fact(指标=""))
    assert errors == []
    assert mapped is not None
    assert mapped.values["kind"] == "commits"


def test_text_fields_translate_through_the_mapping_choices() -> None:
    mapping = ImportMapping(
        columns={"Key": ColumnMapping("external_key"), "Type": ColumnMapping("kind"),
                 "Summary": ColumnMapping("title")},
        choices={"kind": {"Story": "requirement", "缺陷": "bug"}},
    )  # fmt: skip
    mapper = RowMapper(WORK_ITEMS, mapping, ["Key", "Type", "Summary"])
    kinds = [
        row.values["kind"] if row else None
        for row, _, _ in (
            mapper.map(RawRow(n, {"Key": f"K-{n}", "Type": kind, "Summary": "s"}))
            for n, kind in enumerate(["story", "缺陷", "Spike"], start=1)
        )
    ]
    assert kinds == ["requirement", "bug", "Spike"]


def test_enum_fields_match_synonyms_and_refuse_the_rest() -> None:
    mapping = ImportMapping(
        columns={"工号": ColumnMapping("employee_number"), "姓名": ColumnMapping("name"),
                 "职级": ColumnMapping("level")},
        choices={"level": {"资深": "senior"}},
    )  # fmt: skip
    mapper = RowMapper(PEOPLE, mapping, ["工号", "姓名", "职级"])
    levels = []
    for cell in ["高级", "Sr.", "资深", "JR"]:
        mapped, _, _ = mapper.map(RawRow(1, {"工号": "E1", "姓名": "张三", "职级": cell}))
        assert mapped is not None
        levels.append(mapped.values["level"])
    assert levels == ["senior", "senior", "senior", "junior"]
    mapped, errors, _ = mapper.map(RawRow(9, {"工号": "E1", "姓名": "张三", "职级": "专家"}))
    assert mapped is None
    assert (errors[0].row, errors[0].column, errors[0].code, errors[0].value) == (
        9, "职级", RowErrorCode.UNKNOWN_CHOICE, "专家",
    )  # fmt: skip
    assert "junior, senior" in errors[0].message


def test_typed_cells_from_xlsx_and_json_lines() -> None:
    mapping = _people(
        No="employee_number", Name="name", Hired="hired_on", Active="active", Grade="grade",
        Phone="phone", Extra="extra",
    )  # fmt: skip
    cells = {
        "No": 1001.0,
        "Name": "张三",
        "Hired": datetime(2024, 1, 5, 0, 0),
        "Active": True,
        "Grade": 3.0,
        "Phone": 13800138000,
        "Extra": {"desk": "A-12"},
    }
    mapped, errors, _ = _map(PEOPLE, mapping, cells)
    assert errors == []
    assert mapped is not None
    assert {k: v for k, v in mapped.values.items() if v is not None} == {
        "employee_number": "1001",
        "name": "张三",
        "hired_on": date(2024, 1, 5),
        "active": True,
        "grade": 3,
        "phone": "+8613800138000",
        "extra": {"desk": "A-12"},
    }
    facts, errors, _ = _map(FACTS, FACT_MAPPING, _fact(日期=45296.5, 数值=12, 工号=1001))
    assert errors == []
    assert facts is not None
    assert facts.values["occurred_at"] == datetime(2024, 1, 5, 12, tzinfo=SHANGHAI)
    assert facts.values["value"] == 12.0
    assert facts.values["employee"] == "1001"


def test_typed_cells_that_do_not_fit_are_refused() -> None:
    _, errors, _ = _map(FACTS, FACT_MAPPING, _fact(数值=True, 日期=["2024-01-05"]))
    assert {(e.column, e.code) for e in errors} == {
        ("数值", RowErrorCode.INVALID_VALUE),
        ("日期", RowErrorCode.INVALID_VALUE),
    }


def test_too_long_values() -> None:
    mapped, errors, _ = _map(FACTS, FACT_MAPPING, _fact(指标="k" * 64), number=4)
    assert mapped is None
    assert [(e.row, e.column, e.code, e.value) for e in errors] == [
        (4, "指标", RowErrorCode.TOO_LONG, "k" * 64)
    ]
    assert "63" in errors[0].message
    assert "63" in errors[0].message_zh
    ok, errors, _ = _map(FACTS, FACT_MAPPING, _fact(指标="k" * 63))
    assert ok is not None
    assert errors == []


def test_cleansing_is_reported_per_column() -> None:
    mapping = _people(工号="employee_number", 姓名="name", 电话="phone", 上级="manager")
    mapped, errors, cleansing = _map(
        PEOPLE,
        mapping,
        {"工号": "Ｅ１００１", "姓名": "\u3000李  四 ", "电话": "138 0013 8000", "上级": "张  三"},
    )
    assert errors == []
    assert mapped is not None
    assert mapped.values["employee_number"] == "E1001"
    assert mapped.values["name"] == "李  四"  # free text keeps inner whitespace
    assert mapped.values["phone"] == "+8613800138000"
    assert mapped.values["manager"] == "张 三"  # a reference is collapsed to find its record
    assert cleansing == [
        Cleansing("full_width", "工号"),
        Cleansing("full_width", "姓名"),
        Cleansing("trim", "姓名"),
        Cleansing("phone", "电话"),
        Cleansing("whitespace", "上级"),
    ]


def test_ascii_cells_report_trimming() -> None:
    _, _, cleansing = _map(FACTS, FACT_MAPPING, _fact(工号=" E1001 ", 数值="3\t"))
    assert cleansing == [Cleansing("trim", "工号"), Cleansing("trim", "数值")]


def test_json_cells_are_only_trimmed() -> None:
    mapping = _people(No="employee_number", Name="name", Extra="extra")
    mapped, _, cleansing = _map(
        PEOPLE, mapping, {"No": "E1", "Name": "n", "Extra": ' {"备注": "你好，世界"} '}
    )
    assert mapped is not None
    assert mapped.values["extra"] == {"备注": "你好，世界"}
    assert cleansing == [Cleansing("trim", "Extra")]


def test_references_keep_their_text_and_lists_their_texts() -> None:
    mapping = ImportMapping(
        columns={"Key": ColumnMapping("external_key"), "Type": ColumnMapping("kind"),
                 "Summary": ColumnMapping("title"), "Assignee": ColumnMapping("assignees"),
                 "Labels": ColumnMapping("skills"), "Reporter": ColumnMapping("requester")},
    )  # fmt: skip
    cells = {
        "Key": "RD-1", "Type": "bug", "Summary": "登录失败",
        "Assignee": "张三，李  四、 ", "Labels": "", "Reporter": "wang.wu@example.com",
    }  # fmt: skip
    mapped, errors, _ = _map(WORK_ITEMS, mapping, cells)
    assert errors == []
    assert mapped is not None
    assert mapped.values["assignees"] == ["张三", "李 四"]
    assert mapped.values["skills"] is None
    assert mapped.values["requester"] == "wang.wu@example.com"
    assert mapped.resolved == {}


def test_list_items_are_checked_against_the_maximum_length() -> None:
    spec = KindSpec(
        "tags", "Tags", "标签", key=("id",),
        fields=(FieldSpec("id", FieldType.TEXT, "Id", "编号", required=True),
                FieldSpec("tags", FieldType.LIST, "Tags", "标签", max_length=5)),
    )  # fmt: skip
    mapping = _people(id="id", tags="tags")
    ok, _, _ = _map(spec, mapping, {"id": "1", "tags": "short, tiny"})
    assert ok is not None
    assert ok.values["tags"] == ["short", "tiny"]
    _, errors, _ = _map(spec, mapping, {"id": "1", "tags": "short, toolong"})
    assert [(e.code, e.value) for e in errors] == [(RowErrorCode.TOO_LONG, "short, toolong")]


def test_durations_take_the_column_unit_and_dates_the_column_order() -> None:
    mapping = ImportMapping(
        columns={
            "Key": ColumnMapping("external_key"),
            "Type": ColumnMapping("kind"),
            "Summary": ColumnMapping("title"),
            "Estimate": ColumnMapping("estimate", unit="seconds"),
            "Due": ColumnMapping("promised_on", date_order="dmy"),
            "Created": ColumnMapping("requested_at"),
        },
        date_order="mdy",
        timezone="UTC",
    )
    cells = {"Key": "K-1", "Type": "bug", "Summary": "s", "Estimate": "28800", "Due": "5/1/2024",
             "Created": "1/5/2024 14:30"}  # fmt: skip
    mapped, errors, _ = _map(WORK_ITEMS, mapping, cells)
    assert errors == []
    assert mapped is not None
    assert mapped.values["estimate"] == 8.0
    assert mapped.values["promised_on"] == date(2024, 1, 5)
    assert mapped.values["requested_at"] == datetime(2024, 1, 5, 14, 30, tzinfo=UTC)


def test_missing_cells_of_json_lines_rows_are_empty() -> None:
    mapper = RowMapper(FACTS, FACT_MAPPING, FACT_HEADERS)
    mapped, errors, _ = mapper.map(
        RawRow(1, {"工号": "E1", "指标": "k", "日期": "2024-01-05", "数值": 1})
    )
    assert errors == []
    assert mapped is not None
    assert mapped.values["external_key"] is None


# --- check ------------------------------------------------------------------------------------


def _codes(
    mapping: ImportMapping, spec: KindSpec = FACTS, headers: list[str] | None = None
) -> list[tuple[ProblemCode, str | None]]:
    return [(p.code, p.field) for p in mapping.check(spec, headers)]


def test_a_good_mapping_has_no_problems() -> None:
    assert FACT_MAPPING.check(FACTS, FACT_HEADERS) == []
    assert FACT_MAPPING.check(FACTS) == []


def test_unknown_fields_anywhere() -> None:
    mapping = ImportMapping(
        columns={**FACT_MAPPING.columns, "x": ColumnMapping("salary")},
        constants={"bonus": 1},
        choices={"mood": {"a": "b"}},
    )
    problems = mapping.check(FACTS)
    assert [(p.code, p.field, p.column) for p in problems] == [
        (ProblemCode.UNKNOWN_FIELD, "salary", "x"),
        (ProblemCode.UNKNOWN_FIELD, "bonus", None),
        (ProblemCode.UNKNOWN_FIELD, "mood", None),
    ]
    assert "salary" in problems[0].message
    assert "salary" in problems[0].message_zh


def test_a_field_fed_by_two_columns() -> None:
    mapping = ImportMapping(columns={**FACT_MAPPING.columns, "员工": ColumnMapping("employee")})
    problems = mapping.check(FACTS)
    assert [(p.code, p.field) for p in problems] == [(ProblemCode.DUPLICATE_FIELD, "employee")]
    assert "工号, 员工" in problems[0].message


def test_required_fields_need_a_column_or_a_constant() -> None:
    mapping = ImportMapping(columns={"工号": ColumnMapping("employee")}, constants={"value": 1})
    assert _codes(mapping) == [
        (ProblemCode.REQUIRED_UNMAPPED, "kind"),
        (ProblemCode.REQUIRED_UNMAPPED, "occurred_at"),
    ]


def test_mapped_columns_missing_from_the_file() -> None:
    problems = FACT_MAPPING.check(FACTS, ["工号", "指标", "日期"])
    assert [(p.code, p.column, p.warning) for p in problems] == [
        (ProblemCode.MISSING_COLUMN, "数值", False),  # required: the import cannot run
        (ProblemCode.MISSING_COLUMN, "编号", True),  # optional: a warning
    ]


def test_bad_settings() -> None:
    mapping = ImportMapping(
        columns=FACT_MAPPING.columns, timezone="Mars/Olympus", phone_region="XX", date_order="ydm"
    )
    assert _codes(mapping) == [
        (ProblemCode.BAD_TIMEZONE, None),
        (ProblemCode.BAD_PHONE_REGION, None),
        (ProblemCode.BAD_DATE_ORDER, None),
    ]


def test_column_options_must_fit_the_field() -> None:
    base = {"Key": ColumnMapping("external_key"), "Type": ColumnMapping("kind"),
            "Summary": ColumnMapping("title")}  # fmt: skip
    mapping = ImportMapping(
        columns={
            **base,
            "Estimate": ColumnMapping("estimate", unit="fortnights"),
            "Size": ColumnMapping("size", unit="hours"),
            "Due": ColumnMapping("promised_on", date_order="dym"),
            "Customer": ColumnMapping("customer", date_order="dmy"),
            "Created": ColumnMapping("requested_at", date_order="dmy"),
        }
    )
    assert _codes(mapping, WORK_ITEMS) == [
        (ProblemCode.BAD_UNIT, "estimate"),
        (ProblemCode.BAD_UNIT, "size"),
        (ProblemCode.BAD_DATE_ORDER, "promised_on"),
        (ProblemCode.BAD_DATE_ORDER, "customer"),
    ]


def test_extra_synonyms_must_name_a_choice_of_an_enum() -> None:
    base = {"Key": ColumnMapping("external_key"), "Type": ColumnMapping("kind"),
            "Summary": ColumnMapping("title")}  # fmt: skip
    mapping = ImportMapping(
        columns=base,
        choices={
            "verdict": {"Go": "feasible", "Nope": "rejected"},
            "kind": {"Story": "anything goes"},  # a text field: a free translation table
            "skills": {"py": "Python"},
            "size": {"S": "1"},
        },
    )
    problems = mapping.check(WORK_ITEMS)
    assert [(p.code, p.field) for p in problems] == [
        (ProblemCode.BAD_CHOICE, "verdict"),
        (ProblemCode.BAD_CHOICE, "size"),
    ]
    assert "feasible, not_feasible, needs_change" in problems[0].message


def test_constants_must_convert() -> None:
    mapping = ImportMapping(
        columns=FACT_MAPPING.columns, constants={"denominator": "many", "source": "ok"}
    )
    problems = mapping.check(FACTS)
    assert [(p.code, p.field) for p in problems] == [(ProblemCode.BAD_CONSTANT, "denominator")]
    assert "'many' is not a number" in problems[0].message


def test_the_mapper_refuses_an_unusable_mapping() -> None:
    mapping = ImportMapping(columns={**FACT_MAPPING.columns, "x": ColumnMapping("salary")})
    with pytest.raises(MappingError) as caught:
        RowMapper(FACTS, mapping, FACT_HEADERS)
    assert caught.value.field == "salary"
    with pytest.raises(MappingError):
        RowMapper(FACTS, ImportMapping(columns=FACT_MAPPING.columns, timezone="Nowhere"), [])


# --- JSON form --------------------------------------------------------------------------------


def test_the_json_form_round_trips() -> None:
    mapping = ImportMapping(
        columns={"Issue key": ColumnMapping("external_key"),
                 "Original Estimate": ColumnMapping("estimate", unit="seconds"),
                 "Due": ColumnMapping("promised_on", date_order="dmy")},
        constants={"source": "jira"},
        choices={"kind": {"Story": "requirement"}},
        timezone="Europe/Berlin",
        phone_region="DE",
        date_order="dmy",
        source_system="jira",
    )  # fmt: skip
    data = mapping.to_json()
    assert data["columns"] == {
        "Issue key": "external_key",
        "Original Estimate": {"field": "estimate", "unit": "seconds"},
        "Due": {"field": "promised_on", "date_order": "dmy"},
    }
    assert ImportMapping.from_json(data) == mapping


def test_the_json_form_has_defaults() -> None:
    mapping = ImportMapping.from_json({"columns": {"工号": "employee"}})
    assert mapping == ImportMapping(columns={"工号": ColumnMapping("employee")})
    assert (mapping.timezone, mapping.phone_region, mapping.date_order) == (
        "Asia/Shanghai",
        "CN",
        "ymd",
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([], "mapping"),
        ({"colums": {}}, "colums"),
        ({"columns": []}, "columns"),
        ({"columns": {"A": 3}}, "columns.A"),
        ({"columns": {"A": ""}}, "columns.A"),
        ({"columns": {"A": {"unit": "hours"}}}, "columns.A.field"),
        ({"columns": {"A": {"field": "x", "format": "y"}}}, "columns.A.format"),
        ({"columns": {"A": {"field": "x", "unit": 3}}}, "columns.A.unit"),
        ({"constants": {"source": None}}, "constants.source"),
        ({"choices": {"kind": ["a"]}}, "choices.kind"),
        ({"choices": {"kind": {"Story": 1}}}, "choices.kind.Story"),
        ({"timezone": 8}, "timezone"),
        ({"source_system": ""}, "source_system"),
    ],
)
def test_malformed_json_names_the_part_at_fault(data: Any, path: str) -> None:
    with pytest.raises(MappingError) as caught:
        ImportMapping.from_json(data)
    assert caught.value.field == path
    assert caught.value.message
    assert caught.value.message_zh


# --- suggestions ------------------------------------------------------------------------------


def _suggested(spec: KindSpec, headers: list[str]) -> dict[str, str | None]:
    return {match.column: match.field for match in suggest_mapping(spec, headers).matches}


def test_facts_from_chinese_headers() -> None:
    headers = ["工号", "指标", "发生时间", "数值", "分母", "记录编号", "来源系统", "备注"]
    assert _suggested(FACTS, headers) == {
        "工号": "employee",
        "指标": "kind",
        "发生时间": "occurred_at",
        "数值": "value",
        "分母": "denominator",
        "记录编号": "external_key",
        "来源系统": "source",
        "备注": None,
    }


def test_facts_from_english_headers() -> None:
    headers = ["Employee No.", "Metric", "Date", "Value", "Out of", "Record ID", "System", "Note"]
    assert _suggested(FACTS, headers) == {
        "Employee No.": "employee",
        "Metric": "kind",
        "Date": "occurred_at",
        "Value": "value",
        "Out of": "denominator",
        "Record ID": "external_key",
        "System": "source",
        "Note": None,
    }


def test_work_items_from_english_headers() -> None:
    headers = ["Issue key", "Summary", "Issue Type", "Reporter", "Assignee", "Created",
               "Resolved", "Due date", "Labels", "Custom field (Story Points)",
               "Original Estimate", "Status"]  # fmt: skip
    assert _suggested(WORK_ITEMS, headers) == {
        "Issue key": "external_key",
        "Summary": "title",
        "Issue Type": "kind",
        "Reporter": "requester",
        "Assignee": "assignees",
        "Created": "requested_at",
        "Resolved": "delivered_at",
        "Due date": "promised_on",
        "Labels": "skills",
        "Custom field (Story Points)": "size",
        "Original Estimate": "estimate",
        "Status": None,
    }


def test_work_items_from_chinese_headers() -> None:
    headers = ["单号", "标题", "问题类型", "报告人", "经办人", "创建时间", "截止日期", "标签",
               "故事点", "预估", "团队", "客户"]  # fmt: skip
    assert _suggested(WORK_ITEMS, headers) == {
        "单号": "external_key",
        "标题": "title",
        "问题类型": "kind",
        "报告人": "requester",
        "经办人": "assignees",
        "创建时间": "requested_at",
        "截止日期": "promised_on",
        "标签": "skills",
        "故事点": "size",
        "预估": "estimate",
        "团队": "org_unit",
        "客户": "customer",
    }


def test_people_from_mixed_headers() -> None:
    assert _suggested(PEOPLE, ["工号", "姓名", "入职日期", "手机", "直属上级", "E-mail"]) == {
        "工号": "employee_number",
        "姓名": "name",
        "入职日期": "hired_on",
        "手机": "phone",
        "直属上级": "manager",
        "E-mail": "email",
    }
    assert _suggested(PEOPLE, ["Employee No.", "Name", "Hire date", "Mobile", "Reports to"]) == {
        "Employee No.": "employee_number",
        "Name": "name",
        "Hire date": "hired_on",
        "Mobile": "phone",
        "Reports to": "manager",
    }


def test_scores_and_reasons() -> None:
    headers = ["ＥＭＰＬＯＹＥＥ  no", "Hire date (UTC)", "Emial address", "Level", "Memo"]
    matches = suggest_mapping(PEOPLE, headers).matches
    assert matches[0] == SuggestedColumn(
        "ＥＭＰＬＯＹＥＥ  no", "employee_number", 1.0, "exact", "employee no"
    )
    assert (matches[1].field, matches[1].reason, matches[1].matched) == (
        "hired_on", "contains", "Hire date",
    )  # fmt: skip
    assert 0.6 <= matches[1].score <= 0.8
    assert (matches[2].field, matches[2].reason) == ("email", "similar")
    assert 0.8 <= matches[2].score < 1.0
    assert matches[3] == SuggestedColumn("Level", "level", 1.0, "exact", "level")
    assert matches[4] == SuggestedColumn("Memo", None, 0.0, "none")


def test_each_field_and_each_column_is_used_once() -> None:
    headers = ["日期", "时间", "Date", "数值", "数值"]
    suggestion = suggest_mapping(FACTS, headers)
    fields = [m.field for m in suggestion.matches if m.field is not None]
    assert len(fields) == len(set(fields))
    assert [m.field for m in suggestion.matches] == ["occurred_at", None, None, "value", None]
    assert suggestion.mapping.columns == {
        "日期": ColumnMapping("occurred_at"),
        "数值": ColumnMapping("value"),
    }


def test_short_words_do_not_match_inside_others() -> None:
    # "id" is a synonym of external_key, "no" part of "employee no": neither is in these.
    assert _suggested(FACTS, ["Paid", "Note", "Valid"]) == {
        "Paid": None,
        "Note": None,
        "Valid": None,
    }


def test_the_suggested_mapping_maps_rows() -> None:
    headers = ["Employee No.", "Metric", "Date", "Value"]
    suggestion = suggest_mapping(FACTS, headers)
    mapper = RowMapper(FACTS, suggestion.mapping, headers)
    mapped, errors, _ = mapper.map(
        RawRow(
            1, {"Employee No.": "E1", "Metric": "reviews", "Date": "2024/1/5 9:00", "Value": "2"}
        )
    )
    assert errors == []
    assert mapped is not None
    assert mapped.values["occurred_at"] == datetime(2024, 1, 5, 9, tzinfo=SHANGHAI)
