"""The `fedids` command: a thin layer that parses arguments and calls the project's functions.

Subcommands are added by the parts that implement them; `fedids --help` lists what exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from data_upload.cli import add_data_commands
from fedids import __version__
from fedids.config import ConfigError, load_parties
from fedids.flow import flow_is_up

EXIT_CONFIG_ERROR = 2
EXIT_DEMO_FAILED = 3
EXIT_FLOW_DOWN = 4


def _cmd_config(args: argparse.Namespace) -> int:
    """Validate conf/parties.yaml and print who plays which role."""
    cfg = load_parties(args.parties)
    print(f"parties file: {cfg.source}")
    print(f"FATE Flow:    {cfg.flow.url}")
    for name, pid in cfg.party_ids.items():
        print(f"party {name}: FATE party id {pid}")
    for pipeline, roles in cfg.pipelines.items():
        hosts = ", ".join(roles.hosts) or "-"
        print(f"pipeline {pipeline}: guest={roles.guest} host={hosts} arbiter={roles.arbiter or '-'}")
    return 0


def _cmd_flow_status(args: argparse.Namespace) -> int:
    """Exit 0 when FATE Flow answers at the configured address."""
    cfg = load_parties(args.parties)
    if flow_is_up(cfg.flow):
        print(f"FATE Flow answers at {cfg.flow.url}")
        return 0
    print(f"FATE Flow does not answer at {cfg.flow.url}; start it with ./standalone_deploy.sh", file=sys.stderr)
    return EXIT_FLOW_DOWN


def _parties_with_flow(args: argparse.Namespace):
    """conf/parties.yaml, or None (after saying so) when its FATE Flow does not answer."""
    cfg = load_parties(args.parties)
    if not flow_is_up(cfg.flow):
        print(f"FATE Flow does not answer at {cfg.flow.url}; start it with ./standalone_deploy.sh", file=sys.stderr)
        return None
    return cfg


def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job: data -> vertical RF + federated CRNN -> fusion -> report, through FATE Flow."""
    from pathlib import Path

    from fedids.demo import DemoError, run_demo
    from fedids.demo_config import load_demo_profile

    profile = load_demo_profile(args.profile, protocol=args.protocol)
    cfg = _parties_with_flow(args)
    if cfg is None:
        return EXIT_FLOW_DOWN
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else default_data_dir(profile.dataset)
    if not args.data_dir:  # the user's cache: fetch the published files (SHA-256 checked) unless present
        from data_upload.download import download_dataset
        from data_upload.errors import DataError

        try:
            download_dataset(profile.dataset, data_dir)
        except DataError as exc:
            print(f"data error: {exc}", file=sys.stderr)
            return EXIT_CONFIG_ERROR
    try:
        from report.build import build_report

        result = run_demo(cfg, profile, data_dir, Path(args.runs_dir), Path(args.reports_dir),
                          show_progress=not args.quiet, build=build_report)
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return EXIT_DEMO_FAILED
    print(f"run {result.run_id}: {result.run_dir}")
    if result.report_dir is not None:
        print(f"report: {result.report_dir / 'report.md'} and {result.report_dir / 'report.html'}")
    print("\n".join(result.headline))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    """Score new records with a run's deployed RF and CRNN through FATE Flow, fused at A."""
    from pathlib import Path

    from data_upload.errors import DataError
    from fedids.predict import PredictError, predict_file

    cfg = _parties_with_flow(args)
    if cfg is None:
        return EXIT_FLOW_DOWN
    try:
        rows = predict_file(cfg, Path(args.runs_dir), args.model, Path(args.input), Path(args.out) if args.out else None,
                            adapt=args.adapt)
    except (PredictError, DataError) as exc:
        print(f"predict: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    print(rows.head(10).to_string(index=False))
    print(f"{len(rows)} records scored; counts: " + ", ".join(f"{k} {v}" for k, v in rows["predicted"].value_counts().items()))
    return 0


def default_data_dir(dataset: str):
    """The user's cache of public data sets (~/.cache/fedids/datasets/<dataset>)."""
    from pathlib import Path

    return Path.home() / ".cache" / "fedids" / "datasets" / dataset


def _cmd_train_rf(args: argparse.Namespace) -> int:
    """Train the vertical random forest through FATE Flow (pipelines/vertical_rf.py)."""
    from pathlib import Path

    from fedids.model_config import load_rf_profile
    from pipelines.vertical_rf import train_vertical_rf

    cfg = load_parties(args.parties)
    params = load_rf_profile(args.profile)
    if args.he_kind:
        params["he_param"] = dict(params["he_param"], kind=args.he_kind)
    run = train_vertical_rf(cfg, Path(args.data), params, predict_test=not args.no_predict)
    print(f"train job {run.train_job_id}, predict job {run.predict_job_id or '-'}")
    for metric in run.evaluation:
        for name, values in metric["data"].items():
            print(f"{name}: {values}")
    return 0


def _cmd_train_crnn(args: argparse.Namespace) -> int:
    """Train the federated CRNN through FATE Flow (pipelines/homo_crnn.py)."""
    from pipelines.homo_crnn import run_from_args

    return run_from_args(args)


def _cmd_bench_rf(args: argparse.Namespace) -> int:
    """Measure the forest against its baselines; the last line is machine-readable."""
    from pathlib import Path

    from benchmarks.bench_rf import bench_rf, markdown_table
    from fedids.model_config import load_rf_profile

    cfg = _parties_with_flow(args)
    if cfg is None:
        return EXIT_FLOW_DOWN
    results = bench_rf(cfg, Path(args.data_dir), Path(args.work_dir), load_rf_profile(args.profile), args.quick,
                       with_secureboost=not args.no_secureboost, with_mock=not args.no_mock, only=args.variant)
    for result in results:
        print(f"\n## {result['variant']}: {result['train_rows']} training rows, {result['test_rows']} test rows")
        print(markdown_table(result))
        if "sbt_class_tree_over_rf_tree" in result:
            print(f"\nFATE SecureBoost class-tree time / forest tree time: {result['sbt_class_tree_over_rf_tree']:.1f}x")
    last = results[-1]["models"]
    delta = last["federated_rf_paillier"]["accuracy"] - last["sklearn_rf_central"]["accuracy"]
    tag = "rf_quick" if args.quick else "rf"
    print(f"{tag}: acc_delta_vs_sklearn={delta:.4f} per_tree_s={last['federated_rf_paillier']['per_tree_seconds']:.3f}")
    return 0


def _cmd_bench_crnn(args: argparse.Namespace) -> int:
    """Federated CRNN (FedAvg, FedProx) vs the centralized CRNN; the last line is machine-readable."""
    from pathlib import Path

    from benchmarks.bench_crnn import bench_crnn, markdown_tables, quick_line
    from crnn_component.config import load_crnn_profile

    cfg = _parties_with_flow(args)
    if cfg is None:
        return EXIT_FLOW_DOWN
    profile = args.profile or ("quick" if args.quick else "paper")
    params = load_crnn_profile(profile).with_overrides(epochs=args.epochs)
    work_dir = Path(args.work_dir)
    results = bench_crnn(cfg, Path(args.data_dir), work_dir, params, args.quick)
    out = work_dir / ("crnn_quick.json" if args.quick else "crnn.json")
    out.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(markdown_tables(results))
    print(f"figures: {out}")
    print(quick_line(results))
    return 0


def _cmd_bench_scaling(args: argparse.Namespace) -> int:
    """Federated CRNN with 1, 2, 3, 5 clients on the same records; bytes per round and in total."""
    from pathlib import Path

    from benchmarks.bench_scaling import bench_scaling, markdown_table
    from crnn_component.config import load_crnn_profile

    cfg = _parties_with_flow(args)
    if cfg is None:
        return EXIT_FLOW_DOWN
    params = load_crnn_profile(args.profile or ("tiny" if args.quick else "quick")).with_overrides(epochs=args.epochs)
    work_dir = Path(args.work_dir)
    results = bench_scaling(cfg, Path(args.data_dir), work_dir, params, args.quick, counts=args.clients)
    out = work_dir / ("scaling_quick.json" if args.quick else "scaling.json")
    out.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(markdown_table(results))
    print(f"figures: {out}")
    accs = " ".join(f"acc_{m['n_clients']}={m['accuracy']:.4f}" for m in results["measured"])
    print(f"scaling{'_quick' if args.quick else ''}: {accs}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    """What this site's FATE tasks sent (the audit trail of fedids/audit.py), and pruning it."""
    from pathlib import Path

    from fedids.audit_view import (AuditError, default_trail_root, format_bytes, list_trails, prune_trails,
                                   sent_lines, summarize_job, trail_lines)

    root = Path(args.root) if args.root else default_trail_root()
    try:
        if args.action == "list":
            print("\n".join(trail_lines(list_trails(root))))
        elif args.action == "show":
            print("\n".join(sent_lines(summarize_job(root, args.job_id))))
        else:
            removed = prune_trails(root, args.keep, dry_run=args.dry_run)
            verb = "would remove" if args.dry_run else "removed"
            freed = sum(t.bytes for t in removed)
            print(f"{verb} the trails of {len(removed)} jobs ({format_bytes(freed)}) under {root}; kept the newest {args.keep}")
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    return 0


def _add_bench_folders(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --work-dir, the same for every benchmark."""
    parser.add_argument("--data-dir", default="../shared/datasets/nsl-kdd", help="folder with the NSL-KDD files")
    parser.add_argument("--work-dir", default="out/bench", help="where prepared data and result JSON files go")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedids",
        description="FedIDS: federated network intrusion detection on FATE 2.2 (parties A, B, C).",
    )
    parser.add_argument("--version", action="version", version=f"fedids {__version__}")
    parser.add_argument(
        "--parties", default=None, help="parties file (default: conf/parties.yaml, or $FEDIDS_CONF_DIR/parties.yaml)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("config", help="validate conf/parties.yaml and show parties, roles and the FATE Flow address")
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("flow-status", help="exit 0 when FATE Flow answers at the configured address")
    p.set_defaults(func=_cmd_flow_status)

    add_data_commands(sub)

    train = sub.add_parser("train", help="train a federated model through FATE Flow")
    train_sub = train.add_subparsers(dest="model", metavar="MODEL")
    train_sub.required = True
    p = train_sub.add_parser("rf", help="the vertical random forest (A guest, B host, C arbiter)")
    p.add_argument("--data", required=True, help="folder of a prepared and uploaded vertical data set")
    p.add_argument("--profile", default="quick", help="profile of conf/rf.yaml: tiny, quick or paper")
    p.add_argument("--he-kind", choices=["paillier", "ou", "mock"], default=None,
                   help="override the profile's cipher (mock: no encryption, tests only)")
    p.add_argument("--no-predict", action="store_true", help="train and evaluate only")
    p.set_defaults(func=_cmd_train_rf)

    from pipelines.homo_crnn import add_arguments as add_crnn_arguments

    p = train_sub.add_parser("crnn", help="the federated CRNN (homo_nn: A, B clients, C arbiter; FedAvg or FedProx)")
    add_crnn_arguments(p)
    p.set_defaults(func=_cmd_train_crnn)

    bench = sub.add_parser("bench", help="measure models against their baselines (benchmarks/)")
    bench_sub = bench.add_subparsers(dest="model", metavar="MODEL")
    bench_sub.required = True
    p = bench_sub.add_parser("rf", help="vertical forest vs scikit-learn, local-only forests and FATE SecureBoost")
    _add_bench_folders(p)
    p.add_argument("--profile", default="paper", help="forest profile of conf/rf.yaml (default: paper)")
    p.add_argument("--quick", action="store_true", help="a small version that runs in a few minutes")
    p.add_argument("--no-secureboost", action="store_true", help="skip FATE's hetero_secureboost")
    p.add_argument("--no-mock", action="store_true", help="skip the forest without encryption")
    p.add_argument("--variant", action="append", default=None, metavar="NAME",
                   help="run only this data variant (repeatable): nsl20_official, nsl_split (quick: nsl_quick)")
    p.set_defaults(func=_cmd_bench_rf)

    p = bench_sub.add_parser("crnn", help="federated CRNN (FedAvg, FedProx; IID and Dirichlet) vs centralized CRNN")
    _add_bench_folders(p)
    p.add_argument("--profile", default=None, help="profile of conf/crnn.yaml (default: paper; quick with --quick)")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--quick", action="store_true",
                   help="3 clients x 2,000 records, IID, FedProx only: a few minutes")
    p.set_defaults(func=_cmd_bench_crnn)

    p = bench_sub.add_parser("scaling", help="federated CRNN with 1, 2, 3, 5 clients (paper Table 4)")
    _add_bench_folders(p)
    p.add_argument("--profile", default=None, help="profile of conf/crnn.yaml (default: quick; tiny with --quick)")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 2, 3, 5], help="client counts (at most 5)")
    p.add_argument("--quick", action="store_true", help="3,000 records, the tiny profile: a few minutes")
    p.set_defaults(func=_cmd_bench_scaling)

    from report.cli import add_report_command

    add_report_command(sub)

    p = sub.add_parser("predict", help="score new records with a run's deployed models (RF + CRNN, fused)")
    p.add_argument("--model", required=True, metavar="RUN_ID", help="a finished run under --runs-dir")
    p.add_argument("--input", required=True, metavar="FILE", help="records in the training data set's format")
    p.add_argument("--out", default=None, help="output CSV (default: runs/RUN_ID/predict/<input hash>/predictions.csv)")
    p.add_argument("--adapt", action="store_true",
                   help="re-weight the fused probabilities to the file's own class mix (EM; needs at least "
                        "adaptation.min_records rows). Off by default: it assumes only the class mix moved, and "
                        "unseen attacks break that (benchmarks/RESULTS.md)")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=_cmd_predict)

    audit = sub.add_parser("audit", help="what this site's FATE tasks sent to the other parties (the audit trail)")
    audit.add_argument("--root", default=None,
                       help="the trail's folder (default: $FEDIDS_AUDIT_DIR, else .fate/audit of the standalone)")
    audit_sub = audit.add_subparsers(dest="action", metavar="ACTION")
    audit_sub.required = True
    audit_sub.add_parser("list", help="every job with a trail: parties, messages, size")
    p = audit_sub.add_parser("show", help="what each party sent in one job: names, destinations, counts, bytes, kinds")
    p.add_argument("job_id", help="a FATE job id (see `fedids audit list`)")
    p = audit_sub.add_parser("prune", help="remove the trails of all jobs but the newest N")
    p.add_argument("--keep", type=int, required=True, metavar="N", help="how many of the newest jobs to keep")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    audit.set_defaults(func=_cmd_audit)

    p = sub.add_parser("demo", help="the main job: prepare, upload, train RF + CRNN through FATE, fuse, report")
    p.add_argument("--profile", default="quick", help="profile of conf/demo.yaml: quick (default), paper, paper-core (RF + CRNN only), quick-balanced (RF + CRNN, class-balanced), quick-balanced-holdout (the same, weight chosen on held-out attack names), tiny (CI)")
    p.add_argument("--protocol", choices=["official", "split"], default=None,
                   help="official: train file -> KDDTest+; split: 80/20 of the train file (default: the profile's)")
    p.add_argument("--data-dir", default=None,
                   help="folder with the data set's files (default: ~/.cache/fedids/datasets/<dataset>)")
    p.add_argument("--runs-dir", default="runs", help="where run directories go (default: runs)")
    p.add_argument("--reports-dir", default="reports", help="where reports go (default: reports)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR


if __name__ == "__main__":
    sys.exit(main())
