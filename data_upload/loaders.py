"""Read the public intrusion-detection data sets into one validated table each.

Every loader returns a DataFrame with the data set's feature columns (schema.py, in file
order), ``attack_name`` (the label as written in the file, as a categorical) and
``traffic_class`` (its class under the chosen taxonomy, a Categorical that lists every class
even when the file has none of it). Columns that identify records or repeat the label (NSL-KDD's
difficulty, UNSW-NB15's ``id`` and binary ``label``, CIC flow ids, addresses and timestamps) are
checked where that is useful and then left out. ``frame.attrs["sources"]`` records, per file,
its rows and what was dropped.

Parsing is one vectorised ``pandas.read_csv`` per file. Only when a check fails is the file read
again (lines.py) to name the exact line, so a clean 500,000-line file costs one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from data_upload.errors import DataError
from data_upload.lines import (
    TEXT_ENCODING,
    TEXT_ERRORS,
    LineLocator,
    find_field_count_mismatch,
    first_record,
    is_gzip,
    iter_records,
)
from data_upload.schema import (
    ATTACK_NAME_COLUMN,
    CIC_IDS2017_COLUMNS,
    CLASS_COLUMN,
    CSE_CIC_IDS2018_COLUMNS,
    KDD_FEATURES,
    UNSW_NB15_COLUMNS,
    DatasetSchema,
    schema_for,
)
from data_upload.taxonomy import Taxonomy

PathLike = Union[str, Path]

NONFINITE_POLICIES: Tuple[str, ...] = ("error", "drop", "clip")
NO_SERVICE = "none"  # UNSW-NB15 writes "-" for "no application protocol detected"
_MAX_LISTED = 10


@dataclass(frozen=True)
class LoadOptions:
    """How labels are mapped and what happens to NaN/Infinity in numeric columns.

    ``nonfinite``: "error" (refuse, naming the first line), "drop" (drop those rows) or "clip"
    (+/-Infinity -> the column's largest/smallest finite value in the loaded table, NaN -> 0;
    in CIC-IDS2017/2018 NaN and Infinity in the rate columns come from flows of zero duration).
    """

    classes: str = "multi"
    httptunnel_class: str = "U2R"
    unknown_label: str = "error"
    nonfinite: str = "error"

    def __post_init__(self) -> None:
        if self.nonfinite not in NONFINITE_POLICIES:
            raise DataError(
                f"nonfinite policy '{self.nonfinite}' is not supported",
                hint=f"use one of {', '.join(NONFINITE_POLICIES)}",
            )

    def taxonomy(self, dataset: str) -> Taxonomy:
        """The label mapping these options describe for one data set."""
        return Taxonomy(dataset, self.classes, self.httptunnel_class, self.unknown_label)


@dataclass
class _FileTable:
    """One parsed file while it is being checked; the index is the record position in the file."""

    path: Path
    frame: pd.DataFrame
    locator: LineLocator
    repeated_header_rows_dropped: int = 0
    unknown_label_rows: int = 0
    unknown_label_rows_dropped: int = 0
    nonfinite_rows_dropped: int = 0

    def line_of(self, position: int) -> int:
        return self.locator.lines_of([int(position)])[0]

    def report(self, rows_read: int) -> Dict[str, Any]:
        """What happened to this file, as recorded in ``frame.attrs["sources"]`` and the manifest."""
        return {
            "file": str(self.path),
            "rows_read": rows_read,
            "repeated_header_rows_dropped": self.repeated_header_rows_dropped,
            "unknown_label_rows_dropped": self.unknown_label_rows_dropped,
            "nonfinite_rows_dropped": self.nonfinite_rows_dropped,
            "rows_kept": int(len(self.frame)),
        }


# ---------------------------------------------------------------- reading


def _stripped_text(values: pd.Series) -> pd.Series:
    """Values as strings without surrounding spaces, missing values kept missing.

    Works on the distinct values (pandas.factorize), so stripping 500,000 labels costs as much
    as stripping the 23 distinct ones.
    """
    codes, uniques = pd.factorize(values)
    stripped = np.asarray(pd.Index(uniques).astype(str).str.strip(), dtype=object)
    out = np.where(codes >= 0, stripped.take(np.maximum(codes, 0)) if len(stripped) else None, None)
    return pd.Series(out, index=values.index, dtype=object)


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DataError("file not found", file=path, hint=f"give the path of the {what} file (plain or .gz)")
    if not path.is_file():
        raise DataError("is not a file", file=path, hint=f"give the path of the {what} file (plain or .gz)")


def _read_csv(path: Path, header: Optional[int], expected_fields: int) -> pd.DataFrame:
    """One vectorised parse; a line with a wrong number of fields becomes a DataError naming it."""
    try:
        frame = pd.read_csv(
            path,
            header=header,
            compression="gzip" if is_gzip(path) else None,
            encoding=TEXT_ENCODING,
            encoding_errors=TEXT_ERRORS,
            low_memory=False,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=path, hint="check that the download completed") from None
    except pd.errors.ParserError as exc:  # a line with more fields than the first one
        raise _field_count_error(path, expected_fields, str(exc)) from None
    # pandas pads a line with too few fields with NaN: look for it when the last column has holes.
    if frame.shape[1] != expected_fields or (len(frame) and frame.iloc[:, -1].isna().any()):
        if frame.shape[1] != expected_fields or find_field_count_mismatch(path, expected_fields) is not None:
            raise _field_count_error(path, expected_fields, "")
    return frame


def _field_count_error(path: Path, expected: int, parser_message: str) -> DataError:
    """The error for a file with a wrong number of fields somewhere, located by a second pass."""
    mismatch = find_field_count_mismatch(path, expected)
    if mismatch is None:
        return DataError(
            f"could not be parsed as CSV ({parser_message.strip() or 'unknown reason'})",
            file=path,
            hint="check the file for unbalanced quotes",
        )
    line, count = mismatch
    return DataError(
        f"has {count} fields, expected {expected}",
        file=path,
        line=line,
        hint="repair or remove that line (a truncated download or a stray comma)",
    )


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_kdd_family(path: Path, dataset: str) -> _FileTable:
    """NSL-KDD (43 fields: 41 features, attack name, difficulty) and KDD Cup 99 (42 fields)."""
    title = schema_for(dataset).title
    _require_file(path, title)
    first = first_record(path)
    if first is None:
        raise DataError("the file has no data rows", file=path, hint=f"give a {title} file")
    if first[0].strip().lower().startswith("@relation"):
        raise DataError(
            "is an ARFF file", file=path, line=1, hint=f"use the .txt/.csv version of the {title} file"
        )
    if len(first) not in (42, 43):
        raise DataError(
            f"has {len(first)} fields, but {title} lines have 42 (41 features, attack name) "
            "or 43 (NSL-KDD: plus the difficulty level)",
            file=path,
            line=1,
            hint=f"check that this is a {title} file",
        )
    has_header = not _looks_numeric(first[0].strip())
    frame = _read_csv(path, header=0 if has_header else None, expected_fields=len(first))
    names = list(KDD_FEATURES) + [ATTACK_NAME_COLUMN] + (["difficulty"] if len(first) == 43 else [])
    frame.columns = names
    if "difficulty" in frame:
        frame = frame.drop(columns="difficulty")
    return _FileTable(path, frame, LineLocator(path, 1 if has_header else 0))


def _header_frame(path: Path, title: str) -> Tuple[pd.DataFrame, int]:
    """Parse a file whose first line is a header; return the frame and the header's line number."""
    _require_file(path, title)
    header = None
    for line, row in iter_records(path):
        header = (line, row)
        break
    if header is None:
        raise DataError("the file is empty", file=path, hint=f"give a {title} CSV file with its header line")
    frame = _read_csv(path, header=0, expected_fields=len(header[1]))
    return frame, header[0]


