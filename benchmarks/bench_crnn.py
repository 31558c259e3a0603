"""`fedids bench crnn`: the federated CRNN (FATE homo_nn) against the centralized CRNN, measured.

The paper's setup: three clients of 10,000 NSL-KDD records each (80 % train, 20 % test per
client), 5 classes. Both partitions of this benchmark use the same 30,000 records (a
stratified sample of KDDTrain+, written to the work folder and prepared with data_upload's
"split" protocol): IID (stratified, equal sizes) and label-skewed Dirichlet(0.5). On each:
  - FedAvg and FedProx through FATE Flow (three clients A, B, C; the aggregator Z of
    conf/parties.yaml `homo_crnn_benchmark`), predictions on every client's test table;
  - the centralized CRNN (plain torch, one process) on the pooled training rows of the same
    clients, same model, seed, optimizer, batch size and epochs, evaluated on the pooled tests.
Reported: accuracy, macro-F1, OvR AUC, per-class recall; seconds per epoch federated (slowest
client, aggregation included) vs centralized on the same rows, with the job's fixed overhead
(start-up, reader, evaluation) apart; bytes each client sends and receives per round against
16 bytes per parameter (secure aggregation's float64 masked vector of twice the size).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from benchmarks.bench_rf import machine
from benchmarks.metrics import classification_metrics, fate_probabilities
from crnn_component.config import CrnnParams
from data_upload.sample import sample_kdd_file
from fedids.baselines import in_fresh_process
from fedids.config import PartiesConfig

ROLES_PIPELINE = "homo_crnn_benchmark"  # conf/parties.yaml: clients A, B, C, D, E; aggregator Z
CLIENTS = 3
SECURE_AGG_BYTES_PER_PARAMETER = 16.0


def nsl_train_file(nsl_dir: Path) -> Path:
    """KDDTrain+ (.txt or .gz) in ``nsl_dir``, found the way `fedids data prepare` finds it."""
    from data_upload.config import load_data_config
    from data_upload.sources import locate_sources

    return Path(locate_sources(load_data_config().settings("nsl-kdd"), nsl_dir, "split").train)


def prepare_partition(cfg: PartiesConfig, nsl_dir: Path, sample: Path, out: Path, clients: int,
                      dirichlet_alpha: Optional[float], seed: int) -> Path:
    """Prepare (once) and upload (a no-op when already in FATE) one horizontal partition."""
    from data_upload.fate_upload import FlowTables
    from data_upload.prepare import prepare
    from data_upload.upload import upload_manifest

    if not (out / "manifest.json").is_file():
        prepare("nsl-kdd", str(nsl_dir), "horizontal", "split", str(out), train_file=str(sample), clients=clients,
                dirichlet_alpha=dirichlet_alpha, seed=seed, show_progress=False)
    upload_manifest(out, FlowTables(cfg.flow))
    return out


def benchmark_roles(cfg: PartiesConfig, clients: int) -> PartiesConfig:
    """The parties config whose `homo_crnn` pipeline has the benchmark's first ``clients`` clients."""
    from pipelines.homo_crnn import PIPELINE

    return cfg.with_roles(PIPELINE, cfg.roles(ROLES_PIPELINE).with_clients(clients))


def _pooled_test_metrics(run, classes: Sequence[str]) -> Dict[str, Any]:
    frames = [frame for frame in run.test_predictions.values() if frame is not None and len(frame)]
    pooled = pd.concat(frames, ignore_index=True)
    return classification_metrics(pooled["label"].to_numpy(int), fate_probabilities(pooled, len(classes)), classes)


