"""``prepare``: from a public data set to one folder of party tables and a manifest, all or nothing.

Steps: find the files (sources.py) -> load and map labels (loaders.py) -> give every row an id
-> apply the protocol (official / split / paper) -> divide between parties (partition.py) ->
fit each party's preprocessing on its training rows and apply it (preprocess.py) -> write the
CSVs, the preprocessor JSONs and manifest.json into a temporary folder next to the target ->
move it into place. A failure at any step leaves the target as it was.

Output folder::

    manifest.json
    A/train.csv  A/test.csv  A/preprocessor.json
    B/...                                   # one folder per party that holds data
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from data_upload.config import DataConfig, DatasetSettings, load_data_config
from data_upload.errors import DataError
from data_upload.holdout import (HOLDOUT_IDS_FILE, SAMPLE_WEIGHT_COLUMN, HeldOut, choose_held_out_names,
                                 held_out_rows)
from data_upload.loaders import LoadOptions, load_dataset
from data_upload.manifest import MANIFEST_FORMAT, MANIFEST_VERSION, sha256_of, table_entry, write_manifest
from data_upload.partition import (
    LAYOUTS,
    PROTOCOLS,
    TrainTest,
    VerticalPlan,
    assign_ids,
    check_no_label_leak,
    client_names,
    draw_paper_subsets,
    drop_ids,
    intersection_size,
    partition_horizontal,
    plan_vertical,
    split_stratified,
    split_vertical,
)
from data_upload.preprocess import NORMALIZATIONS, UNSEEN_CATEGORY_CODE, Preprocessor
from data_upload.schema import ATTACK_NAME_COLUMN, CLASS_COLUMN, schema_for
from data_upload.sources import locate_sources
from data_upload.stratify import seeded_rng

PathLike = Union[str, Path]
FLOAT_FORMAT = "%.10g"  # 10 significant digits: exact enough for any model, half the size of repr
SPLIT_NAMES = ("train", "test", "valid")  # "valid" only with a validation fraction


class _Steps:
    """A rich progress bar over the preparation's steps, on stderr; nothing at all when disabled."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._progress: Optional[Progress] = None
        if enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
        self._total = total
        self._task: Any = None

    def __enter__(self) -> _Steps:
        if self._progress is not None:
            self._progress.__enter__()
            self._task = self._progress.add_task("preparing", total=self._total)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        if self._progress is not None:
            self._progress.update(self._task, description=description)
        yield
        if self._progress is not None:
            self._progress.advance(self._task)