def _match_header(
    frame: pd.DataFrame, layout: Sequence[str], schema: DatasetSchema, path: Path, line: int
) -> pd.DataFrame:
    """Strip header names, keep the first of duplicated names and check the names against the layout."""
    known = set(layout) | set(schema.dropped)
    keep: List[int] = []
    names: List[str] = []
    for position, raw in enumerate(frame.columns):
        name = str(raw).replace("\ufeff", "").strip()
        base = name.rsplit(".", 1)[0]
        if name not in known and base in known and name[-1].isdigit():
            name = base  # pandas renamed a repeated header name "X" to "X.1"
        if name in names:
            continue  # CIC-IDS2017 has "Fwd Header Length" twice, with the same values
        keep.append(position)
        names.append(name)
    unexpected = [n for n in names if n not in known]
    if unexpected:
        raise DataError(
            f"unexpected column(s) {', '.join(repr(n) for n in unexpected[:_MAX_LISTED])}",
            file=path,
            line=line,
            hint=f"this loader reads the published {schema.title} layout; check that this is a {schema.title} file",
        )
    missing = [n for n in dict.fromkeys(layout) if n not in names]
    if missing:
        raise DataError(
            f"the header lacks column(s) {', '.join(repr(n) for n in missing[:_MAX_LISTED])}",
            file=path,
            line=line,
            hint=f"use the complete {schema.title} file with its original header",
        )
    frame = frame.iloc[:, keep]
    frame.columns = names
    return frame


