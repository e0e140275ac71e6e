"""GraphQL of feedback: giving it, archiving it, named items and per-person summaries.

Which source a caller may give feedback as, and on whom, is a matrix row per source
(``Field.Feedback.<source>``): a manager gives ``manager`` feedback on their subtree, sales
give ``sales`` feedback on anyone, everyone rates themselves only as ``self``. Anonymous
feedback is never shown one by one (see ``domain.feedback.service``). Nobody reads the named
items about themselves, whatever their reach; a person reading their own summary also sees
named groups only from ``MIN_ANONYMOUS_RESPONSES`` responses up, so a lone rating cannot be
traced to its author.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry
from strawberry import relay
from strawberry.dataloader import DataLoader

from api.graphql.context import UNKNOWN, Info, RequestContext
from api.graphql.errors import Error, error_from
from api.graphql.fields import field, root_mutation
from api.graphql.mutations import attempt
from api.graphql.relay import node_type, require_node_id
from api.tenancy import LocalizedText
from domain.feedback import repository as feedback_repo
from domain.feedback.models import Feedback, FeedbackSource
from domain.feedback.service import (
    MIN_ANONYMOUS_RESPONSES,
    Aggregate,
    FeedbackSummary,
    feedback_not_found,
    feedback_service,
)
from domain.people import repository as people_repo
from domain.people.models import Employee
from domain.people.service import employee_not_found
from domain.templates.registry import PackFile
from domain.templates.service import pack_of
from tenants.authorization import Reach
from tenants.errors import ServiceError, invalid

FeedbackSourceType = strawberry.enum(
    FeedbackSource, name="FeedbackSource", description="Where feedback comes from."
)

NAMED_FIELD = "Field.Employee.feedback"
SUMMARY_FIELD = "Field.Employee.feedbackSummary"
NODE_OPERATION = "Node.Feedback"
# Customers, students and parents do not log in: whoever may enter their feedback enters
# feedback on someone's behalf.
ON_BEHALF_ROW = "Field.Feedback.customer"


def source_row(source: FeedbackSource) -> str:
    """The matrix row that says who may give feedback as ``source``, on whom."""
    head, *rest = source.value.split("_")
    return "Field.Feedback." + head + "".join(part.title() for part in rest)


def summary_loader(context: RequestContext) -> DataLoader[UUID, FeedbackSummary]:
    """Each person's feedback summary; a page of people costs one statement."""
    tenant = context.tenant_id

    async def load(subject_ids: list[UUID]) -> list[FeedbackSummary]:
        found = await feedback_service.summary(tenant, subject_ids)
        return [found[subject_id] for subject_id in subject_ids]

    return context.loaders.batch("feedback_summaries", load)


def authors_loader(context: RequestContext) -> DataLoader[UUID, Employee | None]:
    """The employee record of each author's user account."""
    tenant = context.tenant_id

    async def load(user_ids: list[UUID]) -> list[Employee | None]:
        rows = await people_repo.get_employees_by_users(tenant, user_ids)
        by_user = {row.user_id: row for row in rows}
        return [by_user.get(user_id) for user_id in user_ids]

    return context.loaders.batch("feedback_authors", load)


@strawberry.type(description="A rating of one criterion, with the criterion's name.")
class Rating:
    criterion: str
    name: LocalizedText | None
    rating: int


@strawberry.type(description="A mean rating of one criterion.")
class CriterionMean:
    criterion: str
    name: LocalizedText | None
    mean: float


@strawberry.type(description="Responses of one group and their mean rating per criterion.")
class FeedbackAggregate:
    responses: int
    means: list[CriterionMean] = strawberry.field(
        description="Per criterion, in the pack's order; criteria too few rated are left out."
    )


@strawberry.type(description="One source's feedback about a person, named and anonymous apart.")
class SourceFeedbackSummary:
    source: FeedbackSource
    named: FeedbackAggregate | None
    named_withheld: bool = strawberry.field(
        description="True when named feedback exists but too little to show to this reader."
    )
    anonymous: FeedbackAggregate | None
    anonymous_withheld: bool = strawberry.field(
        description=f"True when anonymous feedback exists but fewer than "
        f"{MIN_ANONYMOUS_RESPONSES} responses."
    )


@strawberry.type(description="What current feedback says about a person.")
class FeedbackSummaryType:
    sources: list[SourceFeedbackSummary]
    anonymous: FeedbackAggregate | None = strawberry.field(
        description="Anonymous feedback across sources."
    )
    anonymous_withheld: bool
    minimum_anonymous_responses: int = MIN_ANONYMOUS_RESPONSES


