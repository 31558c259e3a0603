"""reader (A, B) -> psi -> hetero_random_forest (A guest, B host, C arbiter) -> evaluation,
and the predict pipeline that deploys the trained psi + forest on the test tables.

Who plays what comes from conf/parties.yaml (pipeline `vertical_rf`), the tables from the
prepared data set (`fate_tables.json` beside its manifest, written by `fedids data upload`),
the hyperparameters from conf/rf.yaml (a profile, e.g. tiny, quick, paper).

    python pipelines/vertical_rf.py --data out/nsl_vertical --profile tiny
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from data_upload.fate_upload import TableRef
from data_upload.manifest import load_manifest
from data_upload.upload import TABLES_FILE
from fedids.config import PartiesConfig, load_parties
from fedids.model_config import load_rf_profile
from fedids.flow import use_flow
from pipelines.common import new_pipeline, read_through_busy_flow, reader_task, run_job

PIPELINE = "vertical_rf"


@dataclass
class VerticalRfRun:
    """What a training (and optional prediction) run produced, as plain data."""

    train_job_id: str
    predict_job_id: Optional[str]
    params: Dict[str, Any]
    classes: List[str]
    train_metrics: List[Dict[str, Any]]
    evaluation: List[Dict[str, Any]]
    train_predictions: Any = None
    test_predictions: Any = None
    timings: Dict[str, float] = field(default_factory=dict)
    pipeline: Any = None          # the trained FateFlowPipeline, deployed when test was predicted


def party_tables(data_dir: Path, cfg: PartiesConfig, split: str) -> Dict[str, TableRef]:
    """The FATE tables of this split for every data party of the pipeline, by party name."""
    record_path = data_dir / TABLES_FILE
    if not record_path.is_file():
        raise FileNotFoundError(f"{record_path} not found: upload the data first (fedids data upload --manifest {data_dir})")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    roles = cfg.roles(PIPELINE)
    tables = {}
    for party in [roles.guest, *roles.hosts]:
        try:
            entry = record["parties"][party][split]
        except KeyError:
            raise KeyError(f"{record_path}: no {split} table of party {party}; is the data set vertical?") from None
        tables[party] = TableRef(entry["namespace"], entry["name"])
    return tables


def train_vertical_rf(cfg: PartiesConfig, data_dir: Path, params: Dict[str, Any], predict_test: bool = True) -> VerticalRfRun:
    """Train the forest through FATE Flow, evaluate it, and (optionally) predict the test split."""
    from fate_client.pipeline.components.fate import PSI, Evaluation

    from rf_component.pipeline_component import HeteroRandomForest

    manifest = load_manifest(data_dir)
    classes = list(manifest["classes"])
    roles = cfg.roles(PIPELINE)
    guest_id = cfg.party_id(roles.guest)
    pipeline = new_pipeline(cfg, PIPELINE)
    reader = reader_task("reader_0", cfg, PIPELINE, party_tables(data_dir, cfg, "train"))
    psi = PSI("psi_0", input_data=reader.outputs["output_data"])
    forest = HeteroRandomForest("rf_0", train_data=psi.outputs["output_data"], num_class=len(classes), **params)
    evaluation = Evaluation(
        "eval_0",
        runtime_parties=dict(guest=guest_id),
        default_eval_setting="multi",
        predict_column_name="predict_result",
        input_datas=[forest.outputs["train_output_data"]],
    )
    pipeline.add_tasks([reader, psi, forest, evaluation])
    pipeline.compile()
    started = time.perf_counter()
    run_job(pipeline, "train")
    timings = {"train_job_s": time.perf_counter() - started}
    run = VerticalRfRun(
        train_job_id=pipeline.model_info.job_id,
        predict_job_id=None,
        params=params,
        classes=classes,
        train_metrics=read_through_busy_flow(pipeline.get_task_info("rf_0").get_output_metric),
        evaluation=read_through_busy_flow(pipeline.get_task_info("eval_0").get_output_metric),
        train_predictions=read_through_busy_flow(pipeline.get_task_info("rf_0").get_output_data)["train_output_data"],
        timings=timings,
        pipeline=pipeline,
    )
    if predict_test:
        started = time.perf_counter()
        run.predict_job_id, run.test_predictions = predict_test_split(cfg, data_dir, pipeline, [psi, forest])
        run.timings["predict_job_s"] = time.perf_counter() - started
    return run


def predict_test_split(cfg: PartiesConfig, data_dir: Path, pipeline: Any, tasks: List[Any], split: str = "test",
                       deploy: bool = True) -> tuple:
    """Deploy the trained psi + model tasks and run them on the parties' tables of ``split``.

    Returns the predict job id and the model task's predictions (the last of ``tasks``).
    ``deploy=False`` reuses an earlier deployment of the same tasks.
    """
    return predict_tables(cfg, pipeline, tasks, party_tables(data_dir, cfg, split), deploy=deploy)


def predict_tables(cfg: PartiesConfig, pipeline: Any, tasks: List[Any], tables: Dict[str, TableRef],
                   deploy: bool = True) -> tuple:
    """Run the deployed psi + model tasks on the given tables (by party name): (job id, predictions)."""
    from fate_client.pipeline import FateFlowPipeline

    use_flow(cfg.flow)  # a pipeline loaded from a run directory does not carry the address
    if deploy:
        pipeline.deploy(tasks)
    deployed = pipeline.get_deployed_pipeline()
    predict_pipeline = FateFlowPipeline()
    test_reader = reader_task("reader_1", cfg, PIPELINE, tables)
    deployed.psi_0.input_data = test_reader.outputs["output_data"]
    predict_pipeline.add_tasks([test_reader, deployed])
    predict_pipeline.compile()
    run_job(predict_pipeline, "predict")
    model_task = tasks[-1] if isinstance(tasks[-1], str) else tasks[-1].task_name
    predictions = read_through_busy_flow(predict_pipeline.get_task_info(model_task).get_output_data)["test_output_data"]
    return predict_pipeline.model_info.job_id, predictions


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder of a prepared and uploaded vertical data set")
    parser.add_argument("--profile", default="quick", help="profile of conf/rf.yaml (tiny, quick, paper)")
    parser.add_argument("--parties", default=None, help="parties file (default conf/parties.yaml)")
    parser.add_argument("--rf-config", default=None, help="forest settings (default conf/rf.yaml)")
    parser.add_argument("--no-predict", action="store_true", help="train and evaluate only")
    args = parser.parse_args(argv)
    cfg = load_parties(args.parties)
    params = load_rf_profile(args.profile, args.rf_config)
    run = train_vertical_rf(cfg, Path(args.data), params, predict_test=not args.no_predict)
    print(f"train job {run.train_job_id} ({run.timings['train_job_s']:.0f} s); predict job {run.predict_job_id}")
    for metric in run.evaluation:
        print(json.dumps(metric)[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
