"""Errors the caller sees: typed mutation errors (data) and coded GraphQL errors.

Expected failures of a mutation are members of its result union and implement ``Error``.
Refusals and bad query arguments are GraphQL errors with an ``extensions.code``; they are
never masked. Everything else is unexpected and masked at the edge.
"""

from __future__ import annotations

from typing import TypeVar

import strawberry

from tenants.errors import ErrorCode, ServiceError

ErrorCodeType = strawberry.enum(ErrorCode, name="ErrorCode", description="Why an operation failed.")


@strawberry.type(description="One input field's problem, when several are wrong at once.")
class ErrorDetail:
    code: ErrorCode
    field: str | None
    message: str
    message_zh: str


@strawberry.interface(
    description="An expected failure: a code, the input field at fault, a message in en and zh."
)
class Error:
    code: ErrorCode
    field: str | None = strawberry.field(description="The input field at fault, when one is.")
    message: str = strawberry.field(description="What went wrong, in English.")
    message_zh: str = strawberry.field(description="What went wrong, in Chinese.")
    details: list[ErrorDetail] = strawberry.field(
        default_factory=list, description="Every field's problem, when there are several."
    )


E = TypeVar("E", bound=Error)


def _details(exc: ServiceError) -> list[ErrorDetail]:
    return [
        ErrorDetail(code=d.code, field=d.field, message=d.message, message_zh=d.message_zh)
        for d in exc.details
    ]


def error_from(cls: type[E], exc: ServiceError) -> E:
    return cls(
        code=exc.code,
        field=exc.field,
        message=exc.message,
        message_zh=exc.message_zh,
        details=_details(exc),
    )


@strawberry.type(description="Why one item of a bulk upsert failed; the others are unaffected.")
class ItemError(Error):
    pass


def item_error(exc: ServiceError) -> ItemError:
    return error_from(ItemError, exc)


class ClientError(Exception):
    """A GraphQL error meant for the caller, with a machine-readable code."""

    def __init__(self, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.extensions: dict[str, object] = {"code": code, **extra}


class AccessError(ClientError):
    """Refused by authentication or authorization."""


def unauthenticated() -> AccessError:
    return AccessError("UNAUTHENTICATED", "Log in first. 请先登录。")


def forbidden() -> AccessError:
    return AccessError("FORBIDDEN", "You are not allowed to do this. 您无权执行此操作。")


def bad_input(field: str, message: str) -> ClientError:
    return ClientError("BAD_USER_INPUT", f"{field}: {message}", field=field)


def bad_input_from(exc: ServiceError) -> ClientError:
    """A query argument a service refused, as BAD_USER_INPUT: queries have no error union,
    so the field, the Chinese message and every field's problem travel in the extensions."""
    message = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return ClientError(
        "BAD_USER_INPUT",
        message,
        field=exc.field,
        messageZh=exc.message_zh,
        details=[
            {
                "code": d.code.value,
                "field": d.field,
                "message": d.message,
                "messageZh": d.message_zh,
            }
            for d in exc.details
        ],
    )
