"""reader (guest, host) -> psi: how many sample ids the two parties share.

The first thing to run on a new deployment: it proves that both parties' tables are in FATE,
that the federation between them works, and how many records a vertical model can use.
Only the intersection size is revealed (FATE's ECDH PSI); the ids outside it stay private.

    python pipelines/psi_check.py --guest fedids_demo/guest_train --host fedids_demo/host_train
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import List, Optional

from data_upload.fate_upload import TableRef
from fedids.config import PartiesConfig, load_parties
from pipelines.common import new_pipeline, read_through_busy_flow, run_job


@dataclass(frozen=True)
class PsiResult:
    job_id: str
    guest_input_rows: int
    intersect_rows: int


def run_psi_check(cfg: PartiesConfig, guest_table: TableRef, host_table: TableRef) -> PsiResult:
    """Run reader + psi through FATE Flow and return the intersection size."""
    from fate_client.pipeline.components.fate import PSI, Reader

    pipeline = new_pipeline(cfg, "psi_check")
    reader = Reader("reader_0")
    reader.guest.task_parameters(namespace=guest_table.namespace, name=guest_table.name)
    reader.hosts[0].task_parameters(namespace=host_table.namespace, name=host_table.name)
    psi = PSI("psi_0", input_data=reader.outputs["output_data"])
    pipeline.add_tasks([reader, psi])
    pipeline.compile()
    run_job(pipeline, "train")
    metrics = {m["name"]: m["data"] for m in read_through_busy_flow(pipeline.get_task_info("psi_0").get_output_metric)}
    summary = metrics["summary"]
    return PsiResult(
        job_id=pipeline.model_info.job_id,
        guest_input_rows=int(summary["input_count"]),
        intersect_rows=int(summary["intersect_count"]),
    )


def _table(text: str) -> TableRef:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name:
        raise argparse.ArgumentTypeError(f"expected NAMESPACE/NAME, got {text!r}")
    return TableRef(namespace, name)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guest", type=_table, required=True, help="guest table NAMESPACE/NAME")
    parser.add_argument("--host", type=_table, required=True, help="host table NAMESPACE/NAME")
    parser.add_argument("--parties", default=None, help="parties file (default conf/parties.yaml)")
    args = parser.parse_args(argv)
    result = run_psi_check(load_parties(args.parties), args.guest, args.host)
    print(f"psi job {result.job_id}: guest rows {result.guest_input_rows}, shared ids {result.intersect_rows}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
