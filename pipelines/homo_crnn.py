"""reader (each client) -> homo_nn (the CRNN, FedAvg or FedProx) -> evaluation, and the predict
pipeline that deploys the trained homo_nn on the clients' test tables.

Who plays what comes from conf/parties.yaml (pipeline `homo_crnn`: guest and hosts are the
clients, the arbiter aggregates), the tables from a prepared horizontal data set
(`fate_tables.json` beside its manifest, written by `fedids data upload`), the
hyperparameters from conf/crnn.yaml (a profile: tiny, quick, paper).

    python pipelines/homo_crnn.py --data out/nsl_horizontal --profile tiny --algo fedprox
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from crnn_component.config import CrnnParams, load_crnn_profile
from data_upload.fate_upload import TableRef
from data_upload.manifest import load_manifest
from data_upload.upload import TABLES_FILE
from fedids.config import PartiesConfig, load_parties
from fedids.paths import project_root
from pipelines.common import data_parties, new_pipeline, read_through_busy_flow, reader_task, run_job

PIPELINE = "homo_crnn"
RUNNER_MODULE = "crnn_component.runner"
RUNNER_CLASS = "CRNNRunner"
SOURCE = "workspace"  # a key of FATE's nn/source.yaml: import the module names as given
TASK = "homo_nn_0"


class HomoCrnnInputError(ValueError):
    """The data set or tables cannot be trained on; the message says why and what to do."""


class HomoCrnnJobError(RuntimeError):
    """A FATE job failed; ``details`` holds the error lines FATE's task logs recorded."""

    def __init__(self, message: str, job_id: Optional[str], details: str = "") -> None:
        super().__init__(message + (f"\n{details}" if details else ""))
        self.job_id = job_id
        self.details = details


@dataclass
class HomoCrnnRun:
    """What a training (and optional prediction) run produced, as plain data."""

    train_job_id: str
    predict_job_id: Optional[str]
    algo: str
    mu: float
    params: Dict[str, Any]
    classes: List[str]
    clients: Dict[str, str]                       # party name -> role ("guest", "host_0", ...)
    evaluation: Dict[str, List[Dict[str, Any]]]   # party -> evaluation metrics of its training rows
    curve: List[Dict[str, Any]]                   # per epoch, clients' loss/accuracy weighted by rows
    client_curves: Dict[str, List[Dict[str, Any]]]
    rounds: Dict[str, List[Dict[str, Any]]]       # party (clients and arbiter) -> bytes per round
    parameter_count: int
    bytes_per_round: Dict[str, Dict[str, float]]  # party -> mean sent/received bytes per round
    summaries: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    train_predictions: Dict[str, Any] = field(default_factory=dict)
    test_predictions: Dict[str, Any] = field(default_factory=dict)
    test_metrics: Dict[str, Dict[str, float]] = field(default_factory=dict)
    timings: Dict[str, float] = field(default_factory=dict)
    valid_predictions: Dict[str, Any] = field(default_factory=dict)  # party -> predictions of its valid rows
    pipeline: Any = None                                             # the trained FateFlowPipeline


# -- inputs --------------------------------------------------------------------------------

def client_parties(cfg: PartiesConfig) -> Dict[str, str]:
    """The clients of the pipeline, party name -> FATE role label (guest, host_0, host_1, ...)."""
    roles = cfg.roles(PIPELINE)
    if roles.arbiter is None:
        raise HomoCrnnInputError(f"{cfg.source}: pipelines.{PIPELINE} needs an arbiter (it aggregates the models)")
    clients = {roles.guest: "guest"}
    for i, host in enumerate(roles.hosts):
        clients[host] = f"host_{i}"
    return clients


def client_tables(data_dir: Path, cfg: PartiesConfig, split: str) -> Dict[str, TableRef]:
    """The FATE tables of this split for every client of the pipeline, by party name."""
    record_path = Path(data_dir) / TABLES_FILE
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} not found: upload the data first (fedids data upload --manifest {data_dir})")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    tables = {}
    for party in client_parties(cfg):
        try:
            entry = record["parties"][party][split]
        except KeyError:
            raise HomoCrnnInputError(
                f"{record_path}: no {split} table of client {party}; prepare a horizontal data set with a client "
                f"per party of pipelines.{PIPELINE} (guest and hosts) and upload it") from None
        tables[party] = TableRef(entry["namespace"], entry["name"])
    return tables


