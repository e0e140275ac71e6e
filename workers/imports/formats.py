"""The readers of import files: CSV, XLSX and JSON Lines, from plaintext bytes to rows.

This module owns the step from the decrypted bytes of an uploaded file to ``RawRow``s and
row-level ``RowError``s (``domain.imports.fields``): the encoding (CSV), the delimiter
(CSV), the header row, blank lines, short and long rows, lines that do not parse, and the
errors that make a whole file unreadable (``FileFormatError``). It does not cleanse or
convert cells: mapping and cleansing do that later, on what it yields.

The worker hands over a decrypting stream (anything with ``read(n) -> bytes``, not seekable)
and the readers pull from it as rows are taken, so a CSV or JSON Lines file of millions of
rows is read with bounded memory. XLSX is a zip archive whose directory sits at its end, so
an XLSX file is read whole, up to a size limit.

A reader is read once: ``open_reader`` reads the header (the first object of a JSON Lines
file), then iterating yields the data rows in file order, numbered from 1 (blank lines are
not rows; a row that does not parse is a numbered ``RowError``).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol, TypeAlias

import orjson
import python_calamine

from domain.imports.fields import RawRow, RowError, RowErrorCode
from domain.imports.models import ImportFormat

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DEFAULT_MAX_XLSX_BYTES",
    "ByteSource",
    "CsvReader",
    "FileFormatError",
    "JsonlReader",
    "RowReader",
    "XlsxReader",
    "open_reader",
]

DEFAULT_MAX_XLSX_BYTES: Final = 200 * 1024 * 1024
# The encoding is guessed from this much of the file's start.
SNIFF_BYTES: Final = 1024 * 1024
# A cell larger than this (in characters) is a row error rather than a memory bomb. The
# limit is process-wide (``csv.field_size_limit``); the readers are the only CSV users.
CSV_FIELD_LIMIT: Final = 1024 * 1024
# A physical line longer than this (bytes without a newline) fails the whole CSV file: the
# text layer would otherwise hold a newline-free file of any size as one line.
CSV_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
# A JSON Lines line longer than this is a row error; the rest of the line is skipped unread.
JSONL_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
# Lines read before giving up on finding a first JSON object (and so the headers).
JSONL_MAX_LINES_BEFORE_OBJECT: Final = 1000
# How much of a bad line or cell a RowError quotes.
VALUE_MAX_CHARS: Final = 200
# The size of reads from the decrypting stream and of the chunks the text layer decodes:
# larger than the 8 KiB default to make fewer calls (Tink decrypts segment by segment
# anyway), small enough not to count in memory.
_BUFFER_BYTES: Final = 256 * 1024

_DELIMITERS: Final = (",", ";", "\t", "|")  # in order of preference when counts tie
_QUOTED = re.compile(r'"[^"]*"')
# Characters a line may hold and still be blank: whitespace (ASCII, ideographic, a stray
# BOM), the delimiters and quotes of an empty row such as ``,,,`` or ``"",""``.
_BLANK_LINE_CHARS: Final = ' \t\r\n\v\f\u3000\ufeff,;|"'
_MAX_EXACT_FLOAT: Final = 2.0**53

Cell: TypeAlias = int | float | str | bool | date | datetime | time | timedelta


class ByteSource(Protocol):
    """What a reader reads from: the decrypting stream, an open binary file, ``BytesIO``.

    ``read(n)`` returns at most ``n`` bytes (possibly fewer), ``b""`` at the end. ``BinaryIO``
    and ``io.RawIOBase`` both qualify; seeking is never needed.
    """

    def read(self, size: int, /) -> bytes | None: ...


class FileFormatError(Exception):
    """The file as a whole cannot be read (not a row problem).

    ``code`` is one of ``EMPTY_FILE``, ``NO_HEADER``,
    ``INVALID_ENCODING``, ``LINE_TOO_LONG`` (CSV), ``FILE_TOO_LARGE``, ``NOT_XLSX``,
    ``XLSX_PASSWORD`` and ``SHEET_NOT_FOUND`` (XLSX); ``message`` and ``message_zh`` say the
    same in English and Chinese, for the person who uploaded the file.
    """

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.message_zh = message_zh


class RowReader(ABC):
    """The rows of one file, read once, in file order.

    ``headers`` are the column names (for JSON Lines they grow as new keys are met, see
    ``JsonlReader``); ``encoding`` is the text encoding found (``None`` for XLSX);
    ``bytes_read`` counts the plaintext bytes taken from the stream so far, for progress.
    """

    headers: list[str]
    encoding: str | None

    def __init__(self) -> None:
        self._iterated = False

    @property
    @abstractmethod
    def bytes_read(self) -> int:
        """Plaintext bytes taken from the stream so far (read-ahead included)."""

    def __iter__(self) -> Iterator[RawRow | RowError]:
        # The stream cannot be rewound: a second pass would silently start mid-file.
        if self._iterated:
            raise RuntimeError("a RowReader can be iterated only once")
        self._iterated = True
        return self._rows()

    @abstractmethod
    def _rows(self) -> Iterator[RawRow | RowError]: ...


def open_reader(
    fmt: ImportFormat | str,
    stream: ByteSource,
    *,
    sheet: str | None = None,
    max_xlsx_bytes: int = DEFAULT_MAX_XLSX_BYTES,
) -> RowReader:
    """Open a reader of ``fmt`` over ``stream`` and read its header.

    ``sheet`` picks an XLSX worksheet by name (default: the first visible worksheet);
    ``max_xlsx_bytes`` bounds the XLSX file read into memory. Raises ``FileFormatError``
    when the file cannot be read at all.
    """
    match ImportFormat(fmt):
        case ImportFormat.CSV:
            return CsvReader(stream)
        case ImportFormat.XLSX:
            return XlsxReader(stream, sheet=sheet, max_bytes=max_xlsx_bytes)
        case ImportFormat.JSONL:
            return JsonlReader(stream)


# --- shared helpers -----------------------------------------------------------------------


def _clip(value: str) -> str:
    return value[:VALUE_MAX_CHARS]


def _malformed(number: int, message: str, message_zh: str, value: str) -> RowError:
    return RowError(
        row=number,
        column="",
        code=RowErrorCode.MALFORMED,
        message=message,
        message_zh=message_zh,
        value=_clip(value),
    )


def _empty_file() -> FileFormatError:
    return FileFormatError(
        "EMPTY_FILE",
        "The file is empty: it has no header row and no data.",
        "文件为空：没有表头行，也没有数据。",
    )


def _clean_headers(raw: list[str]) -> list[str]:
    """Trim the header names, drop BOMs, name blank ones ``column_<n>``, number repeats.

    A repeated name (Jira exports one "Labels" or "Sprint" column per value) becomes
    "Labels", "Labels (2)", "Labels (3)": every column stays addressable by a mapping.
    """
    headers = [
        name.replace("\ufeff", "").strip() or f"column_{index}"
        for index, name in enumerate(raw, start=1)
    ]
    taken = set(headers)
    seen: dict[str, int] = {}
    named: list[str] = []
    for name in headers:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count == 1:
            named.append(name)
            continue
        suffix = count
        while f"{name} ({suffix})" in taken:
            suffix += 1
        numbered = f"{name} ({suffix})"
        taken.add(numbered)
        named.append(numbered)
    return named


def _read_up_to(stream: ByteSource, size: int) -> bytes:
    """Read ``size`` bytes, or fewer at the end: a stream may return short reads."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = _read_chunk(stream, remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def _read_chunk(stream: ByteSource, size: int) -> bytes:
    data = stream.read(size)
    if data is None:
        # A non-blocking stream with nothing ready; treating it as the end would silently
        # cut the file short.
        raise BlockingIOError("the import stream returned no data (is it non-blocking?)")
    return data


