"""GraphQL of the tenant itself: the ``Tenant`` type, ``tenant`` and ``updateTenant``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.graphql.context import Info, RequestContext
from api.graphql.errors import Error, error_from
from api.graphql.fields import field, root_field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import node_type
from domain.templates.registry import PackFile, installed_packs
from domain.templates.service import pack_of
from tenants.authorization import Reach
from tenants.errors import ServiceError
from tenants.models import Tenant, TenantStatus
from tenants.service import tenant_service

if TYPE_CHECKING:
    from api.indicators import (
        DashboardPanelType,
        FactKindType,
        IndicatorType,
        RuleType,
        ScorecardPolicyType,
        WeightGroupType,
    )

TenantStatusType = strawberry.enum(TenantStatus, name="TenantStatus")


@strawberry.type(name="LocalizedText", description="A label in Chinese and English.")
class LocalizedText:
    zh: str
    en: str

    @classmethod
    def of(cls, text: Any) -> LocalizedText:
        """The same label from a pack's text (anything with ``zh`` and ``en``)."""
        return cls(zh=text.zh, en=text.en)


@strawberry.type(name="Tenant", description="The organisation the caller belongs to.")
class TenantType(relay.Node):
    id: relay.NodeID[str]
    slug: str
    name: str
    template_code: str = strawberry.field(description="The industry template pack in use.")
    status: TenantStatus
    settings: JSON
    created_at: datetime

    @field(description="The template pack's name in zh and en.")
    def template_name(self) -> LocalizedText | None:
        pack = installed_packs().get(self.template_code)
        if pack is None:
            return None
        return LocalizedText(zh=pack.pack.name.zh, en=pack.pack.name.en)

    @classmethod
    def from_model(cls, row: Tenant) -> TenantType:
        return cls(
            id=str(row.id),
            slug=row.slug,
            name=row.name,
            template_code=row.template_code,
            status=row.status,
            settings=JSON(row.settings),
            created_at=row.created_at,
        )


@node_type("Tenant")
async def load_tenant(context: RequestContext, node_id: UUID, reach: Reach) -> TenantType | None:
    if node_id != context.tenant_id:
        return None
    return TenantType.from_model(await tenant_service.get(context.tenant_id))


@strawberry.type(description="A coded item of the template pack with its name in zh and en.")
class PackItem:
    code: str
    name: LocalizedText


@strawberry.type
class PackLevel(PackItem):
    rank: int


@strawberry.type
class PackOutcome(PackItem):
    type: str
    unit: str | None
    min: float | None
    max: float | None


@strawberry.type
class PackEngagementKind(PackItem):
    outcomes: list[PackOutcome]


@strawberry.type
class PackVocabulary:
    person: LocalizedText
    people: LocalizedText
    unit: LocalizedText
    engagement: LocalizedText
    work_item: LocalizedText
    scorecard: LocalizedText


@strawberry.type(description="The industry template the tenant works with: its words and ladders.")
class TemplatePack:
    code: str
    name: LocalizedText
    vocabulary: PackVocabulary
    levels: list[PackLevel]
    org_unit_kinds: list[PackItem]
    engagement_kinds: list[PackEngagementKind]
    feedback_criteria: list[PackItem]
    feedback_sources: list[str]
    pack: strawberry.Private[PackFile]

    # The indicator part's types live with the rest of scoring (api.indicators), which
    # imports this module: they are referenced lazily.

    @field(description="Kinds of measurement facts record.")
    def fact_kinds(self) -> list[Annotated[FactKindType, strawberry.lazy("api.indicators")]]:
        from api.indicators import fact_kinds_of

        return fact_kinds_of(self.pack)

    @field(description="The pack's default indicators (the tenant's own are in indicatorSet).")
    def indicators(self) -> list[Annotated[IndicatorType, strawberry.lazy("api.indicators")]]:
        from api.indicators import indicators_of

        return indicators_of(self.pack)

    @field(description="The pack's default weight groups.")
    def weight_groups(
        self,
    ) -> list[Annotated[WeightGroupType, strawberry.lazy("api.indicators")]]:
        from api.indicators import weight_groups_of

        return weight_groups_of(self.pack)

    @field(description="The pack's default rules.")
    def rules(self) -> list[Annotated[RuleType, strawberry.lazy("api.indicators")]]:
        from api.indicators import rules_of

        return rules_of(self.pack)

    @field(description="How scorecards are made: period kind, adjustment bound, review blend.")
    def scorecard_policy(
        self,
    ) -> Annotated[ScorecardPolicyType, strawberry.lazy("api.indicators")]:
        from api.indicators import ScorecardPolicyType

        return ScorecardPolicyType.from_definition(self.pack.scorecard)

    @field(description="Dashboard panels the pack offers.")
    def dashboard_panels(
        self,
    ) -> list[Annotated[DashboardPanelType, strawberry.lazy("api.indicators")]]:
        from api.indicators import dashboard_panels_of

        return dashboard_panels_of(self.pack)


