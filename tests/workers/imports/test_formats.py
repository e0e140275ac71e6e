"""Tests of the import file readers (workers.imports.formats): CSV, XLSX and JSON Lines.

No database: the readers only turn bytes into rows. XLSX fixtures are written by hand with
``zipfile`` (no XLSX writer is installed), the smallest workbook python-calamine reads.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from types import SimpleNamespace
from xml.sax.saxutils import escape

import pytest
import python_calamine

from domain.imports.fields import RawRow, RowError, RowErrorCode
from domain.imports.models import ImportFormat
from workers.imports import formats
from workers.imports.formats import (
    CsvReader,
    FileFormatError,
    RowReader,
    XlsxReader,
    open_reader,
)


@pytest.fixture(autouse=True)
def _application_running() -> None:
    """The readers need no database: this replaces the session's application fixture."""


class CountingStream:
    """A non-seekable stream like the decrypting one: ``read(n)`` only, with short reads
    (at most ``max_read`` bytes a call) and a count of the bytes handed out."""

    def __init__(self, data: bytes, max_read: int | None = None) -> None:
        self._data = io.BytesIO(data)
        self._max_read = max_read
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        if self._max_read is not None and (size < 0 or size > self._max_read):
            size = self._max_read
        data = self._data.read(size)
        self.bytes_read += len(data)
        return data


def read_all(
    fmt: ImportFormat,
    data: bytes,
    *,
    sheet: str | None = None,
    max_xlsx_bytes: int = formats.DEFAULT_MAX_XLSX_BYTES,
) -> tuple[RowReader, list[RawRow | RowError]]:
    reader = open_reader(fmt, CountingStream(data), sheet=sheet, max_xlsx_bytes=max_xlsx_bytes)
    return reader, list(reader)


def rows_of(items: list[RawRow | RowError]) -> list[RawRow]:
    return [item for item in items if isinstance(item, RawRow)]


def errors_of(items: list[RawRow | RowError]) -> list[RowError]:
    return [item for item in items if isinstance(item, RowError)]


def file_error(fmt: ImportFormat, data: bytes, *, sheet: str | None = None) -> FileFormatError:
    with pytest.raises(FileFormatError) as caught:
        read_all(fmt, data, sheet=sheet)
    return caught.value


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


# --- CSV: encodings --------------------------------------------------------------------------


def test_csv_utf8() -> None:
    data = "工号,姓名,部门\r\nE001,张三,研发\r\nE002,Li Si,\r\n".encode()
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.encoding == "utf-8"
    assert reader.headers == ["工号", "姓名", "部门"]
    assert items == [
        RawRow(1, {"工号": "E001", "姓名": "张三", "部门": "研发"}),
        RawRow(2, {"工号": "E002", "姓名": "Li Si", "部门": ""}),
    ]
    assert reader.bytes_read == len(data)


def test_csv_utf8_bom() -> None:
    data = "\ufeffname,email\nAda,ada@example.com\n".encode()
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.encoding == "utf-8-sig"
    assert reader.headers == ["name", "email"]
    assert items == [RawRow(1, {"name": "Ada", "email": "ada@example.com"})]


def test_csv_gbk_reads_as_gb18030() -> None:
    data = "姓名,部门,职级\n张三,研发中心,高级\n李四,人力资源部,初级\n".encode("gbk")
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.encoding == "gb18030"
    assert reader.headers == ["姓名", "部门", "职级"]
    assert [row.cells for row in rows_of(items)] == [
        {"姓名": "张三", "部门": "研发中心", "职级": "高级"},
        {"姓名": "李四", "部门": "人力资源部", "职级": "初级"},
    ]


def test_csv_gb18030_beyond_gbk() -> None:
    # U+20000 and U+4DAE are four-byte sequences in GB18030, outside GBK.
    text = "姓名,备注\n\U00020000明,䶮\n"
    reader, items = read_all(ImportFormat.CSV, text.encode("gb18030"))
    assert reader.encoding == "gb18030"
    assert items == [RawRow(1, {"姓名": "\U00020000明", "备注": "䶮"})]


@pytest.mark.parametrize(("codec", "expected"), [("utf-16", "utf-16"), ("utf-16-le", "utf-16-le")])
def test_csv_utf16(codec: str, expected: str) -> None:
    data = "name;city\nAda;北京\n".encode(codec)
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.encoding == expected
    assert reader.headers == ["name", "city"]
    assert items == [RawRow(1, {"name": "Ada", "city": "北京"})]


