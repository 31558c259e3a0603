"""`fedids bench scaling`: the federated CRNN with 1, 2, 3 and 5 clients (paper Table 4), measured.

One client cannot run in FATE's homo_nn (it needs a host): that row is the client training
alone, labelled so. The same records every time (a stratified sample of KDDTrain+, 80 % train / 20 % test, the
same seed, so the pooled test rows are identical), divided IID among N clients (A, B, C, D, E
of conf/parties.yaml `homo_crnn_benchmark`, aggregator Z). Each run is FedProx through FATE
Flow; reported: accuracy, macro recall, macro-F1, AUC on the pooled test rows, the bytes each
client sent and received per round, and the total per round and over the run. Beyond five
clients the table adds a projection, labelled as such, from the measured bytes per client
per round (secure aggregation's traffic is per client and independent of N).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

from benchmarks.bench_crnn import benchmark_roles, centralized, federated, nsl_train_file, prepare_partition
from benchmarks.bench_rf import machine
from crnn_component.config import CrnnParams
from data_upload.sample import sample_kdd_file
from fedids.baselines import in_fresh_process
from fedids.config import PartiesConfig

CLIENT_COUNTS = (1, 2, 3, 5)
PROJECTED_COUNTS = (10, 20, 50)


def run_single_client(nsl_dir: Path, sample: Path, work_dir: Path, params: CrnnParams, rows: int) -> Dict[str, Any]:
    """One client alone: FATE's homo_nn refuses a job without a host ("no host party has configured"),
    so the row is the same CRNN trained by that client on its own (plain torch, fresh process),
    with no federation and no bytes exchanged, and says so."""
    from data_upload.prepare import prepare

    data_dir = work_dir / f"nsl_h1_{rows}_iid"
    if not (data_dir / "manifest.json").is_file():
        prepare("nsl-kdd", str(nsl_dir), "horizontal", "split", str(data_dir), train_file=str(sample), clients=1,
                seed=params.seed, show_progress=False)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    started = time.perf_counter()
    result = in_fresh_process(centralized, data_dir, params, ["A"], list(manifest["classes"]))
    result.update(clients=["A"], n_clients=1, rounds=0, bytes_per_round_all_clients=0.0, bytes_total=0.0,
                  client_sent_bytes_per_round=0.0, wall_seconds=time.perf_counter() - started,
                  train_rows_per_client={"A": manifest["parties"]["A"]["splits"]["train"]["rows"]},
                  note="no federation: FATE's homo_nn needs at least one host; the client trains alone")
    return result


def run_clients(cfg: PartiesConfig, nsl_dir: Path, sample: Path, work_dir: Path, n_clients: int, params: CrnnParams,
                rows: int) -> Dict[str, Any]:
    """One federated run with ``n_clients`` clients on the shared sample (one client: trains alone)."""
    if n_clients == 1:
        return run_single_client(nsl_dir, sample, work_dir, params, rows)
    roles_cfg = benchmark_roles(cfg, n_clients)
    data_dir = prepare_partition(roles_cfg, nsl_dir, sample, work_dir / f"nsl_h{n_clients}_{rows}_iid", n_clients,
                                 None, params.seed)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    started = time.perf_counter()
    result = federated(roles_cfg, data_dir, params, manifest["classes"])
    rounds = max(stats["rounds"] for stats in result["bytes_per_round"].values())
    clients = list(manifest["parties"])
    per_round_total = sum(result["bytes_per_round"][c]["sent"] + result["bytes_per_round"][c]["received"]
                          for c in clients)
    result.update(clients=clients, n_clients=n_clients, rounds=rounds, bytes_per_round_all_clients=per_round_total,
                  bytes_total=per_round_total * rounds, wall_seconds=time.perf_counter() - started,
                  train_rows_per_client={c: manifest["parties"][c]["splits"]["train"]["rows"] for c in clients})
    return result


def projection(measured: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Bytes per round beyond the measured counts: N x the mean per-client traffic measured (not a measurement)."""
    multi = [m for m in measured if m["n_clients"] > 1] or list(measured)  # one client exchanges nothing
    per_client = sum(m["bytes_per_round_all_clients"] / m["n_clients"] for m in multi) / len(multi)
    rounds = measured[-1]["rounds"]
    return [{"n_clients": n, "bytes_per_round_all_clients": per_client * n, "bytes_total": per_client * n * rounds,
             "projected": True} for n in PROJECTED_COUNTS]


def bench_scaling(cfg: PartiesConfig, nsl_dir: Path, work_dir: Path, params: CrnnParams, quick: bool,
                  counts: Sequence[int] = CLIENT_COUNTS, progress=print) -> Dict[str, Any]:
    nsl_dir, work_dir = Path(nsl_dir), Path(work_dir)
    rows = 3000 if quick else 15000
    sample = sample_kdd_file(nsl_train_file(nsl_dir), rows, work_dir / f"KDDTrain+_sample{rows}_seed{params.seed}.txt",
                             seed=params.seed)
    measured = []
    for n in counts:
        progress(f"{n} client(s), {rows} records in total, {params.epochs} epochs")
        measured.append(run_clients(cfg, nsl_dir, sample, work_dir, n, params, rows))
    return {"machine": machine(), "quick": quick, "rows": rows, "params": params.to_dict(), "measured": measured,
            "projected": projection(measured)}


def markdown_table(results: Dict[str, Any]) -> str:
    lines = ["| clients | accuracy | macro recall | macro-F1 | AUC (OvR macro) | s per epoch | sent B/round/client |"
             " all clients B/round | B total |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in results["measured"]:
        recall = sum(m["recall_per_class"].values()) / len(m["recall_per_class"])
        label = f"{m['n_clients']}" + (" (alone, no federation)" if m["n_clients"] == 1 else "")
        lines.append(f"| {label} | {m['accuracy']:.4f} | {recall:.4f} | {m['macro_f1']:.4f} | "
                     f"{m['auc_ovr_macro']:.4f} | {m['mean_epoch_seconds']:.2f} | "
                     f"{m['client_sent_bytes_per_round']:,.0f} | {m['bytes_per_round_all_clients']:,.0f} | "
                     f"{m['bytes_total']:,.0f} |")
    for p in results["projected"]:
        lines.append(f"| {p['n_clients']} (projection, not measured) | - | - | - | - | - | - | "
                     f"{p['bytes_per_round_all_clients']:,.0f} | {p['bytes_total']:,.0f} |")
    return "\n".join(lines)
