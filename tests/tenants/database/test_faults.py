"""What a database failure means to a caller: away, too slow, or not the database's doing."""

from __future__ import annotations

import asyncpg
import pytest

from tenants.database.faults import DatabaseFault, database_fault


def _raised_from(cause: BaseException) -> RuntimeError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("the operation failed") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.InterfaceError("cannot call Transaction.rollback(): the connection is closed"),
        # The pool resetting a connection the server ended in the middle of an exchange.
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in"),
        FileNotFoundError(2, "No such file or directory"),
    ],
)
def test_the_server_going_away_is_unavailable_also_behind_another_error(
    error: BaseException,
) -> None:
    assert database_fault(error) == DatabaseFault.UNAVAILABLE
    assert database_fault(_raised_from(error)) == DatabaseFault.UNAVAILABLE


def test_a_cancelled_statement_is_a_timeout() -> None:
    assert (
        database_fault(asyncpg.QueryCanceledError("canceling statement due to statement timeout"))
        == DatabaseFault.STATEMENT_TIMEOUT
    )


@pytest.mark.parametrize(
    "error",
    [
        # Two tasks on one connection: a bug, not the database going away.
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
        FileNotFoundError(2, "No such file or directory", "/etc/renshi/missing.key"),
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        ValueError("not a database error"),
        None,
    ],
)
def test_other_failures_are_not_database_faults(error: BaseException | None) -> None:
    assert database_fault(error) is None
