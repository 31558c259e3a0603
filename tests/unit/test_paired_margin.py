"""benchmarks/paired_margin.py: a fused detector's margin and its paired-bootstrap interval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from benchmarks.paired_margin import paired_margins

CLASSES = ["normal", "attack"]


def write(run_dir, name, ids, y, predicted):
    proba = np.eye(2)[predicted] * 0.8 + 0.1
    frame = pd.DataFrame({"id": ids, "label": y, "p_normal": proba[:, 0], "p_attack": proba[:, 1]})
    frame.sample(frac=1.0, random_state=1).to_csv(run_dir / "predictions" / f"{name}.test.csv", index=False)


def test_margin_is_the_score_difference_and_its_interval_covers_it_and_separates_a_clear_win(tmp_path):
    (tmp_path / "predictions").mkdir()
    (tmp_path / "run.json").write_text(json.dumps({"classes": CLASSES}))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    ids = np.arange(2000)
    right = lambda share: np.where(rng.random(2000) < share, y, 1 - y)  # noqa: E731
    write(tmp_path, "fusion_vote", ids, y, right(0.95))
    write(tmp_path, "rf", ids, y, right(0.80))
    crnn = right(0.95)
    write(tmp_path, "crnn", ids[:1900], y[:1900], crnn[:1900])      # scored fewer records: joined by id
    result = paired_margins(tmp_path, resamples=400)
    fused = pd.read_csv(tmp_path / "predictions" / "fusion_vote.test.csv").sort_values("id")
    rf = pd.read_csv(tmp_path / "predictions" / "rf.test.csv").sort_values("id")
    accuracy = lambda f: ((f["p_attack"] > 0.5).astype(int) == f["label"]).mean()  # noqa: E731
    vs_rf = result["rf"]["accuracy"]
    assert vs_rf["records"] == 1900
    assert vs_rf["low"] < vs_rf["margin"] < vs_rf["high"] and vs_rf["low"] > 10   # a clear win: interval above 0
    assert abs(vs_rf["margin"] - 100 * (accuracy(fused[fused["id"] < 1900]) - accuracy(rf[rf["id"] < 1900]))) < 1e-9
    vs_crnn = result["crnn"]["accuracy"]
    assert vs_crnn["low"] < 0 < vs_crnn["high"]                                  # equally good models: no call