def _out_dir_is_free(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError("exists and is not a folder", file=out_dir, hint="give a folder for --out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise DataError(
            "the output folder exists and is not empty",
            file=out_dir,
            hint="choose another --out, or pass --force to replace its content",
        )


def _publish(staging: Path, out_dir: Path, force: bool) -> None:
    """Move the finished staging folder to ``out_dir``; replace an old one only with ``force``."""
    _out_dir_is_free(out_dir, force)
    if not out_dir.is_dir():
        staging.rename(out_dir)
        return
    previous = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
    out_dir.rename(previous)
    try:
        staging.rename(out_dir)
    except BaseException:
        previous.rename(out_dir)  # put the old content back
        raise
    shutil.rmtree(previous, ignore_errors=True)


def _choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise DataError(f"{what} '{value}' is not supported", hint=f"use one of {', '.join(choices)}")


def _source_records(frame: pd.DataFrame, role: str) -> List[Dict[str, Any]]:
    """The manifest's record of the files a loaded table came from, with their SHA-256."""
    records = []
    for info in frame.attrs.get("sources", []):
        path = Path(info["file"]).resolve()
        records.append({"role": role, **info, "file": str(path), "sha256": sha256_of(path)})
    return records


@dataclass(frozen=True)
class _Run:
    """The effective settings of one preparation (arguments over conf/data.yaml)."""

    dataset: str
    layout: str
    protocol: str
    options: LoadOptions
    normalize: str
    select_top_k: Optional[int]
    seed: int
    test_fraction: float
    validation_fraction: float
    holdout_attack_fraction: float
    subset_size: int
    clients: List[str]
    dirichlet_alpha: Optional[float]
    client_weights: Optional[Tuple[float, ...]]
    drop_id_fraction: float
    id_column: str
    label_column: str
    plan: Optional[VerticalPlan]
    plan_source: Optional[str]

    @property
    def guest(self) -> str:
        return self.plan.guest if self.plan is not None else self.clients[0]

    @property
    def n_subsets(self) -> int:
        return len(self.clients) if self.layout == "horizontal" else 1


def _vertical_plan(
    settings: DatasetSettings,
    columns: Optional[Mapping[str, Sequence[str]]],
    ratios: Optional[Mapping[str, float]],
    drop_columns: Optional[Sequence[str]],
    config_source: str,
) -> Tuple[VerticalPlan, str]:
    """The column split: from the arguments when given, else from the config."""
    vertical = settings.vertical
    features = schema_for(settings.dataset).features
    common: Dict[str, Any] = dict(
        guest=vertical.guest, id_column=settings.id_column, label_column=settings.label_column
    )
    if columns is not None or ratios is not None:
        plan = plan_vertical(
            features,
            columns=columns,
            ratios=ratios,
            drop_columns=drop_columns or (),
            source="<arguments>",
            **common,
        )
        return plan, "arguments"
    plan = plan_vertical(
        features,
        columns=vertical.columns,
        ratios=vertical.ratios,
        drop_columns=vertical.drop_columns if drop_columns is None else drop_columns,
        source=config_source,
        key=vertical.key,
        **common,
    )
    return plan, f"{config_source}: {vertical.key}"


def _resolve(dataset: str, layout: str, protocol: str, cfg: DataConfig, args: Mapping[str, Any]) -> _Run:
    """Merge arguments with the config and refuse combinations that mean nothing."""
    _choice(layout, LAYOUTS, "layout")
    _choice(protocol, PROTOCOLS, "protocol")
    settings = cfg.settings(dataset)
    horizontal_args = [n for n in ("clients", "dirichlet_alpha", "client_weights") if args[n] is not None]
    vertical_args = [
        n for n in ("vertical_columns", "vertical_ratios", "drop_columns") if args[n] is not None
    ]
    if args["drop_id_fraction"]:
        vertical_args.append("drop_id_fraction")
    if layout == "vertical" and horizontal_args:
        raise DataError(
            f"{', '.join(horizontal_args)} apply to the horizontal layout",
            hint="drop them, or use --layout horizontal",
        )
    if layout == "horizontal" and vertical_args:
        raise DataError(
            f"{', '.join(vertical_args)} apply to the vertical layout (one sample set, features split; "
            "PSI between the parties)",
            hint="drop them, or use --layout vertical",
        )
    if (
        layout == "horizontal"
        and protocol == "paper"
        and ({"dirichlet_alpha", "client_weights"} & set(horizontal_args))
    ):
        raise DataError(
            "the paper protocol gives every client a stratified subset of the same size; "
            "a Dirichlet alpha or client weights apply to --protocol official or split",
            hint="drop them, or use --protocol split",
        )
    normalize = args["normalize"] or settings.normalize
    _choice(normalize, NORMALIZATIONS, "normalisation")
    test_fraction = settings.test_fraction if args["test_fraction"] is None else float(args["test_fraction"])
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"the test fraction must be between 0 and 1, got {test_fraction}")
    validation_fraction = float(args["validation_fraction"] or 0.0)
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"the validation fraction must be in [0, 1), got {validation_fraction}")
    if validation_fraction and protocol == "paper":
        raise DataError("the paper protocol has no validation split (its subsets are fixed in size)",
                        hint="use --protocol official or split for a validation split")
    holdout_fraction = float(args["holdout_attack_fraction"] or 0.0)
    if not 0.0 <= holdout_fraction < 1.0:
        raise DataError(f"the held-out attack fraction must be in [0, 1), got {holdout_fraction}")
    if holdout_fraction and not validation_fraction:
        raise DataError("held-out attack names go to the validation split, and there is none",
                        hint="give a validation fraction (e.g. 0.1) with the held-out attack fraction")
    alpha = settings.dirichlet_alpha if args["dirichlet_alpha"] is None else float(args["dirichlet_alpha"])
    weights = args["client_weights"]
    if weights is None and args["dirichlet_alpha"] is None:
        weights = settings.client_weights
    if layout == "horizontal" and protocol == "paper":
        alpha, weights = None, None  # config defaults for the other protocols do not apply
    if alpha is not None and weights is not None:
        raise DataError("client weights and a Dirichlet alpha exclude each other", hint="give one of them")
    n_clients = settings.clients if args["clients"] is None else int(args["clients"])
    if weights is not None and len(weights) != n_clients:
        raise DataError(
            f"{len(weights)} client weights given for {n_clients} clients", hint="give one weight per client"
        )
    select_top_k = args["select_top_k"]
    if select_top_k is not None and (
        isinstance(select_top_k, bool) or not isinstance(select_top_k, int) or select_top_k < 1
    ):
        raise DataError(f"select_top_k must be a positive integer, got {select_top_k!r}")
    plan, plan_source = (None, None)
    if layout == "vertical":
        plan, plan_source = _vertical_plan(
            settings, args["vertical_columns"], args["vertical_ratios"], args["drop_columns"], cfg.source
        )
    drop_fraction = (
        settings.vertical.drop_id_fraction if args["drop_id_fraction"] is None else args["drop_id_fraction"]
    )
    if not 0.0 <= float(drop_fraction) < 1.0:
        raise DataError(f"the drop-id fraction must be in [0, 1), got {drop_fraction}")
    options = LoadOptions(args["classes"], args["httptunnel_class"], args["unknown_label"], args["nonfinite"])
    options.taxonomy(dataset)  # checks the label options before any file is read
    return _Run(
        dataset=dataset,
        layout=layout,
        protocol=protocol,
        options=options,
        normalize=normalize,
        select_top_k=select_top_k,
        seed=settings.seed if args["seed"] is None else int(args["seed"]),
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        holdout_attack_fraction=holdout_fraction,
        subset_size=settings.paper_subset_size if args["subset_size"] is None else int(args["subset_size"]),
        clients=client_names(n_clients) if layout == "horizontal" else [],
        dirichlet_alpha=alpha if layout == "horizontal" else None,
        client_weights=tuple(weights) if weights is not None and layout == "horizontal" else None,
        drop_id_fraction=float(drop_fraction) if layout == "vertical" else 0.0,
        id_column=settings.id_column,
        label_column=settings.label_column,
        plan=plan,
        plan_source=plan_source,
    )


