"""GraphQL of the audit log: ``auditLog``, newest first, for administrators and HR."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.graphql.context import Info, RequestContext
from api.graphql.errors import bad_input
from api.graphql.fields import field, root_field
from api.graphql.relay import PAGE_SIZE, node_type, paginated, to_connection
from domain.audit import repository as audit_repo
from domain.audit.models import AuditEntry
from domain.audit.service import audit
from tenants.authorization import Reach

# Record types of the log, by the GraphQL type whose global ids name them.
ENTITY_TYPES = {
    "org_unit": "OrgUnit",
    "employee": "Employee",
    "custom_field": "CustomFieldDefinition",
    "skill": "Skill",
    "engagement": "Engagement",
    "appraisal": "Appraisal",
    "feedback": "Feedback",
    "period": "Period",
    "scorecard": "Scorecard",
}
_BY_TYPE_NAME = {type_name: entity for entity, type_name in ENTITY_TYPES.items()}


@strawberry.type(name="AuditEntry", description="One change to a record: who, when, what.")
class AuditEntryType(relay.Node):
    id: relay.NodeID[str]
    actor_kind: str = strawberry.field(description="user, client or system")
    actor_label: str | None
    entity_type: str
    action: str
    changes: JSON = strawberry.field(description='{"field": {"before": ..., "after": ...}}')
    request_id: str | None
    at: datetime
    actor_uuid: strawberry.Private[UUID | None]
    entity_uuid: strawberry.Private[UUID]

    @field(description="Global id of the record that changed.")
    def entity_id(self) -> relay.GlobalID:
        return relay.GlobalID(
            ENTITY_TYPES.get(self.entity_type, self.entity_type), str(self.entity_uuid)
        )

    @classmethod
    def from_model(cls, row: AuditEntry) -> AuditEntryType:
        return cls(
            id=str(row.id),
            actor_kind=row.actor_kind,
            actor_label=row.actor_label,
            entity_type=row.entity_type,
            action=row.action,
            changes=JSON(row.changes),
            request_id=row.request_id,
            at=row.at,
            actor_uuid=row.actor_id,
            entity_uuid=row.entity_id,
        )


@node_type("AuditEntry")
async def load_audit_entry(
    context: RequestContext, node_id: UUID, reach: Reach
) -> AuditEntryType | None:
    row = await audit_repo.get_entry(context.tenant_id, node_id)
    return AuditEntryType.from_model(row) if row is not None else None


@strawberry.input
class AuditFilter:
    entity_id: relay.GlobalID | None = strawberry.field(
        default=None, description="One record's history."
    )
    entity_type: str | None = None


@strawberry.type
class AuditQueries:
    @root_field(description="Changes to records, newest first.")
    async def audit_log(
        self,
        info: Info,
        first: int = PAGE_SIZE,
        after: str | None = None,
        filter: AuditFilter | None = None,
    ) -> relay.Connection[AuditEntryType]:
        tenant = info.context.tenant_id
        given = filter or AuditFilter()
        entity_type, entity_id = given.entity_type, None
        if given.entity_id is not None:
            entity_type = _BY_TYPE_NAME.get(given.entity_id.type_name)
            try:
                entity_id = UUID(given.entity_id.node_id)
            except ValueError:
                entity_type = None
            if entity_type is None:
                raise bad_input("entityId", "not the id of a record the log keeps")
        page = await paginated(
            lambda: audit.page(
                tenant, first=first, after=after, entity_type=entity_type, entity_id=entity_id
            )
        )
        return to_connection(page, AuditEntryType.from_model)
