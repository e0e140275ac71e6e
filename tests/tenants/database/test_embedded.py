"""The zero-setup default: an embedded PostgreSQL that keeps its data and has two roles."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from uuid import uuid4

import asyncpg

from tenants.database.embedded import (
    EMBEDDED_SETTINGS,
    embedded_database,
    stop_embedded_server,
)
from tenants.database.migrate import apply_migrations

ROOT = Path(__file__).resolve().parents[3]


async def test_the_embedded_server_keeps_data_across_restarts_and_the_app_role_is_weak(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    urls = await embedded_database(home)
    await apply_migrations(urls.admin_url)
    tenant = uuid4()
    conn = await asyncpg.connect(urls.app_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            await conn.execute(
                "INSERT INTO tenants (id, slug, name, template_code, status, settings, created_at, updated_at) "
                "VALUES ($1, 'kept', 'Kept', 'enterprise_rd', 'active', '{}', now(), now())",
                tenant,
            )
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert role is not None
        assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
    finally:
        await conn.close()

    stop_embedded_server(home)
    urls = await embedded_database(home)  # a restart: same folder, same data
    conn = await asyncpg.connect(urls.app_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            assert await conn.fetchval("SELECT slug FROM tenants") == "kept"
        # Tuned for bulk imports; shared_buffers took effect with the restart.
        settings = {name: await conn.fetchval(f"SHOW {name}") for name in EMBEDDED_SETTINGS}
        assert settings == EMBEDDED_SETTINGS
    finally:
        await conn.close()
        stop_embedded_server(home)


def _owned_privately_by_the_homes_owner(data: Path, home: Path) -> bool:
    # no root involved: the data belongs to the user who ran it, and only to them
    return (
        (data / "PG_VERSION").exists()
        and data.stat().st_uid == home.stat().st_uid
        and data.stat().st_mode & 0o077 == 0
    )


def _system_python() -> str:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    found = shutil.which(version, path="/usr/bin:/usr/local/bin")
    assert found is not None, f"no {version} outside root's home to run as an unprivileged user"
    return found


async def test_a_normal_user_can_run_the_embedded_default() -> None:
    # As root the test drops to an unprivileged account; as anyone else it already is one.
    # The home sits directly in /tmp, which any account can reach.
    home = Path(tempfile.mkdtemp(prefix="renshi-user-home-"))
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "--json",
        "tenant",
        "create",
        "solo",
        "--name",
        "Solo",
        "--template",
        "enterprise_rd",
    ]
    if os.geteuid() == 0:
        account = pwd.getpwnam("nobody")
        shutil.chown(home, account.pw_uid, account.pw_gid)
        # The test's own interpreter may live in root's home; the system one of the same
        # version runs the same installed packages.
        command = ["runuser", "-u", "nobody", "--", _system_python(), *command[1:]]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DATABASE_ADMIN_URL", "BROKER_URL"}
    }
    env.update(
        {
            "RENSHI_HOME": str(home),
            "RENSHI_LOG_LEVEL": "WARNING",
            "HOME": str(home),
            "PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]]),
        }
    )
    try:
        result = await asyncio.to_thread(
            subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stderr
        assert '"slug": "solo"' in result.stdout
        assert _owned_privately_by_the_homes_owner(home / "pg", home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