def prepare(
    dataset: str,
    data_dir: PathLike,
    layout: str,
    protocol: str,
    out_dir: PathLike,
    *,
    classes: str = "multi",
    httptunnel_class: str = "U2R",
    unknown_label: str = "error",
    nonfinite: str = "error",
    normalize: Optional[str] = None,
    select_top_k: Optional[int] = None,
    drop_id_fraction: Optional[float] = None,
    clients: Optional[int] = None,
    dirichlet_alpha: Optional[float] = None,
    client_weights: Optional[Sequence[float]] = None,
    subset_size: Optional[int] = None,
    test_fraction: Optional[float] = None,
    validation_fraction: float = 0.0,
    holdout_attack_fraction: float = 0.0,
    seed: Optional[int] = None,
    vertical_columns: Optional[Mapping[str, Sequence[str]]] = None,
    vertical_ratios: Optional[Mapping[str, float]] = None,
    drop_columns: Optional[Sequence[str]] = None,
    train_file: Optional[PathLike] = None,
    test_file: Optional[PathLike] = None,
    config: Union[DataConfig, PathLike, None] = None,
    force: bool = False,
    show_progress: bool = True,
) -> Dict[str, Any]:
    """Prepare party tables of ``dataset`` under ``out_dir`` and return the manifest written there.

    Options left at None take their value from conf/data.yaml (or ``config``). Layouts:
    "vertical" (parties share samples and split the features; label at the guest only) or
    "horizontal" (clients A, B, C, ... hold whole rows of their own samples). Protocols:
    "official", "split", "paper". ``holdout_attack_fraction`` (with a validation fraction): every
    record of that share of each attack class's names is held out of training
    (data_upload/holdout.py; listed in the manifest's ``holdout``): in the horizontal layout the
    records join the valid split, in the vertical layout the guest weighs them 0 (column
    ``sample_weight``). Raises DataError, naming file/line/column or key, for anything it cannot
    use; the output folder is then left as it was.
    """
    cfg = config if isinstance(config, DataConfig) else load_data_config(config)
    requested = dict(
        classes=classes,
        httptunnel_class=httptunnel_class,
        unknown_label=unknown_label,
        nonfinite=nonfinite,
        normalize=normalize,
        select_top_k=select_top_k,
        drop_id_fraction=drop_id_fraction,
        clients=clients,
        dirichlet_alpha=dirichlet_alpha,
        client_weights=client_weights,
        subset_size=subset_size,
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        holdout_attack_fraction=holdout_attack_fraction,
        seed=seed,
        vertical_columns=vertical_columns,
        vertical_ratios=vertical_ratios,
        drop_columns=drop_columns,
    )
    run = _resolve(dataset, layout, protocol, cfg, requested)
    out_dir = Path(out_dir)
    _out_dir_is_free(out_dir, force)
    sources = locate_sources(cfg.settings(dataset), data_dir, protocol, train_file, test_file)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(
        f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}"
    )  # same file system: rename is atomic
    staging.mkdir()
    try:
        with _Steps(show_progress, total=4 + (sources.test is not None)) as steps:
            with steps.step(f"loading {sources.train.name}"):
                train_pool = load_dataset(dataset, sources.train, run.options)
                source_records = _source_records(train_pool, "train")
            test_pool = train_pool.iloc[:0]
            if sources.test is not None:
                with steps.step(f"loading {sources.test.name}"):
                    test_pool = load_dataset(dataset, sources.test, run.options)
                    source_records += _source_records(test_pool, "test")
            with steps.step(f"{protocol} protocol, {layout} layout"):
                tables, intersection, holdout = _party_tables(run, train_pool, test_pool)
            with steps.step("fitting preprocessing on the training rows"):
                preprocessors = _fit_preprocessors(run, tables)
                outputs = {
                    party: {split: preprocessors[party].transform(frame) for split, frame in splits.items()}
                    for party, splits in tables.items()
                }
                if holdout is not None and run.layout == "vertical":
                    outputs[run.guest] = _with_sample_weights(run, outputs[run.guest], holdout)
                if run.layout == "vertical":
                    for split in [s for s in SPLIT_NAMES if s in tables[run.guest]]:
                        check_no_label_leak(
                            {party: outputs[party][split] for party in outputs},
                            run.guest,
                            [run.label_column, CLASS_COLUMN, ATTACK_NAME_COLUMN],
                        )
            with steps.step(f"writing {out_dir.name}"):
                parties = _write_parties(run, outputs, preprocessors, staging)
                manifest = _manifest(run, parties, preprocessors, source_records, intersection)
                if holdout is not None:
                    manifest["holdout"] = _write_holdout(run, holdout, outputs, staging)
                    if run.layout == "vertical":
                        manifest["weight_column"] = SAMPLE_WEIGHT_COLUMN
                write_manifest(manifest, staging)
                _publish(staging, out_dir, force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _party_tables(
    run: _Run, train_pool: pd.DataFrame, test_pool: pd.DataFrame
) -> Tuple[Dict[str, Dict[str, pd.DataFrame]], Optional[Dict[str, int]], Optional[HeldOut]]:
    """Ids, protocol and layout: each party's train and test table (features still raw), and the
    records of attack names held out of training (None without a holdout)."""
    train_pool, test_pool = assign_ids(train_pool, test_pool, run.id_column, seeded_rng(run.seed, "ids"))
    subsets: Optional[List[TrainTest]] = None
    if run.protocol == "official":
        train, test = train_pool, test_pool
    elif run.protocol == "split":
        train, test = split_stratified(train_pool, run.test_fraction, seeded_rng(run.seed, "split"))
    else:
        rng = seeded_rng(run.seed, "paper")
        subsets = draw_paper_subsets(train_pool, run.n_subsets, run.subset_size, run.test_fraction, rng)
        train, test = subsets[0]
    valid = None
    if run.validation_fraction:
        # drawn before the layout split, from ids only: a vertical and a horizontal preparation
        # of the same data and seed hold out the same records (fusion joins them by id)
        train, valid = split_stratified(train, run.validation_fraction, seeded_rng(run.seed, "validation"))
    holdout = None
    if run.holdout_attack_fraction:
        # after the random validation draw: its ids are those of the same preparation without a holdout
        names = choose_held_out_names(train, run.holdout_attack_fraction, seeded_rng(run.seed, "holdout"),
                                      run.options.taxonomy(run.dataset).normal_class)
        held = held_out_rows(train, names)
        holdout = HeldOut(names, train.loc[held, [run.id_column, ATTACK_NAME_COLUMN]].reset_index(drop=True))
        if run.layout == "horizontal":
            # clients hold labels, so which rows are held out is no secret among them: the records
            # join the valid split, partitioned among the clients like every valid record
            train, valid = train.loc[~held], pd.concat([valid, train.loc[held]])
        # vertical: every party keeps every row (a missing row would tell B it is an attack); the
        # guest weighs the held-out rows 0 in training (_with_sample_weights)
    if run.layout == "vertical":
        assert run.plan is not None
        return (*_vertical_tables(run, run.plan, train, test, valid), holdout)
    if subsets is not None:
        per_client = dict(zip(run.clients, subsets))
    else:
        per_client = partition_horizontal(
            train,
            test,
            run.clients,
            seeded_rng(run.seed, "horizontal"),
            dirichlet_alpha=run.dirichlet_alpha,
            client_weights=run.client_weights,
        )
    columns = [run.id_column, *schema_for(run.dataset).features, CLASS_COLUMN]
    tables = {c: {"train": tr[columns], "test": te[columns]} for c, (tr, te) in per_client.items()}
    if valid is not None:
        # each client holds out validation rows of its own distribution (same weights or skew)
        valid_parts = partition_horizontal(
            valid, valid, run.clients, seeded_rng(run.seed, "horizontal-valid"),
            dirichlet_alpha=run.dirichlet_alpha, client_weights=run.client_weights,
        )
        for client, (part, _) in valid_parts.items():
            tables[client]["valid"] = part[columns]
    return tables, None, holdout


def _vertical_tables(
    run: _Run, plan: VerticalPlan, train: pd.DataFrame, test: pd.DataFrame, valid: Optional[pd.DataFrame] = None
) -> Tuple[Dict[str, Dict[str, pd.DataFrame]], Dict[str, int]]:
    """Each party's columns of train and test (and valid), each party having dropped its share of ids."""
    tables: Dict[str, Dict[str, pd.DataFrame]] = {party: {} for party in plan.parties}
    intersection = {}
    splits = [("train", train), ("test", test)] + ([("valid", valid)] if valid is not None else [])
    for split, frame in splits:
        for party, table in split_vertical(frame, plan, run.id_column).items():
            rng = seeded_rng(run.seed, f"drop-ids/{party}/{split}")
            tables[party][split] = drop_ids(table, run.drop_id_fraction, rng)
        intersection[split] = intersection_size([tables[p][split] for p in plan.parties], run.id_column)
    return tables, intersection


def _fit_preprocessors(
    run: _Run, tables: Mapping[str, Mapping[str, pd.DataFrame]]
) -> Dict[str, Preprocessor]:
    """Vertical: one preprocessor per party, on its own columns and training rows (labels: guest only).

    Horizontal: one preprocessor fitted on the union of the clients' training rows and shared,
    because a federated model needs the same category codes and scales at every client.
    """
    categorical = schema_for(run.dataset).categorical
    classes = list(run.options.taxonomy(run.dataset).classes)

    def fit(train: pd.DataFrame, labelled: bool) -> Preprocessor:
        features = [c for c in train.columns if c not in (run.id_column, CLASS_COLUMN)]
        return Preprocessor.fit(
            train,
            features,
            [c for c in features if c in categorical],
            normalize=run.normalize,
            id_column=run.id_column,
            class_column=CLASS_COLUMN if labelled else None,
            label_column=run.label_column if labelled else None,
            classes=classes if labelled else None,
            select_top_k=run.select_top_k if labelled else None,
            seed=run.seed,
        )

    if run.layout == "vertical":
        return {party: fit(splits["train"], party == run.guest) for party, splits in tables.items()}
    shared = fit(pd.concat([splits["train"] for splits in tables.values()], ignore_index=True), True)
    return {party: shared for party in tables}


def _write_parties(
    run: _Run,
    outputs: Mapping[str, Mapping[str, pd.DataFrame]],
    preprocessors: Mapping[str, Preprocessor],
    staging: Path,
) -> Dict[str, Any]:
    """Write each party's CSVs and preprocessor JSON; return the manifest's ``parties`` section."""
    classes = list(run.options.taxonomy(run.dataset).classes)
    categorical = schema_for(run.dataset).categorical
    parties: Dict[str, Any] = {}
    for party, splits in outputs.items():
        (staging / party).mkdir()
        preprocessors[party].save(staging / party / "preprocessor.json")
        entries = {}
        for split, frame in splits.items():
            relative = f"{party}/{split}.csv"
            frame.to_csv(staging / relative, index=False, float_format=FLOAT_FORMAT)
            entries[split] = table_entry(
                relative,
                frame,
                id_column=run.id_column,
                label_column=run.label_column,
                classes=classes,
                sha256=sha256_of(staging / relative),
            )
        parties[party] = {
            "role": "guest" if party == run.guest else "host",
            "preprocessor": f"{party}/preprocessor.json",
            "categorical_columns": [c for c in preprocessors[party].selected_columns if c in categorical],
            "splits": entries,
        }
    return parties


def _with_sample_weights(run: _Run, splits: Mapping[str, pd.DataFrame], holdout: HeldOut) -> Dict[str, pd.DataFrame]:
    """The vertical guest's tables with a sample weight column: 0 for the training rows of held-out
    attack names, 1 elsewhere (every split, so every table of the guest has the same columns)."""
    held = set(holdout.rows[run.id_column])
    out = {}
    for split, frame in splits.items():
        weights = np.ones(len(frame))
        if split == "train":
            weights[frame[run.id_column].isin(held).to_numpy()] = 0.0
        out[split] = frame.assign(**{SAMPLE_WEIGHT_COLUMN: weights})
    return out


def _write_holdout(run: _Run, holdout: HeldOut, outputs: Mapping[str, Mapping[str, pd.DataFrame]],
                   staging: Path) -> Dict[str, Any]:
    """The manifest's ``holdout`` section. Each label holder gets the ids (and attack names) of its rows
    of held-out names in ``PARTY/holdout_ids.csv``: never uploaded, since only a label holder may know
    which rows are attacks. Where they are: horizontal, in the client's valid split (moved there);
    vertical, in the train split, weighed 0 by the guest."""
    id_files = {}
    split = "train" if run.layout == "vertical" else "valid"
    for party, splits in outputs.items():
        table = splits.get(split)
        if table is None or run.label_column not in table.columns:
            continue
        rows = holdout.rows[holdout.rows[run.id_column].isin(table[run.id_column])].sort_values(run.id_column)
        relative = f"{party}/{HOLDOUT_IDS_FILE}"
        rows.to_csv(staging / relative, index=False)
        id_files[party] = relative
    counts = holdout.rows[ATTACK_NAME_COLUMN].astype(str).value_counts()
    return {"attack_fraction": run.holdout_attack_fraction, "names": holdout.names,
            "records": {name: int(counts.get(name, 0)) for group in holdout.names.values() for name in group},
            "held_out_in": split, "ids_files": id_files}


def _manifest(
    run: _Run,
    parties: Dict[str, Any],
    preprocessors: Mapping[str, Preprocessor],
    source_records: List[Dict[str, Any]],
    intersection: Optional[Dict[str, int]],
) -> Dict[str, Any]:
    taxonomy = run.options.taxonomy(run.dataset)
    if run.layout == "vertical":
        assert run.plan is not None
        partition: Dict[str, Any] = {
            "guest": run.plan.guest,
            "columns_from": run.plan_source,
            "dropped_columns": list(run.plan.dropped_columns),
            "drop_id_fraction": run.drop_id_fraction,
        }
    else:
        partition = {
            "clients": list(run.clients),
            "scheme": "iid" if run.dirichlet_alpha is None else "dirichlet",
            "dirichlet_alpha": run.dirichlet_alpha,
            "client_weights": list(run.client_weights) if run.client_weights is not None else None,
        }
    manifest: Dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "dataset": run.dataset,
        "layout": run.layout,
        "protocol": run.protocol,
        "id_column": run.id_column,
        "label_column": run.label_column,
        "classes": list(taxonomy.classes),
        "taxonomy": taxonomy.describe(),
        "seed": run.seed,
        "sources": source_records,
        "protocol_settings": {
            "test_fraction": None if run.protocol == "official" else run.test_fraction,
            "subset_size": run.subset_size if run.protocol == "paper" else None,
            "subsets": run.n_subsets if run.protocol == "paper" else None,
        },
        "preprocessing": {
            "fit_on": "train",
            "scope": "per_party" if run.layout == "vertical" else "shared",
            "normalize": run.normalize,
            "unseen_category_code": UNSEEN_CATEGORY_CODE,
            "select_top_k": run.select_top_k,
            "feature_selection_at": sorted({p for p, pre in preprocessors.items() if pre.feature_selection}),
            "nonfinite": run.options.nonfinite,
            "float_format": FLOAT_FORMAT,
        },
        "partition": partition,
        "parties": parties,
    }
    if intersection is not None:
        manifest["expected_intersection"] = intersection
    return manifest