def test_csv_utf8_sequence_cut_by_the_sniff_boundary() -> None:
    # "张" is three bytes; place one across the end of the first megabyte.
    head = b"id,name\n"
    line = b"1," + b"x" * 61 + b"\n"
    filler = line * ((formats.SNIFF_BYTES - len(head)) // len(line) - 1)
    pad = b"2," + b"y" * (formats.SNIFF_BYTES - len(head) - len(filler) - 3)
    data = head + filler + pad + "张三\n3,李四\n".encode()
    assert len(head + filler + pad) == formats.SNIFF_BYTES - 1
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.encoding == "utf-8"
    rows = rows_of(items)
    assert rows[-2].cells["name"].endswith("张三")
    assert rows[-1].cells == {"id": "3", "name": "李四"}


def test_csv_invalid_bytes_after_the_sniff() -> None:
    head = b"id,name\n"
    body = b"".join(b"%07d,abcdefgh\n" % n for n in range(80_000))  # 1.36 MB, ASCII
    assert len(head + body) > formats.SNIFF_BYTES
    bad = "80000,张三\n".encode("gbk")  # GBK bytes in a file read as UTF-8
    data = head + body + bad + b"80001,ok\n"
    reader = open_reader(ImportFormat.CSV, CountingStream(data))
    assert reader.encoding == "utf-8"
    seen: list[RawRow | RowError] = []
    with pytest.raises(FileFormatError) as caught:
        seen.extend(reader)  # keeps what was yielded before the error
    # The text layer decodes a chunk at a time: the rows sharing the bad byte's chunk are
    # not handed out, the ones before are.
    assert 60_000 < len(seen) <= 80_000
    error = caught.value
    assert error.code == "INVALID_ENCODING"
    assert "line 80002" in error.message  # the header is line 1
    assert "data row 80001" in error.message
    assert "80002" in error.message_zh
    assert has_chinese(error.message_zh)


def test_csv_invalid_bytes_in_the_header_line() -> None:
    # Not UTF-8, and not GB18030 either (0xFF is no GB18030 lead byte).
    error = file_error(ImportFormat.CSV, b"name,\xff\xfe\xff\n1,2\n")
    assert error.code == "INVALID_ENCODING"
    assert "gb18030" in error.message


# --- CSV: structure --------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_csv_delimiters(delimiter: str) -> None:
    text = delimiter.join(["name", "dept", "note"]) + "\n"
    text += delimiter.join(["Ada", "R&D", '"a, b; c"']) + "\n"  # quoted: holds delimiters
    reader, items = read_all(ImportFormat.CSV, text.encode())
    assert isinstance(reader, CsvReader)
    assert reader.delimiter == delimiter
    assert items == [RawRow(1, {"name": "Ada", "dept": "R&D", "note": "a, b; c"})]


def test_csv_delimiter_ignores_quoted_header_text() -> None:
    data = b'"Name, full";"Dept, unit";x\nAda;R&D;1\n'
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.headers == ["Name, full", "Dept, unit", "x"]
    assert items == [RawRow(1, {"Name, full": "Ada", "Dept, unit": "R&D", "x": "1"})]


def test_csv_single_column() -> None:
    reader, items = read_all(ImportFormat.CSV, b"email\na@example.com\nb@example.com\n")
    assert reader.headers == ["email"]
    assert [row.cells["email"] for row in rows_of(items)] == ["a@example.com", "b@example.com"]


def test_csv_quoted_cells_with_newlines_and_quotes() -> None:
    data = b'id,comment,name\r\n1,"line one\r\nline two\nline three",Ada\r\n2,"say ""hi""",Bob\r\n'
    _, items = read_all(ImportFormat.CSV, data)
    assert items == [
        RawRow(1, {"id": "1", "comment": "line one\r\nline two\nline three", "name": "Ada"}),
        RawRow(2, {"id": "2", "comment": 'say "hi"', "name": "Bob"}),
    ]


def test_csv_short_rows_padded_and_empty_extra_cells_dropped() -> None:
    data = b"a,b,c,d\n1,2\n1,2,3,4,,\n1\n"
    _, items = read_all(ImportFormat.CSV, data)
    assert [row.cells for row in rows_of(items)] == [
        {"a": "1", "b": "2", "c": "", "d": ""},
        {"a": "1", "b": "2", "c": "3", "d": "4"},
        {"a": "1", "b": "", "c": "", "d": ""},
    ]
    assert not errors_of(items)


def test_csv_long_row_is_malformed() -> None:
    data = b"a,b\n1,2\n1,2,3,,4\n5,6\n"
    _, items = read_all(ImportFormat.CSV, data)
    assert items[0] == RawRow(1, {"a": "1", "b": "2"})
    error = items[1]
    assert isinstance(error, RowError)
    assert error.row == 2
    assert error.code is RowErrorCode.MALFORMED
    assert error.column == ""
    assert error.value == "1,2,3,,4"
    assert "line 3" in error.message
    assert "2 non-empty" in error.message
    assert has_chinese(error.message_zh)
    assert items[2] == RawRow(3, {"a": "5", "b": "6"})


def test_csv_long_row_value_is_truncated() -> None:
    data = b"a\n" + b"x," * 300 + b"\n"
    _, items = read_all(ImportFormat.CSV, data)
    (error,) = errors_of(items)
    assert len(error.value) == formats.VALUE_MAX_CHARS


def test_csv_blank_lines_are_not_rows() -> None:
    data = b"\r\n  \n,,\nname,dept\n\nAda,R&D\n,\n \t, \n\nBob,\n,Ops\n\n"
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.headers == ["name", "dept"]
    assert items == [
        RawRow(1, {"name": "Ada", "dept": "R&D"}),
        RawRow(2, {"name": "Bob", "dept": ""}),
        RawRow(3, {"name": "", "dept": "Ops"}),
    ]


def test_csv_header_cleaning() -> None:
    data = "\ufeff name ,,\u3000部门\u3000, \n1,2,3,4\n".encode()
    reader, items = read_all(ImportFormat.CSV, data)
    assert reader.headers == ["name", "column_2", "部门", "column_4"]
    assert items == [RawRow(1, {"name": "1", "column_2": "2", "部门": "3", "column_4": "4"})]


def test_csv_repeated_headers_are_numbered() -> None:
    reader = open_reader(
        ImportFormat.CSV, io.BytesIO(b"Labels,email,Labels ,Labels (2),Labels\n1,2,3,4,5\n")
    )
    assert reader.headers == ["Labels", "email", "Labels (3)", "Labels (2)", "Labels (4)"]
    assert next(iter(reader)) == RawRow(
        1, {"Labels": "1", "email": "2", "Labels (3)": "3", "Labels (2)": "4", "Labels (4)": "5"}
    )


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n,,,\n"])
def test_csv_empty_file(data: bytes) -> None:
    error = file_error(ImportFormat.CSV, data)
    assert error.code == "EMPTY_FILE"
    assert has_chinese(error.message_zh)


def test_csv_header_only() -> None:
    reader, items = read_all(ImportFormat.CSV, b"a,b\n")
    assert reader.headers == ["a", "b"]
    assert items == []


def test_csv_no_final_newline() -> None:
    _, items = read_all(ImportFormat.CSV, b"a,b\n1,2")
    assert items == [RawRow(1, {"a": "1", "b": "2"})]


def test_csv_huge_cell_is_a_row_error_and_reading_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(formats, "CSV_FIELD_LIMIT", 1000)
    data = b"a,b\n1,2\n3," + b"x" * 5000 + b"\n5,6\n"
    try:
        _, items = read_all(ImportFormat.CSV, data)
    finally:
        csv.field_size_limit(formats.CSV_FIELD_LIMIT)  # the limit is process-wide
    assert items[0] == RawRow(1, {"a": "1", "b": "2"})
    error = items[1]
    assert isinstance(error, RowError)
    assert error.row == 2
    assert error.code is RowErrorCode.MALFORMED
    assert "field larger than field limit" in error.message
    assert items[2] == RawRow(3, {"a": "5", "b": "6"})


def test_csv_nul_character_is_a_row_error() -> None:
    _, items = read_all(ImportFormat.CSV, b"a,b\n1,2\n3,x\x00y\n5,6\n")
    assert items[0] == RawRow(1, {"a": "1", "b": "2"})
    error = items[1]
    assert isinstance(error, RowError)
    assert (error.row, error.code) == (2, RowErrorCode.MALFORMED)
    assert "NUL" in error.message
    assert error.value == "3,x\\0y"
    assert items[2] == RawRow(3, {"a": "5", "b": "6"})


def test_csv_newline_free_file_fails_without_being_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "CSV_MAX_LINE_BYTES", 2 * 1024 * 1024)
    stream = CountingStream(b"a," + b"x" * (20 * 1024 * 1024))
    with pytest.raises(FileFormatError) as caught:
        open_reader(ImportFormat.CSV, stream)
    assert caught.value.code == "LINE_TOO_LONG"
    assert stream.bytes_read < 4 * 1024 * 1024


