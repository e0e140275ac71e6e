"""Cell transforms of imports: how one cell becomes a typed value, and how its text is cleansed.

This module owns the parsing rules of every ``FieldType`` (dates, datetimes, durations,
numbers, booleans, enums, e-mail addresses, phone numbers, lists and JSON objects) and the
cleansing applied to text cells before they are typed. Every function is pure and raises
``TransformError`` (a ``RowErrorCode`` with an English and a Chinese message) on bad input;
the row mapper (``domain.imports.mapping``) turns those into ``RowError``s.

Cells arrive either as text (CSV) or already typed (XLSX and JSON Lines give numbers,
booleans, dates and datetimes, objects and lists): every parser accepts both.

Choices worth knowing (they are also what the import documentation promises):

* Dates are year-first unless a ``date_order`` of ``"dmy"`` or ``"mdy"`` is given; a
  year-last date such as ``5/1/2024`` without one is refused rather than guessed, because a
  wrong guess silently moves every row of the file by months. Month names (``05/Jan/24``, as
  Jira writes them) are unambiguous and always accepted. Two-digit years follow the POSIX
  ``strptime`` pivot: 00-68 are 2000-2068, 69-99 are 1969-1999.
* Excel serial numbers use the 1900 date system (serial 1 is 1900-01-01; Excel's fictitious
  1900-02-29, serial 60, is refused). A serial written as text must have five digits
  (10000-99999, i.e. 1927-2173) so that a bare year such as ``2024`` is not taken for one.
* Durations are in hours; a day is 24 hours and a week 168 hours. Working days are NOT
  assumed: "2 days" of effort written by someone who means 16 working hours must be given
  in hours. Jira exports its estimates in seconds, hence the ``seconds`` unit.
* ``"85%"`` is the number 85.0 (the figure as written, not 0.85), since scores and rates
  are kept in percent throughout Renshi.
* A comma is a thousands separator only in well-formed groups (``1,234,567.5``); anything
  else with a comma (``1,5``) is refused rather than read as a decimal comma.
"""

from __future__ import annotations

import contextlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as fixed_offset
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from domain.imports.fields import Choice, Cleansing, RowErrorCode

DATE_ORDERS: Final = ("ymd", "dmy", "mdy")
DURATION_UNITS: Final = ("seconds", "minutes", "hours", "days", "weeks")
DEFAULT_TIMEZONE: Final = "Asia/Shanghai"
DEFAULT_PHONE_REGION: Final = "CN"

# Cleansing rule names, as reported in ``Cleansing.rule``.
RULE_TRIM: Final = "trim"
RULE_FULL_WIDTH: Final = "full_width"
RULE_WHITESPACE: Final = "whitespace"
RULE_PHONE: Final = "phone"


class TransformError(ValueError):
    """A cell that does not parse as its field's type."""

    def __init__(self, code: RowErrorCode, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh


def _invalid(message: str, message_zh: str) -> TransformError:
    return TransformError(RowErrorCode.INVALID_VALUE, message, message_zh)


def _show(value: Any) -> str:
    """A cell as quoted in messages, cut short so one huge cell cannot flood a report."""
    if not isinstance(value, str):
        return repr(value)
    return f"'{value}'" if len(value) <= 60 else f"'{value[:57]}...'"


# --------------------------------------------------------------------------------------------
# Cleansing

# Zero-width characters survive copy and paste from web pages and chat tools, are invisible
# in every editor and make "张三" differ from "张三\u200b"; they never carry meaning in a cell.
_ZERO_WIDTH: Final[dict[int, None]] = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None
)
# Full-width ASCII (U+FF01-U+FF5E) sits 0xFEE0 above ASCII; the ideographic space is U+3000.
_HALF_WIDTH: Final[dict[int, int]] = {
    **{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},
    0x3000: 0x20,
}


def half_width(text: str) -> str:
    """``text`` with full-width ASCII and the ideographic space turned half-width."""
    return text if text.isascii() else text.translate(_HALF_WIDTH)