def check_horizontal_data(manifest: Dict[str, Any], clients: Sequence[str], source: str = "manifest") -> int:
    """Check a prepared data set before any job is submitted; return the feature count.

    Every client must hold a non-empty train split with the same feature columns in the same
    order, and only labels of the manifest's class list.
    """
    if manifest.get("layout") != "horizontal":
        raise HomoCrnnInputError(f"{source}: layout is {manifest.get('layout')!r}; the CRNN needs a horizontal data "
                                 "set (fedids data prepare --layout horizontal)")
    id_column, label_column = manifest["id_column"], manifest["label_column"]
    classes = list(manifest["classes"])
    reference: Optional[List[str]] = None
    for party in clients:
        if party not in manifest["parties"]:
            raise HomoCrnnInputError(f"{source}: client {party} holds no table; prepared clients: "
                                     f"{', '.join(manifest['parties'])}")
        for split, info in manifest["parties"][party]["splits"].items():
            if label_column not in info["columns"]:
                raise HomoCrnnInputError(f"{source}: {party}'s {split} table has no label column {label_column!r}")
            features = [c for c in info["columns"] if c not in (id_column, label_column)]
            if reference is None:
                reference = features
            elif features != reference:
                raise HomoCrnnInputError(
                    f"{source}: client {party}'s {split} table has {len(features)} feature columns, "
                    f"not the {len(reference)} of the first client (or in another order): every client must "
                    "hold the same features in the same order")
            unknown = sorted(set(info.get("class_counts", {})) - set(classes))
            if unknown:
                raise HomoCrnnInputError(f"{source}: {party}'s {split} table has labels {unknown} outside the "
                                         f"class list {classes}")
        if int(manifest["parties"][party]["splits"]["train"]["rows"]) == 0:
            raise HomoCrnnInputError(f"{source}: client {party}'s train table is empty: every client needs rows")
    return len(reference or [])


def runner_conf(params: CrnnParams, feat: int, class_num: int) -> Dict[str, Any]:
    """homo_nn's runner_conf for CRNNRunner: the CRNN, loss, Adam/SGD, epochs, FedAvg/FedProx."""
    from fate_client.pipeline.components.fate.homo_nn import get_config_of_default_runner
    from fate_client.pipeline.components.fate.nn.algo_params import FedAVGArguments, TrainingArguments
    from fate_client.pipeline.components.fate.nn.loader import CustFuncLoader, ModelLoader
    from fate_client.pipeline.components.fate.nn.torch import nn, optim

    model = ModelLoader("crnn_component.model", "CRNN", source=SOURCE, feat=int(feat), class_num=int(class_num),
                        **params.model_kwargs())
    if class_num == 2:  # the paper's binary cross-entropy (crnn_component/losses.py)
        loss = CustFuncLoader("crnn_component.losses", "TwoLogitBCELoss", source=SOURCE)
    else:
        loss = nn.CrossEntropyLoss()
    optimizer_cls = optim.Adam if params.optimizer == "adam" else optim.SGD
    conf = get_config_of_default_runner(
        algo="fedavg",
        model=model,
        loss=loss,
        optimizer=optimizer_cls(lr=params.lr, weight_decay=params.weight_decay),
        # no gradient clipping (Hugging Face's default clips at 1.0): the paper and the
        # centralized baseline do not clip
        training_args=TrainingArguments(num_train_epochs=params.epochs, per_device_train_batch_size=params.batch_size,
                                        seed=params.seed, max_grad_norm=0.0),
        fed_args=FedAVGArguments(aggregate_strategy="epoch", aggregate_freq=params.aggregate_every),
        task_type="multi",
    )
    conf.update(algo=params.algo, mu=params.effective_mu, num_threads=1, class_weight=params.class_weight)
    return conf


# -- jobs ----------------------------------------------------------------------------------