def test_csv_short_reads() -> None:
    # A stream that returns a few bytes at a time, cutting multi-byte sequences everywhere.
    text = "姓名,部门\n" + "".join(f"张{n},研发{n}\n" for n in range(2000))
    reader = open_reader(ImportFormat.CSV, CountingStream(text.encode(), max_read=7))
    rows = rows_of(list(reader))
    assert reader.encoding == "utf-8"
    assert len(rows) == 2000
    assert rows[-1] == RawRow(2000, {"姓名": "张1999", "部门": "研发1999"})


def test_csv_is_streamed() -> None:
    row = b"12345678,Firstname Lastname,someone@example.com,Engineering,123456,2024-01-31\n"
    data = b"id,name,email,dept,salary,start\n" + row * 400_000  # 30 MB
    stream = CountingStream(data)
    reader = open_reader(ImportFormat.CSV, stream)
    first = next(iter(reader))
    assert isinstance(first, RawRow)
    assert first.cells["email"] == "someone@example.com"
    # The sniffed megabyte and a buffer or two, not the file.
    assert stream.bytes_read < 2 * 1024 * 1024
    assert reader.bytes_read == stream.bytes_read
    assert len(data) > 10 * stream.bytes_read


def test_reader_is_read_once() -> None:
    reader = open_reader("csv", CountingStream(b"a\n1\n"))
    assert list(reader) == [RawRow(1, {"a": "1"})]
    with pytest.raises(RuntimeError):
        iter(reader)


