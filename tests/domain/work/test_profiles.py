"""Capability profiles: built once for today's requests, the same figures as summarising the
facts directly, rebuilt when facts change, and per tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.indicators.service import summarised_before
from domain.people.models import Employee
from domain.skills.models import Skill
from domain.work.matching import MatchRequest, SkillNeed, match_candidates
from domain.work.models import CapabilityProfile, CapabilityProfileState
from tenants.models import Tenant
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_indicators import record_facts
from tests.factories_records import create_employee, create_skill, set_skill

RECENT = datetime.now(UTC) - timedelta(days=30)


async def _engineer(tenant: Tenant, skill: Skill, paces: list[float]) -> None:
    person = await create_employee(tenant, level="senior")
    await set_skill(tenant, person, skill, 4)
    rows = [{"value": 4 * pace, "denominator": 4.0, "at": RECENT} for pace in paces]
    await record_facts(tenant, person, "requirement_delivered", rows)


def _request(skill: Skill, now: datetime | None = None) -> MatchRequest:
    deadline = (datetime.now(UTC) + timedelta(days=40)).date()
    return MatchRequest(skills=(SkillNeed(skill.id, 3),), size=5.0, deadline=deadline, now=now)


async def _paces(tenant: Tenant, request: MatchRequest) -> tuple[list[float], int]:
    async with tenant_transaction(tenant_id(tenant)) as tx:
        before = tx.statements
        result = await match_candidates(tenant_id(tenant), request)
        return sorted(c.pace.value or 0.0 for c in result.candidates), tx.statements - before


async def test_todays_requests_read_profiles_built_once_with_the_facts_figures() -> None:
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Payments")
    await _engineer(tenant, skill, [1.0, 1.5, 2.0])
    await _engineer(tenant, skill, [3.0, 3.0])
    # when: asked today, twice
    first, built = await _paces(tenant, _request(skill))
    again, read = await _paces(tenant, _request(skill))
    # then: the second reads what the first built, and both say what the facts say
    assert again == first
    assert read == 3  # qualified people, are the profiles current, the profiles
    assert built > read
    as_of_yesterday, _ = await _paces(tenant, _request(skill, datetime.now(UTC) - timedelta(1)))
    # no fact since: the direct summary agrees, up to the last bit of a float sum whose
    # order PostgreSQL's grouping does not fix
    assert first == pytest.approx(as_of_yesterday, rel=1e-12)
    async with tenant_transaction(tenant_id(tenant)):
        assert await CapabilityProfile.filter().count() == 2
        state = await CapabilityProfileState.get()
    assert state.window_end == datetime.now(UTC).date()


async def test_new_facts_rebuild_the_profiles() -> None:
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Payments")
    await _engineer(tenant, skill, [2.0, 2.0])
    (before,), _ = await _paces(tenant, _request(skill))
    # when: a slower delivery is recorded
    async with tenant_transaction(tenant_id(tenant)):
        person = (await CapabilityProfile.get()).employee_id
    async with tenant_transaction(tenant_id(tenant)):
        employee = await Employee.get(id=person)
    await record_facts(
        tenant, employee, "requirement_delivered", [{"value": 32.0, "denominator": 4.0,
                                                      "at": RECENT}]
    )  # fmt: skip
    (after,), rebuilt = await _paces(tenant, _request(skill))
    assert after > before
    assert rebuilt > 3


async def test_facts_dated_today_leave_the_profiles_as_built() -> None:
    tenant = await create_tenant()
    skill = await create_skill(tenant, "Payments")
    await _engineer(tenant, skill, [2.0, 2.0])
    (before,), _ = await _paces(tenant, _request(skill))
    async with tenant_transaction(tenant_id(tenant)):
        employee = await Employee.get(id=(await CapabilityProfile.get()).employee_id)
    # when: a delivery dated today, after the window every profile of today ends at (from
    # the start of the day the change counts for: the test holds just before midnight too)
    today = summarised_before(datetime.now(UTC))
    await record_facts(
        tenant, employee, "requirement_delivered", [{"value": 32.0, "denominator": 4.0,
                                                      "at": today}]
    )  # fmt: skip
    # then: the profiles are read as they were, not rebuilt
    assert await _paces(tenant, _request(skill)) == ([before], 3)
    # and a fact dated before today does rebuild them
    await record_facts(
        tenant, employee, "requirement_delivered", [{"value": 32.0, "denominator": 4.0,
                                                      "at": today - timedelta(seconds=1)}]
    )  # fmt: skip
    _, rebuilt = await _paces(tenant, _request(skill))
    assert rebuilt > 3


async def test_each_tenant_has_its_own_profiles() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    skill, theirs = await create_skill(tenant, "Payments"), await create_skill(other, "Payments")
    await _engineer(tenant, skill, [1.0])
    await _engineer(other, theirs, [5.0, 5.0])
    await _paces(other, _request(theirs))
    mine, _ = await _paces(tenant, _request(skill))
    assert mine == [1.0]
    async with tenant_transaction(tenant_id(tenant)):
        assert await CapabilityProfile.filter().count() == 1
    async with tenant_transaction(tenant_id(other)):
        assert await CapabilityProfile.filter().count() == 1
