"""Connections made outside the ORM's pool read the URL as the pool does."""

from __future__ import annotations

import pytest

from tenants.database.runtime import connect_alone
from tenants.settings import Settings


async def test_a_lone_connection_takes_the_pool_s_url_with_its_pool_parameters(
    settings: Settings,
) -> None:
    assert settings.database_url is not None
    separator = "&" if "?" in settings.database_url else "?"
    url = f"{settings.database_url}{separator}max_size=3&min_size=1&statement_cache_size=0"

    conn = await connect_alone(url, application_name="renshi-test-alone")
    try:
        found = await conn.fetchrow(
            "SELECT current_user AS role, current_setting('application_name') AS name"
        )
    finally:
        await conn.close()

    assert found is not None
    assert found["name"] == "renshi-test-alone"
    assert found["role"] == settings.database_url.split("//", 1)[1].split("@")[0].split(":")[0]


async def test_a_lone_connection_to_a_closed_port_fails_clearly(settings: Settings) -> None:
    with pytest.raises(ConnectionRefusedError):
        await connect_alone(
            "postgresql://nobody@127.0.0.1:1/nothing", application_name="renshi-test-alone"
        )