# --- XLSX ----------------------------------------------------------------------------------

Sheet = tuple[str, str, bool]  # name, <sheetData> rows, hidden


def make_xlsx(sheets: list[Sheet], shared: list[str] | None = None) -> bytes:
    """A minimal workbook: content types, relationships, workbook, styles (style 1 is a
    date, style 2 a date and time), shared strings and the sheets."""
    shared = shared or []
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package_rel = "http://schemas.openxmlformats.org/package/2006/relationships"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        f'ContentType="{content_type}.worksheet+xml"/>'
        for n in range(1, len(sheets) + 1)
    )
    parts = {
        "[Content_Types].xml": (
            f'{head}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{content_type}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{content_type}.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{content_type}.sharedStrings+xml"/>{overrides}</Types>'
        ),
        "_rels/.rels": (
            f'{head}<Relationships xmlns="{package_rel}">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": (
            f'{head}<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            + "".join(
                f'<sheet name="{escape(name)}" sheetId="{n}"'
                + (' state="hidden"' if hidden else "")
                + f' r:id="rId{n}"/>'
                for n, (name, _, hidden) in enumerate(sheets, start=1)
            )
            + "</sheets></workbook>"
        ),
        "xl/_rels/workbook.xml.rels": (
            f'{head}<Relationships xmlns="{package_rel}">'
            + "".join(
                f'<Relationship Id="rId{n}" Type="{rel}/worksheet" '
                f'Target="worksheets/sheet{n}.xml"/>'
                for n in range(1, len(sheets) + 1)
            )
            + f'<Relationship Id="rId{len(sheets) + 1}" Type="{rel}/styles" Target="styles.xml"/>'
            + f'<Relationship Id="rId{len(sheets) + 2}" Type="{rel}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/styles.xml": (
            f'{head}<styleSheet xmlns="{main}">'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            '</cellStyleXfs><cellXfs count="3">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            "</cellXfs></styleSheet>"
        ),
        "xl/sharedStrings.xml": (
            f'{head}<sst xmlns="{main}" count="{len(shared)}" uniqueCount="{len(shared)}">'
            + "".join(f"<si><t>{escape(text)}</t></si>" for text in shared)
            + "</sst>"
        ),
    }
    for n, (_, rows, _) in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{n}.xml"] = (
            f'{head}<worksheet xmlns="{main}"><sheetData>{rows}</sheetData></worksheet>'
        )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def shared_cell(ref: str, index: int) -> str:
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'


