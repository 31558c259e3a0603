"""`fedids data ...` subcommands: argument parsing only; the work is in prepare.py.

``add_data_commands(sub)`` takes the object returned by ``parser.add_subparsers(...)`` of the
fedids CLI and registers ``data prepare``. Handlers return an exit code: 0 on success, 2 when
the data or its configuration cannot be used (the DataError message goes to stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List, Optional

from data_upload.errors import DataError
from data_upload.loaders import NONFINITE_POLICIES
from data_upload.partition import LAYOUTS, PROTOCOLS
from data_upload.preprocess import NORMALIZATIONS
from data_upload.schema import DATASETS
from data_upload.taxonomy import CLASS_MODES, HTTPTUNNEL_CLASSES, UNKNOWN_LABEL_POLICIES

EXIT_DATA_ERROR = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _weights(text: str) -> List[float]:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, e.g. 0.5,0.3,0.2, got {text!r}"
        ) from None
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"client weights must be positive, got {text!r}")
    return values


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    """Prepare party tables and a manifest; print where they are and what they hold."""
    from data_upload.prepare import prepare  # pandas and friends load only when the command runs

    try:
        manifest = prepare(
            args.dataset,
            args.data_dir,
            args.layout,
            args.protocol,
            args.out,
            classes=args.classes,
            httptunnel_class=args.httptunnel_class,
            unknown_label=args.unknown_label,
            nonfinite=args.nonfinite,
            normalize=args.normalize,
            select_top_k=args.select_top_k,
            drop_id_fraction=args.drop_id_fraction,
            clients=args.clients,
            dirichlet_alpha=args.dirichlet_alpha,
            client_weights=args.client_weights,
            subset_size=args.subset_size,
            test_fraction=args.test_fraction,
            validation_fraction=args.validation_fraction,
            holdout_attack_fraction=args.holdout_attack_fraction,
            seed=args.seed,
            train_file=args.train_file,
            test_file=args.test_file,
            config=args.data_config,
            force=args.force,
            show_progress=not args.quiet,
        )
    except DataError as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return EXIT_DATA_ERROR
    _print_summary(manifest, args.out)
    return 0


def _print_summary(manifest: Any, out: str) -> None:
    taxonomy = manifest["taxonomy"]
    print(f"prepared {manifest['dataset']} ({manifest['layout']}, protocol {manifest['protocol']}) in {out}")
    mapping = taxonomy["mode"]
    if taxonomy["httptunnel_class"] is not None:
        mapping += f", httptunnel->{taxonomy['httptunnel_class']}"
    codes = ", ".join(f"{code}={name}" for code, name in enumerate(manifest["classes"]))
    print(f"classes ({mapping}): {codes}")
    for party, entry in manifest["parties"].items():
        for split, table in entry["splits"].items():
            label = "label" if table["class_counts"] is not None else "no label"
            features = len([c for c in table["columns"]
                            if c not in (manifest["label_column"], manifest.get("weight_column"))])
            print(f"  {party} ({entry['role']}) {split}: {table['rows']} rows, {features} features, {label}")
    if "expected_intersection" in manifest:
        shown = ", ".join(f"{split} {n}" for split, n in manifest["expected_intersection"].items())
        print(f"expected PSI intersection: {shown}")


def _cmd_data_upload(args: argparse.Namespace) -> int:
    """Upload a prepared set to FATE Flow (all tables or none) and record the table names."""
    from data_upload.fate_upload import FlowTables, UploadError
    from data_upload.upload import TABLES_FILE, upload_manifest
    from fedids.config import load_parties

    cfg = load_parties(getattr(args, "parties", None))
    say = (lambda message: None) if args.quiet else (lambda message: print(message, file=sys.stderr))
    try:
        record = upload_manifest(Path(args.manifest), FlowTables(cfg.flow), args.party, args.force, say)
    except (DataError, UploadError) as exc:
        print(f"upload error: {exc}", file=sys.stderr)
        return EXIT_DATA_ERROR
    for party, splits in record["parties"].items():
        for split, table in splits.items():
            print(f"  {party} {split}: {table['namespace']}/{table['name']} ({table['rows']} rows)")
    folder = Path(args.manifest) if Path(args.manifest).is_dir() else Path(args.manifest).parent
    print(f"tables recorded in {folder / TABLES_FILE}")
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    from data_upload.download import download_dataset

    try:
        paths = download_dataset(args.dataset, Path(args.to))
    except DataError as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return EXIT_DATA_ERROR
    for path in paths:
        print(f"{path} (SHA-256 verified)")
    return 0


def add_data_commands(subparsers: Any) -> None:
    """Register `data prepare` and `data upload` on the fedids CLI's subparsers object."""
    data = subparsers.add_parser("data", help="prepare data sets as party tables (vertical or horizontal)")
    data_sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data_sub.required = True

    p = data_sub.add_parser("download", help="fetch a data set's published files (conf/downloads.yaml), SHA-256 checked")
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument("--to", required=True, metavar="DIR", help="folder to write the files into")
    p.set_defaults(func=_cmd_download)

    p = data_sub.add_parser(
        "prepare",
        help="load a public data set, split it between parties and write their CSVs and a manifest",
        description="Load a public intrusion-detection data set, apply an evaluation protocol, split it "
        "between parties (vertical: features; horizontal: samples), fit each party's preprocessing on its "
        "training rows and write CSVs, preprocessor JSONs and manifest.json. Defaults come from conf/data.yaml.",
    )
    p.add_argument("--dataset", required=True, choices=DATASETS)
    p.add_argument(
        "--data-dir", required=True, metavar="DIR", help="folder holding the data set (or its sub-folder)"
    )
    p.add_argument("--layout", required=True, choices=LAYOUTS)
    p.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="official",
        help="official train/test files; split: stratified 80/20 of the training file; "
        "paper: disjoint subsets of 10,000 rows per party, each 80/20 (default: official)",
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (must be empty or absent unless --force)"
    )
    p.add_argument(
        "--classes",
        choices=CLASS_MODES,
        default="multi",
        help="multi-class or normal/attack (default: multi)",
    )
    p.add_argument(
        "--httptunnel-class",
        choices=HTTPTUNNEL_CLASSES,
        default="U2R",
        help="class of NSL-KDD/KDD99 httptunnel (default: U2R)",
    )
    p.add_argument(
        "--unknown-label",
        choices=UNKNOWN_LABEL_POLICIES,
        default="error",
        help="attack names outside the taxonomy: refuse, drop the rows, or class 'other' (default: error)",
    )
    p.add_argument(
        "--nonfinite",
        choices=NONFINITE_POLICIES,
        default="error",
        help="NaN/Infinity in numeric columns: refuse, drop the rows, or clip (default: error)",
    )
    p.add_argument("--normalize", choices=NORMALIZATIONS, default=None, help="default: from conf/data.yaml")
    p.add_argument(
        "--select-top-k",
        type=_positive_int,
        default=None,
        metavar="K",
        help="keep the K features of highest random-forest importance (at the label holder)",
    )
    p.add_argument(
        "--drop-id-fraction",
        type=_fraction,
        default=None,
        metavar="F",
        help="vertical: each party drops this share of ids (seeded), so PSI has work to do",
    )
    p.add_argument(
        "--clients", type=_positive_int, default=None, metavar="N", help="horizontal: number of clients"
    )
    p.add_argument(
        "--dirichlet-alpha",
        type=_positive_float,
        default=None,
        metavar="A",
        help="horizontal: label skew by Dirichlet(A) draws (default: IID)",
    )
    p.add_argument(
        "--client-weights",
        type=_weights,
        default=None,
        metavar="W1,W2,...",
        help="horizontal IID: relative client sizes",
    )
    p.add_argument(
        "--subset-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="paper protocol: rows per subset (default: 10000)",
    )
    p.add_argument(
        "--test-fraction",
        type=_fraction,
        default=None,
        metavar="F",
        help="split and paper protocols: share of test rows (default: 0.2)",
    )
    p.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="official and split protocols: share of the training rows held out as a 'valid' split "
        "(same records in a vertical and a horizontal preparation of the same data and seed; default 0)",
    )
    p.add_argument(
        "--holdout-attack-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="with --validation-fraction: share of each attack class's names whose every record moves "
        "from train to valid (leave-attack-out; listed in the manifest's 'holdout'; default 0)",
    )
    p.add_argument("--seed", type=int, default=None, metavar="S", help="default: from conf/data.yaml")
    p.add_argument(
        "--train-file",
        default=None,
        metavar="PATH",
        help="training file instead of the configured one, e.g. KDDTrain+_20Percent.txt",
    )
    p.add_argument(
        "--test-file",
        default=None,
        metavar="PATH",
        help="official protocol: test file instead of the configured one, e.g. KDDTest-21.txt",
    )
    p.add_argument(
        "--data-config", default=None, metavar="FILE", help="data settings (default: conf/data.yaml)"
    )
    p.add_argument("--force", action="store_true", help="replace the content of a non-empty --out folder")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.set_defaults(func=_cmd_data_prepare)

    p = data_sub.add_parser(
        "upload",
        help="upload the party tables of a manifest to FATE Flow (all or nothing; re-running is a no-op)",
        description="Upload each party's tables to FATE Flow as namespace fedids_<dataset>, name "
        "<layout>_<protocol>_<party>_<split>_<sha8>; the row count in FATE is checked after each upload, and "
        "if any table fails the tables created by this run are deleted. On a FATE cluster each organisation "
        "uploads its own tables to its own site with --party.",
    )
    p.add_argument("--manifest", required=True, metavar="PATH", help="manifest.json or the folder holding it")
    p.add_argument("--party", action="append", default=None, metavar="NAME",
                   help="upload only this party's tables (repeatable; default: every party with data)")
    p.add_argument("--force", action="store_true", help="replace tables that already exist under the same names")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_data_upload)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the data commands on their own (`python -m data_upload.cli prepare ...`)."""
    parser = argparse.ArgumentParser(prog="fedids")
    add_data_commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(["data", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
