"""Physical-line diagnostics for delimited text files (plain or gzip).

pandas parses a file in one vectorised pass but reports problems by row position, not by the
line a person opens in an editor. The helpers here re-read a file only after a problem has been
found, to turn a row position into a line number or to find the first line with a wrong number
of fields. Blank lines are skipped exactly as pandas skips them, so positions and lines agree.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, TextIO, Tuple, Union

PathLike = Union[str, Path]

# UTF-8 with an optional byte-order mark; undecodable bytes (a cp1252 dash in a label) become
# U+FFFD instead of aborting the read, and the taxonomy maps that to "-".
TEXT_ENCODING = "utf-8-sig"
TEXT_ERRORS = "replace"
_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: PathLike) -> bool:
    """True when the file is gzip-compressed (by content, whatever its name ends with)."""
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_text(path: PathLike) -> TextIO:
    """Open a plain or gzip text file for csv reading, with the encoding pandas is given too."""
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=TEXT_ENCODING, errors=TEXT_ERRORS, newline="")
    return open(path, encoding=TEXT_ENCODING, errors=TEXT_ERRORS, newline="")


def _is_blank(row: List[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


def iter_records(path: PathLike) -> Iterator[Tuple[int, List[str]]]:
    """Yield (physical line number, fields) of every non-blank line."""
    with open_text(path) as handle:
        reader = csv.reader(handle)
        for row in reader:
            if not _is_blank(row):
                yield reader.line_num, row


def first_record(path: PathLike) -> Optional[List[str]]:
    """The fields of the first non-blank line, or None for a file without one."""
    for _, row in iter_records(path):
        return row
    return None


def find_field_count_mismatch(path: PathLike, expected: int) -> Optional[Tuple[int, int]]:
    """The first (line number, number of fields) of a line that does not have ``expected`` fields."""
    for line, row in iter_records(path):
        if len(row) != expected:
            return line, len(row)
    return None


class LineLocator:
    """Maps 0-based record positions (as pandas numbers rows, header excluded) to physical lines.

    The file is scanned once, lazily and only as far as the largest position asked for.
    """

    def __init__(self, path: PathLike, header_records: int) -> None:
        self._path = path
        self._header_records = header_records
        self._lines: List[int] = []
        self._complete = False

    def _scan_to(self, position: int) -> None:
        if self._complete or position < len(self._lines):
            return
        self._lines = []
        skipped = 0
        for line, _ in iter_records(self._path):
            if skipped < self._header_records:
                skipped += 1
                continue
            self._lines.append(line)
            if len(self._lines) > position:
                return
        self._complete = True

    def lines_of(self, positions: Sequence[int]) -> List[int]:
        """Physical line numbers of the given record positions."""
        if not len(positions):
            return []
        self._scan_to(int(max(positions)))
        out = []
        for p in positions:
            if p >= len(self._lines):
                raise IndexError(f"{self._path} has no record at position {p}")
            out.append(self._lines[int(p)])
        return out

    def first_lines(self, positions_by_key: Dict[str, int]) -> Dict[str, int]:
        """For each key, the line of its (first) position."""
        keys = list(positions_by_key)
        lines = self.lines_of([positions_by_key[k] for k in keys])
        return dict(zip(keys, lines))
