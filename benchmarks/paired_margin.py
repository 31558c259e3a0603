"""How sure is a fused detector's margin over a single model? A paired bootstrap on one run's test split.

    python -m benchmarks.paired_margin runs/RUN_ID [--fused fusion_vote] [--resamples 2000]

Each resample draws the test records with replacement, the same records for both detectors, and
scores both on them; the spread of the difference is the margin's uncertainty from the choice of
test records (not from training: the models are fixed). Prints the margin in points with its 95 %
percentile interval for accuracy and macro-F1, against each single federated model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from fedids.fusion import FUSED_INPUTS, SELECT_BY, probability_columns, resampled_scores


def paired_margins(run_dir: Path, fused: str = "fusion_vote", singles: Sequence[str] = FUSED_INPUTS,
                   resamples: int = 2000, seed: int = 0, chunk: int = 200) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{single: {metric: {"margin", "low", "high"}}} in points, on the test records all of them scored."""
    classes = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["classes"]
    cols = probability_columns(classes)
    frames = {m: pd.read_csv(run_dir / "predictions" / f"{m}.test.csv") for m in (fused, *singles)}
    common = set.intersection(*(set(f["id"]) for f in frames.values()))
    frames = {m: f[f["id"].isin(common)].sort_values("id").reset_index(drop=True) for m, f in frames.items()}
    y = frames[fused]["label"].to_numpy(np.int64)
    predicted = {m: f[cols].to_numpy(float).argmax(axis=1) for m, f in frames.items()}
    rng = np.random.default_rng(seed)
    draws: Dict[str, Dict[str, List[np.ndarray]]] = {m: {k: [] for k in SELECT_BY} for m in singles}
    whole = np.arange(len(y))[None, :]
    for start in range(0, resamples, chunk):  # chunks keep the index matrix small
        index = rng.integers(0, len(y), size=(min(chunk, resamples - start), len(y)))
        for metric in SELECT_BY:
            base = resampled_scores(y, predicted[fused], index, metric, len(classes))
            for single in singles:
                draws[single][metric].append(base - resampled_scores(y, predicted[single], index, metric, len(classes)))
    out: Dict[str, Dict[str, Dict[str, float]]] = {}
    for single in singles:
        out[single] = {}
        for metric in SELECT_BY:
            diffs = 100.0 * np.concatenate(draws[single][metric])
            margin = 100.0 * float(resampled_scores(y, predicted[fused], whole, metric, len(classes))[0]
                                   - resampled_scores(y, predicted[single], whole, metric, len(classes))[0])
            low, high = np.percentile(diffs, [2.5, 97.5])
            out[single][metric] = {"margin": margin, "low": float(low), "high": float(high), "records": len(y)}
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run directory (runs/RUN_ID)")
    parser.add_argument("--fused", default="fusion_vote", help="the fused detector (default: fusion_vote)")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = paired_margins(args.run_dir, args.fused, resamples=args.resamples, seed=args.seed)
    print(f"{args.fused} minus each single model on the test split, points, 95 % paired-bootstrap interval "
          f"({args.resamples} resamples):")
    for single, metrics in result.items():
        parts = [f"{metric} {m['margin']:+.2f} [{m['low']:+.2f}, {m['high']:+.2f}]" for metric, m in metrics.items()]
        print(f"  vs {single}: " + "; ".join(parts) + f" ({next(iter(metrics.values()))['records']} records)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
