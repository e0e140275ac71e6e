"""What a database failure means to a caller: the server is away, or a statement ran too long.

Both are expected in production (a restart, a failover, a query over too much data) and
neither is a bug to hide behind "unexpected error": the edge answers them with a stable
code, and the first one as retryable. Everything else stays unexpected.
"""

from __future__ import annotations

from enum import StrEnum

import asyncpg
from tortoise.exceptions import DBConnectionError


class DatabaseFault(StrEnum):
    UNAVAILABLE = "SERVICE_UNAVAILABLE"
    STATEMENT_TIMEOUT = "STATEMENT_TIMEOUT"


# The connection was lost, refused, or the server is starting or shutting down. asyncpg
# raises these on connect and on a connection the server ended (a fast shutdown sends
# admin_shutdown to every session first); ConnectionError is a refused or reset socket.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    DBConnectionError,
    ConnectionError,
    # asyncpg's protocol state broke ("cannot switch to state 15; another operation (2) is
    # in progress"): seen when the server ended a session in the middle of an exchange and
    # the pool then reset the connection to take it back (it terminates it after that).
    # Two tasks misusing one connection are refused earlier, as an InterfaceError.
    asyncpg.InternalClientError,
)

# asyncpg's InterfaceError also means misuse ("another operation is in progress"), which is a
# bug; only a closed connection is the database going away.
_CLOSED = ("connection is closed", "connection was closed")


def database_fault(exc: BaseException | None) -> DatabaseFault | None:
    """The fault behind ``exc`` (or an exception it was raised from), if it is one."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, asyncpg.QueryCanceledError):
            return DatabaseFault.STATEMENT_TIMEOUT
        if isinstance(exc, _UNAVAILABLE):
            return DatabaseFault.UNAVAILABLE
        if isinstance(exc, FileNotFoundError) and exc.filename is None:
            # A Unix socket that is not there (the server is down); a missing file names it.
            return DatabaseFault.UNAVAILABLE
        if isinstance(exc, asyncpg.InterfaceError) and any(s in str(exc) for s in _CLOSED):
            return DatabaseFault.UNAVAILABLE
        exc = exc.__cause__ or exc.__context__
    return None


MESSAGES: dict[DatabaseFault, str] = {
    DatabaseFault.UNAVAILABLE: (
        "The database is briefly unavailable; retry in a moment. A change cut off at its "
        "commit may have been saved: check, or retry it as an upsert. "
        "数据库暂时不可用，请稍后重试；在提交时中断的修改可能已保存，请先核对或以幂等方式重试。"
    ),
    DatabaseFault.STATEMENT_TIMEOUT: (
        "The operation took longer than the server allows and was stopped; nothing was "
        "changed. Narrow it down (filters, a shorter period) and try again. "
        "操作耗时超过服务器上限，已被终止且未生效；请缩小范围（筛选条件、时间段）后重试。"
    ),
}