def text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'


def number_cell(ref: str, value: float | int, style: int = 0) -> str:
    return f'<c r="{ref}" s="{style}"><v>{value}</v></c>'


def xml_row(number: int, *cells: str) -> str:
    return f'<row r="{number}">{"".join(cells)}</row>'


# Employees on a visible sheet after a hidden lookup sheet; the header is on row 2, row 4 is
# empty, D is a date (45292 = 2024-01-01), F5 has a date and time and G is a column without
# a header name.
EMPLOYEES = "".join(
    [
        xml_row(
            2,
            shared_cell("B2", 0),
            shared_cell("C2", 1),
            text_cell("D2", " 入职日期 "),
            shared_cell("E2", 2),
            text_cell("F2", "Rating"),
            text_cell("G2", ""),
        ),
        xml_row(
            3,
            number_cell("B3", 1001),
            text_cell("C3", "张三"),
            number_cell("D3", 45292, style=1),
            '<c r="E3" t="b"><v>1</v></c>',
            number_cell("F3", 4.5),
            text_cell("G3", "note"),
        ),
        xml_row(4, text_cell("C4", "  ")),
        xml_row(
            5,
            text_cell("B5", "E-1002"),
            shared_cell("C5", 3),
            '<c r="E5" t="b"><v>0</v></c>',
            number_cell("F5", 45292.5, style=2),
        ),
    ]
)


def employees_workbook() -> bytes:
    return make_xlsx(
        [
            ("Lookup", xml_row(1, text_cell("A1", "hidden")), True),
            ("员工", EMPLOYEES, False),
        ],
        shared=["工号", "姓名", "在职", "Li Si"],
    )


def test_xlsx_types_and_structure() -> None:
    reader, items = read_all(ImportFormat.XLSX, employees_workbook())
    assert isinstance(reader, XlsxReader)
    assert reader.encoding is None
    assert reader.sheet == "员工"  # the hidden sheet is skipped
    assert reader.sheet_names == ["Lookup", "员工"]
    assert reader.headers == ["工号", "姓名", "入职日期", "在职", "Rating", "column_6"]
    assert items == [
        RawRow(
            1,
            {
                "工号": 1001,
                "姓名": "张三",
                "入职日期": date(2024, 1, 1),
                "在职": True,
                "Rating": 4.5,
                "column_6": "note",
            },
        ),
        RawRow(
            2,
            {
                "工号": "E-1002",
                "姓名": "Li Si",
                "入职日期": "",
                "在职": False,
                "Rating": datetime(2024, 1, 1, 12, 0),
                "column_6": "",
            },
        ),
    ]
    first = items[0]
    assert isinstance(first, RawRow)
    assert type(first.cells["工号"]) is int  # 1001.0 in the file


def test_xlsx_sheet_by_name() -> None:
    reader, items = read_all(ImportFormat.XLSX, employees_workbook(), sheet="Lookup")
    assert reader.headers == ["hidden"]
    assert items == []


def test_xlsx_sheet_not_found() -> None:
    error = file_error(ImportFormat.XLSX, employees_workbook(), sheet="Nope")
    assert error.code == "SHEET_NOT_FOUND"
    assert '"Lookup", "员工"' in error.message
    assert has_chinese(error.message_zh)


def test_xlsx_cell_beyond_the_header_gets_a_column() -> None:
    # calamine gives every row the sheet's full width, the header row too: a cell right of
    # the last header name makes a column named column_<n>, as a blank CSV header does.
    rows = "".join(
        [
            xml_row(1, text_cell("A1", "a"), text_cell("B1", "b")),
            xml_row(2, number_cell("A2", 1), number_cell("B2", 2)),
            xml_row(3, number_cell("A3", 3), number_cell("B3", 4), number_cell("D3", 5)),
        ]
    )
    reader, items = read_all(ImportFormat.XLSX, make_xlsx([("S", rows, False)]))
    assert reader.headers == ["a", "b", "column_3", "column_4"]
    assert items == [
        RawRow(1, {"a": 1, "b": 2, "column_3": "", "column_4": ""}),
        RawRow(2, {"a": 3, "b": 4, "column_3": "", "column_4": 5}),
    ]


