"""Demo builds for the demo tests: one seed and date, the issue's sizes, and a read of a
built tenant's rows in its own tenant scope."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from domain.demo.builder import LOADED_TABLES, DemoSummary, build_demo
from tenants.database.migrate import analyze
from tenants.scope import tenant_transaction

SEED = 2026
AS_OF = date(2026, 3, 16)
TEMPLATES = ("enterprise_rd", "school_teaching")
SMALL = 30
# The default demo sizes (acme, sunrise): the statistics are checked on what people see.
ACME_SIZE = 200
SUNRISE_SIZE = 80


async def build(template: str, employees: int, admin_url: str) -> DemoSummary:
    """A demo tenant as `renshi demo` leaves it: built, then analyzed by the owner so that
    the tests' queries are planned with statistics."""
    summary = await build_demo(
        slug=f"demo-{secrets.token_hex(4)}",
        template=template,
        employees=employees,
        seed=SEED,
        as_of=AS_OF,
    )
    await analyze(admin_url, LOADED_TABLES)
    return summary


async def demo_rows(summary: DemoSummary, query: str, *args: Any) -> list[Any]:
    """Rows of ``query`` in the demo tenant's scope; ``$1`` is its id."""
    async with tenant_transaction(summary.tenant_id) as tx:
        return await tx.fetch(query, summary.tenant_id, *args)
