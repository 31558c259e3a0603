"""conf/crnn.yaml: profiles and errors that name the key."""

from __future__ import annotations

import pytest

from crnn_component.config import load_crnn_profile
from fedids.config import ConfigError

PAPER = """
profiles:
  paper:
    architecture: crnn
    recurrent: rnn
    segment_len: 8
    filters: 64
    kernel_size: 3
    pool: 2
    hidden: 128
    optimizer: adam
    lr: 0.001
    weight_decay: 0.001
    epochs: 70
    batch_size: 32
    algo: fedprox
    mu: 0.01
    aggregate_every: 1
    seed: 42
    class_weight: none
"""


def write(tmp_path, extra=""):
    path = tmp_path / "crnn.yaml"
    path.write_text(PAPER + extra)
    return path


def test_project_profiles_load_with_the_paper_settings():
    paper = load_crnn_profile("paper")
    assert (paper.lr, paper.epochs, paper.batch_size, paper.weight_decay) == (0.001, 70, 32, 0.001)
    assert (paper.optimizer, paper.algo, paper.recurrent, paper.architecture) == ("adam", "fedprox", "rnn", "crnn")
    assert paper.mu > 0
    assert load_crnn_profile("tiny").epochs < load_crnn_profile("quick").epochs < paper.epochs
    assert load_crnn_profile("tiny").lr == paper.lr


def test_fedavg_means_mu_zero_and_overrides_are_validated():
    paper = load_crnn_profile("paper")
    assert paper.with_overrides(algo="fedavg").effective_mu == 0.0
    assert paper.effective_mu == paper.mu
    with pytest.raises(ConfigError, match="algo"):
        paper.with_overrides(algo="scaffold")


@pytest.mark.parametrize("extra, key, message", [
    ("  tiny:\n    epochs: 0\n", "profiles.tiny.epochs", "integer >= 1"),
    ("  tiny:\n    lr: fast\n", "profiles.tiny.lr", "a number > 0"),
    ("  tiny:\n    algo: fedsgd\n", "profiles.tiny.algo", "fedavg, fedprox"),
    ("  tiny:\n    recurrent: transformer\n", "profiles.tiny.recurrent", "rnn, gru, lstm"),
    ("  tiny:\n    mu: -1\n", "profiles.tiny.mu", ">= 0"),
    ("  tiny:\n    batch_size: true\n", "profiles.tiny.batch_size", "got True"),
    ("  tiny:\n    dropout: 0.5\n", "profiles.tiny.dropout", "unknown key"),
    ("  tiny:\n    segment_len: 1\n", "profiles.tiny.segment_len", "at least pool"),
    ("  tiny:\n    kernel_size: 4\n", "profiles.tiny.kernel_size", "odd"),
    ("  tiny:\n    class_weight: rare\n", "profiles.tiny.class_weight", "none, balanced"),
])
def test_bad_values_name_the_key(tmp_path, extra, key, message):
    with pytest.raises(ConfigError) as error:
        load_crnn_profile("tiny", write(tmp_path, extra))
    assert error.value.key == key
    assert message in str(error.value)


def test_missing_profile_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match="profiles.nope.*defined: paper"):
        load_crnn_profile("nope", write(tmp_path))
    with pytest.raises(ConfigError, match="file not found"):
        load_crnn_profile("paper", tmp_path / "absent.yaml")
    path = tmp_path / "crnn.yaml"
    path.write_text(PAPER.replace("    seed: 42\n", ""))
    with pytest.raises(ConfigError) as error:
        load_crnn_profile("paper", path)
    assert error.value.key == "profiles.paper.seed"
    path.write_text("profiles:\n  quick: {}\n")
    with pytest.raises(ConfigError, match="profiles.paper"):
        load_crnn_profile("quick", path)


def test_config_names_match_the_model():
    from crnn_component import config, model

    assert config.ARCHITECTURES == model.ARCHITECTURES
    assert config.RECURRENT_CELLS == tuple(model.RECURRENT_CELLS)


def test_class_weight_defaults_to_none_and_quick_balanced_weighs_classes_alike():
    assert load_crnn_profile("paper").class_weight == "none" and load_crnn_profile("quick").class_weight == "none"
    balanced = load_crnn_profile("quick-balanced")
    assert balanced.class_weight == "balanced" and balanced.epochs == load_crnn_profile("quick").epochs
