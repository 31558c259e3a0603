"""Per-party preprocessing, fitted on training rows only, saved as JSON, applied to any later data.

In a vertical federation each organisation sees only its own columns, so each fits its own
``Preprocessor`` on its own training table; nothing here ever needs another party's columns.
Fitting only on training rows keeps test statistics out of the model: a test value above the
training maximum is scaled above 1, not squeezed into [0, 1].

What it does, in order: label-encode categorical columns (known categories -> 1..K in sorted
order, a category never seen in training -> ``UNSEEN_CATEGORY_CODE`` = 0); optionally keep the
top-k features by random-forest importance (only a party that holds labels can do this);
normalise numeric columns (min-max or z-score; a constant column gets scale 1, so it becomes 0
in training and shows any different later value as a non-zero difference); turn class names
into integer codes in the order of the class list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd

from data_upload.errors import DataError

PathLike = Union[str, Path]

NORMALIZATIONS = ("minmax", "zscore", "none")
UNSEEN_CATEGORY_CODE = 0
FORMAT = "fedids-preprocessor"
FORMAT_VERSION = 1
# Random-forest feature selection: enough trees and rows for a stable ranking, seconds not minutes.
SELECTION_TREES = 100
SELECTION_MAX_ROWS = 20000


def _missing_columns(frame: pd.DataFrame, columns: Sequence[str]) -> List[str]:
    return [c for c in columns if c not in frame.columns]


@dataclass
class Preprocessor:
    """The fitted state of one party's preprocessing; build it with ``Preprocessor.fit``.

    ``feature_columns``: the party's input features; ``selected_columns``: those kept, in input
    order; ``categories``: per categorical column the training categories (code = position + 1);
    ``scaling``: per kept numeric column ``{"offset": a, "scale": b}``, output = (x - a) / b;
    ``classes``: class names in code order when the party holds labels (``class_column`` in,
    ``label_column`` out); ``id_column`` is passed through unchanged.
    """

    feature_columns: List[str]
    categorical_columns: List[str]
    normalize: str
    categories: Dict[str, List[str]]
    scaling: Dict[str, Dict[str, float]]
    selected_columns: List[str]
    id_column: Optional[str] = None
    class_column: Optional[str] = None
    label_column: Optional[str] = None
    classes: Optional[List[str]] = None
    feature_selection: Optional[Dict[str, Any]] = field(default=None)

    # ------------------------------------------------------------ fitting

    @classmethod
    def fit(
        cls,
        train: pd.DataFrame,
        feature_columns: Sequence[str],
        categorical_columns: Sequence[str] = (),
        *,
        normalize: str = "minmax",
        id_column: Optional[str] = None,
        class_column: Optional[str] = None,
        label_column: Optional[str] = None,
        classes: Optional[Sequence[str]] = None,
        select_top_k: Optional[int] = None,
        seed: int = 0,
    ) -> Preprocessor:
        """Fit on a party's training table. Labels are used only when ``class_column`` is given."""
        if normalize not in NORMALIZATIONS:
            raise DataError(
                f"normalisation '{normalize}' is not supported",
                hint=f"use one of {', '.join(NORMALIZATIONS)}",
            )
        missing = _missing_columns(train, feature_columns)
        if missing:
            raise DataError(f"the training table lacks feature column(s) {', '.join(missing)}")
        if train.empty:
            raise DataError(
                "the training table is empty", hint="a party needs training rows to fit its preprocessing"
            )
        categorical = [c for c in feature_columns if c in set(categorical_columns)]
        categories = {c: sorted(pd.unique(train[c].astype(str)).tolist()) for c in categorical}
        has_labels = class_column is not None
        if has_labels and (classes is None or label_column is None):
            raise DataError("fitting with labels needs the class list and the output label column name")
        if has_labels and class_column not in train.columns:
            raise DataError(f"the training table lacks the class column '{class_column}'")
        prep = cls(
            feature_columns=list(feature_columns),
            categorical_columns=categorical,
            normalize=normalize,
            categories=categories,
            scaling={},
            selected_columns=list(feature_columns),
            id_column=id_column,
            class_column=class_column if has_labels else None,
            label_column=label_column if has_labels else None,
            classes=list(classes) if has_labels and classes is not None else None,
        )
        encoded = prep._encode(train, prep.feature_columns)
        if select_top_k is not None:
            prep._select(encoded, train, select_top_k, seed)
        for column in prep.selected_columns:
            if column in categories:
                continue
            values = encoded[column].to_numpy(dtype=np.float64)
            if not np.isfinite(values).all():
                raise DataError(
                    "NaN or Infinity in a training column",
                    column=column,
                    hint="load the data with nonfinite='drop' or 'clip' (CLI: --nonfinite)",
                )
            prep.scaling[column] = _fit_scaling(values, normalize)
        return prep

    def _select(self, encoded: pd.DataFrame, train: pd.DataFrame, k: int, seed: int) -> None:
        if self.class_column is None:
            raise DataError(
                "feature selection by random-forest importance needs labels, and this party holds none",
                hint="select features only at the party that holds the labels",
            )
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise DataError(f"select_top_k must be a positive integer, got {k!r}")
        from sklearn.ensemble import RandomForestClassifier  # imported here: only this option needs it

        y = self.encode_labels(train[self.class_column])
        x = encoded[self.feature_columns].to_numpy(dtype=np.float64)
        rng = np.random.default_rng(seed)
        if len(x) > SELECTION_MAX_ROWS:
            rows = np.sort(rng.choice(len(x), SELECTION_MAX_ROWS, replace=False))
            x, y = x[rows], y[rows]
        forest = RandomForestClassifier(n_estimators=SELECTION_TREES, random_state=seed, n_jobs=1)
        forest.fit(x, y)
        importance = forest.feature_importances_
        # highest importance first; ties keep the input order
        order = np.argsort(-importance, kind="stable")[: min(k, len(self.feature_columns))]
        keep = set(np.asarray(self.feature_columns)[order].tolist())
        self.selected_columns = [c for c in self.feature_columns if c in keep]
        self.feature_selection = {
            "method": "random_forest_importance",
            "top_k": k,
            "seed": seed,
            "trees": SELECTION_TREES,
            "rows_used": int(len(x)),
            "importance": {c: float(v) for c, v in zip(self.feature_columns, importance)},
        }

    # ------------------------------------------------------------ applying

    def _encode(self, frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        """The given feature columns with categorical ones as codes (vectorised per column)."""
        out = frame[list(columns)].copy()
        for column in columns:
            if column in self.categories:
                codes = pd.Index(self.categories[column]).get_indexer(out[column].astype(str))
                out[column] = np.where(codes >= 0, codes + 1, UNSEEN_CATEGORY_CODE).astype(np.int64)
        return out

    def encode_labels(self, names: pd.Series) -> np.ndarray:
        """Class names -> codes (position in ``classes``); a name outside the list is an error."""
        if self.classes is None:
            raise DataError("this preprocessor was fitted without labels")
        codes = pd.Index(self.classes).get_indexer(names.astype(str))
        if (codes < 0).any():
            unknown = sorted(set(names.astype(str)[codes < 0]))
            raise DataError(
                f"class(es) {', '.join(unknown)} are not in the fitted class list {self.classes}",
                hint="use the same taxonomy settings for training and later data",
            )
        return codes.astype(np.int64)

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Apply the fitted steps: id (if any), the selected features, then the label codes (if any)."""
        missing = _missing_columns(frame, self.selected_columns)
        if missing:
            raise DataError(
                f"the table lacks column(s) {', '.join(missing)} that this preprocessor was fitted on",
                hint="apply a party's preprocessor to that party's own columns",
            )
        encoded = self._encode(frame, self.selected_columns)
        for column, params in self.scaling.items():
            encoded[column] = (encoded[column].to_numpy(dtype=np.float64) - params["offset"]) / params[
                "scale"
            ]
        parts = []
        if self.id_column is not None and self.id_column in frame.columns:
            parts.append(frame[[self.id_column]])
        parts.append(encoded)
        out = pd.concat(parts, axis=1)
        if self.class_column is not None and self.class_column in frame.columns:
            out[self.label_column] = self.encode_labels(frame[self.class_column])
        return out

    @property
    def output_columns(self) -> List[str]:
        """Columns of ``transform``'s result, without the id column."""
        return self.selected_columns + ([self.label_column] if self.label_column else [])

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> Dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "id_column": self.id_column,
            "feature_columns": self.feature_columns,
            "categorical_columns": self.categorical_columns,
            "categories": self.categories,
            "unseen_category_code": UNSEEN_CATEGORY_CODE,
            "normalize": self.normalize,
            "scaling": self.scaling,
            "selected_columns": self.selected_columns,
            "feature_selection": self.feature_selection,
            "class_column": self.class_column,
            "label_column": self.label_column,
            "classes": self.classes,
        }

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<memory>") -> Preprocessor:
        def fail(key: str, problem: str) -> DataError:
            return DataError(
                problem, file=source, key=key, hint="re-create the file with `fedids data prepare`"
            )

        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise fail("format", f"is not a FedIDS preprocessor (expected format '{FORMAT}')")
        if raw.get("format_version") != FORMAT_VERSION:
            raise fail("format_version", f"version {raw.get('format_version')!r} is not supported")
        if raw.get("unseen_category_code") != UNSEEN_CATEGORY_CODE:
            raise fail("unseen_category_code", f"must be {UNSEEN_CATEGORY_CODE}")
        for key in ("feature_columns", "categorical_columns", "selected_columns"):
            if not isinstance(raw.get(key), list) or not all(isinstance(c, str) for c in raw[key]):
                raise fail(key, "must be a list of column names")
        if raw.get("normalize") not in NORMALIZATIONS:
            raise fail("normalize", f"must be one of {', '.join(NORMALIZATIONS)}")
        categories = raw.get("categories")
        if not isinstance(categories, dict) or set(categories) != set(raw["categorical_columns"]):
            raise fail("categories", "must list the categories of every categorical column")
        scaling = raw.get("scaling")
        if not isinstance(scaling, dict):
            raise fail("scaling", "must map numeric columns to {offset, scale}")
        for column in raw["selected_columns"]:
            if column in categories:
                continue
            params = scaling.get(column)
            if not isinstance(params, dict) or not all(
                isinstance(params.get(k), (int, float)) for k in ("offset", "scale")
            ):
                raise fail(f"scaling.{column}", "must be {offset: number, scale: number}")
            if params["scale"] == 0:
                raise fail(f"scaling.{column}.scale", "must not be 0")
        if raw.get("class_column") is not None and not isinstance(raw.get("classes"), list):
            raise fail("classes", "must list the class names when the preprocessor holds labels")
        return cls(
            feature_columns=list(raw["feature_columns"]),
            categorical_columns=list(raw["categorical_columns"]),
            normalize=raw["normalize"],
            categories={k: [str(v) for v in vals] for k, vals in categories.items()},
            scaling={
                k: {"offset": float(v["offset"]), "scale": float(v["scale"])} for k, v in scaling.items()
            },
            selected_columns=list(raw["selected_columns"]),
            id_column=raw.get("id_column"),
            class_column=raw.get("class_column"),
            label_column=raw.get("label_column"),
            classes=raw.get("classes"),
            feature_selection=raw.get("feature_selection"),
        )

    def save(self, path: PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: PathLike) -> Preprocessor:
        path = Path(path)
        if not path.is_file():
            raise DataError(
                "file not found",
                file=path,
                hint="give the preprocessor JSON written by `fedids data prepare`",
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"is not valid JSON: {exc.msg}", file=path, line=exc.lineno) from exc
        return cls.from_dict(raw, str(path))


def _fit_scaling(values: np.ndarray, normalize: str) -> Dict[str, float]:
    if normalize == "minmax":
        offset = float(values.min())
        scale = float(values.max()) - offset
    elif normalize == "zscore":
        offset = float(values.mean())
        scale = float(values.std())
    else:
        offset, scale = 0.0, 1.0
    if not np.isfinite(scale) or scale == 0.0:
        scale = 1.0  # constant column: keep differences visible instead of dividing by zero
    return {"offset": offset, "scale": scale}
