"""Protocols and party splits: stratified sizes, disjoint subsets, seeded Dirichlet skew, column plans."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_upload.errors import DataError
from data_upload.partition import (
    assign_ids,
    check_no_label_leak,
    client_names,
    draw_paper_subsets,
    drop_ids,
    intersection_size,
    partition_horizontal,
    plan_vertical,
    split_stratified,
)
from data_upload.stratify import apportion, seeded_rng

CLASSES = ["normal", "DoS", "Probe", "R2L", "U2R"]
FEATURES = ["f1", "f2", "f3", "f4", "f5"]


def table(counts, seed: int = 0) -> pd.DataFrame:
    """A labelled table with the given number of rows per class (in CLASSES order)."""
    names = np.repeat(CLASSES[: len(counts)], counts)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(size=len(names)) for f in FEATURES})
    frame["traffic_class"] = pd.Categorical(names, categories=CLASSES)
    frame.insert(0, "id", np.arange(len(frame)))
    return frame


def class_share(frame: pd.DataFrame) -> np.ndarray:
    counts = frame["traffic_class"].value_counts(sort=False).to_numpy()
    return counts / counts.sum()


def test_apportion_is_exact_and_never_exceeds_a_count():
    assert apportion(10, [1, 1, 1]).tolist() == [4, 3, 3]
    shares = apportion(2000, [6734, 4592, 1165, 99, 5])
    assert shares.sum() == 2000
    assert (shares <= np.array([6734, 4592, 1165, 99, 5])).all()


def test_stratified_split_has_exact_test_size_and_keeps_class_shares():
    pool = table([5000, 3000, 1500, 450, 50])
    train, test = split_stratified(pool, 0.2, seeded_rng(1, "split"))
    assert len(test) == 2000 and len(train) == 8000
    assert set(train["id"]).isdisjoint(test["id"])
    assert test["traffic_class"].value_counts(sort=False).tolist() == [1000, 600, 300, 90, 10]


def test_split_is_reproducible_with_the_seed_and_changes_with_another():
    pool = table([300, 200, 100])
    a = split_stratified(pool, 0.2, seeded_rng(7, "split"))[1]["id"].tolist()
    b = split_stratified(pool, 0.2, seeded_rng(7, "split"))[1]["id"].tolist()
    c = split_stratified(pool, 0.2, seeded_rng(8, "split"))[1]["id"].tolist()
    assert a == b and a != c


def test_paper_subsets_are_disjoint_of_exact_size_and_each_split_80_20():
    pool = table([20000, 12000, 3000, 900, 100])
    subsets = draw_paper_subsets(pool, 3, 10000, 0.2, seeded_rng(0, "paper"))
    ids = [set(tr["id"]) | set(te["id"]) for tr, te in subsets]
    assert [len(s) for s in ids] == [10000] * 3
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for train, test in subsets:
        assert (len(train), len(test)) == (8000, 2000)
        assert np.allclose(class_share(train), class_share(pool), atol=0.002)


def test_paper_protocol_refuses_more_rows_than_the_data_has():
    with pytest.raises(DataError, match="needs 3 x 10000 = 30000 rows"):
        draw_paper_subsets(table([100, 100]), 3, 10000, 0.2, seeded_rng(0, "paper"))


def test_ids_are_a_seeded_shuffle_not_the_file_order():
    train, test = table([50, 50]).drop(columns="id"), table([20]).drop(columns="id")
    a_train, a_test = assign_ids(train, test, "id", seeded_rng(1, "ids"))
    b_train, _ = assign_ids(train, test, "id", seeded_rng(1, "ids"))
    all_ids = np.concatenate([a_train["id"], a_test["id"]])
    assert sorted(all_ids.tolist()) == list(range(120))
    assert a_train["id"].tolist() == b_train["id"].tolist()
    assert a_train["id"].is_monotonic_increasing  # rows in id order: the file order is gone too
    assert a_train.index.tolist() != list(range(100))


def test_iid_clients_get_equal_stratified_shares():
    train, test = table([4000, 2000, 1000, 500, 100]), table([1000, 500, 250, 125, 25], seed=1)
    parts = partition_horizontal(train, test, client_names(3), seeded_rng(0, "h"))
    sizes = [len(tr) for tr, _ in parts.values()]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == len(train)
    for client_train, _ in parts.values():
        assert np.allclose(class_share(client_train), class_share(train), atol=0.01)


def test_client_weights_set_client_sizes():
    train, test = table([600, 400]), table([60, 40])
    parts = partition_horizontal(train, test, ["A", "B"], seeded_rng(0, "h"), client_weights=[3, 1])
    assert [len(tr) for tr, _ in parts.values()] == [750, 250]


def skew(parts, reference) -> float:
    """Mean total-variation distance between each client's class shares and the overall shares."""
    return float(
        np.mean([0.5 * np.abs(class_share(tr) - class_share(reference)).sum() for tr, _ in parts.values()])
    )