class FakeSheet:
    def __init__(self, rows: list[list[object]]) -> None:
        self._rows = rows

    def iter_rows(self) -> Iterator[list[object]]:
        return iter(self._rows)


class FakeWorkbook:
    """Stands for calamine's workbook, to give rows of uneven width (calamine never does)."""

    def __init__(self, rows: list[list[object]]) -> None:
        self._rows = rows
        self.sheet_names = ["S"]
        self.sheets_metadata = [
            python_calamine.SheetMetadata(
                "S",
                python_calamine.SheetTypeEnum.WorkSheet,
                python_calamine.SheetVisibleEnum.Visible,
            )
        ]

    def get_sheet_by_name(self, name: str) -> FakeSheet:
        assert name == "S"
        return FakeSheet(self._rows)


def test_xlsx_uneven_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[list[object]] = [["a", "b"], [1.0, 2.0, ""], [3.0], [5.0, 6.0, 7.5], ["x", "y"]]
    fake = SimpleNamespace(
        **{name: getattr(python_calamine, name) for name in python_calamine.__all__}
    )
    fake.CalamineWorkbook = SimpleNamespace(from_filelike=lambda _: FakeWorkbook(rows))
    monkeypatch.setattr(formats, "python_calamine", fake)
    reader, items = read_all(ImportFormat.XLSX, b"anything")
    assert reader.headers == ["a", "b"]
    assert items[:2] == [RawRow(1, {"a": 1, "b": 2}), RawRow(2, {"a": 3, "b": ""})]
    error = items[2]
    assert isinstance(error, RowError)
    assert (error.row, error.code, error.column) == (3, RowErrorCode.MALFORMED, "")
    assert "sheet row 4" in error.message
    assert "工作表第 4 行" in error.message_zh
    assert error.value == "5, 6, 7.5"
    assert items[3] == RawRow(4, {"a": "x", "b": "y"})


def test_xlsx_repeated_headers_are_numbered() -> None:
    rows = xml_row(1, text_cell("A1", "x"), text_cell("B1", "x "))
    reader = open_reader(ImportFormat.XLSX, io.BytesIO(make_xlsx([("S", rows, False)])))
    assert reader.headers == ["x", "x (2)"]


def test_xlsx_numeric_header() -> None:
    rows = xml_row(1, text_cell("A1", "name"), number_cell("B1", 2024), number_cell("C1", 1.5))
    reader, _ = read_all(ImportFormat.XLSX, make_xlsx([("S", rows, False)]))
    assert reader.headers == ["name", "2024", "1.5"]


def test_xlsx_empty_sheet() -> None:
    rows = xml_row(3, text_cell("B3", " "))
    error = file_error(ImportFormat.XLSX, make_xlsx([("S", rows, False)]))
    assert error.code == "EMPTY_FILE"
    assert '"S"' in error.message


@pytest.mark.parametrize(
    "data",
    [b"name,email\nAda,ada@example.com\n", b"PK\x03\x04 not really a zip", b"\x00" * 100],
)
def test_xlsx_not_a_workbook(data: bytes) -> None:
    error = file_error(ImportFormat.XLSX, data)
    assert error.code == "NOT_XLSX"
    assert has_chinese(error.message_zh)