def job_error_details(job_id: Optional[str], logs_root: Optional[Path] = None) -> str:
    """The error lines of a failed job's task logs (FATE standalone keeps them under .fate/flow/logs)."""
    if not job_id:
        return ""
    folder = (logs_root or project_root() / ".fate" / "flow" / "logs") / job_id
    if not folder.is_dir():
        return ""
    lines: List[str] = []
    for path in sorted(folder.rglob("ERROR")):
        for line in path.read_text(errors="replace").splitlines():
            if "Error" in line or "FedIDS" in line:
                lines.append(line.strip())
    ours = [line for line in lines if "FedIDS" in line]
    return "\n".join(dict.fromkeys(ours or lines[-5:]))


def _run_job(pipeline, stage: str) -> None:
    try:
        run_job(pipeline, stage)
    except ValueError as exc:
        text = str(exc)
        if "job_id=" not in text:
            raise
        job_id = text.split("job_id=")[1].split()[0].strip(",;")
        raise HomoCrnnJobError(f"the {stage} job {job_id} failed ({text})", job_id, job_error_details(job_id)) from exc


def _metric(metrics: List[Dict[str, Any]], name: str) -> Optional[Dict[str, Any]]:
    for metric in metrics or []:
        if metric.get("name") == name:
            data = metric.get("data")
            return data if isinstance(data, dict) else None
    return None