def cleanse_text(text: str, *, collapse_whitespace: bool = False) -> tuple[str, tuple[str, ...]]:
    """``text`` cleansed, and the names of the rules that changed it (in the order applied).

    Always: zero-width characters removed (reported as ``whitespace``), full-width ASCII
    and the ideographic space made half-width (``full_width``), leading and trailing
    whitespace removed (``trim``). With ``collapse_whitespace`` (the mapper asks for it on
    fields naming records, where "张  三" must find "张 三"), internal runs of whitespace,
    line breaks included, become one space (``whitespace``). Free text keeps its internal
    whitespace: line breaks in a description or a title are the author's.
    """
    rules: list[str] = []
    if text.isascii():
        # Neither zero-width nor full-width characters can be present: only trim remains.
        cleaned = text.strip()
        if len(cleaned) != len(text):
            rules.append(RULE_TRIM)
    else:
        cleaned = text.translate(_ZERO_WIDTH)
        if len(cleaned) != len(text):
            rules.append(RULE_WHITESPACE)
        widened = cleaned
        cleaned = cleaned.translate(_HALF_WIDTH)
        if cleaned != widened:
            rules.append(RULE_FULL_WIDTH)
        stripped = cleaned.strip()
        if len(stripped) != len(cleaned):
            rules.append(RULE_TRIM)
        cleaned = stripped
    if collapse_whitespace:
        collapsed = " ".join(cleaned.split())
        if collapsed != cleaned:
            if RULE_WHITESPACE not in rules:
                rules.append(RULE_WHITESPACE)
            cleaned = collapsed
    return cleaned, tuple(rules)


def cleanse(
    text: str, column: str, *, collapse_whitespace: bool = False
) -> tuple[str, list[Cleansing]]:
    """``cleanse_text`` reporting its changes as ``Cleansing`` records of ``column``."""
    cleaned, rules = cleanse_text(text, collapse_whitespace=collapse_whitespace)
    return cleaned, [Cleansing(rule, column) for rule in rules]


_KEY_DROP: Final = re.compile(r"[\s\-_.·・]+")


def match_key(text: str) -> str:
    """The form in which choice values, synonyms and headers are compared: NFKC (so width
    does not matter), case-folded, without whitespace, hyphens, underscores and dots (so
    "Sr." is "sr" and "needs-change" is "needs_change")."""
    return _KEY_DROP.sub("", unicodedata.normalize("NFKC", text).casefold())


def _text_of(value: Any) -> str:
    """A text cell made ready for parsing: half-width and trimmed (idempotent after cleanse)."""
    if not isinstance(value, str):
        raise _invalid(f"expected text, got {_show(value)}", f"应为文本，实际为 {_show(value)}")
    if value.isascii():
        return value.strip()
    return value.translate(_ZERO_WIDTH).translate(_HALF_WIDTH).strip()


def _is_number(value: Any) -> bool:
    # ``bool`` is an ``int`` to Python but never a number in a spreadsheet cell.
    return isinstance(value, int | float) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------
# Dates and datetimes

