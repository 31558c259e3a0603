"""Read and validate conf/data.yaml: per-data-set file names, column split, seeds and sizes.

A misspelt key in a YAML file is silently ignored by most loaders, and the run then uses a
default nobody chose. Here every key is known, every value is checked, and an error names the
key (e.g. ``datasets.nsl-kdd.vertical.columns.B``) and what to write instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import yaml

from data_upload.errors import DataError
from data_upload.partition import plan_vertical
from data_upload.preprocess import NORMALIZATIONS
from data_upload.schema import DATASETS, schema_for
from fedids.paths import conf_dir

PathLike = Union[str, Path]
_TOP_KEYS = ("defaults", "datasets")
_SETTING_KEYS = (
    "id_column",
    "label_column",
    "seed",
    "normalize",
    "test_fraction",
    "paper",
    "horizontal",
    "vertical",
)
_DATASET_ONLY_KEYS = ("folders", "official")
_NESTED_KEYS: Mapping[str, Tuple[str, ...]] = MappingProxyType(
    {
        "paper": ("subset_size",),
        "horizontal": ("clients", "dirichlet_alpha", "client_weights"),
        "vertical": ("guest", "drop_id_fraction", "columns", "ratios", "drop_columns"),
        "official": ("train", "test"),
    }
)


def default_config_path() -> Path:
    """conf/data.yaml of the project (or of $FEDIDS_CONF_DIR)."""
    return conf_dir() / "data.yaml"


@dataclass(frozen=True)
class VerticalSettings:
    """How features are split between parties: explicit ``columns`` per party, or ``ratios``."""

    guest: str
    drop_id_fraction: float
    columns: Optional[Dict[str, Tuple[str, ...]]]
    ratios: Optional[Dict[str, float]]
    drop_columns: Tuple[str, ...]
    key: str  # the YAML key of this section, for messages


@dataclass(frozen=True)
class DatasetSettings:
    """The effective settings of one data set (defaults with its overrides applied)."""

    dataset: str
    folders: Tuple[str, ...]
    official_train: Tuple[str, ...]
    official_test: Tuple[str, ...]
    id_column: str
    label_column: str
    seed: int
    normalize: str
    test_fraction: float
    paper_subset_size: int
    clients: int
    dirichlet_alpha: Optional[float]
    client_weights: Optional[Tuple[float, ...]]
    vertical: VerticalSettings


@dataclass(frozen=True)
class DataConfig:
    """The validated content of data.yaml."""

    source: str
    datasets: Dict[str, DatasetSettings]

    def settings(self, dataset: str) -> DatasetSettings:
        schema_for(dataset)
        if dataset not in self.datasets:
            raise DataError(
                f"has no settings for data set '{dataset}'",
                file=self.source,
                key=f"datasets.{dataset}",
                hint="add a section for it (see conf/data.yaml in the repository)",
            )
        return self.datasets[dataset]


class _Reader:
    """Typed access to one YAML mapping, with errors that name the full key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str, hint: Optional[str] = None) -> DataError:
        return DataError(problem, file=self.source, key=key, hint=hint)

    def mapping(self, value: Any, key: str, allowed: Tuple[str, ...]) -> Dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping with keys {', '.join(allowed)}")
        for name in value:
            if str(name) not in allowed:
                raise self.fail(f"{key}.{name}", "unknown key", f"use one of {', '.join(allowed)}")
        return {str(k): v for k, v in value.items()}

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def strings(self, value: Any, key: str) -> Tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of names, got {value!r}")
        return tuple(self.string(v, f"{key}[{i}]") for i, v in enumerate(value))

    def integer(self, value: Any, key: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be an integer >= {minimum}, got {value!r}")
        return value

    def number(self, value: Any, key: str, low: float, high: float, low_open: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            ok = (low < value if low_open else low <= value) and value <= high
        if not ok:
            bound = "(" if low_open else "["
            raise self.fail(key, f"must be a number in {bound}{low}, {high}], got {value!r}")
        return float(value)

    def choice(self, value: Any, key: str, choices: Tuple[str, ...]) -> str:
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)


def _merged(defaults: Dict[str, Any], overrides: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(defaults)
    for key, value in overrides.items():
        if key in _NESTED_KEYS and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _vertical(
    r: _Reader, raw: Any, key: str, dataset: str, id_column: str, label_column: str
) -> VerticalSettings:
    v = r.mapping(raw, key, _NESTED_KEYS["vertical"])
    features = schema_for(dataset).features
    columns = None
    ratios = None
    if v.get("columns") is not None and v.get("ratios") is not None:
        raise r.fail(key, "gives both 'columns' and 'ratios'", "keep one of them")
    if v.get("columns") is not None:
        raw_columns = v["columns"]
        if not isinstance(raw_columns, Mapping) or not raw_columns:
            raise r.fail(f"{key}.columns", "must map party names to lists of feature columns")
        columns = {}
        for party, names in raw_columns.items():
            party_key = f"{key}.columns.{party}"
            listed = r.strings(names, party_key)
            unknown = [c for c in listed if c not in features]
            if unknown:
                raise r.fail(
                    party_key,
                    f"names column(s) {', '.join(repr(c) for c in unknown)} that {dataset} does not have",
                    "use feature names of data_upload/schema.py",
                )
            columns[str(party)] = listed
    elif v.get("ratios") is not None:
        raw_ratios = v["ratios"]
        if not isinstance(raw_ratios, Mapping) or not raw_ratios:
            raise r.fail(
                f"{key}.ratios", "must map party names to shares of the features, e.g. {A: 0.5, B: 0.5}"
            )
        ratios = {
            str(p): r.number(x, f"{key}.ratios.{p}", 0.0, 1.0, low_open=True) for p, x in raw_ratios.items()
        }
    else:
        raise r.fail(key, "needs 'columns' (a list per party) or 'ratios' (a share per party)")
    drop_columns = r.strings(v.get("drop_columns"), f"{key}.drop_columns")
    unknown = [c for c in drop_columns if c not in features]
    if unknown:
        raise r.fail(
            f"{key}.drop_columns",
            f"names column(s) {', '.join(repr(c) for c in unknown)} that {dataset} does not have",
        )
    settings = VerticalSettings(
        guest=r.string(v.get("guest"), f"{key}.guest"),
        drop_id_fraction=r.number(v.get("drop_id_fraction", 0.0), f"{key}.drop_id_fraction", 0.0, 0.99),
        columns=columns,
        ratios=ratios,
        drop_columns=drop_columns,
        key=key,
    )
    # overlaps, uncovered columns, label leakage: the same checks as at preparation time
    plan_vertical(
        features,
        guest=settings.guest,
        columns=columns,
        ratios=ratios,
        drop_columns=drop_columns,
        id_column=id_column,
        label_column=label_column,
        source=r.source,
        key=key,
    )
    return settings


def _dataset_settings(r: _Reader, dataset: str, defaults: Dict[str, Any], raw: Any) -> DatasetSettings:
    prefix = f"datasets.{dataset}"
    own = r.mapping(raw, prefix, _SETTING_KEYS + _DATASET_ONLY_KEYS)
    merged = _merged(defaults, {k: v for k, v in own.items() if k in _SETTING_KEYS})

    def where(name: str) -> str:
        return f"{prefix}.{name}" if name in own else f"defaults.{name}"

    id_column = r.string(merged.get("id_column"), where("id_column"))
    label_column = r.string(merged.get("label_column"), where("label_column"))
    official = own.get("official")
    if official is not None:
        official = r.mapping(official, f"{prefix}.official", _NESTED_KEYS["official"])
        if not official.get("train"):
            raise r.fail(f"{prefix}.official.train", "is missing", "list the training file name(s)")
    paper = r.mapping(merged.get("paper"), where("paper"), _NESTED_KEYS["paper"])
    horizontal = r.mapping(merged.get("horizontal"), where("horizontal"), _NESTED_KEYS["horizontal"])
    alpha = horizontal.get("dirichlet_alpha")
    weights = horizontal.get("client_weights")
    clients = r.integer(horizontal.get("clients", 3), f"{where('horizontal')}.clients", 1)
    if weights is not None:
        if not isinstance(weights, list) or len(weights) != clients:
            raise r.fail(
                f"{where('horizontal')}.client_weights", f"must be a list of {clients} positive numbers"
            )
        weights = tuple(
            r.number(w, f"{where('horizontal')}.client_weights[{i}]", 0.0, 1e12, low_open=True)
            for i, w in enumerate(weights)
        )
    return DatasetSettings(
        dataset=dataset,
        folders=r.strings(own.get("folders"), f"{prefix}.folders"),
        official_train=r.strings((official or {}).get("train"), f"{prefix}.official.train"),
        official_test=r.strings((official or {}).get("test"), f"{prefix}.official.test"),
        id_column=id_column,
        label_column=label_column,
        seed=r.integer(merged.get("seed"), where("seed"), 0),
        normalize=r.choice(merged.get("normalize"), where("normalize"), NORMALIZATIONS),
        test_fraction=r.number(merged.get("test_fraction"), where("test_fraction"), 0.0, 0.9, low_open=True),
        paper_subset_size=r.integer(paper.get("subset_size"), f"{where('paper')}.subset_size", 2),
        clients=clients,
        dirichlet_alpha=None
        if alpha is None
        else r.number(alpha, f"{where('horizontal')}.dirichlet_alpha", 0.0, 1e6, low_open=True),
        client_weights=weights,
        vertical=_vertical(r, merged.get("vertical"), where("vertical"), dataset, id_column, label_column),
    )


def parse_data_config(raw: Any, source: PathLike = "<memory>") -> DataConfig:
    """Validate the parsed YAML of data.yaml."""
    r = _Reader(str(source))
    top = r.mapping(raw, "<top>", _TOP_KEYS)
    defaults = r.mapping(top.get("defaults"), "defaults", _SETTING_KEYS)
    datasets_raw = top.get("datasets")
    if not isinstance(datasets_raw, Mapping) or not datasets_raw:
        raise r.fail("datasets", "must map data set names to their settings")
    datasets = {}
    for name, section in datasets_raw.items():
        if name not in DATASETS:
            raise r.fail(f"datasets.{name}", "unknown data set", f"use one of {', '.join(DATASETS)}")
        datasets[str(name)] = _dataset_settings(r, str(name), defaults, section)
    return DataConfig(source=str(source), datasets=datasets)


def load_data_config(path: Optional[PathLike] = None) -> DataConfig:
    """Read and validate data.yaml (default: conf/data.yaml)."""
    path = Path(path) if path is not None else default_config_path()
    if not path.is_file():
        raise DataError("file not found", file=path, hint="copy conf/data.yaml from the repository")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(
            f"is not valid YAML: {getattr(exc, 'problem', exc)}",
            file=path,
            line=mark.line + 1 if mark is not None else None,
            hint="fix the YAML syntax at that line",
        ) from exc
    return parse_data_config(raw, path)
