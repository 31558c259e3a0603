"""Per-party preprocessing: fitted on training rows only, JSON round trip, unseen categories, labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from data_upload.errors import DataError
from data_upload.preprocess import UNSEEN_CATEGORY_CODE, Preprocessor

CLASSES = ["normal", "DoS", "Probe"]


def train_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [10, 11, 12, 13],
            "proto": ["tcp", "udp", "tcp", "icmp"],
            "bytes": [0.0, 50.0, 100.0, 25.0],
            "constant": [7, 7, 7, 7],
            "traffic_class": ["normal", "DoS", "normal", "Probe"],
        }
    )


def fit(frame: pd.DataFrame, **kwargs) -> Preprocessor:
    return Preprocessor.fit(
        frame,
        ["proto", "bytes", "constant"],
        ["proto"],
        id_column="id",
        class_column="traffic_class",
        label_column="label",
        classes=CLASSES,
        **kwargs,
    )


def test_minmax_is_fitted_on_training_rows_only_so_test_values_beyond_train_range_stay_outside_0_1():
    prep = fit(train_frame())
    test = pd.DataFrame({"id": [1, 2], "proto": ["tcp", "tcp"], "bytes": [200.0, -50.0], "constant": [7, 9],
                         "traffic_class": ["DoS", "normal"]})  # fmt: skip
    out = prep.transform(test)
    assert out["bytes"].tolist() == [2.0, -0.5]  # scaled by the training range 0..100, not squeezed
    train_out = prep.transform(train_frame())
    assert train_out["bytes"].min() == 0.0 and train_out["bytes"].max() == 1.0


def test_constant_column_gets_scale_one_so_a_different_value_stays_visible():
    prep = fit(train_frame())
    assert prep.scaling["constant"] == {"offset": 7.0, "scale": 1.0}
    out = prep.transform(train_frame().assign(constant=[7, 7, 8, 7]))
    assert out["constant"].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_zscore_uses_training_mean_and_std():
    prep = fit(train_frame(), normalize="zscore")
    values = np.array([0.0, 50.0, 100.0, 25.0])
    assert prep.scaling["bytes"] == pytest.approx({"offset": values.mean(), "scale": values.std()})
    out = prep.transform(train_frame())
    assert out["bytes"].mean() == pytest.approx(0.0)
    assert out["bytes"].std(ddof=0) == pytest.approx(1.0)


def test_categories_get_codes_from_one_and_an_unseen_category_gets_the_reserved_code():
    prep = fit(train_frame())
    assert prep.categories["proto"] == ["icmp", "tcp", "udp"]
    test = train_frame().assign(proto=["udp", "sctp", "icmp", "tcp"])
    out = prep.transform(test)
    assert out["proto"].tolist() == [3, UNSEEN_CATEGORY_CODE, 1, 2]
    assert UNSEEN_CATEGORY_CODE == 0


def test_class_labels_become_codes_in_class_list_order_and_unknown_classes_are_refused():
    prep = fit(train_frame())
    out = prep.transform(train_frame())
    assert list(out.columns) == ["id", "proto", "bytes", "constant", "label"]
    assert out["label"].tolist() == [0, 1, 0, 2]
    with pytest.raises(DataError, match="U2R"):
        prep.transform(train_frame().assign(traffic_class=["normal", "U2R", "DoS", "DoS"]))


def test_json_round_trip_gives_identical_output(tmp_path):
    prep = fit(train_frame(), normalize="zscore")
    path = tmp_path / "A.json"
    prep.save(path)
    loaded = Preprocessor.load(path)
    assert loaded == prep
    test = train_frame().assign(bytes=[3.0, 1e9, -2.0, 0.5], proto=["udp", "gre", "tcp", "tcp"])
    pd.testing.assert_frame_equal(loaded.transform(test), prep.transform(test))
    assert json.loads(path.read_text())["classes"] == CLASSES


def test_party_without_labels_fits_and_transforms_only_its_own_columns():
    host = pd.DataFrame({"id": [1, 2, 3], "count": [1, 5, 9], "rate": [0.0, 0.5, 1.0]})
    prep = Preprocessor.fit(host, ["count", "rate"], id_column="id")
    out = prep.transform(host)
    assert list(out.columns) == ["id", "count", "rate"]
    assert prep.classes is None and "label" not in out.columns
    with pytest.raises(DataError, match="lacks column"):
        prep.transform(pd.DataFrame({"id": [1], "proto": ["tcp"]}))
    with pytest.raises(DataError, match="needs labels"):
        Preprocessor.fit(host, ["count", "rate"], select_top_k=1)


def test_feature_selection_keeps_the_informative_columns_and_is_seeded():
    rng = np.random.default_rng(0)
    n = 600
    y = rng.integers(0, 3, n)
    frame = pd.DataFrame(
        {
            "signal": y * 10.0 + rng.normal(0, 0.5, n),
            "noise_a": rng.normal(0, 1, n),
            "noise_b": rng.normal(0, 1, n),
            "also_signal": (y == 1).astype(float) + rng.normal(0, 0.1, n),
            "traffic_class": np.array(CLASSES)[y],
        }
    )
    features = ["signal", "noise_a", "noise_b", "also_signal"]
    kwargs = dict(class_column="traffic_class", label_column="label", classes=CLASSES, select_top_k=2, seed=3)
    first = Preprocessor.fit(frame, features, **kwargs)
    second = Preprocessor.fit(frame, features, **kwargs)
    assert first.selected_columns == ["signal", "also_signal"]
    assert first.feature_selection == second.feature_selection
    assert list(first.transform(frame).columns) == ["signal", "also_signal", "label"]
    assert set(first.scaling) == {"signal", "also_signal"}


def test_corrupt_preprocessor_json_names_the_key(tmp_path):
    raw = fit(train_frame()).to_dict()
    raw["scaling"]["bytes"] = {"offset": 0.0}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(DataError) as err:
        Preprocessor.load(path)
    assert err.value.key == "scaling.bytes"