_MONTH_NAMES: Final = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
# Full English month names, their three-letter abbreviations and "sept": what exports write.
_MONTHS: Final[dict[str, int]] = {
    **{name: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    **{name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}

_SEP = r"\s*[-/.]\s*"
# Year first: 2024-01-05, 2024/1/5, 2024.1.5.
_YMD: Final = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})(?!\d)")
# 2024年1月5日 (the final 日 or 号 may be left out).
_YMD_ZH: Final = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
# 20240105.
_COMPACT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})(?!\d)")
# Year last: 5/1/2024, 05-01-24; which of the first two is the day depends on the order.
_XYY: Final = re.compile(rf"(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}}|\d{{2}})(?!\d)")
# Day, month name, year: 05/Jan/24 (Jira), 5-Jan-2024, 5 January 2024.
_D_MON_Y: Final = re.compile(
    r"(\d{1,2})\s*[-/ ]\s*([A-Za-z]{3,9})\.?\s*[-/ ,]\s*(\d{4}|\d{2})(?!\d)"
)
# Month name, day, year: Jan 5, 2024 / January 5th 2024.
_MON_D_Y: Final = re.compile(
    r"([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?\s*,?\s+(\d{4})(?!\d)", re.IGNORECASE
)
# A time after the date (the "T" or spaces before it are removed first): 14:30, 14:30:15.5,
# 2:30 PM, 14时30分, 下午2点30分, then an optional zone (Z, UTC, +08:00, +0800, +08).
_TIME: Final = re.compile(
    r"(?P<pre>上午|下午|晚上|中午|凌晨|早上)?\s*"
    r"(?P<h>\d{1,2})\s*"
    r"(?:"
    r"[:：]\s*(?P<m>\d{1,2})(?:\s*[:：]\s*(?P<s>\d{1,2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"|[时点點]\s*(?:(?P<m2>\d{1,2})\s*分?\s*(?:(?P<s2>\d{1,2})\s*秒?)?)?"
    r")\s*"
    r"(?P<ampm>[AaPp]\.?\s*[Mm]\.?)?\s*"
    r"(?P<tz>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
)
_SERIAL_TEXT: Final = re.compile(r"\d{5}(?:\.\d+)?")

_EXCEL_EPOCH: Final = datetime(1899, 12, 30)  # serial 61 and later: 1900-03-01 onwards
_EXCEL_EARLY_EPOCH: Final = datetime(1899, 12, 31)  # serials 1-59 (before the fake leap day)
_EXCEL_MAX: Final = 2958466  # 10000-01-01: Excel's last day is 9999-12-31


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year < 69 else 1900 + year
    return year


def _calendar_date(year: int, month: int, day: int, shown: Any) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _invalid(
            f"{_show(shown)} is not a calendar date", f"{_show(shown)} 不是有效的日历日期"
        ) from None


def _bad_date(value: Any) -> TransformError:
    return _invalid(
        f"{_show(value)} is not a date: write 2024-01-05, 2024/1/5, 2024年1月5日 or an Excel date",
        f"{_show(value)} 不是有效日期：请写作 2024-01-05、2024/1/5、2024年1月5日 或 Excel 日期",
    )


def _check_order(date_order: str) -> None:
    if date_order not in DATE_ORDERS:
        raise ValueError(f"date_order must be one of {DATE_ORDERS}, not {date_order!r}")


def _match_date(text: str, date_order: str, shown: Any) -> tuple[date, str] | None:
    """The date at the start of ``text`` and what follows it, or None when none is there."""
    match = _YMD.match(text) or _YMD_ZH.match(text) or _COMPACT.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
        return _calendar_date(year, month, day, shown), text[match.end() :]
    match = _D_MON_Y.match(text)
    if match and match.group(2).lower() in _MONTHS:
        day_text, month_name, year_text = match.groups()
        month = _MONTHS[month_name.lower()]
        return _calendar_date(_year(year_text), month, int(day_text), shown), text[match.end() :]
    match = _MON_D_Y.match(text)
    if match and match.group(1).lower() in _MONTHS:
        month_name, day_text, year_text = match.groups()
        month = _MONTHS[month_name.lower()]
        return _calendar_date(int(year_text), month, int(day_text), shown), text[match.end() :]
    match = _XYY.match(text)
    if match:
        first, second, year_text = match.groups()
        if date_order == "dmy":
            day, month = int(first), int(second)
        elif date_order == "mdy":
            month, day = int(first), int(second)
        else:
            raise _invalid(
                f"{_show(shown)} could be day-first or month-first: set the column's date "
                "order (dmy or mdy)",
                f"无法判断 {_show(shown)} 是日/月/年还是月/日/年："
                "请为该列设置日期顺序（dmy 或 mdy）",
            )
        return _calendar_date(_year(year_text), month, day, shown), text[match.end() :]
    return None