def _weighted_curve(curves: Dict[str, List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
    epochs = min((len(c) for c in curves.values()), default=0)
    out = []
    for i in range(epochs):
        points = [c[i] for c in curves.values()]
        rows = sum(p["rows"] for p in points)
        out.append({"epoch": i + 1, "rows": rows,
                    "loss": sum(p["loss"] * p["rows"] for p in points) / rows,
                    "accuracy": sum(p["accuracy"] * p["rows"] for p in points) / rows,
                    "seconds": max(p["seconds"] for p in points),
                    "compute_seconds": max(p.get("compute_seconds", p["seconds"]) for p in points)})
    return out


def split_by_dataset_type(frame, kind: str):
    """The rows of homo_nn's train_output_data of one dataset type ("train" or "validate")."""
    if frame is None or "type" not in frame:
        return frame
    return frame[frame["type"].astype(str).str.startswith(kind)].reset_index(drop=True)


def parse_detail(value: Any) -> Dict[str, float]:
    """predict_detail of one row as {class code (str): probability}."""
    detail = ast.literal_eval(value) if isinstance(value, str) else value
    return {str(k): float(v) for k, v in detail.items()}


def _prediction_metrics(frame, class_num: int) -> Dict[str, float]:
    import numpy as np

    from crnn_component.centralized import classification_metrics

    if frame is None or len(frame) == 0 or "label" not in frame:
        return {}
    proba = np.array([[parse_detail(d).get(str(c), 0.0) for c in range(class_num)] for d in frame["predict_detail"]])
    return classification_metrics(frame["label"].to_numpy(int), proba)


def run_homo_crnn(cfg: PartiesConfig, train_tables: Dict[str, TableRef], feat: int, classes: Sequence[str],
                  params: CrnnParams, test_tables: Optional[Dict[str, TableRef]] = None,
                  fetch_predictions: bool = True, valid_tables: Optional[Dict[str, TableRef]] = None) -> HomoCrnnRun:
    """Train (and optionally predict) through FATE Flow on tables already in FATE.

    ``valid_tables``: homo_nn's validate_data; the train job then also predicts them (FATE
    appends them to train_output_data, marked by its dataset-type column), no extra job.
    """
    from fate_client.pipeline.components.fate import Evaluation, HomoNN
    from fate_client.pipeline.utils.fateflow.fate_flow_job_invoker import FATEFlowJobInvoker

    clients = client_parties(cfg)
    roles = cfg.roles(PIPELINE)
    class_num = len(classes)
    pipeline = new_pipeline(cfg, PIPELINE)
    reader = reader_task("reader_0", cfg, PIPELINE, train_tables)
    homo_nn = HomoNN(TASK, runner_module=RUNNER_MODULE, runner_class=RUNNER_CLASS, source=SOURCE,
                     runner_conf=runner_conf(params, feat, class_num), train_data=reader.outputs["output_data"])
    tasks = [reader]
    if valid_tables:
        valid_reader = reader_task("reader_valid", cfg, PIPELINE, valid_tables)
        homo_nn.validate_data = valid_reader.outputs["output_data"]
        tasks.append(valid_reader)
    evaluation = Evaluation(
        "eval_0",
        runtime_parties=data_parties(cfg, roles),
        default_eval_setting="multi",
        predict_column_name="predict_result",
        input_datas=[homo_nn.outputs["train_output_data"]],
    )
    pipeline.add_tasks([*tasks, homo_nn, evaluation])
    pipeline.compile()
    started = time.perf_counter()
    _run_job(pipeline, "train")
    timings = {"train_job_s": time.perf_counter() - started}
    job_id = pipeline.model_info.job_id
    invoker = FATEFlowJobInvoker()

    def role_of(label: str) -> str:
        return "guest" if label == "guest" else "host"

    evaluation_by_party: Dict[str, List[Dict[str, Any]]] = {}
    summaries: Dict[str, Dict[str, Any]] = {}
    train_predictions: Dict[str, Any] = {}
    def metric(role: str, party_id: str, task: str) -> List[Dict[str, Any]]:
        return read_through_busy_flow(lambda: invoker.get_output_metric(job_id, role, party_id, task))

    for party, label in clients.items():
        role, party_id = role_of(label), cfg.party_id(party)
        evaluation_by_party[party] = metric(role, party_id, "eval_0")
        summaries[party] = _metric(metric(role, party_id, TASK), "crnn_summary") or {}
        if fetch_predictions or valid_tables:
            outputs = read_through_busy_flow(lambda: invoker.get_output_data(job_id, role, party_id, TASK))
            train_predictions[party] = (outputs or {}).get("train_output_data")
    summaries[roles.arbiter] = _metric(metric("arbiter", cfg.party_id(roles.arbiter), TASK), "crnn_summary") or {}

    client_curves = {p: summaries[p].get("curve", []) for p in clients}
    rounds = {p: s.get("rounds", []) for p, s in summaries.items()}
    bytes_per_round = {
        p: {"sent": sum(r.get("sent_bytes", 0) for r in rs) / len(rs),
            "received": sum(r.get("received_bytes", 0) for r in rs) / len(rs), "rounds": len(rs)}
        for p, rs in rounds.items() if rs
    }
    run = HomoCrnnRun(
        train_job_id=job_id, predict_job_id=None, algo=params.algo, mu=params.effective_mu, params=params.to_dict(),
        classes=list(classes), clients=clients, evaluation=evaluation_by_party, curve=_weighted_curve(client_curves),
        client_curves=client_curves, rounds=rounds,
        parameter_count=int(next((s["parameter_count"] for s in summaries.values() if "parameter_count" in s), 0)),
        bytes_per_round=bytes_per_round, summaries=summaries, train_predictions=train_predictions, timings=timings,
        pipeline=pipeline,
    )
    if valid_tables:
        for party, frame in train_predictions.items():
            run.valid_predictions[party] = split_by_dataset_type(frame, "validate")
            run.train_predictions[party] = split_by_dataset_type(frame, "train")
    if test_tables:
        pipeline.deploy([homo_nn])
        started = time.perf_counter()
        run.predict_job_id, run.test_predictions = predict_deployed(cfg, pipeline, test_tables)
        run.timings["predict_job_s"] = time.perf_counter() - started
        for party, frame in run.test_predictions.items():
            run.test_metrics[party] = _prediction_metrics(frame, class_num)
    return run


def predict_deployed(cfg: PartiesConfig, pipeline: Any, tables: Dict[str, TableRef]) -> tuple:
    """Run a trained, deployed homo_nn pipeline on the clients' tables: (job id, predictions by party).

    ``pipeline`` is the training FateFlowPipeline after ``deploy`` (or one loaded with
    ``FateFlowPipeline.load_model`` from a run directory).
    """
    from fate_client.pipeline import FateFlowPipeline
    from fate_client.pipeline.utils.fateflow.fate_flow_job_invoker import FATEFlowJobInvoker

    from fedids.flow import use_flow

    use_flow(cfg.flow)
    clients = client_parties(cfg)
    deployed = pipeline.get_deployed_pipeline()
    test_reader = reader_task("reader_1", cfg, PIPELINE, tables)
    getattr(deployed, TASK).test_data = test_reader.outputs["output_data"]
    predict_pipeline = FateFlowPipeline()
    predict_pipeline.add_tasks([test_reader, deployed])
    predict_pipeline.compile()
    _run_job(predict_pipeline, "predict")
    job_id = predict_pipeline.model_info.job_id
    invoker = FATEFlowJobInvoker()
    frames = {}
    for party, label in clients.items():
        role = "guest" if label == "guest" else "host"
        outputs = read_through_busy_flow(lambda: invoker.get_output_data(job_id, role, cfg.party_id(party), TASK))
        frames[party] = (outputs or {}).get("test_output_data")
    return job_id, frames


def train_homo_crnn(cfg: PartiesConfig, data_dir: Path, params: CrnnParams, predict_test: bool = True,
                    predict_valid: bool = False) -> HomoCrnnRun:
    """Train the federated CRNN on a prepared, uploaded horizontal data set; predict its test tables.

    The function `fedids train crnn` calls. ``params`` from :func:`load_crnn_profile`
    (``params.with_overrides(algo=..., mu=..., epochs=...)`` for command-line options).
    """
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    clients = list(client_parties(cfg))
    feat = check_horizontal_data(manifest, clients, source=str(data_dir / "manifest.json"))
    train_tables = client_tables(data_dir, cfg, "train")
    test_tables = None
    if predict_test and all("test" in manifest["parties"][p]["splits"] for p in clients):
        test_tables = client_tables(data_dir, cfg, "test")
    valid_tables = client_tables(data_dir, cfg, "valid") if predict_valid else None
    return run_homo_crnn(cfg, train_tables, feat, manifest["classes"], params, test_tables=test_tables,
                         valid_tables=valid_tables)


def summary_lines(run: HomoCrnnRun) -> List[str]:
    """Human-readable lines of a run (what `main` and the CLI print)."""
    lines = [f"train job {run.train_job_id} ({run.timings.get('train_job_s', 0):.0f} s), algo {run.algo}, "
             f"mu {run.mu}; predict job {run.predict_job_id}",
             f"parameters: {run.parameter_count}"]
    for point in run.curve:
        lines.append(f"epoch {point['epoch']}: loss {point['loss']:.4f} accuracy {point['accuracy']:.4f} "
                     f"({point['seconds']:.1f} s)")
    for party, stats in run.bytes_per_round.items():
        per_param = stats["sent"] / run.parameter_count if run.parameter_count else float("nan")
        lines.append(f"{party}: {stats['sent']:.0f} B sent, {stats['received']:.0f} B received per round "
                     f"({per_param:.2f} B sent per parameter)")
    for party, metrics in run.test_metrics.items():
        lines.append(f"{party} test: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of `python pipelines/homo_crnn.py` and `fedids train crnn`."""
    parser.add_argument("--data", required=True, help="folder of a prepared and uploaded horizontal data set")
    parser.add_argument("--profile", default="quick", help="profile of conf/crnn.yaml (tiny, quick, paper)")
    parser.add_argument("--algo", choices=["fedavg", "fedprox"], default=None, help="default: the profile's")
    parser.add_argument("--mu", type=float, default=None, help="FedProx mu (default: the profile's)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    parser.add_argument("--parties", default=None, help="parties file (default conf/parties.yaml)")
    parser.add_argument("--crnn-config", default=None, help="CRNN settings (default conf/crnn.yaml)")
    parser.add_argument("--no-predict", action="store_true", help="train and evaluate only")
    parser.add_argument("--centralized", action="store_true",
                        help="also train the centralized baseline on the pooled clients' rows")
    parser.add_argument("--json", default=None, help="write the run's figures (no predictions) to this file")
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    """Train (and predict) as the parsed options say; print a summary; 0 on success."""
    cfg = load_parties(args.parties)
    params = load_crnn_profile(args.profile, args.crnn_config).with_overrides(
        algo=args.algo, mu=args.mu, epochs=args.epochs)
    run = train_homo_crnn(cfg, Path(args.data), params, predict_test=not args.no_predict)
    for line in summary_lines(run):
        print(line)
    report: Dict[str, Any] = {k: v for k, v in run.__dict__.items() if k not in ("train_predictions", "test_predictions")}
    if args.centralized:
        from crnn_component.centralized import run_centralized_baseline

        central = run_centralized_baseline(args.data, params, list(run.clients))
        report["centralized"] = central
        print(f"centralized: train {central['train']}, test {central.get('test')}, "
              f"{central['mean_epoch_seconds']:.2f} s per epoch")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
