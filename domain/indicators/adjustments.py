"""A manager's adjustment of a scorecard's total: bounded, explained, audited.

The pack's ``scorecard.manager_adjustment_max`` bounds it either way, a comment of at least
ten characters says why, and it is refused on a closed period and on one's own scorecard.
The adjustment is kept on the scorecard, so recomputations keep applying it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from uuid import UUID

from domain.audit.service import audit, current_actor
from domain.indicators import repository as repo
from domain.indicators.models import Scorecard, ScorecardStatus
from domain.indicators.service import period_not_found, require_open
from domain.indicators.statistics import STRETCH_POINTS
from domain.people import repository as people_repo
from domain.templates.service import pack_of
from tenants.errors import ErrorCode, ServiceError, invalid, not_found
from tenants.scope import TenantID

MIN_COMMENT = 10
MAX_COMMENT = 2_000


def scorecard_not_found(field: str | None = "scorecardId") -> ServiceError:
    return not_found("scorecard", "记分卡", field=field)


class ScorecardAdjustments:
    async def adjust(
        self, tenant: TenantID, scorecard_id: UUID, points: float, comment: str
    ) -> Scorecard:
        """Set the manager's adjustment of a scorecard to ``points`` (replacing any earlier
        one) and its total to ``blended_total + points``, kept within 0 to 120.

        Percentiles within the level are not refreshed here: they are recomputed with the
        whole level at the period's next recomputation (a fact change, ``recomputeScorecards``
        or closing the period).
        """
        card = await repo.get_scorecard(tenant, scorecard_id)
        if card is None:
            raise scorecard_not_found()
        # Locked like ``period_service.close`` locks it: an adjustment and a close of the same
        # period never interleave, so a closed period's scorecards stay as they were closed.
        period = await repo.get_period(tenant, card.period_id, for_update=True)
        if period is None:
            raise period_not_found()
        require_open(period)
        actor = current_actor()
        if actor.kind == "user" and actor.id is not None:
            person = await people_repo.get_employee(tenant, card.employee_id)
            if person is not None and person.user_id == actor.id:
                raise invalid(
                    "scorecardId",
                    "nobody adjusts their own scorecard",
                    "不能调整自己的记分卡",
                )
        limit = (await pack_of(tenant)).scorecard.manager_adjustment_max
        if not math.isfinite(points) or abs(points) > limit + 1e-9:
            raise invalid(
                "points",
                f"an adjustment is from -{limit:g} to +{limit:g} points",
                f"调整幅度须在 -{limit:g} 到 +{limit:g} 分之间",
            )
        comment = comment.strip()
        if not MIN_COMMENT <= len(comment) <= MAX_COMMENT:
            raise invalid(
                "comment",
                f"say why in {MIN_COMMENT} to {MAX_COMMENT} characters",
                f"请说明理由（{MIN_COMMENT} 至 {MAX_COMMENT} 个字符）",
            )
        if card.status != ScorecardStatus.SCORED or card.blended_total is None:
            raise ServiceError(
                ErrorCode.CONFLICT,
                "this scorecard has no total to adjust: too little data to score it",
                "该记分卡数据不足，没有可调整的总分",
                field="scorecardId",
            )
        before = {
            "adjustment": card.adjustment,
            "adjustment_comment": card.adjustment_comment,
            "total": card.total,
        }
        card.adjustment = float(points)
        card.adjustment_comment = comment
        card.adjusted_by = actor.id
        card.adjusted_at = datetime.now(UTC)
        card.total = min(STRETCH_POINTS, max(0.0, card.blended_total + card.adjustment))
        # The stored card is no longer what a recomputation wrote: the next one rewrites it.
        card.digest = None
        await repo.save_scorecard(
            tenant,
            card,
            ["adjustment", "adjustment_comment", "adjusted_by", "adjusted_at", "total", "digest"],
        )
        await audit.record(
            tenant,
            entity_type="scorecard",
            entity_id=card.id,
            action="adjust",
            before=before,
            after={
                "adjustment": card.adjustment,
                "adjustment_comment": card.adjustment_comment,
                "total": card.total,
            },
        )
        return card


scorecard_adjustments = ScorecardAdjustments()
