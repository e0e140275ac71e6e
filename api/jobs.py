"""GraphQL of background jobs: the ``Job`` type, ``jobs`` and maintenance jobs to start."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, error_from
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import PAGE_SIZE, node_type, paginated, to_connection
from domain.jobs.models import Job, JobStatus
from domain.jobs.service import job_service
from tenants.authorization import Reach
from tenants.errors import ServiceError

JobStatusType = strawberry.enum(JobStatus, name="JobStatus")


@strawberry.type(name="Job", description="A long-running piece of work and how it is going.")
class JobType(relay.Node):
    id: relay.NodeID[str]
    kind: str
    status: JobStatus
    processed: int
    total: int | None
    counts: JSON
    error_report: JSON | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @field(description="Share done, 0 to 1, when the total is known.")
    def progress(self) -> float | None:
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        if not self.total:
            return None
        return min(1.0, self.processed / self.total)

    @classmethod
    def from_model(cls, row: Job) -> JobType:
        return cls(
            id=str(row.id),
            kind=row.kind,
            status=row.status,
            processed=row.processed,
            total=row.total,
            counts=JSON(row.counts),
            error_report=JSON(row.error_report) if row.error_report is not None else None,
            attempts=row.attempts,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


@node_type("Job")
async def load_job(context: RequestContext, node_id: UUID, reach: Reach) -> JobType | None:
    row = await context.loaders.jobs.load(node_id)
    return JobType.from_model(row) if row is not None else None


@strawberry.type
class JobStartPayload:
    job: JobType


@strawberry.type
class JobStartError(Error):
    pass


JobStartResult = Annotated[JobStartPayload | JobStartError, strawberry.union("JobStartResult")]


@strawberry.type
class JobQueries:
    @root_field(description="Jobs, oldest first.")
    async def jobs(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        status: JobStatus | None = None,
        kind: str | None = None,
    ) -> relay.Connection[JobType]:
        tenant = info.context.tenant_id
        page = await paginated(
            lambda: job_service.page(tenant, first=first, after=after, status=status, kind=kind)
        )
        return to_connection(page, JobType.from_model)


@strawberry.type
class JobMutations:
    @root_mutation(description="Start a job that deletes refresh tokens dead for more than 7 days.")
    async def purge_expired_sessions(self, info: Info) -> JobStartResult:
        actor = info.context.require_actor()
        tenant = actor.principal.tenant_id
        result = await attempt(
            lambda: job_service.create(
                tenant, kind="identity.purge_sessions", created_by=actor.principal.subject_id
            )
        )
        if isinstance(result, ServiceError):
            return error_from(JobStartError, result)
        return JobStartPayload(job=JobType.from_model(result))