def _criterion_name(pack: PackFile, code: str) -> LocalizedText | None:
    found = next((c for c in pack.feedback_criteria if c.code == code), None)
    return LocalizedText(zh=found.name.zh, en=found.name.en) if found else None


def _aggregate(pack: PackFile, aggregate: Aggregate | None) -> FeedbackAggregate | None:
    if aggregate is None:
        return None
    order = [c.code for c in pack.feedback_criteria]
    codes = sorted(aggregate.means, key=lambda c: (order.index(c) if c in order else len(order), c))
    return FeedbackAggregate(
        responses=aggregate.count,
        means=[
            CriterionMean(
                criterion=code,
                name=_criterion_name(pack, code),
                mean=round(aggregate.means[code], 2),
            )
            for code in codes
        ],
    )


def summary_type(
    pack: PackFile, summary: FeedbackSummary, *, reads_named: bool
) -> FeedbackSummaryType:
    """The summary as shown to a reader; ``reads_named``: whether they may read named items."""
    sources = []
    for source, part in summary.sources.items():
        named = part.named
        withheld = named is not None and not reads_named and named.count < MIN_ANONYMOUS_RESPONSES
        sources.append(
            SourceFeedbackSummary(
                source=source,
                named=None if withheld else _aggregate(pack, named),
                named_withheld=withheld,
                anonymous=_aggregate(pack, part.anonymous),
                anonymous_withheld=part.anonymous_withheld,
            )
        )
    return FeedbackSummaryType(
        sources=sources,
        anonymous=_aggregate(pack, summary.anonymous),
        anonymous_withheld=summary.anonymous_withheld,
    )


@strawberry.type(name="Feedback", description="Named feedback about a person.")
class FeedbackType(relay.Node):
    id: relay.NodeID[str]
    source: FeedbackSource
    comment: str | None
    given_at: datetime
    archived_at: datetime | None
    row: strawberry.Private[Feedback]

    @classmethod
    def from_model(cls, row: Feedback) -> FeedbackType:
        return cls(
            id=str(row.id),
            source=row.source,
            comment=row.comment,
            given_at=row.given_at,
            archived_at=row.archived_at,
            row=row,
        )

    @field(description="The person the feedback is about.")
    async def subject_id(self) -> relay.GlobalID:
        return relay.GlobalID("Employee", str(self.row.subject_id))

    @field(description="Who gave it: the label entered with it, or the author's name.")
    async def author(self, info: Info) -> str | None:
        if self.row.author_label:
            return self.row.author_label
        if self.row.author_user_id is None:
            return None
        person = await authors_loader(info.context).load(self.row.author_user_id)
        return person.name if person is not None else None

    @field(description="Ratings per criterion, in the pack's order.")
    async def ratings(self, info: Info) -> list[Rating]:
        pack = await pack_of(info.context.tenant_id)
        order = [c.code for c in pack.feedback_criteria]
        codes = sorted(self.row.ratings, key=lambda c: order.index(c) if c in order else len(order))
        return [
            Rating(criterion=c, name=_criterion_name(pack, c), rating=self.row.ratings[c])
            for c in codes
        ]


async def _subject_visible(context: RequestContext, subject_id: UUID, operation: str) -> bool:
    from api.people import employee_loader

    person = await employee_loader(context).load(subject_id)
    return person is not None and (await context.visibility(operation)).allows(person)


async def reads_named(context: RequestContext, subject: Employee, operation: str) -> bool:
    """Whether the caller may read who said what about ``subject`` through ``operation``."""
    if not (await context.visibility(operation)).allows(subject):
        return False
    # Never about oneself, whatever the reach: a manager's subtree holds their own record
    # (and often their own unit), which would show them the authors of their feedback.
    return await context.own_employee_id() != subject.id


def known_reads_named(context: RequestContext, subject: Employee, operation: str) -> bool | None:
    """``reads_named`` when it needs no query, else None."""
    visibility = context.known_visibility(operation)
    if visibility is None:
        return None
    if not visibility.allows(subject):
        return False
    own = context.known_own_employee_id()
    return None if own is UNKNOWN else own != subject.id