def federated(cfg: PartiesConfig, data_dir: Path, params: CrnnParams, classes: Sequence[str]) -> Dict[str, Any]:
    """One federated run through FATE Flow: test metrics, epoch times, bytes per round."""
    from pipelines.homo_crnn import train_homo_crnn

    run = train_homo_crnn(cfg, data_dir, params, predict_test=True)
    result = _pooled_test_metrics(run, classes)
    epoch_s = [p["seconds"] for p in run.curve]
    clients = list(run.clients)
    sent = float(np.mean([run.bytes_per_round[c]["sent"] for c in clients]))
    received = float(np.mean([run.bytes_per_round[c]["received"] for c in clients]))
    train_job_s = run.timings["train_job_s"]
    result.update(
        train_job_id=run.train_job_id, predict_job_id=run.predict_job_id, algo=run.algo, mu=run.mu,
        epochs=len(run.curve), mean_epoch_seconds=float(np.mean(epoch_s)),
        mean_epoch_compute_seconds=float(np.mean([p["compute_seconds"] for p in run.curve])),
        train_job_seconds=train_job_s, job_overhead_seconds=train_job_s - float(np.sum(epoch_s)),
        parameter_count=run.parameter_count, client_sent_bytes_per_round=sent,
        client_received_bytes_per_round=received,
        sent_bytes_per_parameter=sent / run.parameter_count, received_bytes_per_parameter=received / run.parameter_count,
        bytes_per_round=run.bytes_per_round, curve=run.curve,
    )
    return result


def centralized(data_dir: Path, params: CrnnParams, clients: Sequence[str], classes: Sequence[str]) -> Dict[str, Any]:
    """The same CRNN, plain torch, one thread, on the pooled training rows of ``clients``."""
    from crnn_component.centralized import pooled_arrays, predict_proba, train_centralized

    x, y = pooled_arrays(data_dir, clients, "train")
    xt, yt = pooled_arrays(data_dir, clients, "test")
    run = train_centralized(x, y, params, len(classes))
    result = classification_metrics(yt, predict_proba(run.model, xt), classes)
    result.update(epochs=len(run.curve), mean_epoch_seconds=run.mean_epoch_seconds, train_rows=run.rows,
                  test_rows=len(yt), parameter_count=run.parameter_count, curve=run.curve)
    return result


