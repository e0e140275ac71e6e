"""Normal forms and precise errors for what people's records hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.people import validation as check
from domain.people.models import CustomFieldDefinition, CustomFieldType
from tenants.errors import ServiceError


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("１３８００１３８０００", "+8613800138000"),  # full-width digits from a Chinese keyboard
        ("(010) 6552-9988", "+861065529988"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_phones_become_e164(raw: str, normal: str) -> None:
    assert check.phone(raw) == normal


@pytest.mark.parametrize("raw", ["12345", "not a phone", "+86 000"])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(ServiceError) as caught:
        check.phone(raw)
    assert caught.value.field == "phone"


def test_resident_ids_are_checked() -> None:
    assert check.national_id(" 11010519491231002x ") == "11010519491231002X"
    for wrong, message in (
        ("110105194912310021", "check digit"),
        ("110105194913310028", "birth date"),
    ):
        with pytest.raises(ServiceError, match=message):
            check.national_id(wrong)
    assert check.national_id("E12345678") == "E12345678"  # a passport number
    with pytest.raises(ServiceError):
        check.national_id("x")


def test_employee_numbers_are_normalised_and_checked() -> None:
    assert check.employee_number(" ＡＣＭ－００１ ") == "ACM-001"
    with pytest.raises(ServiceError):
        check.employee_number("has space")


def _definition(
    key: str,
    kind: CustomFieldType,
    *,
    required: bool = False,
    options: list[dict[str, str]] | None = None,
    archived: bool = False,
) -> CustomFieldDefinition:
    return CustomFieldDefinition(
        id=uuid4(),
        tenant_id=uuid4(),
        entity="employee",
        key=key,
        label_zh=key,
        label_en=key,
        type=kind,
        required=required,
        options=options or [],
        position=0,
        archived_at=datetime.now(UTC) if archived else None,
    )


DEFINITIONS = [
    _definition("badge", CustomFieldType.STRING, required=True),
    _definition("weekly_hours", CustomFieldType.NUMBER),
    _definition("remote", CustomFieldType.BOOLEAN),
    _definition("certified_on", CustomFieldType.DATE),
    _definition(
        "shirt",
        CustomFieldType.ENUM,
        options=[{"value": "m", "zh": "中", "en": "M"}, {"value": "l", "zh": "大", "en": "L"}],
    ),
    _definition("legacy", CustomFieldType.STRING, archived=True),
]


def test_custom_fields_are_normalised_and_merged() -> None:
    values = check.custom_fields(
        DEFINITIONS,
        {
            "badge": "  B-7 ",
            "weekly_hours": "37.5",
            "remote": True,
            "certified_on": "2024-01-05",
            "shirt": "m",
        },
        current={"legacy": "kept"},
    )
    assert values == {
        "badge": "B-7",
        "weekly_hours": 37.5,
        "remote": True,
        "certified_on": "2024-01-05",
        "shirt": "m",
        "legacy": "kept",
    }
    cleared = check.custom_fields(DEFINITIONS, {"shirt": None}, current=values)
    assert "shirt" not in cleared


def test_every_invalid_custom_field_is_reported_with_its_path() -> None:
    bad: dict[str, Any] = {
        "weekly_hours": "lots",
        "remote": "yes",
        "certified_on": "2024/01/05",
        "shirt": "xl",
        "nope": 1,
        "legacy": "cannot edit",
    }
    with pytest.raises(ServiceError) as caught:
        check.custom_fields(DEFINITIONS, bad)
    fields = sorted(d.field or "" for d in caught.value.details)
    assert fields == sorted(
        [
            "customFields.weekly_hours",
            "customFields.remote",
            "customFields.certified_on",
            "customFields.shirt",
            "customFields.nope",
            "customFields.legacy",
            "customFields.badge",  # required and missing
        ]
    )
    assert all(d.message and d.message_zh for d in caught.value.details)