def test_dirichlet_partition_is_seeded_and_skewed_with_small_alpha():
    train, test = table([4000, 3000, 2000, 1000, 500]), table([800, 600, 400, 200, 100], seed=1)
    names = client_names(5)
    first = partition_horizontal(train, test, names, seeded_rng(3, "h"), dirichlet_alpha=0.1)
    again = partition_horizontal(train, test, names, seeded_rng(3, "h"), dirichlet_alpha=0.1)
    other = partition_horizontal(train, test, names, seeded_rng(4, "h"), dirichlet_alpha=0.1)
    assert all(first[c][0]["id"].tolist() == again[c][0]["id"].tolist() for c in names)
    assert any(first[c][0]["id"].tolist() != other[c][0]["id"].tolist() for c in names)
    iid = partition_horizontal(train, test, names, seeded_rng(3, "h"))
    assert skew(iid, train) < 0.01
    assert skew(first, train) > 0.3
    ids = [set(tr["id"]) for tr, _ in first.values()]
    assert sum(len(s) for s in ids) == len(train) and len(set().union(*ids)) == len(train)


def test_dirichlet_clients_keep_the_full_class_list_even_without_samples_of_a_class():
    train, test = table([500, 300, 100, 40, 10]), table([100, 60, 20, 8, 2], seed=1)
    parts = partition_horizontal(train, test, client_names(4), seeded_rng(0, "h"), dirichlet_alpha=0.05)
    missing_somewhere = False
    for client_train, client_test in parts.values():
        assert list(client_train["traffic_class"].cat.categories) == CLASSES
        missing_somewhere |= (client_train["traffic_class"].value_counts() == 0).any()
    assert missing_somewhere  # alpha 0.05: some client lacks some class, and still lists it


def test_client_names_go_past_z():
    assert client_names(3) == ["A", "B", "C"]
    assert client_names(28)[-3:] == ["Z", "AA", "AB"]


def test_vertical_plan_by_ratio_splits_features_in_order():
    plan = plan_vertical(FEATURES, guest="A", ratios={"A": 0.6, "B": 0.4})
    assert plan.columns == {"A": ("f1", "f2", "f3"), "B": ("f4", "f5")}


@pytest.mark.parametrize(
    "columns, drop, message",
    [
        ({"A": ["f1", "f2", "nope"], "B": ["f3", "f4", "f5"]}, (), "'nope', which does not exist"),
        (
            {"A": ["f1", "f2", "f3"], "B": ["f3", "f4", "f5"]},
            (),
            "'f3' to party B, but party A has it already",
        ),
        ({"A": ["f1", "f2"], "B": ["f4", "f5"]}, (), "'f3' are given to no party"),
        ({"A": ["f1", "f2"], "B": ["f3", "f4", "f5"]}, ("f3",), "'f3' to party B, but drop_columns has it"),
        ({"A": ["f1", "f2", "f3"], "B": ["f4", "f5", "label"]}, (), "label leakage"),
        ({"A": ["f1", "f2", "f3"], "B": ["f4", "f5", "id"]}, (), "id column"),
        ({"B": ["f1", "f2", "f3", "f4", "f5"]}, (), "guest A holds no columns"),
    ],
)
def test_vertical_plan_refuses_bad_column_lists(columns, drop, message):
    with pytest.raises(DataError, match=message) as err:
        plan_vertical(
            FEATURES, guest="A", columns=columns, drop_columns=drop, source="data.yaml", key="vertical"
        )
    assert err.value.key.startswith("vertical")
    assert err.value.file == "data.yaml"


def test_explicitly_dropped_columns_need_not_be_covered():
    plan = plan_vertical(
        FEATURES, guest="A", columns={"A": ["f1", "f2"], "B": ["f4", "f5"]}, drop_columns=["f3"]
    )
    assert plan.dropped_columns == ("f3",)


def test_label_leak_check_refuses_a_host_table_with_the_label():
    tables = {
        "A": pd.DataFrame({"id": [1], "f1": [0], "label": [0]}),
        "B": pd.DataFrame({"id": [1], "label": [0]}),
    }
    with pytest.raises(DataError, match="label leakage: the table of party B"):
        check_no_label_leak(tables, "A", ["label"])
    check_no_label_leak({"A": tables["A"]}, "A", ["label"])


def test_dropping_ids_gives_the_expected_intersection():
    frame = table([5000, 5000])
    a = drop_ids(frame[["id", "f1"]], 0.2, seeded_rng(0, "A"))
    b = drop_ids(frame[["id", "f2"]], 0.2, seeded_rng(0, "B"))
    assert len(a) == len(b) == 8000
    common = intersection_size([a, b], "id")
    assert common == len(set(a["id"]) & set(b["id"]))
    assert abs(common - 10000 * 0.8 * 0.8) < 150  # independent drops: about n(1-f)^2