def _match_time(rest: str, shown: Any) -> tuple[time, tzinfo | None]:
    """The time (and zone) in what follows a date; an empty ``rest`` is midnight, no zone."""
    rest = rest.strip()
    if rest[:1] in ("T", "t"):
        rest = rest[1:].lstrip()
    if not rest:
        return time(), None
    match = _TIME.fullmatch(rest)
    if match is None:
        raise _invalid(
            f"{_show(shown)} has a time that cannot be read: write 14:30 or 14:30:15",
            f"{_show(shown)} 的时间无法识别：请写作 14:30 或 14:30:15",
        )
    hour = int(match["h"])
    minute = int(match["m"] or match["m2"] or 0)
    second = int(match["s"] or match["s2"] or 0)
    fraction = match["f"] or ""
    microsecond = int((fraction + "000000")[:6]) if fraction else 0
    ampm = (match["ampm"] or "").lower()[:1]
    prefix = match["pre"]
    if ampm or prefix:
        if not 1 <= hour <= 12 and not (prefix and hour <= 23):
            raise _bad_time(shown)
        afternoon = ampm == "p" or prefix in ("下午", "晚上") or (prefix == "中午" and hour < 11)
        if afternoon and hour < 12:
            hour += 12
        elif (ampm == "a" or prefix in ("上午", "凌晨", "早上")) and hour == 12:
            hour = 0
    if hour > 23 or minute > 59 or second > 59:
        raise _bad_time(shown)
    return time(hour, minute, second, microsecond), _zone_of(match["tz"])


def _bad_time(shown: Any) -> TransformError:
    return _invalid(f"{_show(shown)} is not a valid time", f"{_show(shown)} 不是有效时间")


