"""Checking and normalising what people's records hold: numbers, phones, national ids and
custom fields. Every function either returns the normal form or raises ``ServiceError``
naming the field, so imports, ERP syncs and forms get the same precise answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from domain.people.models import CustomFieldDefinition, CustomFieldType
from tenants.errors import ErrorCode, ServiceError, combined, invalid

EMPLOYEE_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
CUSTOM_FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Mainland resident identity card: 6-digit area, birth date, sequence, check character.
_RESIDENT_ID = re.compile(r"^\d{6}(\d{8})\d{3}[\dX]$")
_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
_OTHER_ID = re.compile(r"^[A-Z0-9]{5,32}$")
DEFAULT_PHONE_REGION = "CN"


def half_width(text: str) -> str:
    """Full-width letters, digits and punctuation (common in Chinese input) to ASCII."""
    return unicodedata.normalize("NFKC", text)


def employee_number(value: str, field: str = "employeeNumber") -> str:
    cleaned = half_width(value).strip()
    if not EMPLOYEE_NUMBER.match(cleaned):
        raise invalid(
            field,
            "use 1-64 letters, digits, '.', '_', '/' or '-', starting with a letter or digit",
            "工号须为 1-64 个字母、数字或 . _ / -，以字母或数字开头",
        )
    return cleaned


def phone(value: str, field: str = "phone") -> str:
    """The number in E.164 form (+8613800138000); national numbers are read as Chinese."""
    try:
        number = phonenumbers.parse(half_width(value), DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise invalid(field, f"not a phone number ({exc})", "不是有效的电话号码") from exc
    if not phonenumbers.is_valid_number(number):
        raise invalid(field, "not a valid phone number", "不是有效的电话号码")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_id(value: str, field: str = "nationalId") -> str:
    """A national id in its normal form; mainland resident ids must have a valid check digit."""
    cleaned = re.sub(r"[\s-]", "", half_width(value)).upper()
    match = _RESIDENT_ID.match(cleaned)
    if match is not None:
        try:
            date(int(match.group(1)[:4]), int(match.group(1)[4:6]), int(match.group(1)[6:]))
        except ValueError:
            raise invalid(
                field, "the birth date in this id is not a date", "身份证号中的出生日期无效"
            ) from None
        total = sum(int(d) * w for d, w in zip(cleaned[:17], _RESIDENT_WEIGHTS, strict=True))
        if _RESIDENT_CHECK[total % 11] != cleaned[17]:
            raise invalid(field, "the check digit of this id is wrong", "身份证号校验位错误")
        return cleaned
    if len(cleaned) == 18 and cleaned[:17].isdigit():
        raise invalid(field, "not a valid resident id number", "不是有效的居民身份证号")
    if not _OTHER_ID.match(cleaned):
        raise invalid(field, "use 5-32 letters and digits", "证件号须为 5-32 个字母和数字")
    return cleaned


def _field_error(key: str, message: str, message_zh: str) -> ServiceError:
    return ServiceError(ErrorCode.INVALID, message, message_zh, field=f"customFields.{key}")


def _custom_value(definition: CustomFieldDefinition, value: Any) -> Any:
    key = definition.key
    kind = definition.type
    if kind == CustomFieldType.STRING:
        if not isinstance(value, str):
            raise _field_error(key, "must be text", "必须是文本")
        text = value.strip()
        if len(text) > 1000:
            raise _field_error(key, "must be at most 1000 characters", "不能超过 1000 个字符")
        return text
    if kind == CustomFieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _field_error(key, "must be a number", "必须是数字")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _field_error(key, "must be a number", "必须是数字") from None
        if not number.is_finite():
            raise _field_error(key, "must be a finite number", "必须是有限的数字")
        return float(number)
    if kind == CustomFieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise _field_error(key, "must be true or false", "必须是是或否")
        return value
    if kind == CustomFieldType.DATE:
        if not isinstance(value, str):
            raise _field_error(key, "must be a date (YYYY-MM-DD)", "必须是日期（YYYY-MM-DD）")
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise _field_error(
                key, "must be a date (YYYY-MM-DD)", "必须是日期（YYYY-MM-DD）"
            ) from None
    allowed = [option["value"] for option in definition.options]
    if value not in allowed:
        raise _field_error(key, f"must be one of {allowed}", f"必须是以下之一：{allowed}")
    return value


def custom_fields(
    definitions: Sequence[CustomFieldDefinition],
    values: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``values`` checked against the tenant's definitions and merged over ``current``.

    A ``None`` value clears a field. Every problem is reported at once, one per field.
    """
    by_key = {d.key: d for d in definitions if d.archived_at is None}
    merged = dict(current or {})
    problems: list[ServiceError] = []
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            problems.append(_field_error(key, "no such custom field", "没有这个自定义字段"))
            continue
        if value is None:
            merged.pop(key, None)
            continue
        try:
            merged[key] = _custom_value(definition, value)
        except ServiceError as exc:
            problems.append(exc)
    for key, definition in by_key.items():
        if definition.required and merged.get(key) in (None, ""):
            problems.append(_field_error(key, "is required", "必填"))
    if problems:
        raise combined(problems)
    # Values of archived definitions stay as they were; they are no longer editable.
    return merged
