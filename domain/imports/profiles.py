"""Built-in mapping profiles: ready mappings for the exports of well-known systems.

This module owns the profiles shipped with Renshi (``BUILTIN_PROFILES``), read from the
TOML files under ``profiles/`` (one per profile, named by its code), and how a profile
becomes an ``ImportMapping`` for a file: the ``generic`` profile suggests one from the
file's headers, a system's profile (``jira``) takes its columns that the file has. Tenants'
own saved profiles are ``ImportProfile`` rows (``domain.imports.models``), not these.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from domain.imports.fields import KindSpec
from domain.imports.mapping import ColumnMapping, ImportMapping, MappingError, suggest_mapping
from domain.imports.transforms import match_key

PROFILES_DIR: Final = Path(__file__).with_name("profiles")


class ProfileError(ValueError):
    """A profile file is malformed; the message names the file and the part at fault."""


class UnknownProfileError(LookupError):
    """No built-in profile has the code asked for."""

    def __init__(self, code: str) -> None:
        known = ", ".join(sorted(BUILTIN_PROFILES))
        super().__init__(f"no built-in mapping profile {code!r} (known: {known})")
        self.code = code
        self.message = f"there is no built-in mapping profile {code!r} (known: {known})"
        self.message_zh = f"没有内置映射方案“{code}”（可用：{known}）"


@dataclass(frozen=True)
class ProfileColumn:
    """The headers a system may give a field's column (the first one the file has wins)."""

    field: str
    headers: tuple[str, ...]
    unit: str | None = None
    date_order: str | None = None


@dataclass(frozen=True)
class BuiltinProfile:
    """A mapping shipped with Renshi. ``kind`` None means the profile fits every kind."""

    code: str
    kind: str | None
    label_en: str
    label_zh: str
    source_system: str | None
    suggest: bool = False  # the mapping is suggested from the headers, not given
    columns: tuple[ProfileColumn, ...] = ()
    constants: Mapping[str, Any] = field(default_factory=dict)
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    timezone: str | None = None  # None: the mapping's default
    date_order: str | None = None

    def mapping_for(self, spec: KindSpec, headers: Sequence[str]) -> ImportMapping:
        """The mapping of a file of ``spec``'s kind with ``headers``. A system's profile maps
        only the columns the file has and nothing else: suggesting the rest would map an
        export's free-text columns (Jira's "Environment") to fields they do not fit.
        Raises ``MappingError`` when the profile is for another kind."""
        if self.kind is not None and spec.code != self.kind:
            raise MappingError(
                "profile",
                f"the {self.label_en} profile is for {self.kind}, not {spec.code}",
                f"“{self.label_zh}”映射方案用于 {self.kind}，不能用于 {spec.code}",
            )
        if self.suggest:
            suggested = suggest_mapping(spec, headers).mapping
            return replace(suggested, source_system=self.source_system)
        present: dict[str, str] = {}
        for header in headers:
            present.setdefault(match_key(header), header)
        columns: dict[str, ColumnMapping] = {}
        for column in self.columns:
            for candidate in column.headers:
                found = present.get(match_key(candidate))
                if found is not None and found not in columns:
                    columns[found] = ColumnMapping(column.field, column.unit, column.date_order)
                    break
        settings: dict[str, Any] = {}
        if self.timezone is not None:
            settings["timezone"] = self.timezone
        if self.date_order is not None:
            settings["date_order"] = self.date_order
        return ImportMapping(
            columns=columns,
            constants=dict(self.constants),
            choices={name: dict(table) for name, table in self.choices.items()},
            source_system=self.source_system,
            **settings,
        )


_PROFILE_KEYS: Final = frozenset(
    (
        "code", "kind", "label_en", "label_zh", "source_system", "suggest", "columns",
        "constants", "choices", "timezone", "date_order",
    )
)  # fmt: skip
_COLUMN_KEYS: Final = frozenset(("headers", "unit", "date_order"))


def _optional_text(document: Mapping[str, Any], key: str, where: str) -> str | None:
    value = document.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ProfileError(f"{where}: {key} must be a non-empty text")
    return value


def _required_text(document: Mapping[str, Any], key: str, where: str) -> str:
    value = _optional_text(document, key, where)
    if value is None:
        raise ProfileError(f"{where}: {key} is missing")
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProfileError(f"{where} must be a table")
    return value


