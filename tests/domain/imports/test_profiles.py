"""Built-in mapping profiles: the generic one suggests from the headers, the Jira one maps a
realistic Jira Cloud CSV export (issue types to work item kinds, estimates in seconds,
Jira's "05/Jan/24 2:30 PM" dates), and profile files are checked when loaded."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from domain.imports.fields import KindSpec, RawRow
from domain.imports.mapping import ColumnMapping, MappingError, RowMapper, suggest_mapping
from domain.imports.profiles import (
    BUILTIN_PROFILES,
    ProfileError,
    UnknownProfileError,
    builtin_profile,
    load_profiles,
)
from domain.imports.specs_work import FACTS, WORK_ITEMS

SHANGHAI = timezone(timedelta(hours=8))

# The columns of a Jira Cloud "Export CSV (current fields)", as exported.
JIRA_CSV = """\
Summary,Issue key,Issue id,Issue Type,Status,Project key,Priority,Resolution,Assignee,\
Assignee Id,Reporter,Reporter Id,Created,Updated,Resolved,Due date,Labels,Description,\
Environment,Original estimate,Remaining Estimate,Time Spent,Sprint,\
Custom field (Story Points),Status Category
Login fails on Safari,RD-101,10101,Story,Done,RD,Medium,Done,Zhang San,5b10a2844c20165700ede21g,\
Li Si,5b10ac8d82e05b22cc7d4ef5,05/Jan/24 2:30 PM,12/Jan/24 9:15 AM,11/Jan/24 6:02 PM,\
15/Jan/24 12:00 AM,frontend,"Steps: open, log in",Safari 17,28800,0,30600,RD Sprint 3,3,Done
Crash on export,RD-102,10102,缺陷,In Progress,RD,High,,,,,,2024-01-08 09:00,\
2024-01-09 10:00,,,,,,,,,,,In Progress
"""

SPECS: dict[str, KindSpec] = {FACTS.code: FACTS, WORK_ITEMS.code: WORK_ITEMS}


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """Pure functions: neither the application nor its database is needed here."""


def _jira_rows() -> tuple[list[str], list[RawRow]]:
    reader = csv.reader(io.StringIO(JIRA_CSV))
    headers = next(reader)
    rows = [RawRow(n, dict(zip(headers, cells, strict=True))) for n, cells in enumerate(reader, 1)]
    return headers, rows


def test_the_builtin_profiles() -> None:
    assert {"generic", "jira"} <= set(BUILTIN_PROFILES)
    generic, jira = builtin_profile("generic"), builtin_profile("jira")
    assert (generic.kind, generic.source_system, generic.suggest) == (None, None, True)
    assert (jira.kind, jira.source_system) == ("work_items", "jira")
    assert jira.label_en
    assert jira.label_zh


def test_an_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(UnknownProfileError) as caught:
        builtin_profile("asana")
    assert isinstance(caught.value, LookupError)
    assert caught.value.code == "asana"
    assert "asana" in caught.value.message
    assert "jira" in caught.value.message
    assert "asana" in caught.value.message_zh


def test_the_generic_profile_is_the_suggestion_for_any_kind() -> None:
    headers = ["工号", "指标", "日期", "数值"]
    generic = builtin_profile("generic")
    assert generic.mapping_for(FACTS, headers) == suggest_mapping(FACTS, headers).mapping
    assert generic.mapping_for(WORK_ITEMS, ["Issue key"]).columns == {
        "Issue key": ColumnMapping("external_key")
    }


def test_the_jira_profile_maps_a_jira_export() -> None:
    headers, _ = _jira_rows()
    mapping = builtin_profile("jira").mapping_for(WORK_ITEMS, headers)
    assert mapping.columns == {
        "Issue key": ColumnMapping("external_key"),
        "Summary": ColumnMapping("title"),
        "Issue Type": ColumnMapping("kind"),
        "Reporter": ColumnMapping("requester"),
        "Assignee": ColumnMapping("assignees"),
        "Created": ColumnMapping("requested_at"),
        "Resolved": ColumnMapping("delivered_at"),
        "Due date": ColumnMapping("promised_on"),
        "Labels": ColumnMapping("skills"),
        "Custom field (Story Points)": ColumnMapping("size"),
        "Original estimate": ColumnMapping("estimate", unit="seconds"),
    }
    assert mapping.constants == {"source": "jira"}
    assert mapping.source_system == "jira"
    assert mapping.choices["kind"]["Bug"] == "bug"
    assert mapping.check(WORK_ITEMS, headers) == []


def test_jira_rows_become_work_items() -> None:
    headers, rows = _jira_rows()
    mapper = RowMapper(
        WORK_ITEMS, builtin_profile("jira").mapping_for(WORK_ITEMS, headers), headers
    )
    story, bug = (mapper.map(row) for row in rows)
    assert story[1] == []
    assert story[0] is not None
    assert {k: v for k, v in story[0].values.items() if v is not None} == {
        "external_key": "RD-101",
        "title": "Login fails on Safari",
        "kind": "requirement",
        "source": "jira",
        "requester": "Li Si",
        "assignees": ["Zhang San"],
        "skills": ["frontend"],
        "size": 3.0,
        "requested_at": datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI),
        "delivered_at": datetime(2024, 1, 11, 18, 2, tzinfo=SHANGHAI),
        "promised_on": date(2024, 1, 15),
        "estimate": 8.0,  # 28800 seconds
    }
    assert bug[1] == []
    assert bug[0] is not None
    assert bug[0].values["kind"] == "bug"
    assert bug[0].values["requested_at"] == datetime(2024, 1, 8, 9, tzinfo=SHANGHAI)
    assert bug[0].values["delivered_at"] is None
    assert bug[0].values["assignees"] is None


def test_the_jira_profile_maps_what_the_export_has() -> None:
    mapping = builtin_profile("jira").mapping_for(
        WORK_ITEMS, ["ISSUE KEY", "summary", "Issue Type", "Custom field (Story point estimate)"]
    )
    assert mapping.columns == {
        "ISSUE KEY": ColumnMapping("external_key"),
        "summary": ColumnMapping("title"),
        "Issue Type": ColumnMapping("kind"),
        "Custom field (Story point estimate)": ColumnMapping("size"),
    }


def test_the_jira_profile_is_for_work_items_only() -> None:
    with pytest.raises(MappingError) as caught:
        builtin_profile("jira").mapping_for(FACTS, ["Issue key"])
    assert caught.value.field == "profile"
    assert caught.value.message_zh


@pytest.mark.parametrize("code", sorted(BUILTIN_PROFILES))
def test_every_profile_fits_its_kind(code: str) -> None:
    profile = BUILTIN_PROFILES[code]
    kinds = [SPECS[profile.kind]] if profile.kind in SPECS else list(SPECS.values())
    for spec in kinds:
        every_header = [header for column in profile.columns for header in column.headers]
        mapping = profile.mapping_for(spec, every_header)
        problems = [p for p in mapping.check(spec) if p.code != "REQUIRED_UNMAPPED"]
        assert problems == []


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('code = "x"\nlabel_en = "X"\n', "label_zh is missing"),
        ('code = "x"\nlabel_en = "X"\nlabel_zh = "X"\ncolor = "red"\n', "unknown keys"),
        ('code = "y"\nlabel_en = "X"\nlabel_zh = "X"\n', "must match the file name"),
        ('code = "x"\nlabel_en = "X"\nlabel_zh = "X"\n[columns.title]\nheaders = "T"\n',
         "headers must be a list"),
        ('code = "x"\nlabel_en = "X"\nlabel_zh = "X"\n[columns.title]\nheaders = ["T"]\nunit = 3\n',
         "unit must be a non-empty text"),
        ('code = "x"\nlabel_en = "X"\nlabel_zh = "X"\n[choices.kind]\nStory = 1\n',
         "choices.kind must map words to texts"),
        ('code = "x"\nlabel_en = "X"\nlabel_zh = "X"\nsuggest = true\n[columns.title]\nheaders = ["T"]\n',
         "a suggesting profile has no columns"),
        ("code = ", "not valid TOML"),
    ],
)  # fmt: skip
def test_malformed_profile_files(tmp_path: Path, text: str, complaint: str) -> None:
    _write(tmp_path, "x.toml", text)
    with pytest.raises(ProfileError, match=complaint) as caught:
        load_profiles(tmp_path)
    assert str(caught.value).startswith("x.toml: ")
