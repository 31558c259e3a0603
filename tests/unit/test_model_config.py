from __future__ import annotations

import pytest
import yaml

from fedids.config import ConfigError
from fedids.model_config import load_rf_profile


def test_paper_profile_has_the_papers_forest_settings():
    p = load_rf_profile("paper")
    assert (p["num_trees"], p["max_depth"], p["min_samples_split"], p["min_samples_leaf"]) == (100, 10, 2, 1)
    assert (p["tree_feature_fraction"], p["node_max_features"]) == (0.8, "sqrt")
    assert p["he_param"] == {"kind": "paillier", "key_length": 1024}


def test_profiles_override_paper_keys_only():
    tiny = load_rf_profile("tiny")
    assert tiny["num_trees"] == 3 and tiny["max_depth"] == 4 and tiny["max_bin"] == 32


def write(tmp_path, profiles):
    path = tmp_path / "rf.yaml"
    path.write_text(yaml.safe_dump({"profiles": profiles}))
    return path


def test_unknown_key_is_named(tmp_path):
    base = load_rf_profile("paper")
    with pytest.raises(ConfigError, match=r"profiles\.quick\.num_tress.*unknown key"):
        load_rf_profile("quick", write(tmp_path, {"paper": base, "quick": {"num_tress": 3}}))


def test_wrong_type_is_named(tmp_path):
    base = load_rf_profile("paper")
    with pytest.raises(ConfigError, match=r"profiles\.quick\.max_depth.*must be of type"):
        load_rf_profile("quick", write(tmp_path, {"paper": base, "quick": {"max_depth": "deep"}}))


def test_unknown_profile_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"profiles\.huge.*no such profile"):
        load_rf_profile("huge")


def test_class_weight_defaults_to_none_and_quick_balanced_weighs_classes_alike():
    assert load_rf_profile("quick")["class_weight"] == "none"
    balanced = load_rf_profile("quick-balanced")
    assert balanced["class_weight"] == "balanced" and balanced["num_trees"] == load_rf_profile("quick")["num_trees"]


def test_an_unknown_class_weight_is_named(tmp_path):
    base = load_rf_profile("paper")
    with pytest.raises(ConfigError, match=r"profiles\.quick\.class_weight.*none, balanced"):
        load_rf_profile("quick", write(tmp_path, {"paper": base, "quick": {"class_weight": "rare"}}))