def parse_profile(document: Mapping[str, Any], where: str) -> BuiltinProfile:
    """A profile from a TOML document; ``where`` (the file name) prefixes every error."""
    unknown = sorted(set(document) - _PROFILE_KEYS)
    if unknown:
        raise ProfileError(f"{where}: unknown keys {unknown}")
    columns: list[ProfileColumn] = []
    for name, entry in _table(document.get("columns", {}), f"{where}: columns").items():
        entry = _table(entry, f"{where}: columns.{name}")
        extra = sorted(set(entry) - _COLUMN_KEYS)
        if extra:
            raise ProfileError(f"{where}: columns.{name}: unknown keys {extra}")
        headers = entry.get("headers")
        if (
            not isinstance(headers, list)
            or not headers
            or not all(isinstance(header, str) and header for header in headers)
        ):
            raise ProfileError(f"{where}: columns.{name}.headers must be a list of texts")
        columns.append(
            ProfileColumn(
                field=name,
                headers=tuple(headers),
                unit=_optional_text(entry, "unit", f"{where}: columns.{name}"),
                date_order=_optional_text(entry, "date_order", f"{where}: columns.{name}"),
            )
        )
    choices: dict[str, dict[str, str]] = {}
    for name, table in _table(document.get("choices", {}), f"{where}: choices").items():
        table = _table(table, f"{where}: choices.{name}")
        if not all(isinstance(value, str) and value for value in table.values()):
            raise ProfileError(f"{where}: choices.{name} must map words to texts")
        choices[name] = dict(table)
    suggest = document.get("suggest", False)
    if not isinstance(suggest, bool):
        raise ProfileError(f"{where}: suggest must be true or false")
    if suggest and columns:
        raise ProfileError(f"{where}: a suggesting profile has no columns of its own")
    profile = BuiltinProfile(
        code=_required_text(document, "code", where),
        kind=_optional_text(document, "kind", where),
        label_en=_required_text(document, "label_en", where),
        label_zh=_required_text(document, "label_zh", where),
        source_system=_optional_text(document, "source_system", where),
        suggest=suggest,
        columns=tuple(columns),
        constants=dict(_table(document.get("constants", {}), f"{where}: constants")),
        choices=choices,
        timezone=_optional_text(document, "timezone", where),
        date_order=_optional_text(document, "date_order", where),
    )
    # Everything the mapping form accepts must hold here too: one check for both.
    try:
        ImportMapping.from_json(_mapping_json(profile))
    except MappingError as exc:
        raise ProfileError(f"{where}: {exc}") from exc
    return profile


def _mapping_json(profile: BuiltinProfile) -> dict[str, Any]:
    """The profile's settings in ``ImportMapping.to_json`` form (each field under its first
    header), for validating a profile file with the mapping's own rules."""
    columns: dict[str, Any] = {}
    for column in profile.columns:
        entry: dict[str, Any] = {"field": column.field}
        if column.unit is not None:
            entry["unit"] = column.unit
        if column.date_order is not None:
            entry["date_order"] = column.date_order
        columns[column.headers[0]] = entry
    data: dict[str, Any] = {
        "columns": columns,
        "constants": dict(profile.constants),
        "choices": {name: dict(table) for name, table in profile.choices.items()},
        "source_system": profile.source_system,
    }
    if profile.timezone is not None:
        data["timezone"] = profile.timezone
    if profile.date_order is not None:
        data["date_order"] = profile.date_order
    return data


def load_profiles(folder: Path = PROFILES_DIR) -> dict[str, BuiltinProfile]:
    """Every profile under ``folder``, by code; ``ProfileError`` on the first bad file."""
    profiles: dict[str, BuiltinProfile] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            with path.open("rb") as handle:
                document = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{path.name}: not valid TOML ({exc})") from exc
        profile = parse_profile(document, path.name)
        if profile.code != path.stem:
            raise ProfileError(f"{path.name}: code {profile.code!r} must match the file name")
        profiles[profile.code] = profile
    return profiles


BUILTIN_PROFILES: Final[Mapping[str, BuiltinProfile]] = MappingProxyType(load_profiles())


def builtin_profile(code: str) -> BuiltinProfile:
    """The built-in profile ``code``; ``UnknownProfileError`` (a ``LookupError``) if none."""
    try:
        return BUILTIN_PROFILES[code]
    except KeyError:
        raise UnknownProfileError(code) from None
