"""What import rows may name, and how: the tenant's org units, employees and skills, loaded
once per import into lookup tables so resolving a row's reference is a dictionary lookup.

A fact file can hold millions of rows naming a few thousand people, so ``load`` reads each
kind of record in one statement and ``resolve`` never touches the database.

How each kind is named, in the order the lookups are tried (the first table that knows the
text answers, so a more precise name wins over a looser one):

- org units: the external key (exactly); a path of names from the root ("R&D/Platform",
  "研发中心 / 平台组"; "/", ">" and their full-width forms all separate); a name used by no
  other unit. Names compare in the skills' key form (half-width, case-folded, single spaces).
- employees: the employee number (exactly, then ignoring case); the e-mail (ignoring case).
  Numbers cannot hold "@", so the two never meet.
- skills: the external key (exactly); the name or an alias (key form, unique in the tenant
  by construction); the Chinese or English name (key form; shared ones are ambiguous).

A name two records share resolves to ``AMBIGUOUS``, never to either of them.

Archived records:

- archived org units and skills are not nameable: the domain refuses them as a parent, a
  person's unit or a skill to hold, and leaving them out keeps a retired unit's name from
  making an active one's ambiguous.
- archived employees are nameable: facts, appraisals and engagements of people who have
  left are history the scores must keep, and re-importing them must find their records.
  The domain still refuses what may not happen to them (a new appraisal, a new skill
  level). An e-mail shared with an active employee names the active one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final
from uuid import UUID

from domain.imports.fields import RefKind, RowErrorCode
from domain.people.validation import half_width
from domain.skills.service import name_key
from tenants.scope import TenantID, require_tenant

# What a table holds for a name two records share.
_SHARED: Final = None
# Results kept per text: a fact file names the same few thousand people over and over. The
# bound keeps a file of millions of distinct (mostly unknown) texts from growing it forever.
_MEMO_LIMIT = 200_000
_PATH_SEPARATORS = re.compile(r"[/>\\]")  # after half_width: "／" is "/", "＞" is ">"

Table = dict[str, UUID | None]  # normal form -> id, or _SHARED


def exact(text: str) -> str:
    return half_width(text).strip()


def folded(text: str) -> str:
    return exact(text).casefold()


def path_key(text: str) -> str:
    """The normal form of a path of names; "" unless it has two names or more (a single name
    is looked up as a name, where sharing it with another unit makes it ambiguous)."""
    parts = [name_key(part) for part in _PATH_SEPARATORS.split(half_width(text))]
    names = [part for part in parts if part]
    return "/".join(names) if len(names) > 1 else ""


def _put(table: Table, key: str, record_id: UUID) -> None:
    if not key:
        return
    known = table.get(key, record_id)
    table[key] = record_id if known == record_id else _SHARED


class _Lookups:
    """One kind's tables, tried in order, each with the normal form its keys are in."""

    def __init__(self, forms: Sequence[Callable[[str], str]]) -> None:
        self.forms = tuple(forms)
        self.tables: tuple[Table, ...] = tuple({} for _ in forms)
        self.memo: dict[str, UUID | RowErrorCode] = {}

    def put(self, position: int, text: str | None, record_id: UUID) -> None:
        if text:
            _put(self.tables[position], self.forms[position](text), record_id)

    def resolve(self, text: str) -> UUID | RowErrorCode:
        found = self.memo.get(text)
        if found is not None:
            return found
        answer: UUID | RowErrorCode = RowErrorCode.NOT_FOUND
        for form, table in zip(self.forms, self.tables, strict=True):
            key = form(text)
            if key and key in table:
                hit = table[key]
                answer = hit if hit is not None else RowErrorCode.AMBIGUOUS
                break
        if len(self.memo) < _MEMO_LIMIT:
            self.memo[text] = answer
        return answer


# The positions of each kind's tables; ``add`` takes names in this order.
_UNIT_KEY, _UNIT_PATH, _UNIT_NAME = 0, 1, 2
_NUMBER, _NUMBER_FOLDED, _EMAIL_ACTIVE, _EMAIL_ARCHIVED = 0, 1, 2, 3
_SKILL_KEY, _SKILL_NAME, _SKILL_LOCAL_NAME = 0, 1, 2


def org_unit_names(external_key: str | None, path: str | None, name: str) -> list[str]:
    """The names of an org unit, as ``TenantReferences.add`` takes them."""
    return [external_key or "", path or "", name]


def employee_names(employee_number: str, email: str | None) -> list[str]:
    """The names of an employee, as ``TenantReferences.add`` takes them."""
    return [employee_number, email or ""]


def skill_names(
    external_key: str | None,
    name: str,
    name_zh: str | None,
    name_en: str | None,
    aliases: Sequence[str] = (),
) -> list[str]:
    """The names of a skill, as ``TenantReferences.add`` takes them."""
    return [external_key or "", name, name_zh or "", name_en or "", *aliases]