def run_partition(cfg: PartiesConfig, data_dir: Path, params: CrnnParams, algos: Sequence[str],
                  progress=print) -> Dict[str, Any]:
    """Every model of one partition: FedAvg/FedProx through FATE, then the centralized CRNN."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    classes = list(manifest["classes"])
    clients = list(cfg.roles("homo_crnn").parties()[:-1])
    result: Dict[str, Any] = {
        "data": str(data_dir), "classes": classes, "clients": clients,
        "client_rows": {c: {s: manifest["parties"][c]["splits"][s]["rows"] for s in ("train", "test")}
                        for c in clients},
        "client_class_counts": {c: manifest["parties"][c]["splits"]["train"].get("class_counts", {})
                                for c in clients},
        "models": {},
    }
    for algo in algos:
        result["models"][f"federated_{algo}"] = measured_once(
            data_dir / f"result_federated_{algo}_{params.epochs}ep.json",
            f"  federated {algo} ({params.epochs} epochs) through FATE Flow", progress,
            lambda algo=algo: federated(cfg, data_dir, params.with_overrides(algo=algo), classes))
    result["models"]["centralized"] = measured_once(
        data_dir / f"result_centralized_{params.epochs}ep.json",
        f"  centralized CRNN ({params.epochs} epochs, a fresh process)", progress,
        lambda: in_fresh_process(centralized, data_dir, params, list(clients), list(classes)))
    return result


def measured_once(path: Path, title: str, progress, measure) -> Dict[str, Any]:
    """A model's figures from ``path`` when an earlier run of the benchmark measured them, else measured now.

    The full benchmark takes the better part of an hour; a rerun after an interruption (or
    after deleting one result file to re-measure that model) redoes only what is missing.
    Each file records when it was measured.
    """
    if path.is_file():
        progress(f"{title}: measured earlier, {path}")
        return json.loads(path.read_text(encoding="utf-8"))
    progress(title)
    result = dict(measure(), measured_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    path.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
    return result


def summarise(partition: Dict[str, Any]) -> Dict[str, float]:
    """The headline numbers of one partition: accuracy gap and epoch-time ratio vs centralized."""
    central = partition["models"]["centralized"]
    out: Dict[str, float] = {}
    for name, model in partition["models"].items():
        if name.startswith("federated_"):
            out[f"{name}_acc_delta_vs_central"] = model["accuracy"] - central["accuracy"]
            out[f"{name}_epoch_s_ratio"] = model["mean_epoch_seconds"] / central["mean_epoch_seconds"]
    return out


def bench_crnn(cfg: PartiesConfig, nsl_dir: Path, work_dir: Path, params: CrnnParams, quick: bool,
               progress=print) -> Dict[str, Any]:
    """The whole benchmark (``quick``: 3 x 2,000 records, IID only, FedProx, the profile's epochs)."""
    nsl_dir, work_dir = Path(nsl_dir), Path(work_dir)
    cfg = benchmark_roles(cfg, CLIENTS)
    rows = CLIENTS * (2000 if quick else 10000)
    sample = sample_kdd_file(nsl_train_file(nsl_dir), rows, work_dir / f"KDDTrain+_sample{rows}_seed{params.seed}.txt",
                            seed=params.seed)
    partitions = {"iid": None} if quick else {"iid": None, "dirichlet_0.5": 0.5}
    algos = ["fedprox"] if quick else ["fedavg", "fedprox"]
    results: Dict[str, Any] = {"machine": machine(), "quick": quick, "rows": rows, "params": params.to_dict(),
                               "partitions": {}}
    for name, alpha in partitions.items():
        progress(f"partition {name}: {CLIENTS} clients x {rows // CLIENTS} records")
        data_dir = prepare_partition(cfg, nsl_dir, sample, work_dir / f"nsl_h{CLIENTS}_{rows}_{name}", CLIENTS, alpha,
                                     params.seed)
        started = time.perf_counter()
        results["partitions"][name] = run_partition(cfg, data_dir, params, algos, progress)
        results["partitions"][name]["summary"] = summarise(results["partitions"][name])
        results["partitions"][name]["wall_seconds"] = time.perf_counter() - started
    return results


def markdown_tables(results: Dict[str, Any]) -> str:
    """The tables RESULTS.md shows (one block per partition)."""
    lines: List[str] = []
    for name, part in results["partitions"].items():
        classes = part["classes"]
        lines += [f"### {name}: clients " + ", ".join(f"{c} ({r['train']} train / {r['test']} test)"
                                                      for c, r in part["client_rows"].items()), "",
                  "| model | accuracy | macro-F1 | weighted F1 | AUC (OvR macro) | s per epoch | job overhead s |"
                  " sent B/round/client | sent B/param | received B/param |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for model_name, m in part["models"].items():
            fed = model_name.startswith("federated_")
            lines.append(
                f"| {model_name} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | {m['weighted_f1']:.4f} | "
                f"{m['auc_ovr_macro']:.4f} | {m['mean_epoch_seconds']:.2f} | "
                + (f"{m['job_overhead_seconds']:.0f} | {m['client_sent_bytes_per_round']:,.0f} | "
                   f"{m['sent_bytes_per_parameter']:.2f} | {m['received_bytes_per_parameter']:.2f} |" if fed
                   else "- | - | - | - |"))
        lines += ["", "| model | " + " | ".join(f"recall {c}" for c in classes) + " |",
                  "| --- | " + " | ".join("---" for _ in classes) + " |"]
        for model_name, m in part["models"].items():
            lines.append(f"| {model_name} | " + " | ".join(f"{m['recall_per_class'][c]:.3f}" for c in classes) + " |")
        lines += ["", "summary: " + ", ".join(f"{k} {v:+.4f}" if "delta" in k else f"{k} {v:.2f}"
                                              for k, v in part["summary"].items()), ""]
    return "\n".join(lines)


def quick_line(results: Dict[str, Any]) -> str:
    """The machine-readable last line: FedProx on IID vs the centralized CRNN."""
    summary = results["partitions"]["iid"]["summary"]
    tag = "crnn_quick" if results["quick"] else "crnn"
    return (f"{tag}: acc_delta_vs_central={summary['federated_fedprox_acc_delta_vs_central']:.4f} "
            f"epoch_s_ratio={summary['federated_fedprox_epoch_s_ratio']:.3f}")
