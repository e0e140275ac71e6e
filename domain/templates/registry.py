"""The installed template packs: one TOML file per industry under ``packs/``.

Adding an industry means adding a file; nothing here names one.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.templates.indicators import IndicatorPack
from domain.templates.work_items import WorkItemKind, check_work_item_kinds

PACKS_DIR = Path(__file__).with_name("packs")


class LocalizedText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class PackHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    name: LocalizedText
    description: LocalizedText


CODE = r"^[a-z][a-z0-9_]{0,62}$"


class Coded(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=CODE)
    name: LocalizedText


class Level(Coded):
    """A rung of the tenant's ladder; ``rank`` orders them (1 is the entry level)."""

    rank: int = Field(ge=1)


class OutcomeField(Coded):
    """A figure recorded on an engagement (a project's cycle days, a class's test mean)."""

    type: Literal["number", "integer"]
    unit: str | None = None
    min: float | None = None
    max: float | None = None


class EngagementKind(Coded):
    outcomes: tuple[OutcomeField, ...] = ()

    @model_validator(mode="after")
    def _unique_outcomes(self) -> EngagementKind:
        _require_unique([o.code for o in self.outcomes], f"engagement kind {self.code}: outcomes")
        return self


class Vocabulary(BaseModel):
    """Words the interface uses for this industry's concepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    person: LocalizedText
    people: LocalizedText
    unit: LocalizedText
    engagement: LocalizedText
    work_item: LocalizedText
    scorecard: LocalizedText


class EnumOption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str = Field(min_length=1, max_length=63)
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)


class CustomFieldSeed(BaseModel):
    """A custom field on people every tenant of this industry starts with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=CODE)
    label: LocalizedText
    type: Literal["string", "number", "date", "enum", "boolean"]
    required: bool = False
    options: tuple[EnumOption, ...] = ()

    @model_validator(mode="after")
    def _options_for_enums(self) -> CustomFieldSeed:
        if (self.type == "enum") != bool(self.options):
            raise ValueError(f"custom field {self.key}: options are for enum fields, and only them")
        return self


FEEDBACK_SOURCES = (
    "manager",
    "peer",
    "subordinate",
    "self",
    "sales",
    "other_department",
    "customer",
    "student",
    "parent",
)


class PackFile(IndicatorPack):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pack: PackHeader
    vocabulary: Vocabulary
    levels: tuple[Level, ...] = Field(min_length=1)
    org_unit_kinds: tuple[Coded, ...] = Field(min_length=1)
    engagement_kinds: tuple[EngagementKind, ...] = Field(min_length=1)
    feedback_criteria: tuple[Coded, ...] = Field(min_length=1)
    feedback_sources: tuple[Literal[FEEDBACK_SOURCES], ...] = Field(min_length=1)  # type: ignore[valid-type]
    custom_fields: tuple[CustomFieldSeed, ...] = ()
    work_item_kinds: tuple[WorkItemKind, ...] = ()

    @model_validator(mode="after")
    def _unique_codes(self) -> PackFile:
        _require_unique([level.code for level in self.levels], "levels")
        _require_unique([str(level.rank) for level in self.levels], "level ranks")
        _require_unique([kind.code for kind in self.org_unit_kinds], "org_unit_kinds")
        _require_unique([kind.code for kind in self.engagement_kinds], "engagement_kinds")
        _require_unique([c.code for c in self.feedback_criteria], "feedback_criteria")
        _require_unique([f.key for f in self.custom_fields], "custom_fields")
        check_work_item_kinds(self.work_item_kinds, self.fact_kinds)
        if self.scorecard.blend is not None:
            unknown = set(self.scorecard.blend.sources) - set(self.feedback_sources)
            if unknown:
                raise ValueError(
                    f"scorecard.blend: sources {sorted(unknown)} are not feedback sources"
                )
        return self

    def level(self, code: str) -> Level | None:
        return next((level for level in self.levels if level.code == code), None)

    def engagement_kind(self, code: str) -> EngagementKind | None:
        return next((kind for kind in self.engagement_kinds if kind.code == code), None)

    def org_unit_kind(self, code: str) -> Coded | None:
        return next((kind for kind in self.org_unit_kinds if kind.code == code), None)

    def work_item_kind(self, code: str) -> WorkItemKind | None:
        return next((kind for kind in self.work_item_kinds if kind.code == code), None)


def _require_unique(codes: list[str], what: str) -> None:
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"{what}: repeated {repeated}")


class PackError(ValueError):
    """A pack file is malformed; the message names the file and every problem in it."""


def load_pack(path: Path) -> PackFile:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        pack = PackFile.model_validate(document)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"{path.name}: not valid TOML ({exc})") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise PackError(f"{path.name}: {problems}") from exc
    if pack.pack.code != path.stem:
        raise PackError(f"{path.name}: pack.code {pack.pack.code!r} must match the file name")
    return pack


@lru_cache(maxsize=1)
def installed_packs() -> dict[str, PackFile]:
    """Every pack under ``packs/``, by code. Raises ``PackError`` on the first bad file."""
    return {path.stem: load_pack(path) for path in sorted(PACKS_DIR.glob("*.toml"))}


def pack_codes() -> list[str]:
    return sorted(installed_packs())


def pack_for(code: str) -> PackFile:
    """The installed pack ``code``; a tenant's template code always names one."""
    try:
        return installed_packs()[code]
    except KeyError:
        raise PackError(f"no installed template pack {code!r}") from None