class TenantReferences:
    """The ``References`` of one import: what its rows may name in the tenant.

    Build it with ``load`` inside the import's tenant transaction (row-level security and
    the explicit tenant filter keep other tenants' records out).
    """

    def __init__(self, tenant: TenantID, kinds: set[RefKind]) -> None:
        self.tenant = tenant
        self._lookups: dict[RefKind, _Lookups] = {}
        if RefKind.ORG_UNIT in kinds:
            self._lookups[RefKind.ORG_UNIT] = _Lookups((exact, path_key, name_key))
        if RefKind.EMPLOYEE in kinds:
            self._lookups[RefKind.EMPLOYEE] = _Lookups((exact, folded, folded, folded))
        if RefKind.SKILL in kinds:
            self._lookups[RefKind.SKILL] = _Lookups((exact, name_key, name_key))

    @classmethod
    async def load(cls, tenant: TenantID, kinds: set[RefKind]) -> TenantReferences:
        """The tenant's nameable records of ``kinds``: one statement per kind."""
        references = cls(tenant, kinds)
        if RefKind.ORG_UNIT in kinds:
            await references._load_org_units()
        if RefKind.EMPLOYEE in kinds:
            await references._load_employees()
        if RefKind.SKILL in kinds:
            await references._load_skills()
        return references

    @property
    def kinds(self) -> set[RefKind]:
        return set(self._lookups)

    def resolve(self, ref: RefKind, text: str) -> UUID | RowErrorCode:
        """The id ``text`` names, or ``NOT_FOUND`` / ``AMBIGUOUS``.

        Raises ``LookupError`` for a kind ``load`` was not asked for: that is a bug of the
        caller, which would otherwise report every row of the file as naming nothing.
        """
        lookups = self._lookups.get(ref)
        if lookups is None:
            raise LookupError(f"{ref.value} references were not loaded for this import")
        return lookups.resolve(text)

    def add(self, ref: RefKind, names: Sequence[str], record_id: UUID) -> None:
        """Make a record written by this import nameable by later rows.

        ``names`` are positional, as ``org_unit_names``, ``employee_names`` and
        ``skill_names`` build them (empty ones are skipped). A record written by the import
        is active. Nothing happens for a kind that was not loaded: no row of this import
        names that kind.
        """
        lookups = self._lookups.get(ref)
        if lookups is None:
            return
        lookups.memo.clear()  # an earlier answer may have been NOT_FOUND, or is now shared
        if ref == RefKind.ORG_UNIT:
            for position, text in zip((_UNIT_KEY, _UNIT_PATH, _UNIT_NAME), names, strict=False):
                lookups.put(position, text, record_id)
        elif ref == RefKind.EMPLOYEE:
            number, email = (*names, "", "")[:2]
            lookups.put(_NUMBER, number, record_id)
            lookups.put(_NUMBER_FOLDED, number, record_id)
            lookups.put(_EMAIL_ACTIVE, email, record_id)
        else:
            key, name, name_zh, name_en, *aliases = (*names, "", "", "", "")
            lookups.put(_SKILL_KEY, key, record_id)
            for text in (name, *aliases):
                lookups.put(_SKILL_NAME, text, record_id)
            for text in (name_zh, name_en):
                lookups.put(_SKILL_LOCAL_NAME, text, record_id)

    # --- loading -----------------------------------------------------------------------------

    async def _load_org_units(self) -> None:
        rows = await require_tenant(self.tenant).fetch(
            "SELECT id, external_key, name, path::text AS path FROM org_units "
            "WHERE tenant_id = $1 AND archived_at IS NULL",
            self.tenant,
        )
        names = {row["id"].hex: row["name"] for row in rows}
        lookups = self._lookups[RefKind.ORG_UNIT]
        for row in rows:
            labels = row["path"].split(".")
            # An active unit's ancestors are active (archiving waits for the children), so
            # a label without a name would be a unit archived under its children's feet.
            path = "/".join(names[label] for label in labels) if set(labels) <= names.keys() else ""
            lookups.put(_UNIT_KEY, row["external_key"], row["id"])
            lookups.put(_UNIT_PATH, path, row["id"])
            lookups.put(_UNIT_NAME, row["name"], row["id"])

    async def _load_employees(self) -> None:
        rows = await require_tenant(self.tenant).fetch(
            "SELECT id, employee_number, email, archived_at IS NOT NULL AS archived "
            "FROM employees WHERE tenant_id = $1",
            self.tenant,
        )
        lookups = self._lookups[RefKind.EMPLOYEE]
        for row in rows:
            lookups.put(_NUMBER, row["employee_number"], row["id"])
            lookups.put(_NUMBER_FOLDED, row["employee_number"], row["id"])
            email_table = _EMAIL_ARCHIVED if row["archived"] else _EMAIL_ACTIVE
            lookups.put(email_table, row["email"], row["id"])

    async def _load_skills(self) -> None:
        rows = await require_tenant(self.tenant).fetch(
            "SELECT id, external_key, name_key, name_zh, name_en, aliases FROM skills "
            "WHERE tenant_id = $1 AND archived_at IS NULL",
            self.tenant,
        )
        lookups = self._lookups[RefKind.SKILL]
        for row in rows:
            lookups.put(_SKILL_KEY, row["external_key"], row["id"])
            for text in (row["name_key"], *(row["aliases"] or ())):
                lookups.put(_SKILL_NAME, text, row["id"])
            for text in (row["name_zh"], row["name_en"]):
                lookups.put(_SKILL_LOCAL_NAME, text, row["id"])


async def unit_paths(tenant: TenantID, unit_ids: Sequence[UUID]) -> dict[UUID, str]:
    """Each unit's path of names from the root, joined with "/": one statement.

    Writers register the units they wrote under this name, so later rows can name them by
    path as they name units that existed before the import.
    """
    if not unit_ids:
        return {}
    rows = await require_tenant(tenant).fetch(
        "SELECT u.id, string_agg(a.name, '/' ORDER BY nlevel(a.path)) AS names "
        "FROM org_units u JOIN org_units a ON a.tenant_id = u.tenant_id AND a.path @> u.path "
        "WHERE u.tenant_id = $1 AND u.id = ANY($2::uuid[]) GROUP BY u.id",
        tenant,
        list(unit_ids),
    )
    return {row["id"]: row["names"] for row in rows}
