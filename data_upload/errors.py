"""The one error type of the data layer: what is wrong, where (file, line, column or key), how to fix it.

A data set of 500,000 lines that fails with "could not convert string to float" costs an
afternoon; one that says "KDDTrain+.txt, line 8812, column 'src_bytes': 'abc' is not a number"
costs a minute. Every check in ``data_upload`` raises this error with as much of the location
as it knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

PathLike = Union[str, Path]


class DataError(ValueError):
    """Input data or data configuration that cannot be used, located as precisely as known.

    ``line`` is the 1-based physical line of the file (the header, when there is one, is line 1).
    ``column`` names a column of the table; ``key`` names a key of a YAML/JSON file
    (e.g. ``datasets.nsl-kdd.vertical.columns.B``).
    """

    def __init__(
        self,
        problem: str,
        *,
        file: Optional[PathLike] = None,
        line: Optional[int] = None,
        column: Optional[str] = None,
        key: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.line = int(line) if line is not None else None
        self.column = column
        self.key = key
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        text = f"{', '.join(where)}: {self.problem}" if where else self.problem
        if self.hint:
            text += f". To fix: {self.hint}"
        return text