def _read_header_file(path: Path, dataset: str, layout: Sequence[str]) -> _FileTable:
    schema = schema_for(dataset)
    frame, header_line = _header_frame(path, schema.title)
    frame = _match_header(frame, layout, schema, path, header_line)
    table = _FileTable(path, frame, LineLocator(path, 1))
    # Files concatenated from several exports repeat the header inside the data: drop those rows.
    label = frame[schema.label_column]
    repeated = (_stripped_text(label) == schema.label_column).to_numpy()
    if repeated.any():
        table.frame = frame.loc[~repeated].copy()
        table.repeated_header_rows_dropped = int(repeated.sum())
    return table


# ---------------------------------------------------------------- checks


def _coerce_numeric(table: _FileTable, columns: Sequence[str]) -> None:
    """Make numeric columns numeric; text that is not a number is an error naming line and column."""
    frame = table.frame
    for column in columns:
        values = frame[column]
        if is_numeric_dtype(values):
            continue
        converted = pd.to_numeric(values, errors="coerce")
        bad = converted.isna() & values.notna()
        if bad.any():
            position = bad.idxmax()
            raise DataError(
                f"{str(values.loc[position])!r} is not a number ({int(bad.sum())} such value(s) in this column)",
                file=table.path,
                line=table.line_of(position),
                column=column,
                hint="correct or remove the line; every column except the categorical ones must be numeric",
            )
        frame[column] = converted


def _clean_categorical(table: _FileTable, columns: Sequence[str], dataset: str) -> None:
    """Categorical columns as stripped strings; an empty value is an error naming the line."""
    frame = table.frame
    for column in columns:
        values = frame[column]
        missing = values.isna()
        if missing.any():
            raise DataError(
                "empty value in a categorical column",
                file=table.path,
                line=table.line_of(missing.idxmax()),
                column=column,
                hint="fill in the value or remove the line",
            )
        if is_numeric_dtype(values):  # CSE-CIC-IDS2018's protocol numbers
            values = values.astype(np.int64)
        text = _stripped_text(values)
        if dataset == "unsw-nb15" and column == "service":
            text = text.mask(text == "-", NO_SERVICE)
        frame[column] = text


def _nonfinite_rows(
    frame: pd.DataFrame, columns: Sequence[str]
) -> Tuple[np.ndarray, Optional[Tuple[int, str]]]:
    """Rows with NaN/Infinity in any numeric column, and the (position, column) met first."""
    bad_any = np.zeros(len(frame), dtype=bool)
    first: Optional[Tuple[int, str]] = None
    for column in columns:
        values = frame[column].to_numpy()
        if values.dtype.kind != "f":
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            if first is None or row < first[0]:
                first = (row, column)
            bad_any |= bad
    return bad_any, first


