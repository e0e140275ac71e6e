"""The vocabulary of imports: what a kind's fields are, what a mapped row is, what went wrong.

Everything else in the import area speaks these types: the readers produce ``RawRow``s, the
mapping turns them into ``MappedRow``s (or ``RowError``s) according to a kind's
``KindSpec``, and the writers turn mapped rows into records, reporting ``RowError``s for the
rows the domain refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FieldType(StrEnum):
    """How a cell's text becomes a value (``domain.imports.transforms`` does the work)."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"  # 2024-01-05, 2024/1/5, 2024年1月5日, an Excel serial number
    DATETIME = "datetime"  # the same, with an optional time; naive times are in the import's zone
    DURATION_HOURS = "duration_hours"  # "36", "36h", "1.5 days", "2 weeks", "3天", "2周"
    ENUM = "enum"  # one of ``FieldSpec.choices``, matched through their synonyms
    EMAIL = "email"
    PHONE = "phone"  # normalised to E.164 (default region from the import, CN otherwise)
    LIST = "list"  # several values in one cell, split on , ; 、 ， ； or |
    JSON = "json"  # an object in the cell (JSON Lines gives it as is)


class RefKind(StrEnum):
    """A field naming another record; resolved against the tenant's data before writing."""

    ORG_UNIT = "org_unit"  # by external key, path ("R&D/Platform" or "研发/平台") or unique name
    EMPLOYEE = "employee"  # by employee number or e-mail
    SKILL = "skill"  # by external key or name (zh or en, case-insensitive)


@dataclass(frozen=True)
class Choice:
    """One value of an enum field and the words that mean it."""

    value: str
    synonyms: tuple[str, ...] = ()  # e.g. ("高级", "Senior", "Sr", "Sr.") for "senior"


@dataclass(frozen=True)
class FieldSpec:
    """One field a kind accepts."""

    name: str  # the field's identifier in mappings and mapped rows (snake_case)
    type: FieldType
    label_en: str
    label_zh: str
    required: bool = False
    # Header words that suggest this field, beyond its name and labels (any language).
    synonyms: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    ref: RefKind | None = None  # set when the value names another record
    max_length: int | None = None
    description: str = ""


@dataclass(frozen=True)
class KindSpec:
    """A kind of record an import can carry."""

    code: str  # org_units, employees, skills, employee_skills, engagements, appraisals,
    # feedback, facts, work_items
    label_en: str
    label_zh: str
    fields: tuple[FieldSpec, ...]
    # The fields whose values identify a record: a row with the same key values as an
    # earlier row of the file is a duplicate, and re-importing a key updates its record.
    key: tuple[str, ...]

    def field(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)


class RowErrorCode(StrEnum):
    """Why a row (or one of its cells) was refused."""

    REQUIRED = "REQUIRED"  # a required field is empty or not mapped
    INVALID_VALUE = "INVALID_VALUE"  # the cell does not parse as the field's type
    UNKNOWN_CHOICE = "UNKNOWN_CHOICE"  # no choice of an enum field matches
    TOO_LONG = "TOO_LONG"
    NOT_FOUND = "NOT_FOUND"  # a reference names nothing in the tenant
    AMBIGUOUS = "AMBIGUOUS"  # a reference names several records
    DUPLICATE = "DUPLICATE"  # the same key as an earlier row, with different values
    REJECTED = "REJECTED"  # the domain refused the record (the message says why)
    MALFORMED = "MALFORMED"  # the line itself does not parse (bad JSON, wrong column count)


@dataclass(frozen=True)
class RowError:
    """One problem of one row: ``row`` counts data rows from 1 in file order (a CSV's header
    line is not a row); ``column`` is the source column (header) or, when no single column
    is at fault, the field name."""

    row: int
    column: str
    code: RowErrorCode
    message: str
    message_zh: str
    value: str = ""


@dataclass(frozen=True)
class RawRow:
    """One data row as read from the file: header -> cell (text, or a number, date or bool
    when the format carries types, as XLSX and JSON Lines do)."""

    number: int
    cells: Mapping[str, Any]


@dataclass(frozen=True)
class Cleansing:
    """A change cleansing made to a cell, reported so nobody is surprised by it."""

    rule: str  # trim, full_width, phone, whitespace, duplicate_row
    column: str


@dataclass
class MappedRow:
    """A row after mapping: field name -> typed value (``None`` for an empty optional field).

    Reference fields hold the text given; ``resolved`` gets the ids once resolved.
    """

    number: int
    values: dict[str, Any]
    resolved: dict[str, Any] = field(default_factory=dict)