@node_type("Feedback")
async def load_feedback(
    context: RequestContext, node_id: UUID, reach: Reach
) -> FeedbackType | None:
    from api.people import employee_loader

    row = await feedback_repo.get_feedback(context.tenant_id, node_id)
    # Anonymous feedback is never shown on its own, to anyone.
    if row is None or row.anonymous:
        return None
    subject = await employee_loader(context).load(row.subject_id)
    if subject is None or not await reads_named(context, subject, NODE_OPERATION):
        return None
    return FeedbackType.from_model(row)


@strawberry.input
class RatingInput:
    criterion: str = strawberry.field(description="A feedback criterion of the template pack.")
    rating: int = strawberry.field(description="1 to 5.")


@strawberry.input
class FeedbackInput:
    subject_id: relay.GlobalID
    source: FeedbackSource
    ratings: list[RatingInput]
    comment: str | None = None
    anonymous: bool = False
    author_label: str | None = strawberry.field(
        default=None,
        description="Who gave it, when entered on someone's behalf (a customer, a parent).",
    )
    given_at: datetime | None = strawberry.field(default=None, description="Defaults to now.")


@strawberry.type
class FeedbackPayload:
    feedback_id: relay.GlobalID
    anonymous: bool


@strawberry.type
class FeedbackError(Error):
    pass


@strawberry.type
class FeedbackArchivePayload:
    feedback_id: relay.GlobalID


FeedbackResult = Annotated[FeedbackPayload | FeedbackError, strawberry.union("FeedbackResult")]
FeedbackArchiveResult = Annotated[
    FeedbackArchivePayload | FeedbackError, strawberry.union("FeedbackArchiveResult")
]


def _ratings(given: list[RatingInput]) -> dict[str, int]:
    ratings: dict[str, int] = {}
    for item in given:
        if item.criterion in ratings:
            raise invalid(
                f"ratings.{item.criterion[:63]}", "rated more than once", "同一评价项重复评分"
            )
        ratings[item.criterion] = item.rating
    return ratings


@strawberry.type
class FeedbackMutations:
    @root_mutation(
        description="Give feedback on a person. Anonymous feedback keeps no author at all."
    )
    async def give_feedback(self, info: Info, input: FeedbackInput) -> FeedbackResult:
        context = info.context
        tenant = context.tenant_id

        async def give() -> Feedback:
            subject_id = require_node_id(
                input.subject_id, "Employee", "employee", "员工", field="subjectId"
            )
            if not await _subject_visible(context, subject_id, "Mutation.giveFeedback"):
                raise employee_not_found("subjectId")
            own = await context.own_employee_id()
            if own == subject_id and input.source != FeedbackSource.SELF:
                raise invalid(
                    "source", "feedback on yourself is self-assessment", "对自己的反馈只能是自评"
                )
            if not await _subject_visible(context, subject_id, source_row(input.source)):
                raise invalid(
                    "source",
                    f"you may not give {input.source.value} feedback on this person",
                    "您不能以此来源评价此人",
                )
            if input.author_label and not context.allows(ON_BEHALF_ROW):
                # Otherwise anyone could sign feedback with someone else's name.
                raise invalid(
                    "authorLabel",
                    "only those who enter feedback on others' behalf may label its author",
                    "只有代为录入反馈的人可以填写反馈人",
                )
            actor = context.require_actor()
            return await feedback_service.give(
                tenant,
                subject_id=subject_id,
                source=input.source,
                ratings=_ratings(input.ratings),
                comment=input.comment,
                anonymous=input.anonymous,
                author_user_id=actor.user.id if actor.user is not None else None,
                author_label=input.author_label,
                given_at=input.given_at,
            )

        result = await attempt(give)
        if isinstance(result, ServiceError):
            return error_from(FeedbackError, result)
        return FeedbackPayload(
            feedback_id=relay.GlobalID("Feedback", str(result.id)), anonymous=result.anonymous
        )

    @root_mutation(description="Archive feedback: out of named lists and summaries.")
    async def archive_feedback(self, info: Info, id: relay.GlobalID) -> FeedbackArchiveResult:
        tenant = info.context.tenant_id

        async def archive() -> Feedback:
            feedback_id = require_node_id(id, "Feedback", "feedback", "反馈")
            row = await feedback_repo.get_feedback(tenant, feedback_id)
            if row is None or not await _subject_visible(
                info.context, row.subject_id, "Mutation.archiveFeedback"
            ):
                raise feedback_not_found()
            return await feedback_service.archive(tenant, feedback_id)

        result = await attempt(archive)
        if isinstance(result, ServiceError):
            return error_from(FeedbackError, result)
        return FeedbackArchivePayload(feedback_id=relay.GlobalID("Feedback", str(result.id)))