class _Source(io.RawIOBase):
    """The decrypting stream as a raw stream for ``io.BufferedReader``.

    It replays the bytes already taken for sniffing, counts the bytes read, and watches the
    bytes as they pass (cheap searches over whole buffers, nothing per row): it notes a NUL
    byte, which the CSV parser would accept silently and PostgreSQL would refuse, and fails
    on a line longer than ``max_line`` bytes.
    """

    def __init__(
        self, stream: ByteSource, prefix: bytes, *, watch_nul: bool, max_line: int | None
    ) -> None:
        super().__init__()
        self._stream = stream
        self._prefix = prefix
        self._prefix_at = 0
        self._watch_nul = watch_nul
        self._max_line = max_line
        self._line_bytes = 0  # bytes since the last newline
        self.bytes_read = len(prefix)
        # Set when the rows must be checked one by one (a NUL byte went past, or the text is
        # UTF-16, where NUL bytes are normal and only decoded NUL characters mean trouble).
        self.check_rows = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        if self._prefix_at < len(self._prefix):
            start = self._prefix_at
            end = min(len(self._prefix), start + len(view))
            view[: end - start] = self._prefix[start:end]
            self._prefix_at = end
            self._watch(self._prefix, start, end)
            if end == len(self._prefix):
                self._prefix = b""
                self._prefix_at = 0
            return end - start
        data = _read_chunk(self._stream, len(view))
        size = len(data)
        view[:size] = data
        self.bytes_read += size
        self._watch(data, 0, size)
        return size

    def _watch(self, data: bytes, start: int, end: int) -> None:
        if self._watch_nul and not self.check_rows and data.find(b"\x00", start, end) >= 0:
            self.check_rows = True
        if self._max_line is None:
            return
        newline = data.rfind(b"\n", start, end)
        self._line_bytes = self._line_bytes + end - start if newline < 0 else end - newline - 1
        if self._line_bytes > self._max_line:
            raise FileFormatError(
                "LINE_TOO_LONG",
                f"A line of the file is longer than {self._max_line // (1024 * 1024)} MB; "
                "is it really a CSV file?",
                f"文件中有一行超过 {self._max_line // (1024 * 1024)} MB，请确认它是 CSV 文件。",
            )


