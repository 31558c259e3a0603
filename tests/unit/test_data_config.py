"""conf/data.yaml: the shipped file is valid; mistakes are reported with the key at fault."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from data_upload.config import load_data_config, parse_data_config
from data_upload.errors import DataError
from data_upload.schema import DATASETS, KDD_FEATURES

CONF = Path(__file__).resolve().parents[2] / "conf" / "data.yaml"


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(CONF.read_text())


def test_shipped_config_covers_every_data_set_with_a_valid_split():
    cfg = load_data_config(CONF)
    assert set(cfg.datasets) == set(DATASETS)
    nsl = cfg.settings("nsl-kdd")
    a, b = nsl.vertical.columns["A"], nsl.vertical.columns["B"]
    assert nsl.vertical.guest == "A" and "C" not in nsl.vertical.columns  # C is the arbiter: no data
    assert set(a).isdisjoint(b) and sorted(a + b) == sorted(KDD_FEATURES)
    assert a[:4] == ("duration", "protocol_type", "service", "flag") and b[0] == "count"
    assert (nsl.id_column, nsl.label_column, nsl.paper_subset_size, nsl.test_fraction) == (
        "id",
        "label",
        10000,
        0.2,
    )
    assert cfg.settings("kddcup99").official_test == ("corrected", "kddcup.testdata.labeled")


def test_a_dataset_may_override_a_default(raw):
    raw["datasets"]["nsl-kdd"]["seed"] = 7
    raw["datasets"]["nsl-kdd"]["paper"] = {"subset_size": 500}
    cfg = parse_data_config(raw, "data.yaml")
    assert cfg.settings("nsl-kdd").seed == 7 and cfg.settings("nsl-kdd").paper_subset_size == 500
    assert cfg.settings("kddcup99").seed == 42


def mutate(raw: dict, path: str, value) -> dict:
    raw = copy.deepcopy(raw)
    *parents, last = path.split("/")
    node = raw
    for part in parents:
        node = node[part]
    node[last] = value
    return raw


@pytest.mark.parametrize(
    "path, value, key, text",
    [
        ("defaults/normalise", "minmax", "defaults.normalise", "unknown key"),
        ("defaults/normalize", "maxabs", "defaults.normalize", "must be one of minmax, zscore, none"),
        ("defaults/seed", "forty-two", "defaults.seed", "must be an integer"),
        ("defaults/test_fraction", 1.5, "defaults.test_fraction", "must be a number in"),
        ("defaults/horizontal/clients", 0, "defaults.horizontal.clients", "integer >= 1"),
        ("datasets/nsl-kdd/vertical/columns/B", ["count", "bogus"], "datasets.nsl-kdd.vertical.columns.B", "'bogus'"),
        ("datasets/nsl-kdd/vertical/columns/B", list(KDD_FEATURES[22:]) + ["service"],
         "datasets.nsl-kdd.vertical.columns.B", "party A has it already"),
        ("datasets/nsl-kdd/vertical/columns/B", list(KDD_FEATURES[23:]),
         "datasets.nsl-kdd.vertical.columns", "'count' are given to no party"),
        ("datasets/nsl-kdd/vertical/columns/B", list(KDD_FEATURES[22:]) + ["label"],
         "datasets.nsl-kdd.vertical.columns.B", "'label'"),
        ("datasets/unsw-nb15/vertical/ratios", {"A": 0.5, "B": 0.6}, "datasets.unsw-nb15.vertical.ratios", "sum to 1"),
        ("datasets/teleport", {}, "datasets.teleport", "unknown data set"),
    ],
)  # fmt: skip
def test_mistakes_are_reported_with_file_and_key(raw, path, value, key, text):
    with pytest.raises(DataError, match=text) as err:
        parse_data_config(mutate(raw, path, value), "conf/data.yaml")
    assert err.value.key == key
    assert str(err.value).startswith(f"conf/data.yaml, key '{key}'")


def test_invalid_yaml_and_missing_file_are_reported(tmp_path):
    bad = tmp_path / "data.yaml"
    bad.write_text("defaults:\n  seed: [1,\n")
    with pytest.raises(DataError, match="not valid YAML") as err:
        load_data_config(bad)
    assert err.value.line is not None
    with pytest.raises(DataError, match="file not found"):
        load_data_config(tmp_path / "absent.yaml")
