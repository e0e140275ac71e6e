"""Import mappings: which source column feeds which field, and the row mapper they compile to.

This module owns ``ImportMapping`` (columns, per-row constants, extra choice synonyms, the
zone, phone region and date order of a file; stored as JSON on imports and saved
profiles), its checks against a ``KindSpec``, ``RowMapper`` (a mapping compiled once per
import into per-field converters that turn ``RawRow``s into ``MappedRow``s or
``RowError``s) and ``suggest_mapping`` (a first mapping guessed from a file's headers).

The mapper does not resolve references (``FieldSpec.ref``): it keeps their cleansed text,
a list of texts for list fields, and the pipeline resolves them against the tenant's data.

Cleansing is the same for every text cell (zero-width characters removed, full-width ASCII
made half-width, trimmed) with two exceptions: fields naming other records also collapse
internal whitespace ("张  三" must find "张 三"), and JSON cells are only trimmed (the
object's strings are data, a full-width comma in them is meant).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import Any, Final

import phonenumbers

from domain.imports import transforms
from domain.imports.fields import (
    Cleansing,
    FieldSpec,
    FieldType,
    KindSpec,
    MappedRow,
    RawRow,
    RowError,
    RowErrorCode,
)
from domain.imports.transforms import (
    DATE_ORDERS,
    DEFAULT_PHONE_REGION,
    DEFAULT_TIMEZONE,
    DURATION_UNITS,
    RULE_PHONE,
    RULE_TRIM,
    RULE_WHITESPACE,
    ChoiceMatcher,
    TransformError,
)

_VALUE_LIMIT: Final = 200  # characters of an offending cell kept in a RowError


class MappingError(ValueError):
    """A mapping that cannot be used: ``field`` names the part at fault (a JSON path such as
    ``columns.Created.unit``, or a field name)."""

    def __init__(self, field: str, message: str, message_zh: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.message_zh = message_zh


class ProblemCode(StrEnum):
    UNKNOWN_FIELD = "UNKNOWN_FIELD"  # a column, constant or choice names no field of the kind
    DUPLICATE_FIELD = "DUPLICATE_FIELD"  # one field fed by several columns
    REQUIRED_UNMAPPED = "REQUIRED_UNMAPPED"  # a required field with neither column nor constant
    MISSING_COLUMN = "MISSING_COLUMN"  # a mapped column the file does not have
    BAD_TIMEZONE = "BAD_TIMEZONE"
    BAD_PHONE_REGION = "BAD_PHONE_REGION"
    BAD_DATE_ORDER = "BAD_DATE_ORDER"  # not ymd/dmy/mdy, or set on a field that is no date
    BAD_UNIT = "BAD_UNIT"  # not a duration unit, or set on a field that is no duration
    BAD_CHOICE = "BAD_CHOICE"  # a synonym to a value the enum lacks, or choices on a number
    BAD_CONSTANT = "BAD_CONSTANT"  # a constant that does not convert to its field's type


@dataclass(frozen=True)
class MappingProblem:
    """Something wrong with a mapping for a kind (and a file's headers). ``warning`` problems
    (an optional field's column missing from the file) do not stop an import; the others do."""

    code: ProblemCode
    message: str
    message_zh: str
    field: str | None = None
    column: str | None = None
    warning: bool = False


@dataclass(frozen=True)
class ColumnMapping:
    """The field a source column feeds, with options for durations and dates."""

    field: str
    unit: str | None = None  # durations: the unit of a bare number (default hours)
    date_order: str | None = None  # dates: ymd, dmy or mdy (default the mapping's)


_MAPPING_KEYS: Final = frozenset(
    ("columns", "constants", "choices", "timezone", "phone_region", "date_order", "source_system")
)
_COLUMN_KEYS: Final = frozenset(("field", "unit", "date_order"))


@dataclass(frozen=True)
class ImportMapping:
    """How a file's columns become a kind's fields.

    ``columns``: source header -> field. ``constants``: field -> value for every row, used
    when the field's column is absent or its cell empty (e.g. ``{"source": "jira"}``).
    ``choices``: field -> {extra synonym: value}; for enum fields the values must be the
    field's choices, for text and list fields it is a free translation table (``{"Story":
    "requirement"}``) and words it does not list pass through unchanged.
    """

    columns: dict[str, ColumnMapping] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, dict[str, str]] = field(default_factory=dict)
    timezone: str = DEFAULT_TIMEZONE
    phone_region: str = DEFAULT_PHONE_REGION
    date_order: str = "ymd"
    source_system: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportMapping:
        """A mapping from its JSON form (``to_json``); a column may be given as just its field
        name. Checks the shape only (``check`` judges it against a kind): raises
        ``MappingError`` naming the first malformed part."""
        if not isinstance(data, Mapping):
            raise MappingError("mapping", "must be an object", "映射必须是对象")
        for key in data:
            if key not in _MAPPING_KEYS:
                raise MappingError(str(key), "is not a mapping setting", "不是映射的设置项")
        columns: dict[str, ColumnMapping] = {}
        for header, target in _object(data.get("columns", {}), "columns").items():
            columns[header] = _column_from_json(target, f"columns.{header}")
        constants = dict(_object(data.get("constants", {}), "constants"))
        for name, value in constants.items():
            if value is None:
                raise MappingError(
                    f"constants.{name}", "must have a value", "必须有值（不能为 null）"
                )
        choices: dict[str, dict[str, str]] = {}
        for name, table in _object(data.get("choices", {}), "choices").items():
            path = f"choices.{name}"
            choices[name] = {
                word: _text(value, f"{path}.{word}") for word, value in _object(table, path).items()
            }
        source = data.get("source_system")
        return cls(
            columns=columns,
            constants=constants,
            choices=choices,
            timezone=_text(data.get("timezone", DEFAULT_TIMEZONE), "timezone"),
            phone_region=_text(data.get("phone_region", DEFAULT_PHONE_REGION), "phone_region"),
            date_order=_text(data.get("date_order", "ymd"), "date_order"),
            source_system=None if source is None else _text(source, "source_system"),
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``from_json`` reads back; a column without options is its field name."""
        columns: dict[str, Any] = {}
        for header, column in self.columns.items():
            if column.unit is None and column.date_order is None:
                columns[header] = column.field
            else:
                entry: dict[str, str] = {"field": column.field}
                if column.unit is not None:
                    entry["unit"] = column.unit
                if column.date_order is not None:
                    entry["date_order"] = column.date_order
                columns[header] = entry
        return {
            "columns": columns,
            "constants": dict(self.constants),
            "choices": {name: dict(table) for name, table in self.choices.items()},
            "timezone": self.timezone,
            "phone_region": self.phone_region,
            "date_order": self.date_order,
            "source_system": self.source_system,
        }

    def check(self, spec: KindSpec, headers: Sequence[str] | None = None) -> list[MappingProblem]:
        """Everything wrong with this mapping for ``spec`` (and a file with ``headers``)."""
        problems: list[MappingProblem] = []
        known = {field_spec.name: field_spec for field_spec in spec.fields}
        present = None if headers is None else set(headers)
        problems.extend(self._check_settings())

        fed_by: dict[str, list[str]] = {}
        for header, column in self.columns.items():
            field_spec = known.get(column.field)
            if field_spec is None:
                problems.append(_unknown_field(column.field, spec, column=header))
                continue
            fed_by.setdefault(column.field, []).append(header)
            problems.extend(_check_column_options(header, column, field_spec))
            if present is not None and header not in present:
                blocking = field_spec.required and column.field not in self.constants
                problems.append(
                    MappingProblem(
                        ProblemCode.MISSING_COLUMN,
                        f"the file has no column {header!r} (mapped to {field_spec.label_en})",
                        f"文件中没有列“{header}”（映射到{field_spec.label_zh}）",
                        field=column.field,
                        column=header,
                        warning=not blocking,
                    )
                )
        for name, headers_of in fed_by.items():
            if len(headers_of) > 1:
                listed = ", ".join(headers_of)
                problems.append(
                    MappingProblem(
                        ProblemCode.DUPLICATE_FIELD,
                        f"{known[name].label_en} is mapped from several columns: {listed}",
                        f"{known[name].label_zh}被映射自多个列：{listed}",
                        field=name,
                    )
                )

        for name, value in self.constants.items():
            field_spec = known.get(name)
            if field_spec is None:
                problems.append(_unknown_field(name, spec))
                continue
            try:
                _convert_constant(field_spec, self, value)
            except TransformError as exc:
                problems.append(
                    MappingProblem(
                        ProblemCode.BAD_CONSTANT,
                        f"the constant of {field_spec.label_en}: {exc.message}",
                        f"{field_spec.label_zh}的常量值：{exc.message_zh}",
                        field=name,
                    )
                )

        for name, table in self.choices.items():
            field_spec = known.get(name)
            if field_spec is None:
                problems.append(_unknown_field(name, spec))
                continue
            problems.extend(_check_choices(field_spec, table))

        for field_spec in spec.fields:
            unmapped = field_spec.name not in fed_by and field_spec.name not in self.constants
            if field_spec.required and unmapped:
                problems.append(
                    MappingProblem(
                        ProblemCode.REQUIRED_UNMAPPED,
                        f"{field_spec.label_en} is required: map a column to it or give "
                        "it a constant",
                        f"{field_spec.label_zh}为必填项：请为其映射一列或设置常量",
                        field=field_spec.name,
                    )
                )
        return problems

    def _check_settings(self) -> list[MappingProblem]:
        problems: list[MappingProblem] = []
        try:
            transforms.zone_named(self.timezone)
        except ValueError:
            problems.append(
                MappingProblem(
                    ProblemCode.BAD_TIMEZONE,
                    f"{self.timezone!r} is not a time zone (use an IANA name like Asia/Shanghai)",
                    f"“{self.timezone}”不是有效时区（请使用 IANA 名称，如 Asia/Shanghai）",
                )
            )
        if self.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            problems.append(
                MappingProblem(
                    ProblemCode.BAD_PHONE_REGION,
                    f"{self.phone_region!r} is not a phone region (use a country code like CN)",
                    f"“{self.phone_region}”不是有效的电话地区（请使用国家代码，如 CN）",
                )
            )
        if self.date_order not in DATE_ORDERS:
            problems.append(_bad_date_order(self.date_order))
        return problems


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise MappingError(path, "must be an object", "必须是对象")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise MappingError(path, "must be a non-empty text", "必须是非空文本")
    return value


def _column_from_json(target: Any, path: str) -> ColumnMapping:
    if isinstance(target, str):
        return ColumnMapping(_text(target, path))
    entry = _object(target, path)
    for key in entry:
        if key not in _COLUMN_KEYS:
            raise MappingError(f"{path}.{key}", "is not a column setting", "不是列的设置项")
    unit, date_order = entry.get("unit"), entry.get("date_order")
    return ColumnMapping(
        field=_text(entry.get("field"), f"{path}.field"),
        unit=None if unit is None else _text(unit, f"{path}.unit"),
        date_order=None if date_order is None else _text(date_order, f"{path}.date_order"),
    )


def _unknown_field(name: str, spec: KindSpec, *, column: str | None = None) -> MappingProblem:
    return MappingProblem(
        ProblemCode.UNKNOWN_FIELD,
        f"{spec.label_en} have no field {name!r}",
        f"{spec.label_zh}没有字段“{name}”",
        field=name,
        column=column,
    )


def _bad_date_order(value: str, *, field_name: str | None = None) -> MappingProblem:
    return MappingProblem(
        ProblemCode.BAD_DATE_ORDER,
        f"{value!r} is not a date order: use ymd, dmy or mdy",
        f"“{value}”不是有效的日期顺序：请使用 ymd、dmy 或 mdy",
        field=field_name,
    )


def _check_column_options(
    header: str, column: ColumnMapping, field_spec: FieldSpec
) -> list[MappingProblem]:
    problems: list[MappingProblem] = []
    if column.unit is not None:
        if field_spec.type is not FieldType.DURATION_HOURS:
            problems.append(
                MappingProblem(
                    ProblemCode.BAD_UNIT,
                    f"{field_spec.label_en} is not a duration: it takes no unit",
                    f"{field_spec.label_zh}不是时长，不能设置单位",
                    field=field_spec.name,
                    column=header,
                )
            )
        elif column.unit not in DURATION_UNITS:
            units = ", ".join(DURATION_UNITS)
            problems.append(
                MappingProblem(
                    ProblemCode.BAD_UNIT,
                    f"{column.unit!r} is not a duration unit: use {units}",
                    f"“{column.unit}”不是有效的时长单位：请使用 {units}",
                    field=field_spec.name,
                    column=header,
                )
            )
    if column.date_order is not None:
        if field_spec.type not in (FieldType.DATE, FieldType.DATETIME):
            problems.append(
                MappingProblem(
                    ProblemCode.BAD_DATE_ORDER,
                    f"{field_spec.label_en} is not a date: it takes no date order",
                    f"{field_spec.label_zh}不是日期，不能设置日期顺序",
                    field=field_spec.name,
                    column=header,
                )
            )
        elif column.date_order not in DATE_ORDERS:
            problem = _bad_date_order(column.date_order, field_name=field_spec.name)
            problems.append(
                MappingProblem(
                    problem.code, problem.message, problem.message_zh, field_spec.name, header
                )
            )
    return problems


def _check_choices(field_spec: FieldSpec, table: Mapping[str, str]) -> list[MappingProblem]:
    if field_spec.type in (FieldType.TEXT, FieldType.LIST):
        return []  # a free translation table
    if field_spec.type is not FieldType.ENUM:
        return [
            MappingProblem(
                ProblemCode.BAD_CHOICE,
                f"{field_spec.label_en} has no choices to give synonyms to",
                f"{field_spec.label_zh}没有可选值，不能设置同义词",
                field=field_spec.name,
            )
        ]
    allowed = {choice.value for choice in field_spec.choices}
    listed = ", ".join(choice.value for choice in field_spec.choices)
    return [
        MappingProblem(
            ProblemCode.BAD_CHOICE,
            f"{word!r} is mapped to {value!r}, which is not a value of {field_spec.label_en} "
            f"({listed})",
            f"“{word}”被映射到“{value}”，但它不是{field_spec.label_zh}的可选值（{listed}）",
            field=field_spec.name,
        )
        for word, value in table.items()
        if value not in allowed
    ]


# --------------------------------------------------------------------------------------------
# Converters

Converter = Callable[[Any], Any]


def _typed_text(value: Any) -> str:
    return transforms.parse_text(value)


def _list_converter(collapse: bool, translate: ChoiceMatcher | None) -> Converter:
    def convert(value: Any) -> list[str] | None:
        items = transforms.parse_list(value, collapse_whitespace=collapse)
        if translate is not None:
            items = [translate(item) for item in items]
        return items or None  # nothing but separators: an empty cell

    return convert


def _converter(
    field_spec: FieldSpec, mapping: ImportMapping, column: ColumnMapping | None
) -> tuple[Converter | None, Converter]:
    """(converter of cleansed text, or None when the text is the value; converter of typed
    cells) for one field, with the mapping's options bound."""
    kind = field_spec.type
    extra = mapping.choices.get(field_spec.name)
    order = (column.date_order if column else None) or mapping.date_order
    if kind is FieldType.TEXT:
        if extra:
            matcher = ChoiceMatcher((), extra, strict=False)
            return matcher, matcher
        return None, _typed_text
    if kind is FieldType.LIST:
        translate = ChoiceMatcher((), extra, strict=False) if extra else None
        convert = _list_converter(field_spec.ref is not None, translate)
        return convert, convert
    simple: Converter
    if kind is FieldType.INTEGER:
        simple = transforms.parse_integer
    elif kind is FieldType.NUMBER:
        simple = transforms.parse_number
    elif kind is FieldType.BOOLEAN:
        simple = transforms.parse_boolean
    elif kind is FieldType.DATE:
        simple = transforms.date_parser(date_order=order)
    elif kind is FieldType.DATETIME:
        simple = transforms.datetime_parser(timezone=mapping.timezone, date_order=order)
    elif kind is FieldType.DURATION_HOURS:
        simple = transforms.duration_parser(unit=(column.unit if column else None) or "hours")
    elif kind is FieldType.ENUM:
        simple = ChoiceMatcher(field_spec.choices, extra)
    elif kind is FieldType.EMAIL:
        simple = transforms.parse_email
    elif kind is FieldType.PHONE:
        simple = partial(transforms.parse_phone, region=mapping.phone_region.upper())
    elif kind is FieldType.JSON:
        simple = transforms.parse_json
    else:  # pragma: no cover - a FieldType added without a converter
        raise AssertionError(f"no converter for {kind}")
    return simple, simple


def _convert_constant(field_spec: FieldSpec, mapping: ImportMapping, value: Any) -> Any:
    on_text, on_typed = _converter(field_spec, mapping, None)
    if isinstance(value, str):
        if field_spec.type is FieldType.JSON:
            text = value.strip()  # as in cells: the object's strings are data
        else:
            text, _rules = transforms.cleanse_text(
                value, collapse_whitespace=field_spec.ref is not None
            )
        return text if on_text is None else on_text(text)
    return on_typed(value)


# --------------------------------------------------------------------------------------------
# The row mapper

_ABSENT: Final = object()  # no constant (None is never a constant: from_json refuses it)


@dataclass(frozen=True)
class _Step:
    """One mapped column, as the mapper's loop reads it (a plain tuple in ``_plan``)."""

    header: str
    name: str
    on_text: Converter | None
    on_typed: Converter
    collapse: bool  # references: collapse inner whitespace
    trim_only: bool  # JSON: no width conversion
    max_length: int | None
    constant: Any
    required: bool
    phone: bool  # report E.164 normalisation as cleansing
    label_en: str
    label_zh: str


class RowMapper:
    """A mapping compiled for one kind and one file's headers: built once per import, then
    ``map`` is called for every row. Raises ``MappingError`` for a mapping ``check`` finds
    unusable (an unknown field, a bad zone...); a required field that is unmapped, or whose
    column the file lacks, gives a REQUIRED error on every row instead."""

    def __init__(self, spec: KindSpec, mapping: ImportMapping, headers: Sequence[str]) -> None:
        for problem in mapping.check(spec, headers):
            if problem.code not in (ProblemCode.MISSING_COLUMN, ProblemCode.REQUIRED_UNMAPPED):
                raise MappingError(
                    problem.field or problem.column or "mapping",
                    problem.message,
                    problem.message_zh,
                )
        self.spec = spec
        self.mapping = mapping
        self.headers = tuple(headers)
        present = set(headers)
        constants = {
            name: _convert_constant(spec.field(name), mapping, value)
            for name, value in mapping.constants.items()
        }
        steps: list[_Step] = []
        mapped: set[str] = set()
        for header, column in mapping.columns.items():
            if header not in present:
                continue
            field_spec = spec.field(column.field)
            on_text, on_typed = _converter(field_spec, mapping, column)
            mapped.add(field_spec.name)
            steps.append(
                _Step(
                    header=header,
                    name=field_spec.name,
                    on_text=on_text,
                    on_typed=on_typed,
                    collapse=field_spec.ref is not None,
                    trim_only=field_spec.type is FieldType.JSON,
                    max_length=field_spec.max_length,
                    constant=constants.get(field_spec.name, _ABSENT),
                    required=field_spec.required,
                    phone=field_spec.type is FieldType.PHONE,
                    label_en=field_spec.label_en,
                    label_zh=field_spec.label_zh,
                )
            )
        # Tuples, not attribute lookups, in the loop: this runs for every cell of the file.
        self._plan = [
            (
                step.header, step.name, step.on_text, step.on_typed, step.collapse,
                step.trim_only, step.max_length, step.constant, step.required, step.phone,
                step.label_en, step.label_zh,
            )
            for step in steps
        ]  # fmt: skip
        # Every field is in a mapped row: unmapped ones hold their constant or None.
        self._base: dict[str, Any] = {
            field_spec.name: constants.get(field_spec.name) for field_spec in spec.fields
        }
        self._unmapped_required = [
            field_spec
            for field_spec in spec.fields
            if field_spec.required
            and field_spec.name not in mapped
            and field_spec.name not in constants
        ]

    @property
    def mapped_fields(self) -> list[str]:
        """The fields fed by a column of this file, in mapping order."""
        return [step[1] for step in self._plan]

    def map(self, raw: RawRow) -> tuple[MappedRow | None, list[RowError], list[Cleansing]]:
        """The row mapped (None when any cell fails), its errors and the cleansing done."""
        cells = raw.cells
        number = raw.number
        values = self._base.copy()
        errors: list[RowError] = []
        cleansing: list[Cleansing] = []
        for field_spec in self._unmapped_required:
            errors.append(_required(number, field_spec.name, field_spec.label_en,
                                    field_spec.label_zh))  # fmt: skip
        for (
            header, name, on_text, on_typed, collapse, trim_only, max_length, constant,
            required, phone, label_en, label_zh,
        ) in self._plan:  # fmt: skip
            cell = cells.get(header)
            value: Any
            if cell.__class__ is str:
                if cell.isascii():
                    # Plain ASCII (most cells of most files): only trimming can apply.
                    text = cell.strip()
                    if len(text) != len(cell):
                        cleansing.append(Cleansing(RULE_TRIM, header))
                    if collapse and not text.isalnum():  # "E1001" has no whitespace to collapse
                        joined = " ".join(text.split())
                        if len(joined) != len(text):
                            text = joined
                            cleansing.append(Cleansing(RULE_WHITESPACE, header))
                elif trim_only:
                    text = cell.strip()
                    if len(text) != len(cell):
                        cleansing.append(Cleansing(RULE_TRIM, header))
                else:
                    text, rules = transforms.cleanse_text(cell, collapse_whitespace=collapse)
                    for rule in rules:
                        cleansing.append(Cleansing(rule, header))
                if not text:
                    value = None
                elif on_text is None:
                    value = text
                else:
                    try:
                        value = on_text(text)
                    except TransformError as exc:
                        errors.append(_failed(number, header, exc, label_en, label_zh, cell))
                        continue
                    if phone and value != text:
                        cleansing.append(Cleansing(RULE_PHONE, header))
            elif cell is None:
                value = None
            else:
                try:
                    value = on_typed(cell)
                except TransformError as exc:
                    errors.append(_failed(number, header, exc, label_en, label_zh, cell))
                    continue
            if value is None:
                if constant is not _ABSENT:
                    value = constant
                elif required:
                    errors.append(_required(number, header, label_en, label_zh))
                    continue
            elif max_length is not None and _too_long(value, max_length):
                errors.append(_long(number, header, label_en, label_zh, max_length, value))
                continue
            values[name] = value
        if errors:
            return None, errors, cleansing
        return MappedRow(number, values), errors, cleansing


def _too_long(value: Any, limit: int) -> bool:
    if isinstance(value, str):
        return len(value) > limit
    if isinstance(value, list):
        return any(isinstance(item, str) and len(item) > limit for item in value)
    return False


def _cut(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text[:_VALUE_LIMIT]


def _failed(
    row: int, header: str, exc: TransformError, label_en: str, label_zh: str, cell: Any
) -> RowError:
    return RowError(
        row, header, exc.code, f"{label_en}: {exc.message}", f"{label_zh}：{exc.message_zh}",
        _cut(cell),
    )  # fmt: skip


def _required(row: int, column: str, label_en: str, label_zh: str) -> RowError:
    return RowError(
        row, column, RowErrorCode.REQUIRED, f"{label_en} is required", f"{label_zh}为必填项"
    )


def _long(row: int, header: str, label_en: str, label_zh: str, limit: int, value: Any) -> RowError:
    return RowError(
        row, header, RowErrorCode.TOO_LONG,
        f"{label_en} is longer than {limit} characters", f"{label_zh}超过 {limit} 个字符",
        _cut(value if isinstance(value, str) else ", ".join(value)),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Suggestions


@dataclass(frozen=True)
class SuggestedColumn:
    """How one header was matched: ``reason`` is ``exact`` (score 1.0), ``contains`` (the
    header contains a word of the field), ``contained`` (the header is part of one),
    ``similar`` (spelled almost alike) or ``none``; ``matched`` is that word."""

    column: str
    field: str | None
    score: float
    reason: str
    matched: str = ""


@dataclass(frozen=True)
class Suggestion:
    """A first mapping for a file and, header by header, why it was chosen."""

    mapping: ImportMapping
    matches: list[SuggestedColumn]


_WORDS: Final = re.compile(r"[^\W_]+")
_SIMILAR: Final = 0.8  # difflib ratio from which spellings count as alike
_SHORTEST_PART: Final = 3  # no containment on shorter words: "id" is in "paid", "no" in "note"


@dataclass(frozen=True)
class _Term:
    text: str
    compact: str  # letters and digits only, NFKC, case-folded
    spaced: str  # its words between single spaces, padded: " story points "
    ascii: bool
    rank: int  # 0 name, 1 label, 2 synonym: the tie-break among equal scores


def _term(text: str, rank: int) -> _Term:
    words = _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())
    compact = "".join(words)
    return _Term(text, compact, f" {' '.join(words)} ", compact.isascii(), rank)


def _field_terms(field_spec: FieldSpec) -> list[_Term]:
    terms = [
        _term(field_spec.name.replace("_", " "), 0),
        _term(field_spec.label_en, 1),
        _term(field_spec.label_zh, 1),
    ]
    terms.extend(_term(word, 2) for word in field_spec.synonyms)
    return [term for term in terms if term.compact]


def _score(header: _Term, term: _Term) -> tuple[float, str]:
    if header.compact == term.compact:
        return 1.0, "exact"
    shorter, longer = sorted((header.compact, term.compact), key=len)
    # Words must match whole in Latin text ("Employee No." holds "employee no", "Paid" does
    # not hold "id"); Chinese has no spaces, so there the characters are compared.
    minimum = _SHORTEST_PART if shorter.isascii() else 2
    if len(shorter) >= minimum:
        both_ascii = header.ascii and term.ascii
        if term.compact in header.compact and (not both_ascii or term.spaced in header.spaced):
            return 0.6 + 0.2 * len(shorter) / len(longer), "contains"
        if header.compact in term.compact and (not both_ascii or header.spaced in term.spaced):
            return 0.6 + 0.2 * len(shorter) / len(longer), "contained"
    matcher = difflib.SequenceMatcher(None, header.compact, term.compact)
    if matcher.real_quick_ratio() >= _SIMILAR and matcher.quick_ratio() >= _SIMILAR:
        ratio = matcher.ratio()
        if ratio >= _SIMILAR:
            return ratio, "similar"
    return 0.0, "none"


def suggest_mapping(spec: KindSpec, headers: Sequence[str]) -> Suggestion:
    """A mapping guessed from ``headers`` by their names: each header is compared with each
    field's name, English and Chinese labels and synonyms, case, width, spaces and
    punctuation aside. The best pairs win first; each field and each header is used once."""
    candidates: list[tuple[float, int, int, int, str, str]] = []
    field_terms = [_field_terms(field_spec) for field_spec in spec.fields]
    seen: set[str] = set()
    for column_index, header in enumerate(headers):
        if header in seen:
            continue  # a repeated header (Jira repeats multi-value columns): the first one
        seen.add(header)
        header_term = _term(header, 0)
        if not header_term.compact:
            continue
        for field_index, terms in enumerate(field_terms):
            best: tuple[float, int, str, str] = (0.0, 3, "none", "")
            for term in terms:
                score, reason = _score(header_term, term)
                if (score, -term.rank) > (best[0], -best[1]):
                    best = (score, term.rank, reason, term.text)
            if best[0] > 0:
                candidates.append((best[0], best[1], column_index, field_index, *best[2:]))
    candidates.sort(key=lambda item: (-item[0], item[1], item[2], item[3]))
    chosen: dict[int, SuggestedColumn] = {}
    taken: set[int] = set()
    for score, _rank, column_index, field_index, reason, matched in candidates:
        if column_index in chosen or field_index in taken:
            continue
        taken.add(field_index)
        name = spec.fields[field_index].name
        chosen[column_index] = SuggestedColumn(
            headers[column_index], name, round(score, 3), reason, matched
        )
    matches = [
        chosen.get(index) or SuggestedColumn(header, None, 0.0, "none")
        for index, header in enumerate(headers)
    ]
    columns = {
        match.column: ColumnMapping(match.field) for match in matches if match.field is not None
    }
    return Suggestion(ImportMapping(columns=columns), matches)
