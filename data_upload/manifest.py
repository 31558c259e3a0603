"""manifest.json: what a preparation wrote, per party and split, checked when it is read back.

The FATE upload, the pipelines and the tests all start from the manifest, never from guessing
file names: it says which party holds which file, how many rows and which columns it has, the
class counts where the table holds labels, and a SHA-256 per file. ``load_manifest`` validates
the whole shape, so a hand-edited or truncated manifest fails with the key at fault.

Shape (``file`` paths are relative to the manifest's folder)::

    {"format": "fedids-data-manifest", "format_version": 1,
     "dataset": str, "layout": "vertical"|"horizontal", "protocol": str,
     "id_column": str, "label_column": str, "classes": [str],   # label code = position
     "taxonomy": {...}, "seed": int, "sources": [...], "protocol_settings": {...},
     "preprocessing": {...}, "partition": {...},
     "expected_intersection": {"train": int, "test": int},      # vertical layout only
     "parties": {"A": {"role": "guest"|"host", "preprocessor": str, "categorical_columns": [str],
                       "splits": {"train": {"file": str, "rows": int, "columns": [str],
                                            "class_counts": {str: int} | null, "sha256": str},
                                  "test": {...}}}, ...}}
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Union

import numpy as np
import pandas as pd

from data_upload.errors import DataError
from data_upload.schema import DATASETS
from data_upload.partition import LAYOUTS, PROTOCOLS

PathLike = Union[str, Path]

MANIFEST_FORMAT = "fedids-data-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "test")
OPTIONAL_SPLITS = ("valid",)  # a validation split held out of train (fusion weights), when asked for
ROLES = ("guest", "host")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_of(path: PathLike) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def table_entry(
    file: str, table: pd.DataFrame, *, id_column: str, label_column: str, classes: Sequence[str], sha256: str
) -> Dict[str, Any]:
    """The manifest entry of one written table (``table`` as written, id column included)."""
    columns = [c for c in table.columns if c != id_column]
    counts = None
    if label_column in table.columns:
        per_code = np.bincount(table[label_column].to_numpy(dtype=np.int64), minlength=len(classes))
        counts = {name: int(n) for name, n in zip(classes, per_code)}
    return {
        "file": file,
        "rows": int(len(table)),
        "columns": columns,
        "class_counts": counts,
        "sha256": sha256,
    }


def write_manifest(manifest: Mapping[str, Any], folder: PathLike) -> Path:
    """Validate and write manifest.json into ``folder``; return its path."""
    path = Path(folder) / MANIFEST_NAME
    validate_manifest(manifest, str(path))
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def load_manifest(path: PathLike, verify_files: bool = False) -> Dict[str, Any]:
    """Read and validate a manifest (a manifest.json or the folder holding one).

    With ``verify_files`` every table file must exist next to it with the recorded SHA-256.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise DataError(
            "file not found", file=path, hint="run `fedids data prepare` first, or give its --out folder"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"is not valid JSON: {exc.msg}", file=path, line=exc.lineno) from exc
    manifest = validate_manifest(raw, str(path))
    if verify_files:
        for party, entry in manifest["parties"].items():
            for split, table in entry["splits"].items():
                key = f"parties.{party}.splits.{split}"
                file = path.parent / table["file"]
                if not file.is_file():
                    raise DataError(
                        f"names {table['file']}, which does not exist", file=path, key=f"{key}.file"
                    )
                if sha256_of(file) != table["sha256"]:
                    raise DataError(
                        f"{table['file']} has changed since it was prepared (SHA-256 differs)",
                        file=path,
                        key=f"{key}.sha256",
                        hint="prepare the data again with `fedids data prepare --force`",
                    )
    return manifest


class _Check:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> DataError:
        return DataError(problem, file=self.source, key=key, hint="re-create it with `fedids data prepare`")

    def get(self, mapping: Mapping[str, Any], name: str, prefix: str, kind: Any) -> Any:
        key = f"{prefix}.{name}" if prefix else name
        if not isinstance(mapping, Mapping) or name not in mapping:
            raise self.fail(key, "is missing")
        value = mapping[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(key, f"must be an integer, got {value!r}")
        if kind is not int and not isinstance(value, kind):
            raise self.fail(key, f"must be of type {getattr(kind, '__name__', kind)}, got {value!r}")
        return value

    def names(self, mapping: Mapping[str, Any], name: str, prefix: str) -> List[str]:
        key = f"{prefix}.{name}" if prefix else name
        value = self.get(mapping, name, prefix, list)
        if not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        if len(set(value)) != len(value):
            raise self.fail(key, "lists a name twice")
        return value


def _check_split(c: _Check, table: Any, key: str, manifest: Mapping[str, Any]) -> bool:
    """Check one split entry; return whether the table holds the label."""
    classes = manifest["classes"]
    file = c.get(table, "file", key, str)
    if Path(file).is_absolute() or ".." in Path(file).parts:
        raise c.fail(f"{key}.file", "must be a path relative to the manifest's folder")
    rows = c.get(table, "rows", key, int)
    if rows < 0:
        raise c.fail(f"{key}.rows", "must not be negative")
    columns = c.names(table, "columns", key)
    if manifest["id_column"] in columns:
        raise c.fail(f"{key}.columns", f"must not list the id column '{manifest['id_column']}'")
    sha = c.get(table, "sha256", key, str)
    if not _SHA256.match(sha):
        raise c.fail(f"{key}.sha256", "must be 64 lower-case hex digits")
    if "class_counts" not in table:
        raise c.fail(f"{key}.class_counts", "is missing (null for a table without labels)")
    counts = table["class_counts"]
    has_label = manifest["label_column"] in columns
    if counts is None:
        if has_label:
            raise c.fail(f"{key}.class_counts", "is null, but the table holds the label column")
        return False
    if not has_label:
        raise c.fail(f"{key}.class_counts", "is given, but the table has no label column")
    if not isinstance(counts, Mapping) or list(counts) != list(classes):
        raise c.fail(f"{key}.class_counts", "must map every class of 'classes', in order, to a count")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts.values()):
        raise c.fail(f"{key}.class_counts", "counts must be non-negative integers")
    if sum(counts.values()) != rows:
        raise c.fail(f"{key}.class_counts", f"sum to {sum(counts.values())}, but rows is {rows}")
    return True