def _apply_nonfinite(table: _FileTable, columns: Sequence[str], policy: str) -> None:
    bad, first = _nonfinite_rows(table.frame, columns)
    if first is None or policy == "clip":
        return
    if policy == "drop":
        table.frame = table.frame.loc[~bad]
        table.nonfinite_rows_dropped = int(bad.sum())
        return
    row, column = first
    value = table.frame[column].iloc[row]
    shown = "an empty value or NaN" if np.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    raise DataError(
        f"{shown} in a numeric column ({int(bad.sum())} row(s) of this file have NaN or Infinity)",
        file=table.path,
        line=table.line_of(table.frame.index[row]),
        column=column,
        hint="load with nonfinite='drop' (CLI: --nonfinite drop) to drop such rows, or nonfinite='clip' "
        "to replace +/-Infinity by the column's finite max/min and NaN by 0",
    )


def _clip_nonfinite(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """+/-Infinity -> the column's finite max/min over the whole table; NaN -> 0."""
    for column in columns:
        values = frame[column].to_numpy()
        if values.dtype.kind != "f":
            continue
        finite = np.isfinite(values)
        if finite.all():
            continue
        top = values[finite].max() if finite.any() else 0.0
        bottom = values[finite].min() if finite.any() else 0.0
        frame[column] = np.where(
            np.isposinf(values), top, np.where(np.isneginf(values), bottom, np.nan_to_num(values))
        )


def _check_unique_ids(table: _FileTable, column: str) -> None:
    ids = table.frame[column]
    if ids.isna().any():
        line = table.line_of(ids.isna().idxmax())
        raise DataError(
            "empty record id", file=table.path, line=line, column=column, hint="every record needs an id"
        )
    duplicated = ids.duplicated(keep=False)
    if duplicated.any():
        value = ids[duplicated].iloc[0]
        positions = ids.index[(ids == value).to_numpy()][:2]
        first_line, second_line = table.locator.lines_of(list(positions))
        raise DataError(
            f"record id {value} appears again (first on line {first_line}); "
            f"{int(ids.duplicated().sum())} duplicate id(s) in this file",
            file=table.path,
            line=second_line,
            column=column,
            hint="each record needs its own id; was the file concatenated from two copies?",
        )


def _classify(table: _FileTable, taxonomy: Taxonomy, label_column: str) -> Dict[str, Tuple[Path, int]]:
    """Add the class column; return unknown names -> (file, first line) for the caller's policy."""
    frame = table.frame
    names = _stripped_text(frame[label_column])
    classes, unknown = taxonomy.classify(names)
    frame[ATTACK_NAME_COLUMN] = names.astype("category")
    frame[CLASS_COLUMN] = classes
    table.unknown_label_rows = int(unknown.sum())
    if not unknown.any() or taxonomy.unknown_label == "other":
        return {}
    shown = names[unknown].fillna("<empty>")
    first_positions = pd.Series(frame.index[unknown], index=shown.index).groupby(shown.to_numpy()).first()
    lines = table.locator.first_lines({str(k): int(v) for k, v in first_positions.items()})
    return {name: (table.path, line) for name, line in lines.items()}


def _raise_unknown(unknown: Dict[str, Tuple[Path, int]], taxonomy: Taxonomy) -> None:
    listed = sorted(unknown.items(), key=lambda item: (str(item[1][0]), item[1][1]))
    text = "; ".join(
        f"'{name}' ({path.name}, first on line {line})" for name, (path, line) in listed[:_MAX_LISTED]
    )
    more = f" and {len(listed) - _MAX_LISTED} more" if len(listed) > _MAX_LISTED else ""
    first_path, first_line = listed[0][1]
    raise DataError(
        f"{len(listed)} attack name(s) outside the {taxonomy.dataset} taxonomy: {text}{more}",
        file=first_path,
        line=first_line,
        hint="check that the file belongs to this data set, or load with unknown_label='drop' or 'other' "
        "(CLI: --unknown-label drop|other)",
    )


# ---------------------------------------------------------------- assembly


def _finish(
    tables: List[_FileTable],
    dataset: str,
    options: LoadOptions,
    label_column: str,
    check_file: Optional[Callable[[_FileTable], None]] = None,
) -> pd.DataFrame:
    """Run the shared checks on every file, apply the policies and concatenate."""
    schema = schema_for(dataset)
    taxonomy = options.taxonomy(dataset)
    unknown: Dict[str, Tuple[Path, int]] = {}
    rows_read = {}
    for table in tables:
        rows_read[table.path] = int(len(table.frame)) + table.repeated_header_rows_dropped
        if check_file is not None:
            check_file(table)
        if schema.id_column is not None:
            _check_unique_ids(table, schema.id_column)
        _coerce_numeric(table, schema.numeric)
        _clean_categorical(table, schema.categorical, dataset)
        for name, where in _classify(table, taxonomy, label_column).items():
            unknown.setdefault(name, where)
    if unknown and taxonomy.unknown_label == "error":
        _raise_unknown(unknown, taxonomy)
    for table in tables:
        if taxonomy.unknown_label == "drop" and table.unknown_label_rows:
            table.frame = table.frame.loc[table.frame[CLASS_COLUMN].notna().to_numpy()]
            table.unknown_label_rows_dropped = table.unknown_label_rows
        _apply_nonfinite(table, schema.numeric, options.nonfinite)
    columns = list(schema.features) + [ATTACK_NAME_COLUMN, CLASS_COLUMN]
    frames = [t.frame[columns] for t in tables]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    # concat of categoricals with different categories falls back to object: restore both.
    frame[ATTACK_NAME_COLUMN] = frame[ATTACK_NAME_COLUMN].astype("category")
    frame[CLASS_COLUMN] = pd.Categorical(frame[CLASS_COLUMN], categories=list(taxonomy.classes))
    if options.nonfinite == "clip":
        _clip_nonfinite(frame, schema.numeric)
    if frame.empty:
        where = tables[0].path if len(tables) == 1 else tables[0].path.parent
        raise DataError(
            "no rows are left to use (all were dropped by the unknown-label or nonfinite policy)",
            file=where,
            hint="check the file and the --unknown-label/--nonfinite options",
        )
    frame.attrs["dataset"] = dataset
    frame.attrs["taxonomy"] = taxonomy.describe()
    frame.attrs["sources"] = [t.report(rows_read[t.path]) for t in tables]
    return frame


def _require_rows(table: _FileTable) -> None:
    if table.frame.empty:
        raise DataError(
            "the file has no data rows", file=table.path, hint="check that the download completed"
        )


def load_nsl_kdd(
    path: PathLike,
    *,
    classes: str = "multi",
    httptunnel_class: str = "U2R",
    unknown_label: str = "error",
    nonfinite: str = "error",
) -> pd.DataFrame:
    """One NSL-KDD file (KDDTrain+, KDDTest+, the 20 % and -21 subsets), plain or .gz."""
    options = LoadOptions(
        classes=classes, httptunnel_class=httptunnel_class, unknown_label=unknown_label, nonfinite=nonfinite
    )
    table = _read_kdd_family(Path(path), "nsl-kdd")
    return _finish([table], "nsl-kdd", options, ATTACK_NAME_COLUMN, _require_rows)


def load_kddcup99(
    path: PathLike,
    *,
    classes: str = "multi",
    httptunnel_class: str = "U2R",
    unknown_label: str = "error",
    nonfinite: str = "error",
) -> pd.DataFrame:
    """One KDD Cup 99 file (full, 10 %, or the labelled test set "corrected"), with or without header."""
    options = LoadOptions(
        classes=classes, httptunnel_class=httptunnel_class, unknown_label=unknown_label, nonfinite=nonfinite
    )
    table = _read_kdd_family(Path(path), "kddcup99")
    return _finish([table], "kddcup99", options, ATTACK_NAME_COLUMN, _require_rows)


def _csv_files(folder: Path, title: str, patterns: Sequence[str]) -> List[Path]:
    if not folder.exists():
        raise DataError(
            "folder not found", file=folder, hint=f"give the folder that holds the {title} CSV files"
        )
    found = sorted({p for pattern in patterns for p in folder.glob(pattern) if p.is_file()})
    if not found:
        raise DataError(
            f"no {title} CSV files ({' or '.join(patterns)}) in this folder",
            file=folder,
            hint=f"give the folder that holds the {title} CSV files, or one file",
        )
    return found


def _unsw_fill_normal(table: _FileTable) -> None:
    """Some copies leave attack_cat empty for normal traffic (label 0): call it Normal."""
    _require_rows(table)
    frame = table.frame
    empty = _stripped_text(frame["attack_cat"]).fillna("") == ""
    if empty.any() and "label" in frame:
        normal = empty & (pd.to_numeric(frame["label"], errors="coerce") == 0)
        frame.loc[normal, "attack_cat"] = "Normal"


def load_unsw_nb15(
    path_or_folder: PathLike,
    *,
    classes: str = "multi",
    unknown_label: str = "error",
    nonfinite: str = "error",
) -> pd.DataFrame:
    """UNSW-NB15's training-set/testing-set CSVs: one file, or a folder with both (ids checked per file)."""
    options = LoadOptions(classes=classes, unknown_label=unknown_label, nonfinite=nonfinite)
    root = Path(path_or_folder)
    files = (
        _csv_files(root, "UNSW-NB15", ("*training-set.csv*", "*testing-set.csv*"))
        if root.is_dir()
        else [root]
    )
    files.sort(key=lambda p: "testing-set" in p.name)  # training set first
    tables = [_read_header_file(p, "unsw-nb15", UNSW_NB15_COLUMNS) for p in files]
    return _finish(tables, "unsw-nb15", options, "attack_cat", _unsw_fill_normal)


def _load_cic_folder(folder: PathLike, dataset: str, title: str, layout: Sequence[str],
                     options: LoadOptions) -> pd.DataFrame:
    """The per-day CSVs of a CIC folder (or one of them), concatenated; labels in ``Label``."""
    root = Path(folder)
    files = _csv_files(root, title, ("*.csv", "*.csv.gz")) if root.is_dir() else [root]
    tables = [_read_header_file(p, dataset, layout) for p in files]
    return _finish(tables, dataset, options, "Label", _require_rows)


def load_cic_ids2017(
    folder: PathLike,
    *,
    classes: str = "multi",
    unknown_label: str = "error",
    nonfinite: str = "error",
) -> pd.DataFrame:
    """CIC-IDS2017 MachineLearningCVE: the per-day CSVs of a folder (or one of them), concatenated."""
    options = LoadOptions(classes=classes, unknown_label=unknown_label, nonfinite=nonfinite)
    return _load_cic_folder(folder, "cic-ids2017", "CIC-IDS2017", CIC_IDS2017_COLUMNS, options)


def load_cse_cic_ids2018(
    folder: PathLike,
    *,
    classes: str = "multi",
    unknown_label: str = "error",
    nonfinite: str = "error",
) -> pd.DataFrame:
    """CSE-CIC-IDS2018 "Processed Traffic Data for ML": the per-day CSVs of a folder (or one of them)."""
    options = LoadOptions(classes=classes, unknown_label=unknown_label, nonfinite=nonfinite)
    return _load_cic_folder(folder, "cse-cic-ids2018", "CSE-CIC-IDS2018", CSE_CIC_IDS2018_COLUMNS, options)


_LOADERS: Mapping[str, Callable[..., pd.DataFrame]] = MappingProxyType(
    {
        "nsl-kdd": load_nsl_kdd,
        "kddcup99": load_kddcup99,
        "unsw-nb15": load_unsw_nb15,
        "cic-ids2017": load_cic_ids2017,
        "cse-cic-ids2018": load_cse_cic_ids2018,
    }
)


def load_dataset(dataset: str, path: PathLike, options: Optional[LoadOptions] = None) -> pd.DataFrame:
    """Load any supported data set by name (see schema.DATASETS)."""
    schema_for(dataset)  # a clear error for an unknown name
    options = options or LoadOptions()
    kwargs: Dict[str, Any] = {
        "classes": options.classes,
        "unknown_label": options.unknown_label,
        "nonfinite": options.nonfinite,
    }
    if dataset in ("nsl-kdd", "kddcup99"):
        kwargs["httptunnel_class"] = options.httptunnel_class
    return _LOADERS[dataset](path, **kwargs)
