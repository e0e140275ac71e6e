"""RabbitMQ as the broker: publisher confirms on, jobs delivered and run."""

from __future__ import annotations

import os

from domain.jobs.models import JobStatus
from domain.jobs.service import job_service
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tests.factories import create_tenant, tenant_id
from tests.support.jobs import job_runtime, wait_for_job


async def test_a_job_travels_through_rabbitmq(settings: Settings) -> None:
    rabbit = settings.model_copy(update={"broker_url": os.environ["RENSHI_TEST_RABBITMQ_URL"]})
    assert rabbit.broker_kind == "rabbitmq"
    tenants = [tenant_id(await create_tenant()) for _ in range(2)]
    async with job_runtime(rabbit, consume=True) as runtime:
        assert runtime.broker.confirm_delivery is True
        jobs = []
        for tenant in tenants:
            async with tenant_transaction(tenant):
                jobs.append(
                    (tenant, await job_service.create(tenant, kind="identity.purge_sessions"))
                )
        for tenant, job in jobs:
            assert (await wait_for_job(tenant, job.id)).status == JobStatus.SUCCEEDED
