"""FATE 2.2's secure-aggregation masks (fate_utils), as docs/privacy.md describes them.

The same primitives FATE's homo_nn clients and arbiter use, without FATE Flow: two clients
agree on a seed over X25519, mask their weighted vectors, the arbiter sums. The FATE-backed
test (tests/fate/test_crnn_privacy.py) checks the same properties on a real job's audit trail.
"""

from __future__ import annotations

import numpy as np
from fate_utils.secure_aggregation_helper import DiffieHellman, MixAggregate, RandomMix


def two_clients():
    a, b = DiffieHellman(), DiffieHellman()
    key_a, key_b = bytes(a.get_public_key()), bytes(b.get_public_key())
    assert len(key_a) == len(key_b) == 32
    secret_a, secret_b = a.diffie_hellman(key_b), b.diffie_hellman(key_a)
    assert secret_a == secret_b
    return RandomMix({1: secret_a}, 0), RandomMix({0: secret_b}, 1)


def test_masks_cancel_and_hide_the_integer_part_but_only_shift_the_fraction():
    rng = np.random.default_rng(3)
    theta = {"A": rng.uniform(-0.3, 0.3, (64, 40)), "B": rng.uniform(-0.3, 0.3, (64, 40))}
    share = {"A": 0.4, "B": 0.6}
    mixers = dict(zip("AB", two_clients()))
    uploads = {c: mixers[c].mix([theta[c]], share[c])[0] for c in "AB"}  # [(fraction, integer part)]

    total = MixAggregate()
    for c in "AB":
        total.aggregate([uploads[c]])
    [mean] = total.finalize(share["A"] + share["B"])
    np.testing.assert_allclose(mean, share["A"] * theta["A"] + share["B"] * theta["B"], rtol=0, atol=1e-12)

    for c in "AB":
        fraction, integer = uploads[c]
        x = share[c] * theta[c]
        # the integer part is pure mask (|x| < 1): the pairwise masks are opposite
        assert np.array_equal(integer, np.trunc(integer)) and np.median(np.abs(integer)) > 1e6
        # the fraction is x shifted by frac(mask) in (0, 1), on the side the integer part shows
        shift = np.sign(integer) * (fraction - x)
        assert (shift > 0).all() and (shift < 1).all()
    np.testing.assert_array_equal(uploads["A"][1], -uploads["B"][1])
    # so the arbiter's estimate of x from one upload alone is correlated with x
    fraction, integer = uploads["A"]
    estimate = fraction - 0.5 * np.sign(integer)
    assert np.corrcoef(estimate.ravel(), (share["A"] * theta["A"]).ravel())[0, 1] > 0.1  # about 0.23 here
