"""The centralized baseline: the same CRNN trained with plain torch on the pooled clients' rows.

Same model (crnn_component.model.CRNN, same seed), loss (cross-entropy; binary cross-entropy
for two classes), optimizer (Adam, lr, weight decay = L2), batch size and epochs as the
federated run (conf/crnn.yaml); no gradient clipping on either side. It answers "what does
federation cost": the accuracy gap, and the epoch time on the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch

from crnn_component.config import CrnnParams
from crnn_component.fedprox import parameter_count
from crnn_component.losses import balanced_class_weights, loss_for
from crnn_component.model import CRNN


@dataclass
class CentralizedRun:
    """The trained model, its learning curve and timings."""

    model: CRNN
    curve: List[Dict[str, Any]]
    epoch_seconds: List[float]
    parameter_count: int
    rows: int
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def mean_epoch_seconds(self) -> float:
        return float(np.mean(self.epoch_seconds)) if self.epoch_seconds else 0.0


def pooled_arrays(data_dir: Union[str, Path], parties: Sequence[str], split: str, manifest: Optional[Dict] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Features (float32) and labels (int64) of ``split`` of every listed party, stacked in that order."""
    from data_upload.manifest import load_manifest

    data_dir = Path(data_dir)
    manifest = manifest or load_manifest(data_dir)
    id_column, label_column = manifest["id_column"], manifest["label_column"]
    xs, ys = [], []
    for party in parties:
        info = manifest["parties"][party]["splits"][split]
        frame = pd.read_csv(data_dir / info["file"])
        ys.append(frame[label_column].to_numpy(np.int64))
        xs.append(frame.drop(columns=[id_column, label_column]).to_numpy(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def build_model(params: CrnnParams, feat: int, class_num: int) -> CRNN:
    return CRNN(feat=feat, class_num=class_num, **params.model_kwargs())


def _optimizer(params: CrnnParams, model: torch.nn.Module) -> torch.optim.Optimizer:
    if params.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)


def train_centralized(x: np.ndarray, y: np.ndarray, params: CrnnParams, class_num: int,
                      epochs: Optional[int] = None, num_threads: int = 1) -> CentralizedRun:
    """Train the CRNN on (x, y) for ``epochs`` (default params.epochs); batches reshuffled each epoch."""
    if len(x) == 0:
        raise ValueError("centralized CRNN: no training rows")
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    # Subnormal floats are 10-100x slower on CPUs: without this, epochs slowed from 2 s to 13 s
    # as weight decay drove weights towards zero (measured). FATE's secure aggregation rounds
    # such values to zero every round, so the federated clients never slowed.
    torch.set_flush_denormal(True)
    labels = np.asarray(y, dtype=np.int64)
    if labels.min() < 0 or labels.max() >= class_num:
        raise ValueError(f"centralized CRNN: labels must be in 0..{class_num - 1}, got {sorted(set(labels.tolist()))}")
    model = build_model(params, feat=int(x.shape[1]), class_num=class_num)
    optimizer = _optimizer(params, model)
    loss_fn = loss_for(class_num, balanced_class_weights(labels, class_num) if params.class_weight == "balanced" else None)
    features = torch.as_tensor(np.asarray(x, dtype=np.float32))
    targets = torch.as_tensor(labels)
    generator = torch.Generator().manual_seed(params.seed)
    curve: List[Dict[str, Any]] = []
    seconds: List[float] = []
    for epoch in range(1, (epochs or params.epochs) + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(features), generator=generator)
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), params.batch_size):
            index = order[start:start + params.batch_size]
            optimizer.zero_grad()
            logits = model(features[index])
            loss = loss_fn(logits, targets[index])
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(index)
            correct += int((logits.argmax(dim=-1) == targets[index]).sum())
        seconds.append(time.perf_counter() - started)
        curve.append({"epoch": epoch, "loss": loss_sum / len(order), "accuracy": correct / len(order),
                      "rows": len(order), "seconds": seconds[-1]})
    model.eval()
    return CentralizedRun(model=model, curve=curve, epoch_seconds=seconds, parameter_count=parameter_count(model),
                          rows=len(features))


def predict_proba(model: CRNN, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Class probabilities (rows, classes) of the model in eval mode."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(torch.as_tensor(np.asarray(x[start:start + batch_size], dtype=np.float32))).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.class_num), dtype=np.float32)


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> Dict[str, float]:
    """Accuracy and macro-F1 over the classes present in y_true or predicted."""
    y_true = np.asarray(y_true)
    y_pred = proba.argmax(axis=1)
    f1s = []
    for c in sorted(set(y_true.tolist()) | set(y_pred.tolist())):
        tp = int(((y_pred == c) & (y_true == c)).sum())
        fp = int(((y_pred == c) & (y_true != c)).sum())
        fn = int(((y_pred != c) & (y_true == c)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return {"accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
            "macro_f1": float(np.mean(f1s)) if f1s else 0.0}


def run_centralized_baseline(data_dir: Union[str, Path], params: CrnnParams, parties: Sequence[str],
                             epochs: Optional[int] = None) -> Dict[str, Any]:
    """Train on the pooled train splits of ``parties``, evaluate on their pooled test splits."""
    from data_upload.manifest import load_manifest

    manifest = load_manifest(Path(data_dir))
    class_num = len(manifest["classes"])
    x, y = pooled_arrays(data_dir, parties, "train", manifest)
    run = train_centralized(x, y, params, class_num, epochs=epochs)
    result: Dict[str, Any] = {"curve": run.curve, "mean_epoch_seconds": run.mean_epoch_seconds,
                              "parameter_count": run.parameter_count, "train_rows": run.rows,
                              "train": classification_metrics(y, predict_proba(run.model, x))}
    if all("test" in manifest["parties"][p]["splits"] for p in parties):
        xt, yt = pooled_arrays(data_dir, parties, "test", manifest)
        result["test"] = classification_metrics(yt, predict_proba(run.model, xt))
        result["test_rows"] = len(yt)
    return result
