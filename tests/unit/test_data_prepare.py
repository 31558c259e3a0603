"""`prepare`: party tables and manifest for the vertical and horizontal layouts, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_upload.errors import DataError
from data_upload.loaders import load_nsl_kdd
from data_upload.manifest import load_manifest, sha256_of
from data_upload.preprocess import Preprocessor
from data_upload.prepare import prepare
from data_upload.schema import KDD_FEATURES

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
KDD_CLASSES = ["normal", "DoS", "Probe", "R2L", "U2R"]
needs_real_data = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"real data sets not available: {SHARED} is absent (see the project README)"
)


def read(out: Path, manifest: dict, party: str, split: str) -> pd.DataFrame:
    return pd.read_csv(out / manifest["parties"][party]["splits"][split]["file"])


@pytest.fixture(scope="module")
def vertical_official(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "nsl-vertical"
    manifest = prepare("nsl-kdd", SHARED, "vertical", "official", out, show_progress=False)
    return out, manifest


@pytest.fixture(scope="module")
def horizontal_paper(tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "nsl-horizontal"
    manifest = prepare("nsl-kdd", SHARED, "horizontal", "paper", out, show_progress=False)
    return out, manifest


@needs_real_data
def test_vertical_official_puts_the_label_only_at_the_guest_and_splits_all_41_features(vertical_official):
    out, manifest = vertical_official
    assert load_manifest(out, verify_files=True) == manifest
    parties = manifest["parties"]
    assert list(parties) == ["A", "B"]  # C, the arbiter, holds no data
    assert (parties["A"]["role"], parties["B"]["role"]) == ("guest", "host")
    a_cols = parties["A"]["splits"]["train"]["columns"]
    b_cols = parties["B"]["splits"]["train"]["columns"]
    assert "label" in a_cols and "label" not in b_cols and "id" not in a_cols + b_cols
    a_features = [c for c in a_cols if c != "label"]
    assert set(a_features).isdisjoint(b_cols)
    assert sorted(a_features + b_cols) == sorted(KDD_FEATURES)
    for split in ("train", "test"):
        assert parties["B"]["splits"][split]["class_counts"] is None
        b_table = read(out, manifest, "B", split)
        assert "label" not in b_table.columns and "traffic_class" not in b_table.columns


@needs_real_data
def test_vertical_official_guest_class_counts_are_the_published_ones(vertical_official):
    _, manifest = vertical_official
    splits = manifest["parties"]["A"]["splits"]
    assert manifest["classes"] == KDD_CLASSES
    assert splits["train"]["class_counts"] == {
        "normal": 67343,
        "DoS": 45927,
        "Probe": 11656,
        "R2L": 995,
        "U2R": 52,
    }
    assert splits["test"]["class_counts"] == {
        "normal": 9711,
        "DoS": 7458,
        "Probe": 2421,
        "R2L": 2754,
        "U2R": 200,
    }
    assert manifest["taxonomy"]["httptunnel_class"] == "U2R"
    assert manifest["expected_intersection"] == {"train": 125973, "test": 22544}


@needs_real_data
def test_written_tables_match_the_manifest_and_share_ids(vertical_official):
    out, manifest = vertical_official
    a = read(out, manifest, "A", "test")
    b = read(out, manifest, "B", "test")
    entry = manifest["parties"]["A"]["splits"]["test"]
    assert list(a.columns) == ["id", *entry["columns"]] and len(a) == entry["rows"]
    assert a["id"].tolist() == b["id"].tolist() and a["id"].is_unique
    assert a["label"].dtype.kind == "i" and set(a["label"]) <= set(range(5))
    assert np.bincount(a["label"], minlength=5).tolist() == list(entry["class_counts"].values())
    assert sha256_of(out / entry["file"]) == entry["sha256"]
    assert {s["role"] for s in manifest["sources"]} == {"train", "test"}
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])


@needs_real_data
def test_each_party_scales_with_statistics_of_its_own_training_rows_only(vertical_official):
    out, manifest = vertical_official
    raw_train = load_nsl_kdd(SHARED / "nsl-kdd" / "KDDTrain+.txt.gz")
    raw_test = load_nsl_kdd(SHARED / "nsl-kdd" / "KDDTest+.txt.gz")
    prep_b = Preprocessor.load(out / manifest["parties"]["B"]["preprocessor"])
    assert (
        prep_b.classes is None
        and prep_b.feature_columns == manifest["parties"]["B"]["splits"]["train"]["columns"]
    )
    for column in ("count", "dst_host_srv_count"):
        assert prep_b.scaling[column]["offset"] == raw_train[column].min()
        assert prep_b.scaling[column]["scale"] == raw_train[column].max() - raw_train[column].min()
    prep_a = Preprocessor.load(out / manifest["parties"]["A"]["preprocessor"])
    # src_bytes: the test set's maximum is not the training one, so it is not mapped to 1.0
    a_test = read(out, manifest, "A", "test")
    expected = (raw_test["src_bytes"].max() - raw_train["src_bytes"].min()) / (
        raw_train["src_bytes"].max() - raw_train["src_bytes"].min()
    )
    assert prep_a.scaling["src_bytes"]["offset"] == raw_train["src_bytes"].min()
    assert a_test["src_bytes"].max() == pytest.approx(expected, rel=1e-9)
    assert expected != 1.0
    # services of KDDTest+ unseen in KDDTrain+ would get code 0; all training codes start at 1
    assert read(out, manifest, "A", "train")["service"].min() >= 1


@needs_real_data
def test_horizontal_paper_gives_three_parties_10000_disjoint_rows_each(horizontal_paper):
    out, manifest = horizontal_paper
    assert list(manifest["parties"]) == ["A", "B", "C"]
    ids = {}
    for party, entry in manifest["parties"].items():
        rows = {split: entry["splits"][split]["rows"] for split in ("train", "test")}
        assert rows == {"train": 8000, "test": 2000}
        tables = [read(out, manifest, party, split) for split in ("train", "test")]
        assert all("label" in t.columns for t in tables)
        assert all(list(t.columns[1:-1]) == list(KDD_FEATURES) for t in tables)
        ids[party] = set(tables[0]["id"]) | set(tables[1]["id"])
        assert len(ids[party]) == 10000
    assert not (ids["A"] & ids["B"] or ids["A"] & ids["C"] or ids["B"] & ids["C"])
    assert manifest["protocol_settings"] == {"test_fraction": 0.2, "subset_size": 10000, "subsets": 3}
    assert "expected_intersection" not in manifest


@needs_real_data
def test_drop_id_fraction_records_the_exact_expected_intersection(tmp_path):
    out = tmp_path / "psi"
    manifest = prepare(
        "nsl-kdd", SHARED, "vertical", "paper", out, drop_id_fraction=0.1, seed=5, show_progress=False
    )
    for split, n in (("train", 8000), ("test", 2000)):
        a = read(out, manifest, "A", split)
        b = read(out, manifest, "B", split)
        assert len(a) == len(b) == n - n // 10
        common = len(set(a["id"]) & set(b["id"]))
        assert manifest["expected_intersection"][split] == common
        assert abs(common - n * 0.81) < 0.03 * n
    assert manifest["partition"]["drop_id_fraction"] == 0.1


@needs_real_data
def test_kdd99_official_without_test_file_says_so_and_suggests_split(tmp_path):
    with pytest.raises(DataError, match="needs the KDD Cup 1999 test file") as err:
        prepare("kddcup99", SHARED, "vertical", "official", tmp_path / "out", show_progress=False)
    assert "--protocol split" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_horizontal_dirichlet_clients_list_every_class_even_with_zero_rows(tmp_path):
    manifest = prepare(
        "unsw-nb15", FIXTURES / "unsw-nb15", "horizontal", "official", tmp_path / "unsw",
        dirichlet_alpha=0.2, seed=1, show_progress=False,
    )  # fmt: skip
    classes = manifest["classes"]
    assert len(classes) == 10
    zero_somewhere = False
    for entry in manifest["parties"].values():
        for split in entry["splits"].values():
            assert list(split["class_counts"]) == classes
            zero_somewhere |= 0 in split["class_counts"].values()
    assert zero_somewhere
    assert manifest["partition"]["scheme"] == "dirichlet"
    rows = sum(e["splits"]["train"]["rows"] for e in manifest["parties"].values())
    assert rows == 16


def test_vertical_unsw_by_ratio_and_shared_id_order(tmp_path):
    out = tmp_path / "unsw"
    manifest = prepare("unsw-nb15", FIXTURES / "unsw-nb15", "vertical", "official", out, show_progress=False)
    a = read(out, manifest, "A", "train")
    b = read(out, manifest, "B", "train")
    assert a["id"].tolist() == b["id"].tolist()
    assert len(a.columns) - 2 == 21 and len(b.columns) - 1 == 21  # 42 features by ratio 0.5 / 0.5
    assert manifest["parties"]["A"]["categorical_columns"] == ["proto", "service", "state"]


def test_cic2017_split_horizontal_with_binary_classes_and_clipped_infinity(tmp_path):
    manifest = prepare(
        "cic-ids2017", FIXTURES / "cic-ids2017", "horizontal", "split", tmp_path / "cic",
        classes="binary", nonfinite="clip", clients=2, test_fraction=0.25, show_progress=False,
    )  # fmt: skip
    assert manifest["classes"] == ["normal", "attack"]
    assert sum(e["splits"][s]["rows"] for e in manifest["parties"].values() for s in ("train", "test")) == 19
    train = read(tmp_path / "cic", manifest, "A", "train")
    assert np.isfinite(train.drop(columns=["id", "label"]).to_numpy()).all()


def test_cic2017_official_protocol_is_refused_with_the_alternatives(tmp_path):
    with pytest.raises(DataError, match="no official train/test split") as err:
        prepare(
            "cic-ids2017",
            FIXTURES / "cic-ids2017",
            "vertical",
            "official",
            tmp_path / "o",
            show_progress=False,
        )
    assert "--protocol split" in str(err.value)


def test_existing_output_is_kept_unless_force_and_replaced_with_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    args = ("unsw-nb15", FIXTURES / "unsw-nb15", "vertical", "official", out)
    with pytest.raises(DataError, match="not empty"):
        prepare(*args, show_progress=False)
    assert (out / "keep.txt").exists()
    prepare(*args, force=True, show_progress=False)
    assert not (out / "keep.txt").exists() and (out / "manifest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_a_failure_leaves_no_output_and_no_staging_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    lines = (
        (FIXTURES / "unsw-nb15" / "UNSW_NB15_testing-set.csv").read_text(encoding="utf-8-sig").splitlines()
    )
    lines[4] = lines[4].replace("Generic", "Teleportation")
    (data / "UNSW_NB15_training-set.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="Teleportation"):
        prepare("unsw-nb15", data, "horizontal", "split", tmp_path / "out", clients=2, show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize(
    "kwargs, text",
    [
        (dict(layout="horizontal", drop_id_fraction=0.2), "apply to the vertical layout"),
        (dict(layout="vertical", clients=4), "apply to the horizontal layout"),
        (dict(layout="horizontal", protocol="paper", dirichlet_alpha=0.5), "paper protocol"),
        (dict(layout="diagonal"), "layout 'diagonal'"),
        (dict(layout="vertical", vertical_columns={"A": ["dur"], "B": ["dur"]}), "party A has it already"),
    ],
)
def test_meaningless_option_combinations_are_refused_before_reading_data(tmp_path, kwargs, text):
    args = dict(
        dataset="unsw-nb15", data_dir=FIXTURES / "unsw-nb15", protocol="official", out_dir=tmp_path / "o"
    )
    args.update(kwargs)
    with pytest.raises(DataError, match=text):
        prepare(**args, show_progress=False)


def test_load_manifest_names_the_key_of_a_broken_or_leaking_manifest(tmp_path):
    out = tmp_path / "unsw"
    prepare("unsw-nb15", FIXTURES / "unsw-nb15", "vertical", "official", out, show_progress=False)
    path = out / "manifest.json"
    good = json.loads(path.read_text())

    def broken(change) -> DataError:
        raw = json.loads(json.dumps(good))
        change(raw)
        path.write_text(json.dumps(raw))
        with pytest.raises(DataError) as err:
            load_manifest(path)
        return err.value

    assert (
        broken(lambda m: m["parties"]["A"]["splits"]["test"].pop("rows")).key == "parties.A.splits.test.rows"
    )
    assert broken(lambda m: m.update(layout="diagonal")).key == "layout"

    def leak(m):
        m["parties"]["B"]["splits"]["train"]["columns"].append("label")
        m["parties"]["B"]["splits"]["train"]["class_counts"] = m["parties"]["A"]["splits"]["train"][
            "class_counts"
        ]
        m["parties"]["B"]["splits"]["test"]["columns"].append("label")
        m["parties"]["B"]["splits"]["test"]["class_counts"] = m["parties"]["A"]["splits"]["test"][
            "class_counts"
        ]

    error = broken(leak)
    assert error.key == "parties.B" and "label leakage" in str(error)

    path.write_text(json.dumps(good))
    (out / "B" / "test.csv").write_text("id\n1\n")
    with pytest.raises(DataError, match="has changed") as err:
        load_manifest(out, verify_files=True)
    assert err.value.key == "parties.B.splits.test.sha256"


@needs_real_data
def test_official_protocol_can_use_the_20_percent_and_minus_21_files(tmp_path):
    manifest = prepare(
        "nsl-kdd",
        SHARED,
        "vertical",
        "official",
        tmp_path / "nsl21",
        train_file="KDDTrain+_20Percent.txt",
        test_file="KDDTest-21.txt",
        show_progress=False,
    )
    splits = manifest["parties"]["A"]["splits"]
    assert (splits["train"]["rows"], splits["test"]["rows"]) == (25192, 11850)
    assert [Path(s["file"]).name for s in manifest["sources"]] == ["KDDTrain+_20Percent.txt.gz", "KDDTest-21.txt.gz"]


def test_feature_selection_happens_only_at_the_party_holding_labels(tmp_path):
    manifest = prepare(
        "unsw-nb15",
        FIXTURES / "unsw-nb15",
        "vertical",
        "official",
        tmp_path / "top5",
        select_top_k=5,
        show_progress=False,
    )
    parties = manifest["parties"]
    assert parties["A"]["splits"]["train"]["columns"][-1] == "label"
    assert len(parties["A"]["splits"]["train"]["columns"]) == 5 + 1
    assert len(parties["B"]["splits"]["train"]["columns"]) == 21  # B has no labels to rank features with
    assert manifest["preprocessing"]["feature_selection_at"] == ["A"]
    selection = Preprocessor.load(tmp_path / "top5" / "A" / "preprocessor.json").feature_selection
    assert selection["top_k"] == 5 and len(selection["importance"]) == 21


@needs_real_data
def test_validation_split_holds_out_the_same_records_in_both_layouts(tmp_path):
    common = dict(train_file="KDDTrain+_20Percent.txt", validation_fraction=0.1, show_progress=False)
    vertical = prepare("nsl-kdd", SHARED, "vertical", "official", tmp_path / "v", **common)
    horizontal = prepare("nsl-kdd", SHARED, "horizontal", "official", tmp_path / "h", clients=2, **common)
    assert vertical["expected_intersection"]["valid"] == round(25192 * 0.1)
    for split in ("train", "valid", "test"):
        vertical_ids = set(read(tmp_path / "v", vertical, "A", split)["id"])
        assert vertical_ids == set(read(tmp_path / "v", vertical, "B", split)["id"])
        horizontal_ids = set().union(*(read(tmp_path / "h", horizontal, c, split)["id"] for c in ("A", "B")))
        assert vertical_ids == horizontal_ids
    assert "label" not in read(tmp_path / "v", vertical, "B", "valid")
    assert load_manifest(tmp_path / "v")["parties"]["A"]["splits"]["valid"]["rows"] == round(25192 * 0.1)


def test_validation_split_is_refused_for_the_paper_protocol(tmp_path):
    with pytest.raises(DataError, match="paper protocol has no validation split"):
        prepare("nsl-kdd", SHARED, "horizontal", "paper", tmp_path / "x", validation_fraction=0.1, show_progress=False)
