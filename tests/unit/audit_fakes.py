"""A FATE-like push for the audit recorder's unit tests: the recorder (fedids/audit.py) wraps
FATE's ``_parties._push``; these stand in for FATE's push and federation so that the trail is
written by the real recorder, in its real layout."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

from fate.arch.context import _parties


class FakeFederation:
    """Just what FATE's _push and the counter touch: push_bytes and the local party."""

    local_party = ("guest", "9999")
    session_id = "202612050000000000000_homo_nn_0_0"

    def __init__(self) -> None:
        self.delivered = []

    def push_bytes(self, v, name, tag, parties):
        self.delivered.append((name, tag, list(parties), v))


def fate_like_push(federation, computing, name, namespace, parties, value, max_message_size,
                   num_partitions_of_slice_table):
    """Stands in for FATE's _push: serialise, hand the bytes to the federation."""
    federation.push_bytes(v=pickle.dumps(value), name=name, tag=namespace.federation_tag, parties=parties)


def send(federation, name, value, to=(("arbiter", "10001"),), tag="homo_nn_0.train.aggregation.0"):
    # FATE's Party.put calls _push with keywords only
    _parties._push(federation=federation, computing=None, name=name, namespace=SimpleNamespace(federation_tag=tag),
                   parties=list(to), value=value, max_message_size=1 << 20, num_partitions_of_slice_table=1)