def test_xlsx_truncated_workbook() -> None:
    data = employees_workbook()
    assert file_error(ImportFormat.XLSX, data[: len(data) // 2]).code == "NOT_XLSX"


def test_xlsx_empty_file() -> None:
    assert file_error(ImportFormat.XLSX, b"").code == "EMPTY_FILE"


def test_xlsx_size_limit() -> None:
    data = employees_workbook()
    stream = CountingStream(data + b"\x00" * 2_000_000)
    with pytest.raises(FileFormatError) as caught:
        open_reader(ImportFormat.XLSX, stream, max_xlsx_bytes=1_000_000)
    assert caught.value.code == "FILE_TOO_LARGE"
    assert stream.bytes_read < 1_500_000  # refused while reading, not after
    reader, items = read_all(ImportFormat.XLSX, data, max_xlsx_bytes=len(data))
    assert len(items) == 2
    assert reader.bytes_read == len(data)


# --- JSON Lines ----------------------------------------------------------------------------


def test_jsonl_types_blank_lines_and_new_keys() -> None:
    data = (
        b'{"id": "E1", "age": 30, "rate": 1.5, "active": true, "manager": null}\n'
        b"\n   \r\n"
        b'{"id": "E2", "tags": ["a", "b"], "address": {"city": "\xe5\x8c\x97\xe4\xba\xac"}}\r\n'
        b'{"age": 41, "id": "E3", "extra": ""}'
    )
    reader = open_reader(ImportFormat.JSONL, CountingStream(data))
    assert reader.encoding == "utf-8"
    assert reader.headers == ["id", "age", "rate", "active", "manager"]
    items = list(reader)
    assert items == [
        RawRow(1, {"id": "E1", "age": 30, "rate": 1.5, "active": True, "manager": None}),
        RawRow(2, {"id": "E2", "tags": ["a", "b"], "address": {"city": "北京"}}),
        RawRow(3, {"age": 41, "id": "E3", "extra": ""}),
    ]
    # Keys met later are appended in the order they appear.
    assert reader.headers == ["id", "age", "rate", "active", "manager", "tags", "address", "extra"]


def test_jsonl_bad_lines() -> None:
    long_text = "x" * 500
    data = (
        b'{"id": 1}\n'
        b'{"id": 2,\n'
        b"[1, 2]\n" + f'"{long_text}"\n'.encode() + b'{"id": 3}\n'
        b'{"id": "\xff"}\n'
    )
    _, items = read_all(ImportFormat.JSONL, data)
    assert items[0] == RawRow(1, {"id": 1})
    errors = errors_of(items)
    assert [error.row for error in errors] == [2, 3, 4, 6]
    assert all(error.code is RowErrorCode.MALFORMED and error.column == "" for error in errors)
    assert errors[0].value == '{"id": 2,'
    assert "not valid JSON" in errors[0].message
    assert "an array, not a JSON object" in errors[1].message
    assert has_chinese(errors[1].message_zh)
    assert len(errors[2].value) == formats.VALUE_MAX_CHARS
    assert "line 6" in errors[3].message
    assert items[4] == RawRow(5, {"id": 3})


def test_jsonl_bom_and_bad_lines_before_the_first_object() -> None:
    data = b"\xef\xbb\xbf\nnot json\n" + '{"姓名": "张三"}\n'.encode()
    reader = open_reader(ImportFormat.JSONL, CountingStream(data))
    assert reader.headers == ["姓名"]
    items = list(reader)
    assert isinstance(items[0], RowError)
    assert items[0].row == 1
    assert items[1] == RawRow(2, {"姓名": "张三"})


def test_jsonl_bom_on_the_first_object() -> None:
    data = '\ufeff{"a": 1}\n'.encode()
    reader, items = read_all(ImportFormat.JSONL, data)
    assert reader.headers == ["a"]
    assert items == [RawRow(1, {"a": 1})]


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf\n"])
def test_jsonl_empty(data: bytes) -> None:
    assert file_error(ImportFormat.JSONL, data).code == "EMPTY_FILE"


def test_jsonl_without_any_object() -> None:
    error = file_error(ImportFormat.JSONL, b"[1]\n2\n")
    assert error.code == "NO_HEADER"
    assert has_chinese(error.message_zh)


def test_jsonl_long_line_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formats, "JSONL_MAX_LINE_BYTES", 1000)
    data = b'{"a": 1}\n{"a": "' + b"x" * 2_000_000 + b'"}\n{"a": 3}\n'
    _, items = read_all(ImportFormat.JSONL, data)
    assert items[0] == RawRow(1, {"a": 1})
    error = items[1]
    assert isinstance(error, RowError)
    assert error.row == 2
    assert "longer than" in error.message
    assert items[2] == RawRow(3, {"a": 3})


def test_jsonl_is_streamed() -> None:
    data = b'{"id": 12345678, "name": "Firstname Lastname", "dept": "Engineering"}\n' * 300_000
    stream = CountingStream(data)
    reader = open_reader(ImportFormat.JSONL, stream)
    assert isinstance(next(iter(reader)), RawRow)
    assert stream.bytes_read < 1024 * 1024
    assert len(data) > 10 * stream.bytes_read
