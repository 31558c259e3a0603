"""homo_nn runner of FedIDS: FATE 2.2's DefaultRunner with FedProx, one thread per process,
the full class list, a per-epoch learning curve and the bytes of every aggregation round.

Used from a pipeline as::

    HomoNN("homo_nn_0", runner_module="crnn_component.runner", runner_class="CRNNRunner",
           source="workspace", runner_conf={**get_config_of_default_runner(...), "algo": "fedprox", "mu": 0.01})

FATE resolves it with ``Loader("crnn_component.runner", "CRNNRunner", source="workspace")``
(fate/components/components/nn/component_utils.py: ``prepare_runner_class``): "workspace" is
a key of FATE's nn/source.yaml mapping to an empty path, so the module name is imported as
given from the task's interpreter, where FedIDS is installed. Clients (guest, hosts) and the
arbiter all build this runner (the arbiter in homo_nn's train stage); the predict stage
rebuilds it from the model's saved metadata (runner module, class, conf and source), so
prediction needs no extra setting.

What it adds to DefaultRunner:
- ``algo="fedprox"`` with ``mu``: clients train with loss + mu/2 * ||w - w_global||^2, w_global
  re-snapshotted after every aggregation (:class:`FedProxClient`); the arbiter's weighted mean
  is FedAvg's. ``mu = 0`` skips the term: FedAvg's computation exactly.
- ``class_weight="balanced"``: each client weighs its loss by its own class counts
  (crnn_component/losses.py); nothing about them is sent.
- ``torch.set_num_threads(num_threads)`` in every task process (2 cores shared by 3 processes).
- The dataset keeps the job's full class list (:class:`crnn_component.dataset.CRNNTableDataset`,
  built from the model's ``class_num`` and ``feat``) and refuses unusable tables clearly.
- Metrics through ``ctx.metrics`` (FATE Flow's metric API, FATE Board): per epoch
  ``train_loss`` (cross-entropy, without the proximal term) and ``train_accuracy`` of the
  client's running model over that epoch's batches; per round ``round_sent_bytes`` and
  ``round_received_bytes``; and a ``crnn_summary`` with the curve, every round's bytes,
  the process's total federation traffic and the model's parameter count.
- An audit trail: with ``FEDIDS_AUDIT_DIR`` set (fedids/audit.py), every object this task sends
  is recorded from the moment FATE hands the runner its context, clients and arbiter alike,
  including what FATE's homo trainer and secure aggregation send; tests/fate/test_crnn_privacy.py
  reads it. The recorder wraps the byte counter's wrapper of ``_push``: both see every message.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from fate.arch.dataframe import DataFrame
from fate.components.components.nn.runner.homo_default_runner import DefaultRunner, _check_instances
from fate.ml.nn.homo.fedavg import FedAVG, FedAVGClient, FedAVGServer

from crnn_component import traffic
from crnn_component.config import CLASS_WEIGHTS
from crnn_component.dataset import CRNNTableDataset
from crnn_component.fedprox import parameter_count, proximal_term, snapshot, trainable_parameters
from crnn_component.losses import balanced_class_weights, loss_for
from fedids import audit

logger = logging.getLogger(__name__)

ALGOS = ("fedavg", "fedprox")


def _round_record(index: int, delta: Optional[Dict[str, int]], seconds: float) -> Dict[str, Any]:
    record: Dict[str, Any] = {"round": index, "seconds": round(seconds, 6)}
    if delta is not None:
        record.update(delta)
    return record


class FedProxClient(FedAVGClient):
    """FATE's FedAvg client trainer with FedProx's proximal term and curve/traffic bookkeeping."""

    def __init__(self, *args: Any, mu: float = 0.0, class_weight: str = "none", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if mu < 0:
            raise ValueError(f"FedProx mu must be >= 0, got {mu}")
        self.mu = float(mu)
        self.class_weight = class_weight
        self.global_params: Optional[List[torch.Tensor]] = None
        self.curve: List[Dict[str, Any]] = []
        self.rounds: List[Dict[str, Any]] = []
        self.traffic = traffic.counter()
        self._curve_ctx = self.ctx.sub_ctx("crnn_curve")
        self._reset_epoch()

    # -- loss ---------------------------------------------------------------------------
    def _reset_epoch(self) -> None:
        self._loss_sum = 0.0
        self._correct = 0
        self._seen = 0
        self._epoch_started = time.perf_counter()
        self._epoch_federation_s = 0.0

    def compute_loss(self, model, inputs, **kwargs):
        if self._use_hf_default_behavior or not (isinstance(inputs, (tuple, list)) and len(inputs) == 2):
            return super().compute_loss(model, inputs, **kwargs)
        feats, labels = inputs
        output = model(feats)
        loss = self.loss_func(output, labels)
        if model.training:
            with torch.no_grad():
                n = int(labels.shape[0])
                self._loss_sum += float(loss.detach()) * n
                self._correct += int((output.argmax(dim=-1) == labels.reshape(-1)).sum())
                self._seen += n
        if self.mu > 0.0:
            if self.global_params is None:
                self.global_params = snapshot(model)
            loss = loss + proximal_term(trainable_parameters(model), self.global_params, self.mu)
        return loss

    # -- FATE trainer events -------------------------------------------------------------
    def on_train_begin(self, ctx, aggregator, fed_args, args, model=None, **kwargs):
        # every client starts from the same seeded weights: that is the first w_global
        self.global_params = snapshot(model if model is not None else self.model)
        if self.class_weight == "balanced":
            # from this client's own labels only: nothing about them is sent
            dataset = self.train_dataset
            labels = np.asarray(dataset.label).reshape(-1)
            self.loss_func = loss_for(dataset.class_num, balanced_class_weights(labels, dataset.class_num))

    def on_epoch_begin(self, ctx, aggregator, fed_args, args, model=None, **kwargs):
        self._reset_epoch()

    def on_federation(self, ctx, aggregator, fed_args, args, model=None, **kwargs):
        before = self.traffic.snapshot() if self.traffic is not None else None
        started = time.perf_counter()
        super().on_federation(ctx, aggregator, fed_args, args, model=model, **kwargs)
        seconds = time.perf_counter() - started
        self._epoch_federation_s += seconds
        record = _round_record(len(self.rounds), self.traffic.since(before) if before is not None else None, seconds)
        self.rounds.append(record)
        if before is not None:
            ctx.metrics.log_scalar("round_sent_bytes", float(record["sent_bytes"]))
            ctx.metrics.log_scalar("round_received_bytes", float(record["received_bytes"]))
        # the aggregated model is the next round's anchor
        self.global_params = snapshot(model if model is not None else self.model)

    def on_epoch_end(self, ctx, aggregator, fed_args, args, model=None, **kwargs):
        if self._seen == 0:
            return
        epoch = len(self.curve) + 1
        elapsed = time.perf_counter() - self._epoch_started
        point = {
            "epoch": epoch,
            "loss": self._loss_sum / self._seen,
            "accuracy": self._correct / self._seen,
            "rows": self._seen,
            "seconds": round(elapsed, 6),
            "compute_seconds": round(elapsed - self._epoch_federation_s, 6),
        }
        self.curve.append(point)
        metrics = self._curve_ctx.indexed_ctx(epoch).metrics
        metrics.log_loss("train_loss", point["loss"])
        metrics.log_accuracy("train_accuracy", point["accuracy"])
        logger.info("crnn epoch %s: %s", epoch, point)


class CountingServer(FedAVGServer):
    """FATE's FedAvg server (secure weighted mean), recording each round's bytes."""

    def __init__(self, ctx, local_mode: bool = False) -> None:
        super().__init__(ctx, local_mode)
        self.rounds: List[Dict[str, Any]] = []
        self.traffic = traffic.counter()

    def on_federation(self, ctx, aggregator, agg_iter_idx: int):
        before = self.traffic.snapshot() if self.traffic is not None else None
        started = time.perf_counter()
        super().on_federation(ctx, aggregator, agg_iter_idx)
        record = _round_record(agg_iter_idx, self.traffic.since(before) if before is not None else None,
                               time.perf_counter() - started)
        self.rounds.append(record)
        if before is not None:
            ctx.metrics.log_scalar("round_sent_bytes", float(record["sent_bytes"]))
            ctx.metrics.log_scalar("round_received_bytes", float(record["received_bytes"]))


class CRNNRunner(DefaultRunner):
    """DefaultRunner + FedProx (``algo="fedprox"``, ``mu``), threads, class list, metrics."""

    def __init__(self, algo: str = "fedavg", mu: float = 0.0, num_threads: int = 1, count_traffic: bool = True,
                 class_weight: str = "none", **kwargs: Any) -> None:
        if num_threads and int(num_threads) > 0:
            torch.set_num_threads(int(num_threads))
        if algo not in ALGOS:
            raise ValueError(f"CRNNRunner: algo must be one of {', '.join(ALGOS)}, got {algo!r}")
        mu = float(mu)
        if mu < 0:
            raise ValueError(f"CRNNRunner: mu must be >= 0, got {mu}")
        if algo == "fedavg" and mu != 0.0:
            raise ValueError(f"CRNNRunner: mu={mu} is a FedProx setting; use algo='fedprox' (FedAvg is mu = 0)")
        if class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"CRNNRunner: class_weight must be one of {', '.join(CLASS_WEIGHTS)}, got {class_weight!r}")
        super().__init__(algo="fedavg", **kwargs)  # FATE's checks; the server side is FedAvg's for both
        self.class_weight = class_weight
        self.fed_algo = algo
        self.mu = mu
        self.traffic = traffic.install() if count_traffic else None
        self.server = None
        self._train_seconds = 0.0

    def set_context(self, context) -> None:
        """FATE's hook before any message: from here on, record what this task sends (if enabled)."""
        super().set_context(context)
        audit.start_audit(context)

    # -- data ----------------------------------------------------------------------------
    def _model_kwarg(self, key: str) -> Any:
        kwargs = (self.model_conf or {}).get("kwargs") or {}
        return kwargs.get(key)

    def _prepare_data(self, data, data_name):
        if data is None:
            return None
        if self.dataset_conf is None and isinstance(data, DataFrame):
            class_num = self._model_kwarg("class_num")
            if class_num is None:
                raise ValueError("CRNNRunner: the model's kwargs carry no class_num; pass class_num to the "
                                 "ModelLoader (or a dataset_conf) so every client reports the full class list")
            dataset = CRNNTableDataset(class_num=int(class_num), feat=self._model_kwarg("feat"), data_name=data_name)
            dataset.load(data)
            return dataset
        return super()._prepare_data(data, data_name)

    # -- trainers ------------------------------------------------------------------------
    def client_setup(self, train_set=None, validate_set=None, output_dir=None, saved_model=None, stage="train"):
        """FATE's own client set-up, with FedProxClient swapped in as FedAvg's client class."""
        original = FedAVG.client
        FedAVG.client = functools.partial(FedProxClient, mu=self.mu, class_weight=self.class_weight)
        try:
            return super().client_setup(train_set, validate_set, output_dir, saved_model, stage)
        finally:
            FedAVG.client = original

    def server_setup(self, stage="train"):
        if stage == "predict":
            self.local_mode = True
        trainer = CountingServer(ctx=self.get_context(), local_mode=self.local_mode)
        _check_instances(trainer)
        return trainer

    def train(self, train_data=None, validate_data=None, output_dir=None, saved_model_path=None):
        started = time.perf_counter()
        if self.is_server():
            self.server = self.server_setup()
            self.server.train()
            self._train_seconds = time.perf_counter() - started
            self._log_summary(self.server.rounds, curve=None, params=None, rows=None)
            return
        super().train(train_data, validate_data, output_dir, saved_model_path)
        self._train_seconds = time.perf_counter() - started
        trainer: FedProxClient = self.trainer
        self._log_summary(trainer.rounds, curve=trainer.curve, params=parameter_count(trainer.model),
                          rows=len(trainer.train_dataset) if trainer.train_dataset is not None else None)

    def _log_summary(self, rounds, curve, params, rows) -> None:
        summary: Dict[str, Any] = {
            "algo": self.fed_algo,
            "mu": self.mu,
            "class_weight": self.class_weight,
            "train_seconds": round(self._train_seconds, 6),
            "rounds": rounds,
            "traffic_total": self.traffic.snapshot() if self.traffic is not None else None,
        }
        if curve is not None:
            summary.update(curve=curve, parameter_count=params, rows=rows)
            if params and rounds and self.traffic is not None:
                summary["sent_bytes_per_parameter_per_round"] = (
                    sum(r["sent_bytes"] for r in rounds) / len(rounds) / params)
                summary["received_bytes_per_parameter_per_round"] = (
                    sum(r["received_bytes"] for r in rounds) / len(rounds) / params)
        self.get_context().metrics.log_metrics(summary, name="crnn_summary")
        logger.info("crnn summary: %s", summary)
