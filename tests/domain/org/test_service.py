"""The organisation tree: paths, moves, archiving, managers and ERP upserts, per tenant."""

from __future__ import annotations

import pytest

from domain.audit.models import AuditEntry
from domain.changes import Outcome
from domain.org.models import OrgUnit
from domain.org.service import OrgUnitItem, org_service
from tenants.errors import ServiceError
from tenants.scope import tenant_transaction
from tests.factories import create_tenant, tenant_id
from tests.factories_records import create_employee, create_org_unit


async def _paths(tenant: object) -> dict[str, str]:
    async with tenant_transaction(tenant_id(tenant)):  # type: ignore[arg-type]
        return {unit.name: unit.path for unit in await OrgUnit.all()}


async def test_paths_follow_the_tree_and_move_with_it() -> None:
    tenant = await create_tenant()
    company = await create_org_unit(tenant, name="Acme", kind="company")
    platform = await create_org_unit(tenant, name="Platform", kind="department", parent=company)
    cloud = await create_org_unit(tenant, name="Cloud", kind="team", parent=platform)
    products = await create_org_unit(tenant, name="Products", kind="department", parent=company)

    paths = await _paths(tenant)
    assert paths["Cloud"] == f"{company.id.hex}.{platform.id.hex}.{cloud.id.hex}"

    async with tenant_transaction(tenant_id(tenant)):
        await org_service.update(tenant_id(tenant), platform.id, parent_id=products.id)
    paths = await _paths(tenant)
    assert paths["Platform"] == f"{company.id.hex}.{products.id.hex}.{platform.id.hex}"
    assert paths["Cloud"] == f"{company.id.hex}.{products.id.hex}.{platform.id.hex}.{cloud.id.hex}"

    async with tenant_transaction(tenant_id(tenant)):
        for bad_parent in (platform.id, cloud.id):  # itself, and its own subtree
            with pytest.raises(ServiceError, match="cannot move under itself"):
                await org_service.update(tenant_id(tenant), platform.id, parent_id=bad_parent)


async def test_units_are_checked_against_the_pack_and_the_tenant() -> None:
    tenant, other = await create_tenant(), await create_tenant()
    foreign = await create_org_unit(other, name="Theirs", kind="team")
    async with tenant_transaction(tenant_id(tenant)):
        with pytest.raises(ServiceError) as kind_error:
            await org_service.create(
                tenant_id(tenant), name="X", kind="subject_group"
            )  # a school kind
        assert kind_error.value.field == "kind"
        with pytest.raises(ServiceError) as parent_error:
            await org_service.create(tenant_id(tenant), name="X", kind="team", parent_id=foreign.id)
        assert (parent_error.value.code, parent_error.value.field) == ("NOT_FOUND", "parentId")


async def test_a_unit_with_active_sub_units_cannot_be_archived() -> None:
    tenant = await create_tenant()
    parent = await create_org_unit(tenant, name="Dept", kind="department")
    child = await create_org_unit(tenant, name="Team", kind="team", parent=parent)
    async with tenant_transaction(tenant_id(tenant)):
        with pytest.raises(ServiceError, match="sub-units first"):
            await org_service.archive(tenant_id(tenant), parent.id)
        await org_service.archive(tenant_id(tenant), child.id)
        archived = await org_service.archive(tenant_id(tenant), parent.id)
    assert archived.archived_at is not None


async def test_upserting_the_same_batch_twice_gives_the_same_state() -> None:
    tenant = await create_tenant()
    batch = [
        # children before their parents: the batch is ordered by the service
        OrgUnitItem(external_key="T-1", name="Team One", kind="team", parent_external_key="D-1"),
        OrgUnitItem(external_key="D-1", name="Dept", kind="department", parent_external_key="C"),
        OrgUnitItem(external_key="C", name="Company", kind="company"),
        OrgUnitItem(external_key="BAD", name="Bad", kind="nonsense"),
        OrgUnitItem(
            external_key="ORPHAN", name="Orphan", kind="team", parent_external_key="MISSING"
        ),
    ]
    async with tenant_transaction(tenant_id(tenant)):
        first = await org_service.upsert(tenant_id(tenant), batch)
    assert [(r.key, r.outcome) for r in first] == [
        ("T-1", Outcome.CREATED),
        ("D-1", Outcome.CREATED),
        ("C", Outcome.CREATED),
        ("BAD", Outcome.FAILED),
        ("ORPHAN", Outcome.FAILED),
    ]
    assert first[3].error is not None
    assert first[3].error.field == "kind"
    assert first[4].error is not None
    assert first[4].error.field == "parentExternalKey"
    state = await _paths(tenant)

    async with tenant_transaction(tenant_id(tenant)):
        second = await org_service.upsert(tenant_id(tenant), batch)
    assert [r.outcome for r in second[:3]] == [Outcome.UNCHANGED] * 3
    assert await _paths(tenant) == state

    renamed = [
        OrgUnitItem(external_key="T-1", name="Team Uno", kind="team", parent_external_key="C")
    ]
    async with tenant_transaction(tenant_id(tenant)):
        third = await org_service.upsert(tenant_id(tenant), renamed)
    assert third[0].outcome == Outcome.UPDATED
    assert (await _paths(tenant))["Team Uno"] == f"{state['Company']}.{third[0].record.id.hex}"


async def test_a_cycle_in_a_batch_fails_those_items_only() -> None:
    tenant = await create_tenant()
    batch = [
        OrgUnitItem(external_key="A", name="A", kind="team", parent_external_key="B"),
        OrgUnitItem(external_key="B", name="B", kind="team", parent_external_key="A"),
        OrgUnitItem(external_key="C", name="C", kind="team"),
        OrgUnitItem(external_key="C", name="C again", kind="team"),
    ]
    async with tenant_transaction(tenant_id(tenant)):
        results = await org_service.upsert(tenant_id(tenant), batch)
    assert [r.outcome for r in results] == [Outcome.FAILED] * 4
    assert results[0].error is not None
    assert "cycle" in results[0].error.message
    assert results[2].error is not None
    assert "repeated" in results[2].error.message


async def test_changes_are_audited_and_managers_recorded() -> None:
    tenant = await create_tenant()
    unit = await create_org_unit(tenant, name="Team", kind="team")
    boss = await create_employee(tenant, name="Boss")
    async with tenant_transaction(tenant_id(tenant)):
        await org_service.update(tenant_id(tenant), unit.id, name="Renamed Team")
        await org_service.add_manager(tenant_id(tenant), unit.id, boss.id)
        await org_service.add_manager(tenant_id(tenant), unit.id, boss.id)  # already: no entry
        entries = await AuditEntry.filter(entity_id=unit.id).order_by("at")
    assert [e.action for e in entries] == ["create", "update", "add_manager"]
    assert entries[1].changes == {"name": {"before": "Team", "after": "Renamed Team"}}
