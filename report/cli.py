"""`fedids report RUN_ID`: argument parsing only; the work is in report/build.py.

``add_report_command(sub)`` takes the object returned by ``parser.add_subparsers(...)`` of the
fedids CLI and registers ``report``. The handler returns an exit code: 0 on success, 2 when the
run directory is missing, unfinished (no run.json) or holds unusable files (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_REPORT_ERROR = 2


def _cmd_report(args: argparse.Namespace) -> int:
    """Build the report of runs/RUN_ID into reports/RUN_ID and print where report.md and report.html are."""
    from report.build import ReportError, build_report  # pandas, sklearn, matplotlib load only when it runs

    run_dir = Path(args.runs_dir) / args.run_id
    try:
        paths = build_report(run_dir, Path(args.out_dir) / args.run_id)
    except ReportError as exc:
        print(f"report error: {exc}", file=sys.stderr)
        return EXIT_REPORT_ERROR
    print(paths["markdown"])
    print(paths["html"])
    return 0


def add_report_command(subparsers: Any) -> None:
    """Register `report RUN_ID [--runs-dir DIR] [--out-dir DIR]` on the fedids subcommands."""
    p = subparsers.add_parser(
        "report", help="build report.md and report.html (figures, metrics.json) of a finished run directory"
    )
    p.add_argument("run_id", metavar="RUN_ID", help="name of the run directory, e.g. 20261204-231500-quick")
    p.add_argument("--runs-dir", default="runs", help="folder holding the run directories (default: runs)")
    p.add_argument("--out-dir", default="reports",
                   help="the report goes to OUT_DIR/RUN_ID/ (default: reports)")
    p.set_defaults(func=_cmd_report)
