from __future__ import annotations

import pytest
import torch

from crnn_component.model import CRNN, segment_features


def test_segmenting_pads_the_last_segment_with_zeros():
    x = torch.arange(1, 11, dtype=torch.float32).reshape(1, 10)
    segments = segment_features(x, 4)
    assert segments.shape == (1, 3, 4)
    assert segments[0, 0].tolist() == [1, 2, 3, 4]
    assert segments[0, 2].tolist() == [9, 10, 0, 0]


def test_segmenting_without_padding_keeps_order():
    x = torch.arange(12, dtype=torch.float32).reshape(2, 6)
    assert torch.equal(segment_features(x, 3).reshape(2, 6), x)


@pytest.mark.parametrize("architecture", ["crnn", "cnn", "rnn"])
@pytest.mark.parametrize("recurrent", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("feat, class_num", [(41, 5), (42, 10), (7, 2), (78, 15)])
def test_output_is_one_score_per_class_for_any_feature_count(architecture, recurrent, feat, class_num):
    model = CRNN(feat=feat, class_num=class_num, architecture=architecture, recurrent=recurrent)
    x = torch.rand(6, feat)
    model.train()
    assert model(x).shape == (6, class_num)
    model.eval()
    with torch.no_grad():
        probs = model(x)
    assert probs.shape == (6, class_num)
    assert torch.allclose(probs.sum(dim=1), torch.ones(6), atol=1e-5)


def test_same_seed_gives_identical_initial_weights_in_every_client():
    a, b = CRNN(41, 5, seed=7), CRNN(41, 5, seed=7)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    c = CRNN(41, 5, seed=8)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_paper_layer_sizes():
    model = CRNN(41, 5)
    conv = model.conv[0]
    assert (conv.out_channels, conv.kernel_size) == (64, (3,))
    assert model.rnn.hidden_size == 128 and model.rnn.nonlinearity == "tanh"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="architecture"):
        CRNN(41, 5, architecture="transformer")
    with pytest.raises(ValueError, match="recurrent"):
        CRNN(41, 5, recurrent="tcn")
    with pytest.raises(ValueError, match="class_num"):
        CRNN(41, 1)
