"""Tabular and structured data: CSV and JSON (standard library only), made into readable lines
that say what each value is, since a bare "36" is unfindable and "age: 36" is not."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from memwise.knowledge.document import LoadedDocument, Section
from memwise.knowledge.loaders.common import decode_text, fail, one_line

#: Data rows per CSV section ("rows 2-51": the header is row 1, as a spreadsheet numbers them).
CSV_ROWS_PER_SECTION = 50
#: A JSON object or array whose lines fit in this many characters is one section; a bigger one is
#: split into its members (each located by its JSON path).
JSON_SECTION_CHARS = 1_000
_SNIFF_CHARS = 64 * 1024
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def load_csv(data: bytes, name: str) -> LoadedDocument:
    """Each data row as "column: value; column: value" (empty cells left out). The first row is
    always the header: csv.Sniffer's header guess is wrong for all-text tables. The delimiter is
    sniffed among , ; tab | (when the sniffer gives up, the one the header line has most of; a comma
    if it has none)."""
    text = decode_text(data, name)
    sample = text[:_SNIFF_CHARS]
    sample = sample[:sample.rfind("\n") + 1] or sample  # whole lines: a cut row misleads the sniffer
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:  # ragged rows defeat the sniffer: the header line's most frequent delimiter
        header_line = sample.split("\n", 1)[0]
        counts = {d: header_line.count(d) for d in ",;\t|"}
        best = max(counts, key=lambda d: counts[d])
        dialect = csv.excel if counts[best] == 0 else type("Sniffed", (csv.excel,), {"delimiter": best})
    sections: list[Section] = []
    try:
        rows = csv.reader(io.StringIO(text, newline=""), dialect)
        header = [one_line(cell) for cell in next(rows, [])]
        group: list[str] = []
        first = last = 0
        for number, row in enumerate(rows, start=2):
            if group and number - first >= CSV_ROWS_PER_SECTION:
                sections.append(_csv_section(group, first, last))
                group = []
            cells = [f"{_column(header, i)}: {one_line(value)}" for i, value in enumerate(row) if value.strip()]
            if cells:
                first = first if group else number
                last = number
                group.append("; ".join(cells))
        if group:
            sections.append(_csv_section(group, first, last))
    except csv.Error as exc:  # an oversized field, a NUL, a bad quote in strict dialects
        raise fail(name, f"not readable as CSV ({exc})") from exc
    if not sections:
        raise fail(name, "no data rows (a header at most)")
    return LoadedDocument(type="csv", sections=tuple(sections))


def _csv_section(lines: list[str], first: int, last: int) -> Section:
    return Section(text="\n".join(lines), location=f"rows {first}-{last}" if last > first else f"row {first}")


def _column(header: list[str], index: int) -> str:
    name = header[index] if index < len(header) else ""
    return name if name and header.index(name) == index else f"column {index + 1}"


def load_json(data: bytes, name: str) -> LoadedDocument:
    """Every value as a "path: value" line ("$.items[3].name: Ada"). Small objects and arrays are
    one section located by their path; big ones are split into their members, recursively."""
    text = decode_text(data, name)
    try:
        value = json.loads(text)
        sections = _json_sections(value, "$")
    except json.JSONDecodeError as exc:
        raise fail(name, f"invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise fail(name, "nested too deeply to read") from exc
    if value in (None, "", [], {}):
        raise fail(name, f"no data (the JSON is {json.dumps(value)})")
    return LoadedDocument(type="json", sections=tuple(sections))


def _json_sections(value: Any, path: str) -> list[Section]:
    if isinstance(value, dict) and value:
        members = [(f"{path}.{k}" if _KEY.fullmatch(k) else f"{path}[{json.dumps(k, ensure_ascii=False)}]", v)
                   for k, v in value.items()]
    elif isinstance(value, list) and value:
        members = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    else:
        return [Section(text=f"{path}: {_scalar(value)}", location=path)]
    parts = [_json_sections(v, p) for p, v in members]
    if all(len(part) == 1 for part in parts):
        text = "\n".join(part[0].text for part in parts)
        if len(text) <= JSON_SECTION_CHARS:
            return [Section(text=text, location=path)]
    return [section for part in parts for section in part]


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return one_line(value)
    return json.dumps(value)
