"""Expected failures as values: a code, the input field at fault, and a message in en and zh.

Services raise ``ServiceError`` subclasses; the GraphQL layer turns them into the typed
error member of a mutation's payload union. Anything else that escapes is unexpected and
masked at the edge.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes shared by every area; areas add their own enums where they need more."""

    NOT_FOUND = "NOT_FOUND"
    INVALID = "INVALID"
    DUPLICATE = "DUPLICATE"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 - an error code
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - an error code
    RATE_LIMITED = "RATE_LIMITED"
    CONFLICT = "CONFLICT"


class ServiceError(Exception):
    """An expected failure the caller can act on.

    ``details`` lists one problem per input field when several are wrong at once (every
    invalid custom field of a record, say), so a form can mark them all.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        message_zh: str,
        *,
        field: str | None = None,
        details: list[ServiceError] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.field = field
        self.details = details or []


def combined(problems: list[ServiceError]) -> ServiceError:
    """One error carrying several field problems; the first one names the error."""
    if len(problems) == 1:
        return problems[0]
    first = problems[0]
    return ServiceError(
        first.code,
        f"{len(problems)} fields are invalid; the first: {first.field}: {first.message}",
        f"{len(problems)} 个字段无效；第一个：{first.field}：{first.message_zh}",
        field=first.field,
        details=problems,
    )


def not_found(what: str, what_zh: str, field: str | None = "id") -> ServiceError:
    """The same answer for "never existed" and "belongs to another tenant"."""
    return ServiceError(ErrorCode.NOT_FOUND, f"{what} not found", f"未找到{what_zh}", field=field)


def invalid(field: str, message: str, message_zh: str) -> ServiceError:
    return ServiceError(ErrorCode.INVALID, message, message_zh, field=field)