# --- CSV ----------------------------------------------------------------------------------


def _detect_encoding(sample: bytes, at_eof: bool) -> str:
    """The encoding of a CSV file from its first bytes: a BOM, else UTF-8 if they decode as
    UTF-8, else GB18030 (a superset of GBK and GB2312, what Excel saves in China)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM and drops it
    if b"\x00" in sample:
        # UTF-16 without a BOM: ASCII text leaves every other byte zero. UTF-8 would decode
        # it, NULs and all.
        half = len(sample) // 2
        zero_odd, zero_even = sample[1::2].count(0), sample[0::2].count(0)
        if zero_odd > 0.3 * half and zero_even < 0.05 * half:
            return "utf-16-le"
        if zero_even > 0.3 * half and zero_odd < 0.05 * half:
            return "utf-16-be"
    try:
        # Incremental, so a multi-byte sequence cut by the end of the sample is not an error
        # (unless the file really ends there).
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=at_eof)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _detect_delimiter(line: str) -> str:
    """The delimiter of the header line: the most frequent of , ; tab | outside quotes."""
    unquoted = _QUOTED.sub("", line)
    best = max(_DELIMITERS, key=unquoted.count)  # max keeps the first on a tie
    return best if unquoted.count(best) else ","


class CsvReader(RowReader):
    """A CSV file, decoded and parsed as it streams.

    The encoding is found from the first megabyte (see ``_detect_encoding``), the delimiter
    from the header line. The first non-blank line is the header. Blank lines (nothing but
    whitespace and delimiters) are skipped and not counted. A row with fewer cells than the
    header is padded with ``""`` (Excel drops trailing empty cells); a row with more is
    truncated if the extra cells are empty, else it is a MALFORMED ``RowError``, as is a row
    the parser refuses (a cell over ``CSV_FIELD_LIMIT``) or one holding a NUL character.
    Cells are the text as written. Bytes that do not decode fail the file with
    ``INVALID_ENCODING`` when the reading reaches them.
    """

    def __init__(self, stream: ByteSource) -> None:
        super().__init__()
        csv.field_size_limit(CSV_FIELD_LIMIT)
        sample = _read_up_to(stream, SNIFF_BYTES)
        if not sample:
            raise _empty_file()
        self.encoding = _detect_encoding(sample, at_eof=len(sample) < SNIFF_BYTES)
        utf16 = self.encoding.startswith("utf-16")
        self._source = _Source(stream, sample, watch_nul=not utf16, max_line=CSV_MAX_LINE_BYTES)
        self._source.check_rows = utf16
        # newline="" hands line ends to the csv module untranslated, as it requires (a
        # quoted cell keeps its own line breaks).
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._source, _BUFFER_BYTES),
            encoding=self.encoding,
            errors="strict",
            newline="",
        )
        self._text._CHUNK_SIZE = _BUFFER_BYTES  # type: ignore[attr-defined]  # fewer decode calls
        self._lines_before_header = 0
        try:
            while True:
                line = self._text.readline()
                if not line:
                    raise _empty_file()
                if line.strip(_BLANK_LINE_CHARS):
                    break
                self._lines_before_header += 1
        except UnicodeDecodeError as exc:
            raise self._encoding_error(exc, lines_done=self._lines_before_header) from exc
        self.delimiter = _detect_delimiter(line)
        self._reader = csv.reader(itertools.chain((line,), self._text), delimiter=self.delimiter)
        try:
            header = next(self._reader)
        except UnicodeDecodeError as exc:
            raise self._encoding_error(exc, lines_done=self._lines_before_header) from exc
        except csv.Error as exc:
            raise FileFormatError(
                "NO_HEADER",
                f"The header line cannot be read: {exc}.",
                f"无法读取表头行：{exc}。",
            ) from exc
        self.headers = _clean_headers(header)

    @property
    def bytes_read(self) -> int:
        return self._source.bytes_read

    @property
    def line(self) -> int:
        """The physical line of the file the parser has reached (1-based, header included)."""
        return self._lines_before_header + self._reader.line_num

    def _rows(self) -> Iterator[RawRow | RowError]:
        # The hot loop: per row, one length test, one comparison, one attribute read,
        # dict(zip()) and the RawRow. Everything unusual goes through _check. A first cell
        # that is >= "!" starts with a visible ASCII character or any non-ASCII one, so the
        # row is not blank; an empty first cell, or one starting with a space or a control
        # character, sends the row to _check to be tested for blankness (a row of nothing
        # but non-ASCII spaces such as U+3000 slips through as a row: rare, and harmless).
        # str.strip() here would cost a few percent of the whole loop.
        reader = self._reader
        headers = self.headers
        width = len(headers)
        source = self._source
        number = 0
        while True:
            try:
                for row in reader:
                    number += 1
                    if len(row) != width or row[0] < "!" or source.check_rows:
                        checked = self._check(row, number)
                        if checked is None:
                            number -= 1  # a blank line is not a row
                            continue
                        if isinstance(checked, RowError):
                            yield checked
                            continue
                        row = checked
                    # zip(strict=True) would cost a fifth of the loop; the lengths are equal.
                    yield RawRow(number, dict(zip(headers, row)))  # noqa: B905
            except UnicodeDecodeError as exc:
                raise self._encoding_error(exc, lines_done=self.line, next_row=number + 1) from exc
            except csv.Error as exc:
                # The parser drops the rest of the offending line and starts afresh on the
                # next one, so reading goes on.
                error = exc
            else:
                return
            number += 1
            yield _malformed(
                number,
                f"Row {number} (line {self.line}) cannot be read: {error}.",
                f"第 {number} 行（文件第 {self.line} 行）无法解析：{error}。",
                "",
            )

    def _check(self, row: list[str], number: int) -> list[str] | RowError | None:
        """A row off the fast path: blank (``None``), fixed up, or a MALFORMED error."""
        if not any(cell.strip() for cell in row):
            return None
        width = len(self.headers)
        if self._source.check_rows and any("\x00" in cell for cell in row):
            return _malformed(
                number,
                f"Row {number} (line {self.line}) contains a NUL character; the file may be "
                "binary or saved in another encoding.",
                f"第 {number} 行（文件第 {self.line} 行）包含 NUL 字符；"
                "文件可能是二进制文件或使用了其他编码。",
                self.delimiter.join(row).replace("\x00", "\\0"),
            )
        if len(row) > width:
            extra = sum(1 for cell in row[width:] if cell.strip())
            if extra:
                return _malformed(
                    number,
                    f"Row {number} (line {self.line}) has {len(row)} cells but the header has "
                    f"{width} columns ({extra} non-empty cells beyond the last column).",
                    f"第 {number} 行（文件第 {self.line} 行）有 {len(row)} 个单元格，"
                    f"但表头只有 {width} 列（最后一列之后有 {extra} 个非空单元格）。",
                    self.delimiter.join(row),
                )
            return row[:width]
        if len(row) < width:
            return row + [""] * (width - len(row))
        return row

    def _encoding_error(
        self, exc: UnicodeDecodeError, *, lines_done: int, next_row: int | None = None
    ) -> FileFormatError:
        # The text layer decodes a chunk at a time and only when it has no whole line left,
        # so the bad byte is on the line after those handed out, plus the newlines that
        # precede it in the chunk being decoded.
        newlines = exc.object[: exc.start].count(b"\n")
        line = lines_done + 1 + newlines
        if next_row is not None:
            next_row += newlines  # as if each of those lines were a row
        where_en = f"line {line}" + (f" (near data row {next_row})" if next_row else "")
        where_zh = f"文件第 {line} 行" + (f"（约第 {next_row} 行数据）" if next_row else "")
        return FileFormatError(
            "INVALID_ENCODING",
            f"The file was read as {self.encoding} but {where_en} holds bytes that are not "
            f"{self.encoding}. Save the file as UTF-8 (Excel: 'CSV UTF-8') and upload it again.",
            f"文件按 {self.encoding} 编码读取，但{where_zh}包含无法按该编码解码的字节。"
            "请将文件另存为 UTF-8 编码（Excel：“CSV UTF-8”）后重新上传。",
        )


# --- XLSX ---------------------------------------------------------------------------------


def _header_text(value: Cell) -> str:
    """A header cell as a name: Excel may hold a year or a date in a header cell."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _is_blank_cell(value: Cell) -> bool:
    return value == "" or (isinstance(value, str) and not value.strip())