def _zone_of(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text in ("Z", "z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return fixed_offset(sign * offset)


def _from_excel(serial: float, shown: Any) -> datetime:
    if not (math.isfinite(serial) and 1 <= serial < _EXCEL_MAX) or 60 <= serial < 61:
        raise _invalid(
            f"{_show(shown)} is not an Excel date serial number",
            f"{_show(shown)} 不是有效的 Excel 日期序列号",
        )
    epoch = _EXCEL_EARLY_EPOCH if serial < 60 else _EXCEL_EPOCH
    days = int(serial)
    # Excel stores times as binary fractions of a day: round to the second it meant.
    seconds = round((serial - days) * 86400)
    return epoch + timedelta(days=days, seconds=seconds)


def to_excel_serial(value: date | datetime) -> float:
    """The Excel (1900 system) serial number of ``value`` (naive datetimes as they are)."""
    moment = value if isinstance(value, datetime) else datetime.combine(value, time())
    moment = moment.replace(tzinfo=None)
    epoch = _EXCEL_EARLY_EPOCH if moment < datetime(1900, 3, 1) else _EXCEL_EPOCH
    delta = moment - epoch
    serial = delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000
    return float(serial)


def _naive_datetime(value: Any, date_order: str) -> tuple[datetime, tzinfo | None]:
    """``value`` read as a datetime, and the zone it names (None when it names none)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), value.tzinfo
    if isinstance(value, date):
        return datetime.combine(value, time()), None
    if _is_number(value):
        return _from_excel(float(value), value), None
    text = _text_of(value)
    if not text:
        raise _bad_date(value)
    if _SERIAL_TEXT.fullmatch(text):
        return _from_excel(float(text), value), None
    found = _match_date(text, date_order, value)
    if found is None:
        raise _bad_date(value)
    day, rest = found
    clock, zone = _match_time(rest, value)
    return datetime.combine(day, clock), zone


def parse_date(value: Any, *, date_order: str = "ymd") -> date:
    """A date from ``2024-01-05``, ``2024/1/5``, ``2024.1.5``, ``2024年1月5日``,
    ``20240105``, ``05/Jan/24``, ``5/1/2024`` (with a ``date_order``), an Excel serial (as a
    number or five-digit text) or a ``date``/``datetime`` cell. A time after the date, or the
    fraction of a serial, is dropped: spreadsheets often write dates as midnight datetimes.
    An aware datetime gives its date in its own zone."""
    _check_order(date_order)
    if value.__class__ is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        # 2024-02-30 and the like fail here; the full path below words their error.
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    moment, _zone = _naive_datetime(value, date_order)
    return moment.date()


def zone_named(name: str) -> tzinfo:
    """The IANA zone ``name`` (``ValueError`` when unknown; ``zoneinfo`` caches zones)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a folder of the zone database ("America") on some systems.
        raise ValueError(f"unknown time zone {name!r}") from None


def parse_datetime(
    value: Any, *, timezone: str | tzinfo = DEFAULT_TIMEZONE, date_order: str = "ymd"
) -> datetime:
    """An aware datetime from any date form ``parse_date`` reads, with an optional time
    (``14:30``, ``14:30:15``, ``2:30 PM``, ``14时30分``, ``下午2点30分``) and zone (``Z``,
    ``+08:00``), ISO 8601 included. A value naming no zone is in ``timezone`` (an IANA
    name), and gets that zone's UTC offset at that moment as a fixed-offset ``tzinfo``: what
    is kept is the instant, and values naming their offset come back the same way."""
    return datetime_parser(timezone=timezone, date_order=date_order)(value)


_OFFSETS: dict[timedelta, tuple[str, tzinfo]] = {}


def _offset(delta: timedelta) -> tuple[str, tzinfo]:
    """A UTC offset as ISO text ("+08:00") and as a ``tzinfo``, cached: zones have few."""
    found = _OFFSETS.get(delta)
    if found is None:
        zone = fixed_offset(delta)
        text = "+00:00" if not delta else zone.tzname(None)[3:]  # "UTC+08:00" -> "+08:00"
        found = _OFFSETS[delta] = (text, zone)
    return found


def _localize(naive: datetime, zone: tzinfo) -> datetime:
    delta = zone.utcoffset(naive)
    if delta is None:  # a tzinfo without offsets: nothing to say about the instant
        return naive.replace(tzinfo=zone)
    return naive.replace(tzinfo=_offset(delta)[1])


def datetime_parser(
    *, timezone: str | tzinfo = DEFAULT_TIMEZONE, date_order: str = "ymd"
) -> Callable[[Any], datetime]:
    """``parse_datetime`` with its options bound, the zone looked up once."""
    _check_order(date_order)
    zone = zone_named(timezone) if isinstance(timezone, str) else timezone
    from_iso = datetime.fromisoformat
    utcoffset = zone.utcoffset

    def iso(value: str, size: int) -> datetime | None:
        """ISO 8601, the common case of machine exports; None when it does not parse as
        such (the full path then reads it, or words the error)."""
        try:
            moment = from_iso(value)
        except ValueError:
            return None
        if moment.tzinfo is not None:
            return moment
        delta = utcoffset(moment)
        if delta is None:
            return None
        # Parsing again with the offset appended is several times faster than
        # datetime.replace(tzinfo=...), and this runs for every row.
        suffix = _offset(delta)[0]
        try:
            return from_iso(value + suffix if size > 10 else value + "T00:00" + suffix)
        except ValueError:
            return _localize(moment, zone)

    def parse(value: Any) -> datetime:
        if value.__class__ is str:
            size = len(value)
            # The checks keep fromisoformat from what only it would accept: any character
            # between date and time, week dates, and "2024-01-05+08:00", which it reads as
            # 08:00 o'clock.
            if (
                size >= 10
                and value[4] == "-"
                and value[7] == "-"
                and (size == 10 or value[10] in "T ")
            ):
                moment = iso(value, size)
                if moment is not None:
                    return moment
        naive, named = _naive_datetime(value, date_order)
        return naive.replace(tzinfo=named) if named is not None else _localize(naive, zone)

    return parse


def date_parser(*, date_order: str = "ymd") -> Callable[[Any], date]:
    """``parse_date`` with its option bound."""
    _check_order(date_order)

    def parse(value: Any) -> date:
        return parse_date(value, date_order=date_order)

    return parse


# --------------------------------------------------------------------------------------------
# Durations

_HOURS_PER: Final[dict[str, float]] = {
    "seconds": 1 / 3600,
    "minutes": 1 / 60,
    "hours": 1.0,
    "days": 24.0,
    "weeks": 168.0,
}
_UNIT_WORDS: Final[dict[str, str]] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds", "秒", "秒钟"), "seconds"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "分钟", "分"), "minutes"),
    **dict.fromkeys(
        ("h", "hr", "hrs", "hour", "hours", "小时", "个小时", "时", "钟头", "个钟头"), "hours"
    ),
    **dict.fromkeys(("d", "day", "days", "天", "日", "个工作日", "工作日"), "days"),
    **dict.fromkeys(
        ("w", "wk", "wks", "week", "weeks", "周", "个周", "星期", "个星期", "礼拜", "个礼拜"),
        "weeks",
    ),
}
_UNIT_PATTERN: Final = "|".join(
    re.escape(word) for word in sorted(_UNIT_WORDS, key=len, reverse=True)
)
# One "<amount><unit>" part: 36, 36h, 1.5 days, 3天, 半天 (half a day), 1天半 (a day and a half).
_DURATION_PART: Final = re.compile(
    rf"\s*(?P<n>\d+(?:\.\d+)?|\.\d+|半)\s*(?P<u>{_UNIT_PATTERN})?(?P<half>半)?(?![a-z])\s*,?"
)


def _bad_duration(value: Any) -> TransformError:
    return _invalid(
        f"{_show(value)} is not a duration: write 36, 36h, 1.5 days, 2 weeks, 3天 or 2周",
        f"{_show(value)} 不是有效时长：请写作 36、36h、1.5 days、2 weeks、3天 或 2周",
    )


def parse_duration_hours(value: Any, *, unit: str = "hours") -> float:
    """A duration in hours: ``36``, ``36h``, ``36 hours``, ``1.5 days``, ``2w``, ``3天``,
    ``2周``, ``4小时``, ``半天``, ``1d 4h`` (Jira's form, parts added up). A bare number is in
    ``unit`` (seconds, minutes, hours, days or weeks). A day is 24 hours: working days are
    not assumed."""
    if unit not in _HOURS_PER:
        raise ValueError(f"unit must be one of {DURATION_UNITS}, not {unit!r}")
    if _is_number(value):
        amount = float(value)
        if not math.isfinite(amount) or amount < 0:
            raise _bad_duration(value)
        return amount * _HOURS_PER[unit]
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise _bad_duration(value)
        return value.total_seconds() / 3600
    text = _text_of(value).lower()
    try:
        return float(text) * _HOURS_PER[unit] if _plain_amount(text) else _sum_parts(text)
    except ValueError:
        raise _bad_duration(value) from None


def _plain_amount(text: str) -> bool:
    return text.replace(".", "", 1).isdigit()


def _sum_parts(text: str) -> float:
    hours = 0.0
    position = 0
    parts = 0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(text)
        amount_text, word, half = match["n"], match["u"], match["half"]
        if word is None:
            # A number without a unit only makes sense alone, and that case never gets here.
            raise ValueError(text)
        amount = 0.5 if amount_text == "半" else float(amount_text)
        if half:
            amount += 0.5
        hours += amount * _HOURS_PER[_UNIT_WORDS[word]]
        position = match.end()
        parts += 1
    if parts == 0:
        raise ValueError(text)
    return hours


def duration_parser(*, unit: str = "hours") -> Callable[[Any], float]:
    """``parse_duration_hours`` with its option bound."""
    if unit not in _HOURS_PER:
        raise ValueError(f"unit must be one of {DURATION_UNITS}, not {unit!r}")

    def parse(value: Any) -> float:
        return parse_duration_hours(value, unit=unit)

    return parse


# --------------------------------------------------------------------------------------------
# Numbers and booleans

_GROUPED_COMMA: Final = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_GROUPED_SPACE: Final = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
# Spaces that show up as thousands separators: no-break, narrow no-break and thin spaces.
_GROUP_SPACES: Final[dict[int, int]] = dict.fromkeys(map(ord, "\u00a0\u202f\u2009"), 0x20)


def _bad_number(value: Any) -> TransformError:
    return _invalid(f"{_show(value)} is not a number", f"{_show(value)} 不是有效数字")


def parse_number(value: Any) -> float:
    """A finite float from a number cell or text: ``1234.5``, ``1,234.5``, ``1 234.5``,
    full-width digits, the full-width point ``．``, ``85%`` (85.0, the figure as written)."""
    if value.__class__ is str:
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            # float() also reads "nan", "inf" and "1_000": none of them is a cell's number.
            if number - number == 0 and "_" not in value:
                return number
    elif _is_number(value):
        number = float(value)
        if math.isfinite(number):
            return number
        raise _bad_number(value)
    text = _text_of(value).translate(_GROUP_SPACES).strip()
    if text.endswith("%"):
        text = text[:-1].rstrip()
    if "," in text or " " in text:
        if _GROUPED_COMMA.fullmatch(text) or _GROUPED_SPACE.fullmatch(text):
            text = text.replace(",", "").replace(" ", "")
        else:
            raise _bad_number(value)
    if "_" in text:
        raise _bad_number(value)
    try:
        number = float(text)
    except ValueError:
        raise _bad_number(value) from None
    if not math.isfinite(number):
        raise _bad_number(value)
    return number


def parse_integer(value: Any) -> int:
    """An int from any form ``parse_number`` reads whose value is whole."""
    if value.__class__ is int:
        return int(value)
    if value.__class__ is str and value.isdigit() and value.isascii():
        return int(value)
    number = parse_number(value)
    if not number.is_integer():
        raise _invalid(f"{_show(value)} is not a whole number", f"{_show(value)} 不是整数")
    return int(number)


_TRUE: Final = frozenset(("true", "t", "yes", "y", "1", "on", "是", "对", "真", "✓", "✔", "√"))
_FALSE: Final = frozenset(("false", "f", "no", "n", "0", "off", "否", "错", "假", "✗", "✘", "×"))


def parse_boolean(value: Any) -> bool:
    """A bool from true/false, yes/no, y/n, 1/0, on/off, 是/否, 对/错, 真/假, ✓/✗ (any case)."""
    if isinstance(value, bool):
        return value
    if _is_number(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        key = _text_of(value).casefold()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise _invalid(
        f"{_show(value)} is not yes or no: write true/false, yes/no, 1/0 or 是/否",
        f"{_show(value)} 不是是/否值：请写作 是/否、true/false、yes/no 或 1/0",
    )


# --------------------------------------------------------------------------------------------
# Enums and translation tables


class ChoiceMatcher:
    """Matches cells to choice values through the values, their synonyms and extra synonyms,
    compared by ``match_key`` (case, width, whitespace, hyphens, underscores and dots do not
    matter). Built once per field; ``strict`` matchers refuse what matches nothing (enum
    fields), lenient ones give it back unchanged (the translation table of a text field)."""

    def __init__(
        self,
        choices: Iterable[Choice],
        extra: Mapping[str, str] | None = None,
        *,
        strict: bool = True,
    ) -> None:
        self.values: tuple[str, ...] = tuple(choice.value for choice in choices)
        self.strict = strict
        index: dict[str, str] = {}
        for choice in choices:
            for word in choice.synonyms:
                index.setdefault(match_key(word), choice.value)
        # The values themselves win over another choice's synonym, and the mapping's own
        # synonyms over both: they are what the person mapping this file asked for.
        for choice in choices:
            index[match_key(choice.value)] = choice.value
        for word, target in (extra or {}).items():
            index[match_key(word)] = target
        self._index = index
        self._exact: dict[str, str] = {}  # raw cell -> value: most files repeat few words

    def __call__(self, value: Any) -> str:
        if value.__class__ is str:
            found = self._exact.get(value)
            if found is not None:
                return found
        text = value if isinstance(value, str) else _scalar_text(value)
        found = self._index.get(match_key(text))
        if found is None:
            if not self.strict:
                return _text_of(text)
            allowed = ", ".join(self.values)
            raise TransformError(
                RowErrorCode.UNKNOWN_CHOICE,
                f"{_show(value)} is not one of the allowed values: {allowed}",
                f"{_show(value)} 不在可选值之中：{allowed}",
            )
        if isinstance(value, str) and len(self._exact) < 1024:
            self._exact[value] = found
        return found


def parse_enum(
    value: Any, choices: Sequence[Choice], extra: Mapping[str, str] | None = None
) -> str:
    """The value of the choice ``value`` names (see ``ChoiceMatcher``); ``UNKNOWN_CHOICE``
    listing the allowed values when none matches."""
    return ChoiceMatcher(choices, extra)(value)


def _scalar_text(value: Any) -> str:
    """A typed scalar cell as text: whole floats without ".0" (XLSX gives 1001 as 1001.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise _invalid(
        f"expected a single value, got {_show(value)}", f"应为单个值，实际为 {_show(value)}"
    )


def parse_text(value: Any) -> str:
    """Text from a text cell (half-width, trimmed) or a typed scalar (``1001.0`` -> "1001")."""
    return _text_of(value) if isinstance(value, str) else _scalar_text(value)


# --------------------------------------------------------------------------------------------
# E-mail, phone, list, JSON


def parse_email(value: Any) -> str:
    """An e-mail address, syntax-checked (no DNS lookups), its domain lower-cased."""
    text = _text_of(value)
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise _invalid(
            f"{_show(value)} is not an e-mail address ({exc})",
            f"{_show(value)} 不是有效的电子邮件地址",
        ) from None


def parse_phone(value: Any, *, region: str = DEFAULT_PHONE_REGION) -> str:
    """A phone number in E.164 (``138 0013 8000`` -> ``+8613800138000``); numbers without a
    country code are in ``region`` (ISO 3166 code). Numbers cells (XLSX) are accepted."""
    text = _scalar_text(value) if _is_number(value) else _text_of(value)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise _invalid(
            f"{_show(value)} is not a valid phone number", f"{_show(value)} 不是有效的电话号码"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Commas, semicolons, the enumeration comma 、, their full-width forms, bars and line breaks
# (a spreadsheet cell with one value per line is a list too).
_LIST_SPLIT: Final = re.compile(r"[,;、，；|\n\r]")


def parse_list(value: Any, *, collapse_whitespace: bool = False) -> list[str]:
    """The items of a cell: text split on , ; 、 ， ； | and line breaks, or a list cell
    (JSON Lines); items trimmed (and their inner whitespace collapsed if asked), empties
    dropped."""
    if isinstance(value, list | tuple):
        items = [parse_text(item) for item in value if item is not None]
    else:
        items = _LIST_SPLIT.split(parse_text(value))
    if collapse_whitespace:
        return [" ".join(item.split()) for item in items if item and not item.isspace()]
    return [stripped for item in items if (stripped := item.strip())]


def parse_json(value: Any) -> dict[str, Any]:
    """A JSON object: a dict cell as it is, or text parsed as JSON that must be an object."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise _invalid(
                f"{_show(value)} is not valid JSON", f"{_show(value)} 不是有效的 JSON"
            ) from None
        if isinstance(parsed, dict):
            return parsed
    raise _invalid(f"{_show(value)} is not a JSON object", f"{_show(value)} 不是 JSON 对象")