def template_pack(pack: PackFile) -> TemplatePack:
    return TemplatePack(
        code=pack.pack.code,
        name=LocalizedText.of(pack.pack.name),
        vocabulary=PackVocabulary(
            person=LocalizedText.of(pack.vocabulary.person),
            people=LocalizedText.of(pack.vocabulary.people),
            unit=LocalizedText.of(pack.vocabulary.unit),
            engagement=LocalizedText.of(pack.vocabulary.engagement),
            work_item=LocalizedText.of(pack.vocabulary.work_item),
            scorecard=LocalizedText.of(pack.vocabulary.scorecard),
        ),
        levels=[
            PackLevel(code=lv.code, name=LocalizedText.of(lv.name), rank=lv.rank)
            for lv in pack.levels
        ],
        org_unit_kinds=[
            PackItem(code=k.code, name=LocalizedText.of(k.name)) for k in pack.org_unit_kinds
        ],
        engagement_kinds=[
            PackEngagementKind(
                code=k.code,
                name=LocalizedText.of(k.name),
                outcomes=[
                    PackOutcome(
                        code=o.code,
                        name=LocalizedText.of(o.name),
                        type=o.type,
                        unit=o.unit,
                        min=o.min,
                        max=o.max,
                    )
                    for o in k.outcomes
                ],
            )
            for k in pack.engagement_kinds
        ],
        feedback_criteria=[
            PackItem(code=c.code, name=LocalizedText.of(c.name)) for c in pack.feedback_criteria
        ],
        feedback_sources=list(pack.feedback_sources),
        pack=pack,
    )


@strawberry.input(description="Fields to change; leave a field out to keep it.")
class TenantUpdateInput:
    name: str | None = strawberry.UNSET
    settings: JSON | None = strawberry.UNSET


@strawberry.type
class TenantUpdatePayload:
    tenant: TenantType


@strawberry.type
class TenantUpdateError(Error):
    pass


TenantUpdateResult = Annotated[
    TenantUpdatePayload | TenantUpdateError, strawberry.union("TenantUpdateResult")
]


def _given(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


@strawberry.type
class TenantQueries:
    @root_field(description="The caller's organisation.")
    async def tenant(self, info: Info) -> TenantType:
        return TenantType.from_model(await tenant_service.get(info.context.tenant_id))

    @root_field(description="The tenant's template pack: levels, unit kinds, engagement kinds.")
    async def template_pack(self, info: Info) -> TemplatePack:
        return template_pack(await pack_of(info.context.tenant_id))


@strawberry.type
class TenantMutations:
    @root_mutation()
    async def update_tenant(self, info: Info, input: TenantUpdateInput) -> TenantUpdateResult:
        tenant = info.context.tenant_id
        result = await attempt(
            lambda: tenant_service.update(
                tenant, name=_given(input.name), settings=_given(input.settings)
            )
        )
        if isinstance(result, ServiceError):
            return error_from(TenantUpdateError, result)
        return TenantUpdatePayload(tenant=TenantType.from_model(result))