class XlsxReader(RowReader):
    """A worksheet of an XLSX workbook (python-calamine also reads XLS, XLSB and ODS).

    The file is read whole (up to ``max_bytes``): a zip archive cannot be read as it
    streams. The sheet is ``sheet`` if named, else the first visible worksheet. The first
    non-empty row is the header; empty rows are skipped. Cells keep the types calamine gives
    (``str``, ``float``, ``bool``, ``date``, ``datetime``, ``time``, ``timedelta``) except
    that a whole number is an ``int`` (Excel stores every number as a float: the employee
    number 1001 arrives as 1001.0); an empty cell is ``""``, and so is an error cell such as
    ``#DIV/0!``. Short rows are padded and long ones checked as in CSV. The ``line`` in
    messages is the sheet's row number as Excel shows it.
    """

    def __init__(
        self,
        stream: ByteSource,
        *,
        sheet: str | None = None,
        max_bytes: int = DEFAULT_MAX_XLSX_BYTES,
    ) -> None:
        super().__init__()
        self.encoding = None
        data = io.BytesIO()
        while True:
            chunk = _read_chunk(stream, _BUFFER_BYTES)
            if not chunk:
                break
            data.write(chunk)
            if data.tell() > max_bytes:
                raise FileFormatError(
                    "FILE_TOO_LARGE",
                    f"The workbook is larger than {max_bytes // (1024 * 1024)} MB. "
                    "Split it, or save it as CSV, which has no size limit.",
                    f"工作簿超过 {max_bytes // (1024 * 1024)} MB。请拆分文件，"
                    "或另存为不受大小限制的 CSV 文件。",
                )
        self._size = data.tell()
        if not self._size:
            raise _empty_file()
        data.seek(0)
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(data)
            self.sheet_names = list(workbook.sheet_names)
            self.sheet = sheet if sheet is not None else self._default_sheet(workbook)
            worksheet = workbook.get_sheet_by_name(self.sheet)
        except python_calamine.PasswordError as exc:
            raise FileFormatError(
                "XLSX_PASSWORD",
                "The workbook is protected by a password. Remove the password and upload it again.",
                "工作簿受密码保护。请取消密码后重新上传。",
            ) from exc
        except python_calamine.WorksheetNotFound as exc:
            names = ", ".join(f'"{name}"' for name in self.sheet_names)
            raise FileFormatError(
                "SHEET_NOT_FOUND",
                f'The workbook has no sheet "{sheet}"; its sheets are {names}.',
                f"工作簿中没有名为“{sheet}”的工作表；现有工作表：{names}。",
            ) from exc
        except python_calamine.CalamineError as exc:
            raise FileFormatError(
                "NOT_XLSX",
                f"The file is not an Excel workbook that can be read ({exc}).",
                f"该文件不是可读取的 Excel 工作簿（{exc}）。",
            ) from exc
        del data  # calamine holds what it still needs
        self._workbook = workbook  # kept alive for as long as its sheet is read
        # calamine yields the sheet's rows from the first row of the sheet, so the index of
        # a row is its Excel row number less one.
        self._iter = enumerate(worksheet.iter_rows(), start=1)
        for _line, row in self._iter:
            if not all(_is_blank_cell(cell) for cell in row):
                self.headers = _clean_headers([_header_text(cell) for cell in row])
                break
        else:
            raise FileFormatError(
                "EMPTY_FILE",
                f'The sheet "{self.sheet}" is empty: it has no header row and no data.',
                f"工作表“{self.sheet}”为空：没有表头行，也没有数据。",
            )

    @staticmethod
    def _default_sheet(workbook: python_calamine.CalamineWorkbook) -> str:
        # The first sheet a person sees on opening the file, not a hidden lookup sheet.
        for meta in workbook.sheets_metadata:
            if (
                meta.visible == python_calamine.SheetVisibleEnum.Visible
                and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
            ):
                return meta.name
        if not workbook.sheet_names:
            raise python_calamine.CalamineError("the workbook has no sheet")
        return workbook.sheet_names[0]

    @property
    def bytes_read(self) -> int:
        return self._size

    def _rows(self) -> Iterator[RawRow | RowError]:
        headers = self.headers
        width = len(headers)
        number = 0
        for line, raw in self._iter:
            if all(_is_blank_cell(cell) for cell in raw):
                continue
            number += 1
            row: list[Any] = [
                int(cell)
                if type(cell) is float and cell.is_integer() and abs(cell) < _MAX_EXACT_FLOAT
                else cell
                for cell in raw
            ]
            if len(row) > width:
                extra = sum(1 for cell in row[width:] if not _is_blank_cell(cell))
                if extra:
                    yield _malformed(
                        number,
                        f"Row {number} (sheet row {line}) has {extra} non-empty cells beyond "
                        f"the {width} columns of the header.",
                        f"第 {number} 行（工作表第 {line} 行）在表头的 {width} 列之外"
                        f"还有 {extra} 个非空单元格。",
                        ", ".join(str(cell) for cell in row),
                    )
                    continue
                del row[width:]
            elif len(row) < width:  # calamine gives full-width rows; kept should that change
                row.extend([""] * (width - len(row)))
            yield RawRow(number, dict(zip(headers, row, strict=True)))


