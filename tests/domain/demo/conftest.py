"""Demo tenants shared by the demo tests: built once a session, read only."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from domain.demo.builder import DemoSummary
from tests.factories_demo import ACME_SIZE, SMALL, SUNRISE_SIZE, TEMPLATES, build


@pytest.fixture(scope="session")
async def twins(
    app: Starlette, database: tuple[str, str]
) -> dict[str, tuple[DemoSummary, DemoSummary]]:
    """Two small builds of each template with the same seed."""
    admin_url = database[0]
    return {
        t: (await build(t, SMALL, admin_url), await build(t, SMALL, admin_url)) for t in TEMPLATES
    }


@pytest.fixture(scope="session")
async def acme(app: Starlette, database: tuple[str, str]) -> DemoSummary:
    return await build("enterprise_rd", ACME_SIZE, database[0])


@pytest.fixture(scope="session")
async def sunrise(app: Starlette, database: tuple[str, str]) -> DemoSummary:
    return await build("school_teaching", SUNRISE_SIZE, database[0])


@pytest.fixture(scope="session")
def full(acme: DemoSummary, sunrise: DemoSummary) -> dict[str, DemoSummary]:
    return {"enterprise_rd": acme, "school_teaching": sunrise}
