"""The Tortoise ORM configuration: which models form the schema and how to connect."""

from __future__ import annotations

import os
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

APP_LABEL = "renshi"

# Every module holding models of the one schema. Migrations are generated from these.
MODEL_MODULES = [
    "tenants.models",
    "domain.jobs.models",
    "domain.org.models",
    "domain.people.models",
    "domain.skills.models",
    "domain.history.models",
    "domain.feedback.models",
    "domain.audit.models",
    "domain.indicators.models",
    "domain.work.models",
    "domain.imports.models",
]


def orm_config(
    url: str, *, pool_size: int = 20, application_name: str = "renshi"
) -> dict[str, Any]:
    """A Tortoise config for ``url`` with a pool sized for the server's concurrency."""
    connection = expand_db_url(url)
    # tortoise's asyncpg client, counting statements per tenant transaction.
    connection["engine"] = "tenants.database.engine"
    credentials = connection["credentials"]
    # The URL parser passes unknown query parameters through; pool sizes use its own names.
    credentials.pop("max_size", None)
    credentials.pop("min_size", None)
    credentials["minsize"] = 1
    credentials["maxsize"] = pool_size
    credentials["application_name"] = application_name
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For the `tortoise` command line (makemigrations, sqlmigrate): the owner's URL when given.
TORTOISE_ORM = orm_config(
    os.environ.get("DATABASE_ADMIN_URL") or "postgres://renshi_owner@127.0.0.1:5432/renshi",
    pool_size=2,
)