def validate_manifest(raw: Any, source: str = "<memory>") -> Dict[str, Any]:
    """Check the shape and the cross-party rules (no label outside the guest in vertical layouts)."""
    c = _Check(source)
    if not isinstance(raw, Mapping):
        raise c.fail("<top>", "must be a JSON object")
    if c.get(raw, "format", "", str) != MANIFEST_FORMAT:
        raise c.fail("format", f"must be '{MANIFEST_FORMAT}'")
    if c.get(raw, "format_version", "", int) != MANIFEST_VERSION:
        raise c.fail(
            "format_version",
            f"version {raw['format_version']} is not supported (expected {MANIFEST_VERSION})",
        )
    for name, choices in (("dataset", DATASETS), ("layout", LAYOUTS), ("protocol", PROTOCOLS)):
        if c.get(raw, name, "", str) not in choices:
            raise c.fail(name, f"must be one of {', '.join(choices)}, got {raw[name]!r}")
    c.get(raw, "id_column", "", str)
    c.get(raw, "label_column", "", str)
    if not c.names(raw, "classes", ""):
        raise c.fail("classes", "must list at least one class")
    c.get(raw, "seed", "", int)
    for name in ("taxonomy", "preprocessing", "partition", "protocol_settings"):
        c.get(raw, name, "", Mapping)
    c.get(raw, "sources", "", list)
    parties = c.get(raw, "parties", "", Mapping)
    if not parties:
        raise c.fail("parties", "must hold at least one party")
    labelled: List[str] = []
    features: Dict[str, List[str]] = {}
    for party, entry in parties.items():
        key = f"parties.{party}"
        role = c.get(entry, "role", key, str)
        if role not in ROLES:
            raise c.fail(f"{key}.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        c.get(entry, "preprocessor", key, str)
        splits = c.get(entry, "splits", key, Mapping)
        names = [s for s in SPLITS if s in splits] + [s for s in OPTIONAL_SPLITS if s in splits]
        if sorted(splits) != sorted(names) or any(s not in splits for s in SPLITS):
            raise c.fail(f"{key}.splits", f"must hold {', '.join(SPLITS)} (and optionally {', '.join(OPTIONAL_SPLITS)})")
        holds = {split: _check_split(c, splits[split], f"{key}.splits.{split}", raw) for split in names}
        if len(set(holds.values())) > 1:
            raise c.fail(f"{key}.splits", f"{', '.join(names)} must all hold the label or all not")
        if holds["train"]:
            labelled.append(party)
        features[party] = [x for x in splits["train"]["columns"] if x != raw["label_column"]]
        for split in names[1:]:
            if features[party] != [x for x in splits[split]["columns"] if x != raw["label_column"]]:
                raise c.fail(f"{key}.splits.{split}.columns", "must be the same features as the train split")
    guests = [p for p, e in parties.items() if e["role"] == "guest"]
    if len(guests) != 1:
        raise c.fail("parties", f"must have exactly one guest, found {len(guests)}")
    if raw.get("weight_column") is not None:
        weight = c.get(raw, "weight_column", "", str)
        for party, names in features.items():
            if (weight in names) != (party == guests[0]):
                raise c.fail(f"parties.{party}.splits.train.columns",
                             f"the sample weight column '{weight}' belongs to the guest's tables, and only there")
    if raw["layout"] == "vertical":
        leaking = [p for p in labelled if p != guests[0]]
        if leaking:
            raise c.fail(f"parties.{leaking[0]}", "holds the label, but only the guest may (label leakage)")
        if guests[0] not in labelled:
            raise c.fail(f"parties.{guests[0]}", "is the guest but holds no label")
        seen: Dict[str, str] = {}
        for party, names in features.items():
            for name in names:
                if name in seen:
                    raise c.fail(
                        f"parties.{party}.splits.train.columns", f"'{name}' is held by {seen[name]} too"
                    )
                seen[name] = party
        intersection = c.get(raw, "expected_intersection", "", Mapping)
        for split in [s for s in (*SPLITS, *OPTIONAL_SPLITS) if s in intersection or s in SPLITS]:
            n = c.get(intersection, split, "expected_intersection", int)
            most = min(parties[p]["splits"][split]["rows"] for p in parties)
            if not 0 <= n <= most:
                raise c.fail(f"expected_intersection.{split}", f"must be between 0 and {most}, got {n}")
    else:
        unlabelled = [p for p in parties if p not in labelled]
        if unlabelled:
            raise c.fail(f"parties.{unlabelled[0]}", "holds no label, but every horizontal client must")
        first = next(iter(features))
        for party, names in features.items():
            if names != features[first]:
                raise c.fail(f"parties.{party}.splits.train.columns", f"differ from those of {first}")
    return dict(raw)
