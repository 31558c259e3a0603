"""FedProx's proximal term, the two-logit binary cross-entropy, and the full-class dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from crnn_component.fedprox import parameter_count, proximal_term, snapshot, trainable_parameters
from crnn_component.losses import TwoLogitBCELoss, loss_for
from crnn_component.model import CRNN
from crnn_component.traffic import payload_size


def small_model():
    return CRNN(feat=10, class_num=3, segment_len=4, filters=4, hidden=8, seed=3)


def gradients(model, mu, global_params, x, y):
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    if mu:
        loss = loss + proximal_term(trainable_parameters(model), global_params, mu)
    loss.backward()
    return [p.grad.clone() for p in trainable_parameters(model)], float(loss)


def test_proximal_term_is_zero_at_the_global_model_and_leaves_the_gradient_alone():
    model = small_model()
    anchor = snapshot(model)
    term = proximal_term(trainable_parameters(model), anchor, mu=0.5)
    assert float(term.detach()) == 0.0
    x, y = torch.rand(8, 10), torch.randint(0, 3, (8,))
    plain, plain_loss = gradients(model, 0.0, anchor, x, y)
    prox, prox_loss = gradients(model, 0.5, anchor, x, y)
    assert prox_loss == pytest.approx(plain_loss)
    for a, b in zip(plain, prox):
        assert torch.allclose(a, b)


def test_away_from_the_global_model_the_term_adds_mu_times_the_distance_to_the_gradient():
    model = small_model()
    anchor = snapshot(model)
    with torch.no_grad():
        for p in trainable_parameters(model):
            p.add_(0.1)
    mu = 0.3
    x, y = torch.rand(8, 10), torch.randint(0, 3, (8,))
    plain, _ = gradients(model, 0.0, anchor, x, y)
    prox, _ = gradients(model, mu, anchor, x, y)
    n = parameter_count(model)
    expected_term = 0.5 * mu * n * 0.1 ** 2
    assert float(proximal_term(trainable_parameters(model), anchor, mu)) == pytest.approx(expected_term, rel=1e-4)
    for a, b in zip(plain, prox):
        assert not torch.allclose(a, b)
        assert torch.allclose(b - a, torch.full_like(a, mu * 0.1), atol=1e-5)


def test_snapshot_is_detached_and_shapes_must_match():
    model = small_model()
    anchor = snapshot(model)
    assert all(not a.requires_grad for a in anchor)
    with pytest.raises(ValueError, match="parameter tensors"):
        proximal_term(trainable_parameters(model), anchor[:-1], 0.1)


def test_parameter_count_counts_trainable_scalars():
    model = small_model()
    assert parameter_count(model) == sum(p.numel() for p in model.parameters())


def test_two_logit_bce_equals_two_class_cross_entropy():
    logits = torch.randn(16, 2)
    labels = torch.randint(0, 2, (16,))
    assert float(TwoLogitBCELoss()(logits, labels)) == pytest.approx(
        float(nn.functional.cross_entropy(logits, labels)), rel=1e-5)
    assert isinstance(loss_for(2), TwoLogitBCELoss)
    assert isinstance(loss_for(5), nn.CrossEntropyLoss)


def test_payload_size_counts_the_sliced_object_announced_by_a_split_header():
    import struct

    assert payload_size(b"\x00" + b"x" * 99) == 100
    header = struct.pack("!B", 1) + struct.pack("!QIIIIII", 5000, 2, 4096, 4, 0, 0, 0)
    assert payload_size(header) == 5000 + len(header)


# -- the dataset homo_nn builds (FATE's TableDataset with the full class list) --------------

def csv_table(tmp_path, n_rows, n_feat, labels):
    frame = pd.DataFrame(np.random.default_rng(0).random((n_rows, n_feat)), columns=[f"x{i}" for i in range(n_feat)])
    frame.insert(0, "label", labels)
    frame.insert(0, "id", range(n_rows))
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_dataset_reports_every_class_even_when_the_client_lacks_some(tmp_path):
    from crnn_component.dataset import CRNNTableDataset

    dataset = CRNNTableDataset(class_num=5, feat=4)
    dataset.load(csv_table(tmp_path, 6, 4, [0, 1, 0, 1, 0, 1]))
    assert dataset.get_classes() == [0, 1, 2, 3, 4]
    feats, label = dataset[0]
    assert feats.shape == (4,) and label.dtype == torch.int64


@pytest.mark.parametrize("n_rows, n_feat, labels, message", [
    (0, 4, [], "is empty"),
    (3, 3, [0, 1, 2], "has 3 feature columns but the model was built for 4"),
    (3, 4, [0, 7, 2], r"label\(s\) \[7\] outside the class list 0..4"),
])
def test_dataset_refuses_unusable_tables(tmp_path, n_rows, n_feat, labels, message):
    from crnn_component.dataset import CRNNTableDataset, CrnnInputError

    with pytest.raises(CrnnInputError, match=message):
        CRNNTableDataset(class_num=5, feat=4).load(csv_table(tmp_path, n_rows, n_feat, labels))