# --- JSON Lines ---------------------------------------------------------------------------


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if value is None:
        return "null"
    return "a number"


class JsonlReader(RowReader):
    """A JSON Lines file: one JSON object per line, UTF-8 (a leading BOM is dropped).

    Blank lines are skipped. A line that is not a JSON object is a MALFORMED ``RowError``
    quoting it. ``cells`` of a row is the object itself: values keep their JSON types (a
    nested object stays a ``dict``), and a key the line lacks is absent, not ``""``.

    The headers cannot be the union of all keys without reading the whole file first, so
    they are the keys of the first object, in its order, and any key first met in a later
    object is appended when that row is read: ``headers`` grows during iteration and is
    complete once it ends. Keys are used as they are (not trimmed), being the keys of
    ``cells``. A file in which none of the first ``JSONL_MAX_LINES_BEFORE_OBJECT`` non-blank
    lines is an object fails with ``NO_HEADER``.
    """

    def __init__(self, stream: ByteSource) -> None:
        super().__init__()
        self.encoding = "utf-8"
        self.headers = []
        self._known: set[str] = set()
        self._source = _Source(stream, b"", watch_nul=False, max_line=None)
        self._buffer = io.BufferedReader(self._source, _BUFFER_BYTES)
        self._line = 0
        self._items = self._parse()
        # Read up to the first object, for the headers; what comes before it is replayed.
        self._pending: list[RawRow | RowError] = []
        for item in self._items:
            self._pending.append(item)
            if isinstance(item, RawRow):
                break
            if len(self._pending) >= JSONL_MAX_LINES_BEFORE_OBJECT:
                self._no_object()
        else:
            if self._pending:
                self._no_object()
            raise _empty_file()

    def _no_object(self) -> NoReturn:
        first = self._pending[0]
        assert isinstance(first, RowError)
        raise FileFormatError(
            "NO_HEADER",
            "No line of the file is a JSON object, so it has no field names "
            f"(the first line reads: {first.message}).",
            f"文件中没有任何一行是 JSON 对象，因此无法得到字段名（第一行：{first.message_zh}）。",
        )

    @property
    def bytes_read(self) -> int:
        return self._source.bytes_read

    def _rows(self) -> Iterator[RawRow | RowError]:
        pending, self._pending = self._pending, []
        yield from pending
        yield from self._items

    def _parse(self) -> Iterator[RawRow | RowError]:
        readline = self._buffer.readline
        headers = self.headers
        known = self._known
        number = 0
        while True:
            line = readline(JSONL_MAX_LINE_BYTES + 1)
            if not line:
                return
            self._line += 1
            if self._line == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            if len(line) > JSONL_MAX_LINE_BYTES and not line.endswith(b"\n"):
                while True:  # skip the rest of the line without holding it
                    rest = readline(_BUFFER_BYTES)
                    if not rest or rest.endswith(b"\n"):
                        break
                number += 1
                yield _malformed(
                    number,
                    f"Row {number} (line {self._line}) is longer than "
                    f"{JSONL_MAX_LINE_BYTES // (1024 * 1024)} MB.",
                    f"第 {number} 行（文件第 {self._line} 行）超过 "
                    f"{JSONL_MAX_LINE_BYTES // (1024 * 1024)} MB。",
                    line[:VALUE_MAX_CHARS].decode("utf-8", "replace"),
                )
                continue
            if not line.strip():
                continue
            number += 1
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                # exc.msg without orjson's "line 1 column n" (each line is its own document).
                detail = f"{exc.msg} (character {exc.pos + 1})"
                yield _malformed(
                    number,
                    f"Row {number} (line {self._line}) is not valid JSON: {detail}.",
                    f"第 {number} 行（文件第 {self._line} 行）不是有效的 JSON：{detail}。",
                    line.decode("utf-8", "replace").strip(),
                )
                continue
            if type(value) is not dict:
                yield _malformed(
                    number,
                    f"Row {number} (line {self._line}) is {_json_kind(value)}, not a JSON "
                    "object; each line must be one {...} object.",
                    f"第 {number} 行（文件第 {self._line} 行）不是 JSON 对象；"
                    "每行必须是一个 {...} 对象。",
                    line.decode("utf-8", "replace").strip(),
                )
                continue
            if not known.issuperset(value):
                for key in value:
                    if key not in known:
                        known.add(key)
                        headers.append(key)
            yield RawRow(number, value)
