"""Cell transforms: every date form (2024/1/5, 2024年1月5日, Excel serials, Jira's 05/Jan/24),
datetimes with and without a zone, durations in h/d/w/天/周/seconds, numbers, booleans, enum
synonyms (高级 / Senior / Sr), e-mail addresses, phone numbers, lists, JSON objects and the
cleansing of text cells; with round-trip properties over the dates of 1950-2100."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.imports.fields import Choice, Cleansing, RowErrorCode
from domain.imports.transforms import (
    ChoiceMatcher,
    TransformError,
    cleanse,
    cleanse_text,
    datetime_parser,
    half_width,
    match_key,
    parse_boolean,
    parse_date,
    parse_datetime,
    parse_duration_hours,
    parse_email,
    parse_enum,
    parse_integer,
    parse_json,
    parse_list,
    parse_number,
    parse_phone,
    parse_text,
    to_excel_serial,
)

SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """Pure functions: neither the application nor its database is needed here."""


def _refused(code: RowErrorCode = RowErrorCode.INVALID_VALUE) -> Any:
    return pytest.raises(TransformError, check=lambda exc: exc.code is code)


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell",
    [
        "2024-01-05",
        "2024/1/5",
        "2024/01/05",
        "2024.1.5",
        "2024-1-5",
        "2024年1月5日",
        "2024 年 1 月 5 日",
        "2024年01月05号",
        "20240105",
        "２０２４－０１－０５",  # full-width, as typed with a Chinese input method
        " 2024-01-05 ",
        "05/Jan/24",  # Jira
        "5-Jan-2024",
        "5 January 2024",
        "Jan 5, 2024",
        "2024-01-05 00:00:00",  # a date column exported as midnight datetimes
        45296,  # Excel serial
        45296.0,
        45296.75,  # with a time of day: the date is kept
        "45296",
        date(2024, 1, 5),
        datetime(2024, 1, 5, 14, 30),
    ],
)
def test_dates_in_every_form(cell: Any) -> None:
    assert parse_date(cell) == date(2024, 1, 5)


@pytest.mark.parametrize(
    ("cell", "order", "expected"),
    [
        ("5/1/2024", "dmy", date(2024, 1, 5)),
        ("5/1/2024", "mdy", date(2024, 5, 1)),
        ("05-01-24", "dmy", date(2024, 1, 5)),
        ("12.31.1999", "mdy", date(1999, 12, 31)),
        ("2024/1/5", "dmy", date(2024, 1, 5)),  # year first is never ambiguous
        ("05/Jan/24", "mdy", date(2024, 1, 5)),  # nor is a month name
    ],
)
def test_year_last_dates_follow_the_date_order(cell: str, order: str, expected: date) -> None:
    assert parse_date(cell, date_order=order) == expected


def test_a_year_last_date_without_an_order_is_refused_with_advice() -> None:
    with _refused() as caught:
        parse_date("5/1/2024")
    assert "date order" in caught.value.message
    assert "日期顺序" in caught.value.message_zh


def test_two_digit_years_pivot_like_strptime() -> None:
    assert parse_date("05/Jan/68").year == 2068
    assert parse_date("05/Jan/69").year == 1969


@pytest.mark.parametrize(
    "cell",
    ["2024-02-30", "2023年2月29日", "yesterday", "", "2024-01", "2024-W01-5", "13/13/2024", True],
)
def test_what_is_no_date_is_refused(cell: Any) -> None:
    with _refused():
        parse_date(cell, date_order="dmy")


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (1, date(1900, 1, 1)),
        (59, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),  # after Excel's fictitious 1900-02-29
        (18264, date(1950, 1, 1)),
        (45296, date(2024, 1, 5)),
        (73051, date(2100, 1, 1)),
    ],
)
def test_excel_serials_use_the_1900_system(serial: int, expected: date) -> None:
    assert parse_date(serial) == expected
    assert to_excel_serial(expected) == serial


@pytest.mark.parametrize("serial", [0, -1, 60, 2958466, float("nan"), "2024", "123456"])
def test_what_is_no_serial_is_refused(serial: Any) -> None:
    with _refused():
        parse_date(serial)


DATES = st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31))


@given(
    DATES, st.sampled_from(["{y}/{m}/{d}", "{y}年{m}月{d}日", "{y}-{m:02}-{d:02}", "{y}.{m}.{d}"])
)
def test_written_dates_round_trip(day: date, form: str) -> None:
    text = form.format(y=day.year, m=day.month, d=day.day)
    assert parse_date(text) == day
    assert parse_datetime(text, timezone="UTC") == datetime(
        day.year, day.month, day.day, tzinfo=UTC
    )


@given(DATES, st.booleans())
def test_excel_serials_round_trip(day: date, as_text: bool) -> None:
    serial = int(to_excel_serial(day))
    assert parse_date(str(serial) if as_text else serial) == day


@given(DATES, st.sampled_from(["dmy", "mdy"]))
def test_year_last_dates_round_trip_in_their_order(day: date, order: str) -> None:
    first, second = (day.day, day.month) if order == "dmy" else (day.month, day.day)
    assert parse_date(f"{first}/{second}/{day.year}", date_order=order) == day


# --- datetimes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2024-01-05 14:30", datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        ("2024-01-05T14:30:15", datetime(2024, 1, 5, 14, 30, 15, tzinfo=SHANGHAI)),
        ("2024/1/5 14:30:15", datetime(2024, 1, 5, 14, 30, 15, tzinfo=SHANGHAI)),
        ("2024/1/5 14:30:15.25", datetime(2024, 1, 5, 14, 30, 15, 250000, tzinfo=SHANGHAI)),
        ("2024年1月5日 14时30分", datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        ("2024年1月5日14点", datetime(2024, 1, 5, 14, tzinfo=SHANGHAI)),
        ("2024年1月5日 下午2点30分", datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        ("2024年1月5日 上午12:10", datetime(2024, 1, 5, 0, 10, tzinfo=SHANGHAI)),
        ("2024-01-05", datetime(2024, 1, 5, tzinfo=SHANGHAI)),
        ("05/Jan/24 2:30 PM", datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),  # Jira
        ("05/Jan/24 12:05 AM", datetime(2024, 1, 5, 0, 5, tzinfo=SHANGHAI)),
        ("05/Jan/24 12:05 PM", datetime(2024, 1, 5, 12, 5, tzinfo=SHANGHAI)),
        ("2024-01-05T14:30:00Z", datetime(2024, 1, 5, 14, 30, tzinfo=UTC)),
        ("2024-01-05T14:30:00+08:00", datetime(2024, 1, 5, 6, 30, tzinfo=UTC)),
        ("2024-01-05 14:30 -05:00", datetime(2024, 1, 5, 19, 30, tzinfo=UTC)),
        ("2024/1/5 14:30 +0530", datetime(2024, 1, 5, 9, 0, tzinfo=UTC)),
        ("2024/1/5 14:30 UTC", datetime(2024, 1, 5, 14, 30, tzinfo=UTC)),
        (45296.604166666664, datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        ("45296.5", datetime(2024, 1, 5, 12, tzinfo=SHANGHAI)),
        (datetime(2024, 1, 5, 14, 30), datetime(2024, 1, 5, 14, 30, tzinfo=SHANGHAI)),
        (datetime(2024, 1, 5, 14, 30, tzinfo=UTC), datetime(2024, 1, 5, 14, 30, tzinfo=UTC)),
        (date(2024, 1, 5), datetime(2024, 1, 5, tzinfo=SHANGHAI)),
    ],
)
def test_datetimes_are_aware_and_naive_ones_in_the_import_zone(
    cell: Any, expected: datetime
) -> None:
    parsed = parse_datetime(cell)
    assert parsed.tzinfo is not None
    assert parsed == expected


def test_the_zone_of_naive_values_follows_its_rules_at_that_moment() -> None:
    berlin = datetime_parser(timezone="Europe/Berlin")
    assert berlin("2024-07-05 14:30").utcoffset() == timedelta(hours=2)
    assert berlin("2024-01-05 14:30").utcoffset() == timedelta(hours=1)
    assert berlin("2024/7/5 14:30").utcoffset() == timedelta(hours=2)
    # Shanghai kept summer time from 1986 to 1991.
    assert parse_datetime("1988-07-01 12:00").utcoffset() == timedelta(hours=9)
    assert parse_datetime("2024-01-05", timezone=ZoneInfo("UTC")).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "cell",
    ["2024-01-05 25:00", "2024-01-05 14:61", "2024-01-05 13:00 PM", "2024-01-05 soon", "下午"],
)
def test_bad_times_are_refused(cell: str) -> None:
    with _refused():
        parse_datetime(cell)


def test_an_unknown_zone_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_datetime("2024-01-05", timezone="Mars/Olympus")


# --- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "hours"),
    [
        ("36", 36.0),
        ("36h", 36.0),
        ("36 hours", 36.0),
        ("36 Hours", 36.0),
        ("1.5 days", 36.0),
        ("1.5d", 36.0),
        ("2 weeks", 336.0),
        ("2w", 336.0),
        ("3天", 72.0),
        ("3 日", 72.0),
        ("2周", 336.0),
        ("1个星期", 168.0),
        ("4小时", 4.0),
        ("4个小时", 4.0),
        ("半天", 12.0),  # a day is 24 hours: no working days assumed
        ("1天半", 36.0),
        ("90 minutes", 1.5),
        ("1d 4h", 28.0),  # Jira's time-tracking form
        ("1w 2d 3h 30m", 219.5),
        ("３６ｈ", 36.0),
        (36, 36.0),
        (1.5, 1.5),
        (timedelta(hours=6), 6.0),
    ],
)
def test_durations_in_hours(cell: Any, hours: float) -> None:
    assert parse_duration_hours(cell) == pytest.approx(hours)


@pytest.mark.parametrize(
    ("cell", "unit", "hours"),
    [
        ("2", "days", 48.0),
        (2, "weeks", 336.0),
        ("28800", "seconds", 8.0),  # Jira's Original Estimate of "1d" (8 working hours)
        (5400, "seconds", 1.5),
        ("90", "minutes", 1.5),
        ("3h", "days", 3.0),  # an explicit unit wins over the column's
    ],
)
def test_bare_numbers_are_in_the_column_unit(cell: Any, unit: str, hours: float) -> None:
    assert parse_duration_hours(cell, unit=unit) == pytest.approx(hours)


@pytest.mark.parametrize("cell", ["-3", "3 months", "半", "h", "", "3h h", "soon", -1, True])
def test_what_is_no_duration_is_refused(cell: Any) -> None:
    with _refused():
        parse_duration_hours(cell)


def test_an_unknown_unit_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unit"):
        parse_duration_hours("3", unit="fortnights")


@given(st.integers(0, 10_000), st.sampled_from([("h", 1), ("天", 24), ("周", 168), ("w", 168)]))
def test_whole_amounts_of_any_unit(amount: int, unit: tuple[str, int]) -> None:
    word, hours = unit
    assert parse_duration_hours(f"{amount}{word}") == amount * hours


# --- numbers and booleans ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "number"),
    [
        ("1234.5", 1234.5),
        ("1,234.5", 1234.5),
        ("1,234,567", 1234567.0),
        ("1 234.5", 1234.5),
        ("1\u00a0234", 1234.0),
        ("１２３４．５", 1234.5),
        ("１，２３４", 1234.0),
        ("85%", 85.0),  # the figure as written
        ("８５％", 85.0),
        ("-3.5", -3.5),
        ("+2", 2.0),
        (" 7 ", 7.0),
        ("1e3", 1000.0),
        (42, 42.0),
        (4.5, 4.5),
    ],
)
def test_numbers(cell: Any, number: float) -> None:
    assert parse_number(cell) == number


@pytest.mark.parametrize(
    "cell", ["1,5", "12,34", "1_000", "nan", "inf", "abc", "", "1.2.3", True, float("inf")]
)
def test_what_is_no_number_is_refused(cell: Any) -> None:
    with _refused():
        parse_number(cell)


@pytest.mark.parametrize(("cell", "number"), [("42", 42), ("1,000", 1000), (3.0, 3), (7, 7)])
def test_integers(cell: Any, number: int) -> None:
    assert parse_integer(cell) == number


@pytest.mark.parametrize("cell", ["1.5", 2.5, "x"])
def test_integers_refuse_fractions(cell: Any) -> None:
    with _refused():
        parse_integer(cell)


@pytest.mark.parametrize(
    "cell", ["true", "TRUE", "yes", "Y", "1", "是", "对", "✓", "√", " Yes ", 1, True]
)
def test_true(cell: Any) -> None:
    assert parse_boolean(cell) is True


@pytest.mark.parametrize("cell", ["false", "No", "n", "0", "否", "错", "✗", "×", 0, False])
def test_false(cell: Any) -> None:
    assert parse_boolean(cell) is False


@pytest.mark.parametrize("cell", ["maybe", "2", "", 2])
def test_what_is_no_boolean_is_refused(cell: Any) -> None:
    with _refused():
        parse_boolean(cell)


# --- enums ------------------------------------------------------------------------------------

LEVELS = (
    Choice("junior", ("初级", "Jr")),
    Choice("senior", ("高级", "Senior", "Sr", "Sr.")),
    Choice("needs_change", ("needs change",)),
)


@pytest.mark.parametrize(
    "cell", ["高级", "Senior", "Sr", "sr.", "SR", " senior ", "ｓｅｎｉｏｒ", "SENIOR", "Sr ."]
)
def test_enum_synonyms(cell: str) -> None:
    assert parse_enum(cell, LEVELS) == "senior"


@pytest.mark.parametrize("cell", ["needs-change", "Needs Change", "NEEDS_CHANGE", "needs.change"])
def test_enum_matching_ignores_hyphens_underscores_and_spaces(cell: str) -> None:
    assert parse_enum(cell, LEVELS) == "needs_change"


def test_extra_synonyms_of_the_mapping() -> None:
    matcher = ChoiceMatcher(LEVELS, {"资深": "senior", "P5": "junior", "Jr": "senior"})
    assert matcher("资深") == "senior"
    assert matcher("p5") == "junior"
    assert matcher("JR") == "senior"  # the mapping's word wins over the spec's
    assert matcher("junior") == "junior"


def test_an_unknown_choice_lists_the_allowed_values() -> None:
    with _refused(RowErrorCode.UNKNOWN_CHOICE) as caught:
        parse_enum("principal", LEVELS)
    assert "junior, senior, needs_change" in caught.value.message
    assert "junior, senior, needs_change" in caught.value.message_zh


def test_a_lenient_matcher_translates_and_passes_the_rest_through() -> None:
    kinds = ChoiceMatcher((), {"Story": "requirement", "缺陷": "bug"}, strict=False)
    assert kinds("story") == "requirement"
    assert kinds("缺陷") == "bug"
    assert kinds("Spike") == "Spike"


def test_typed_cells_match_as_their_text() -> None:
    grades = (Choice("1"), Choice("2"))
    assert parse_enum(2, grades) == "2"
    assert parse_enum(2.0, grades) == "2"


# --- e-mail, phone, list, JSON, text ----------------------------------------------------------


def test_emails_get_a_lower_cased_domain() -> None:
    assert parse_email("Zhang.San@Example.COM") == "Zhang.San@example.com"
    assert parse_email(" li.si＠example.cn ") == "li.si@example.cn"


@pytest.mark.parametrize("cell", ["zhangsan", "a@b", "@example.com", "a b@example.com", 5])
def test_what_is_no_email_is_refused(cell: Any) -> None:
    with _refused():
        parse_email(cell)


@pytest.mark.parametrize(
    ("cell", "region", "e164"),
    [
        ("138 0013 8000", "CN", "+8613800138000"),
        ("138-0013-8000", "CN", "+8613800138000"),
        ("+86 138 0013 8000", "US", "+8613800138000"),
        ("１３８００１３８０００", "CN", "+8613800138000"),
        (13800138000, "CN", "+8613800138000"),  # XLSX number cell
        (13800138000.0, "CN", "+8613800138000"),
        ("010-6552 9988", "CN", "+861065529988"),
        ("(415) 555-2671", "US", "+14155552671"),
    ],
)
def test_phones_become_e164(cell: Any, region: str, e164: str) -> None:
    assert parse_phone(cell, region=region) == e164


@pytest.mark.parametrize("cell", ["12345", "phone", "138 0013 800", ""])
def test_what_is_no_phone_is_refused(cell: str) -> None:
    with _refused():
        parse_phone(cell)


@pytest.mark.parametrize(
    ("cell", "items"),
    [
        ("a, b；c、d|| e", ["a", "b", "c", "d", "e"]),
        ("张三，李四", ["张三", "李四"]),
        ("python; go ;", ["python", "go"]),
        ("one\ntwo", ["one", "two"]),
        ("single", ["single"]),
        (["x", " y ", "", None, 3], ["x", "y", "3"]),
        (",;", []),
    ],
)
def test_lists(cell: Any, items: list[str]) -> None:
    assert parse_list(cell) == items


def test_list_items_of_names_collapse_their_whitespace() -> None:
    assert parse_list("张  三, Li   Si", collapse_whitespace=True) == ["张 三", "Li Si"]


def test_json_objects() -> None:
    assert parse_json({"a": 1}) == {"a": 1}
    assert parse_json('{"a": [1, 2], "b": "c"}') == {"a": [1, 2], "b": "c"}
    for bad in ("[1, 2]", "{", "3", 3, ["a"]):
        with _refused():
            parse_json(bad)


def test_typed_cells_as_text() -> None:
    assert parse_text(1001.0) == "1001"  # XLSX gives employee numbers as floats
    assert parse_text(1001) == "1001"
    assert parse_text(2.5) == "2.5"
    assert parse_text(True) == "true"
    assert parse_text(date(2024, 1, 5)) == "2024-01-05"
    assert parse_text("  Ｅ１００１ ") == "E1001"
    with _refused():
        parse_text({"a": 1})


# --- cleansing --------------------------------------------------------------------------------


def test_full_width_ascii_and_the_ideographic_space_become_half_width() -> None:
    assert half_width("ＡＢＣ１２３！～") == "ABC123!~"
    assert half_width("研发\u3000平台") == "研发 平台"
    assert half_width("中文，保持") == "中文,保持"
    assert half_width("plain") == "plain"


@pytest.mark.parametrize(
    ("cell", "cleaned", "rules"),
    [
        ("plain", "plain", ()),
        ("  padded\t", "padded", ("trim",)),
        ("Ｅ１００１", "E1001", ("full_width",)),
        ("\u3000张三\u3000", "张三", ("full_width", "trim")),
        ("张\u200b三", "张三", ("whitespace",)),
        ("\ufeffabc", "abc", ("whitespace",)),
        ("研发  平台", "研发  平台", ()),  # free text keeps its inner whitespace
    ],
)
def test_cleansing_reports_what_changed(cell: str, cleaned: str, rules: tuple[str, ...]) -> None:
    assert cleanse_text(cell) == (cleaned, rules)


def test_collapsing_whitespace_is_asked_for() -> None:
    assert cleanse_text("张  三") == ("张  三", ())
    assert cleanse_text("张  三", collapse_whitespace=True) == ("张 三", ("whitespace",))
    assert cleanse_text(" Li \n Si ", collapse_whitespace=True) == ("Li Si", ("trim", "whitespace"))


def test_cleanse_names_the_column() -> None:
    assert cleanse(" Ｘ", "姓名") == (
        "X",
        [Cleansing("full_width", "姓名"), Cleansing("trim", "姓名")],
    )


def test_match_keys() -> None:
    assert match_key("Sr.") == match_key("ＳＲ") == "sr"
    assert match_key("Needs-Change") == match_key("needs_change") == "needschange"
    assert match_key(" 高 级 ") == "高级"
