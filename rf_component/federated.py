"""The vertical random forest protocol: guest (labels + features), hosts (features), arbiter (key).

Training, per forest:
  arbiter  makes the key pair, sends the public part to guest and hosts
  guest    encrypts every sample's class vector once (packed), sends the ciphertexts to hosts
Per tree: the guest draws the bootstrap multiplicities and the tree's features and sends the
multiplicities to the hosts. Per level:
  guest    says which nodes may split and which features each node may try (per party)
  hosts    add ciphertexts into (node, feature, bin) cells (sibling = parent - child when every
           node tries the same features), fold cells, send them to the arbiter
  guest    scores its own candidates in plaintext, sends the arbiter only its best gain per node
  arbiter  decrypts the hosts' class counts, scores their candidates, picks each node's winner,
           tells everyone who won, and tells each winning host which of its candidates won
  winners  send the guest which rows of their nodes go left (one bit per row); the guest tells each
           host the children of every split node and, one bit per row, which rows of the nodes that
           host did not win go left; every party moves the rows alike (the node partition is shared,
           as in SecureBoost)
A split's feature and threshold stay with its owner; others see only the owner and an opaque id.
Leaf class distributions are known to the guest only.

Prediction: every host sends, per tree, the left/right decision of each of its own split nodes
for every row; the guest walks the trees with its own and the hosts' decisions. The arbiter
takes no part.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from rf_component.binning import apply_bins, bin_counts, fit_bin_edges
from rf_component.class_weights import class_weight_units, sample_weights
from rf_component.frames import PartyTable
from rf_component.gini import best_splits, split_gains
from rf_component.label_cipher import (
    MOCK_WARNING,
    PheLabelCipher,
    PlainLabelCipher,
    field_bits_for,
    label_cipher_from_spec,
    validate_he_param,
)
from rf_component.reference import ForestParams, set_leaf_distributions, vote
from rf_component.sampling import (
    bootstrap_multiplicities,
    node_feature_count,
    sample_node_features,
    sample_tree_features,
    tree_rng,
)
from rf_component.tree import TreeStructure, class_histograms, node_class_counts, splittable

logger = logging.getLogger(__name__)

GUEST_INDEX = 0
NO_WINNER = -1


@dataclass(frozen=True)
class ForestSettings:
    """Everything that shapes the forest, as passed to the component."""

    params: ForestParams
    max_bin: int = 32
    n_classes: int = 2
    he_kind: str = "paillier"
    key_length: int = 1024
    hard_vote: bool = False


@dataclass
class PartyBins:
    """A party's binned features and the edges that made them (the edges never leave the party)."""

    columns: List[str]
    edges: List[np.ndarray]
    bins: np.ndarray

    @property
    def n_bins(self) -> np.ndarray:
        return bin_counts(self.edges)

    @property
    def max_bins(self) -> int:
        return int(self.n_bins.max()) if len(self.edges) else 1

    @classmethod
    def fit(cls, table: PartyTable, max_bin: int) -> PartyBins:
        edges = fit_bin_edges(table.features, max_bin)
        return cls(table.columns, edges, apply_bins(table.features, edges))

    @classmethod
    def from_model(cls, model: Dict[str, Any]) -> PartyBins:
        """The columns and edges a saved model was trained with (no rows: prediction bins new ones)."""
        edges = [np.asarray(e, dtype=np.float64) for e in model["bin_edges"]]
        return cls(list(model["columns"]), edges, np.zeros((0, len(edges)), dtype=np.uint8))


@dataclass
class TrainingTimes:
    encrypt_s: float = 0.0
    histogram_s: float = 0.0
    decrypt_s: float = 0.0
    total_s: float = 0.0
    per_tree_s: List[float] = field(default_factory=list)


def _check_alignment(ctx: Any, table: PartyTable, role: str) -> None:
    """Guest and hosts compare a digest of their sorted sample ids: rows must line up."""
    if role == "guest":
        ctx.hosts.put("alignment", {"rows": table.n_rows, "digest": table.alignment_digest()})
        replies = ctx.hosts.get("alignment_reply")
        bad = [r for r in replies if not r["ok"]]
        if bad:
            raise ValueError(
                f"the parties' ids do not line up after PSI: guest has {table.n_rows} rows, a host has "
                f"{bad[0]['rows']}. Put a psi task before hetero_random_forest and feed both parties its output."
            )
    else:
        expected = ctx.guest.get("alignment")
        ok = expected["rows"] == table.n_rows and expected["digest"] == table.alignment_digest()
        ctx.guest.put("alignment_reply", {"ok": ok, "rows": table.n_rows})
        if not ok:
            raise ValueError(
                f"this host's ids do not line up with the guest's after PSI (host {table.n_rows} rows, guest "
                f"{expected['rows']}): feed hetero_random_forest the output of a psi task"
            )


def _slots(node_of_row: np.ndarray, to_split: List[int], n_nodes: int) -> np.ndarray:
    """Position of each row's node among the nodes being split (-1: not being split)."""
    slot_of_node = np.full(n_nodes, -1, dtype=np.int64)
    slot_of_node[to_split] = np.arange(len(to_split))
    return slot_of_node[node_of_row]


def rows_of_slots(slot: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Mask of the rows whose node is a marked slot (``marked``: one bool per slot; slot -1 never is)."""
    return np.append(np.asarray(marked, dtype=bool), False)[slot]


def pack_decisions(goes_left: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each row of the mask ``rows`` goes left, one bit per row in row order (np.packbits)."""
    return np.packbits(goes_left[rows])


def unpack_decisions(packed: np.ndarray, rows: np.ndarray, sender: str) -> np.ndarray:
    """The decisions ``pack_decisions`` sent for the mask ``rows``; raises if their count is not its."""
    n = int(np.count_nonzero(rows))
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.size != (n + 7) // 8:
        raise RuntimeError(f"{sender} sent left/right decisions for {8 * packed.size} rows; {n} expected")
    return np.unpackbits(packed, count=n).astype(bool)


def move_rows(node_of_row: np.ndarray, slot: np.ndarray, to_split: List[int], children: Dict[int, tuple],
              goes_left: np.ndarray) -> np.ndarray:
    """Every row of a node that split moves to its left or right child; every party computes the same."""
    left = np.full(len(to_split) + 1, -1, dtype=np.int64)  # the last entry serves slot -1
    right = left.copy()
    for k, node in enumerate(to_split):
        if node in children:
            left[k], right[k] = children[node]
    moving = left[slot] >= 0
    moved = node_of_row.copy()
    moved[moving] = np.where(goes_left[moving], left[slot[moving]], right[slot[moving]])
    return moved


# ----------------------------------------------------------------------------------- guest
class GuestForest:
    """Party A: holds the labels; draws every random choice; builds the tree structures."""

    def __init__(self, settings: ForestSettings) -> None:
        self.settings = settings
        self.trees: List[TreeStructure] = []
        self.bins: Optional[PartyBins] = None
        self.train_leaves: Optional[np.ndarray] = None
        self.importance: Dict[str, float] = {}
        self.times = TrainingTimes()
        self.host_feature_counts: List[int] = []
        self.class_units = np.ones(settings.n_classes, dtype=np.int64)
        self.weight_scale = 1

    def fit(self, ctx: Any, table: PartyTable) -> None:
        started = time.perf_counter()
        s, p = self.settings, self.settings.params
        labels = table.label
        if labels is None:
            raise ValueError("the guest's table needs a label column")
        if labels.min() < 0 or labels.max() >= s.n_classes:
            raise ValueError(
                f"label codes must lie in 0..{s.n_classes - 1} (num_class={s.n_classes}); found "
                f"{int(labels.min())}..{int(labels.max())}"
            )
        row_weights = table.sample_weight  # None, or whole numbers (0: the row is left out of training)
        trained = labels if row_weights is None else labels[row_weights > 0]
        if len(np.unique(trained)) < 2:
            raise ValueError(f"the training labels hold a single class ({int(trained[0])}): a classifier needs two")
        validate_he_param(s.he_kind, s.key_length)
        setup = ctx.sub_ctx("setup")
        _check_alignment(setup, table, "guest")
        self.bins = PartyBins.fit(table, s.max_bin)
        self.host_feature_counts = [int(n) for n in setup.hosts.get("host_features")]
        # a cell's count is at most n_rows bootstrap draws of the heaviest class weight
        self.class_units, self.weight_scale = class_weight_units(labels, s.n_classes, p.class_weight, row_weights)
        heaviest_row = int(self.class_units.max()) * (1 if row_weights is None else int(row_weights.max()))
        field_bits = field_bits_for(table.n_rows * heaviest_row)
        setup.arbiter.put("forest_meta", {"n_classes": s.n_classes, "field_bits": field_bits,
                                          "weight_scale": self.weight_scale})
        cipher = label_cipher_from_spec(setup.arbiter.get("label_cipher"))
        t0 = time.perf_counter()
        payload = cipher.encrypt_labels(labels, self.class_units, row_weights)
        self.times.encrypt_s = time.perf_counter() - t0
        setup.hosts.put("encrypted_labels", cipher.to_wire(payload))

        n_guest = len(table.columns)
        n_total = n_guest + sum(self.host_feature_counts)
        per_node = node_feature_count(p.node_max_features, n_total)
        leaves = np.zeros((table.n_rows, p.n_trees), dtype=np.int64)
        cover = np.zeros(n_guest)
        for t, tree_ctx in ctx.on_iterations.ctxs_range(p.n_trees):
            tree_started = time.perf_counter()
            tree, leaves[:, t] = self._grow_tree(tree_ctx, t, labels, row_weights, n_total, per_node, cover)
            self.trees.append(tree)
            self.times.per_tree_s.append(time.perf_counter() - tree_started)
            tree_ctx.metrics.log_scalar("tree_seconds", self.times.per_tree_s[-1])
            logger.info(f"tree {t + 1}/{p.n_trees}: {tree.n_nodes} nodes, {self.times.per_tree_s[-1]:.2f} s")
        self.train_leaves = leaves
        total = cover.sum()
        self.importance = {c: float(v / total) if total else 0.0 for c, v in zip(table.columns, cover)}
        self.times.total_s = time.perf_counter() - started

    def _grow_tree(self, tree_ctx: Any, t: int, labels: np.ndarray, row_weights: Optional[np.ndarray], n_total: int,
                   per_node: int, cover: np.ndarray) -> tuple:
        s, p = self.settings, self.settings.params
        bins = self.bins
        n_rows, n_guest = bins.bins.shape
        rng = tree_rng(p.seed, t)
        weights = bootstrap_multiplicities(rng, n_rows, p.bootstrap)
        tree_features = sample_tree_features(rng, n_total, p.tree_feature_fraction)
        # multiplicities are small counts: the narrowest unsigned type (one byte per row, as a rule)
        tree_ctx.hosts.put("tree_plan", {"weights": weights.astype(np.min_scalar_type(int(weights.max(initial=0))))})
        fweights = sample_weights(weights, labels, self.class_units, self.weight_scale, row_weights)
        tree = TreeStructure()
        node_of_row = np.zeros(n_rows, dtype=np.int64)
        level = [0]
        host_offsets = np.cumsum([n_guest, *self.host_feature_counts])
        for depth in range(p.max_depth + 1):
            level_ctx = tree_ctx.sub_ctx(f"level_{depth}")
            counts = node_class_counts(node_of_row, fweights, labels, tree.n_nodes, s.n_classes)[level]
            to_split = [n for n, ok in zip(level, splittable(counts, depth, p.max_depth, p.min_samples_split)) if ok]
            if not to_split:
                level_ctx.hosts.put("level_plan", {"to_split": []})
                level_ctx.arbiter.put("level_plan", {"n_nodes": 0})
                break
            mask = sample_node_features(rng, tree_features, len(to_split), per_node, n_total)
            host_masks = [mask[:, host_offsets[h]:host_offsets[h + 1]] for h in range(len(self.host_feature_counts))]
            for h, host_mask in enumerate(host_masks):
                level_ctx.hosts[h].put("level_plan", {"to_split": to_split, "features": host_mask})
            level_ctx.arbiter.put("level_plan", {"n_nodes": len(to_split)})

            slot = _slots(node_of_row, to_split, tree.n_nodes)
            hist = class_histograms(bins.bins, slot, fweights, labels, len(to_split), bins.max_bins, s.n_classes)
            gains = split_gains(hist, bins.n_bins, p.min_samples_leaf)
            best = best_splits(gains, mask[:, :n_guest])
            level_ctx.arbiter.put("guest_gains", best.gain)
            winners = level_ctx.arbiter.get("winners")

            goes_left = np.zeros(n_rows, dtype=bool)
            own = np.flatnonzero(rows_of_slots(slot, winners == GUEST_INDEX))
            own_slot = slot[own]
            goes_left[own] = bins.bins[own, best.feature[own_slot]] <= best.bin[own_slot]
            # cover counts bootstrap samples (not class-weighted), as the hosts count theirs
            cover += np.bincount(best.feature[own_slot], weights=weights[own], minlength=cover.size)
            host_rows = [rows_of_slots(slot, winners == h + 1) for h in range(len(self.host_feature_counts))]
            for h, reply in enumerate(level_ctx.hosts.get("goes_left")):
                goes_left[host_rows[h]] = unpack_decisions(reply["packed"], host_rows[h], f"host {h}")

            children: Dict[int, tuple] = {}
            next_level: List[int] = []
            for k, node in enumerate(to_split):
                winner = int(winners[k])
                if winner == NO_WINNER:
                    continue
                split_id = int(best.feature[k] * bins.max_bins + best.bin[k]) if winner == GUEST_INDEX else -1
                children[node] = tree.split(node, winner, split_id)
                next_level += list(children[node])
            node_of_row = move_rows(node_of_row, slot, to_split, children, goes_left)
            split_rows = rows_of_slots(slot, winners != NO_WINNER)
            for h, rows_h in enumerate(host_rows):  # a host knows its own decisions: it gets the others'
                level_ctx.hosts[h].put("partition", {"children": children,
                                                     "goes_left": pack_decisions(goes_left, split_rows & ~rows_h)})
            level = next_level
        set_leaf_distributions(tree, node_of_row, fweights, labels, s.n_classes)
        return tree, node_of_row

    def train_probabilities(self) -> np.ndarray:
        return vote(self.trees, self.train_leaves, self.settings.n_classes, self.settings.hard_vote)

    def predict(self, ctx: Any, table: PartyTable) -> np.ndarray:
        """Class probabilities for the guest's rows, walking trees with the hosts' decisions."""
        _check_alignment(ctx.sub_ctx("setup"), table, "guest")
        bins = apply_bins(table.features, self.bins.edges)
        n_rows = table.n_rows
        leaves = np.zeros((n_rows, len(self.trees)), dtype=np.int64)
        for t, tree_ctx in ctx.on_iterations.ctxs_range(len(self.trees)):
            tree = self.trees[t]
            goes_left = np.zeros((tree.n_nodes, n_rows), dtype=bool)
            owner = np.asarray(tree.owner)
            for n in np.flatnonzero(owner == GUEST_INDEX):
                feature, bin_ = divmod(tree.split_id[n], self.bins.max_bins)
                goes_left[n] = bins[:, feature] <= bin_
            for h, decisions in enumerate(tree_ctx.hosts.get("host_decisions")):
                nodes = np.asarray(decisions["nodes"], dtype=np.int64)
                if len(nodes):
                    if np.any(owner[nodes] != h + 1):
                        raise RuntimeError(f"host {h} sent decisions for nodes it does not own")
                    goes_left[nodes] = np.unpackbits(decisions["packed"], axis=1, count=n_rows).astype(bool)
            leaves[:, t] = walk_tree(tree, goes_left)
        return vote(self.trees, leaves, self.settings.n_classes, self.settings.hard_vote)

    def to_model(self) -> Dict[str, Any]:
        return {
            "role": "guest",
            "settings": settings_to_dict(self.settings),
            "columns": self.bins.columns,
            "bin_edges": [e.tolist() for e in self.bins.edges],
            "host_feature_counts": self.host_feature_counts,
            "trees": [t.to_dict() for t in self.trees],
            "feature_importance": self.importance,
        }

    @classmethod
    def from_model(cls, model: Dict[str, Any]) -> GuestForest:
        forest = cls(settings_from_dict(model["settings"]))
        forest.bins = PartyBins.from_model(model)
        forest.trees = [TreeStructure.from_dict(t) for t in model["trees"]]
        forest.host_feature_counts = list(model["host_feature_counts"])
        forest.importance = dict(model.get("feature_importance", {}))
        return forest


def walk_tree(tree: TreeStructure, goes_left: np.ndarray) -> np.ndarray:
    """The leaf of every row, given each split node's decision for every row (nodes, rows)."""
    n_rows = goes_left.shape[1]
    node = np.zeros(n_rows, dtype=np.int64)
    left = np.asarray(tree.left)
    right = np.asarray(tree.right)
    rows = np.arange(n_rows)
    for _ in range(max(tree.depth) + 1):
        inner = left[node] >= 0
        if not np.any(inner):
            break
        go = goes_left[node, rows]
        node = np.where(inner, np.where(go, left[node], right[node]), node)
    return node


# ------------------------------------------------------------------------------------ host
class HostForest:
    """Party B (and further hosts): features only; builds encrypted histograms; keeps its thresholds."""

    def __init__(self, settings: ForestSettings) -> None:
        self.settings = settings
        self.bins: Optional[PartyBins] = None
        self.splits: List[Dict[int, tuple]] = []  # per tree: node -> (feature, bin)
        self.importance: Dict[str, float] = {}
        self.times = TrainingTimes()

    def fit(self, ctx: Any, table: PartyTable) -> None:
        started = time.perf_counter()
        s, p = self.settings, self.settings.params
        setup = ctx.sub_ctx("setup")
        _check_alignment(setup, table, "host")
        self.bins = PartyBins.fit(table, s.max_bin)
        setup.guest.put("host_features", len(table.columns))
        cipher = label_cipher_from_spec(setup.arbiter.get("label_cipher"))
        payload = cipher.from_wire(setup.guest.get("encrypted_labels"))
        cover = np.zeros(len(table.columns))
        for t, tree_ctx in ctx.on_iterations.ctxs_range(p.n_trees):
            self.splits.append(self._grow_tree(tree_ctx, cipher, payload, cover))
        total = cover.sum()
        self.importance = {c: float(v / total) if total else 0.0 for c, v in zip(table.columns, cover)}
        self.times.total_s = time.perf_counter() - started

    def _grow_tree(self, tree_ctx: Any, cipher: Any, payload: Any, cover: np.ndarray) -> Dict[int, tuple]:
        p = self.settings.params
        bins = self.bins
        n_rows, n_features = bins.bins.shape
        max_bins = bins.max_bins
        weights = tree_ctx.guest.get("tree_plan")["weights"].astype(np.int64)
        node_of_row = np.zeros(n_rows, dtype=np.int64)
        n_nodes = 1
        splits: Dict[int, tuple] = {}
        parent_hist: Dict[int, tuple] = {}  # node -> (encrypted cells, features) for subtraction
        for depth in range(p.max_depth + 1):
            level_ctx = tree_ctx.sub_ctx(f"level_{depth}")
            plan = level_ctx.guest.get("level_plan")
            to_split: List[int] = list(plan["to_split"])
            if not to_split:
                break
            mask: np.ndarray = plan["features"]
            slot = _slots(node_of_row, to_split, n_nodes)
            t0 = time.perf_counter()
            hist, selected, parent_hist = self._level_histogram(
                cipher, payload, slot, weights, mask, to_split, parent_hist, max_bins
            )
            # Only cells that hold a bootstrap sample are sent: empty ones decrypt to zero anyway,
            # and deep nodes leave most of their bins empty (C learns nothing new: a cell's
            # decrypted counts show whether it is empty).
            occupied = self._occupied_cells(slot, weights, selected, max_bins)
            squeezed, per_ct = cipher.squeeze(cipher.take(hist, occupied))
            self.times.histogram_s += time.perf_counter() - t0
            n_bins_sel = np.zeros(mask.shape, dtype=np.int64)
            for k, feats in enumerate(selected):
                n_bins_sel[k, : len(feats)] = bins.n_bins[feats]
            level_ctx.arbiter.put(
                "host_histogram",
                {"cells": cipher.to_wire(squeezed), "cells_per_ciphertext": per_ct, "n_bins": n_bins_sel,
                 "max_bins": max_bins, "n_cells": int(sum(len(f) for f in selected) * max_bins),
                 "occupied": occupied.astype(np.int32)},
            )
            won = level_ctx.arbiter.get("host_splits")  # slot -> (rank among selected features, bin)
            feature_of_slot = np.full(len(to_split), -1, dtype=np.int64)
            bin_of_slot = np.zeros(len(to_split), dtype=np.int64)
            for k, (rank, bin_) in won.items():
                feature_of_slot[k], bin_of_slot[k] = int(selected[k][rank]), int(bin_)
                splits[to_split[k]] = (int(selected[k][rank]), int(bin_))
            own_mask = rows_of_slots(slot, feature_of_slot >= 0)
            own = np.flatnonzero(own_mask)
            own_slot = slot[own]
            goes_left = np.zeros(n_rows, dtype=bool)
            goes_left[own] = bins.bins[own, feature_of_slot[own_slot]] <= bin_of_slot[own_slot]
            cover += np.bincount(feature_of_slot[own_slot], weights=weights[own], minlength=cover.size)
            level_ctx.guest.put("goes_left", {"packed": pack_decisions(goes_left, own_mask)})
            partition = level_ctx.guest.get("partition")
            children = partition["children"]
            others = rows_of_slots(slot, [node in children for node in to_split]) & ~own_mask
            goes_left[others] = unpack_decisions(partition["goes_left"], others, "the guest")
            node_of_row = move_rows(node_of_row, slot, to_split, children, goes_left)
            n_nodes += 2 * len(children)  # every split adds its two children
            parent_hist = {
                child: (parent_hist[node][0], parent_hist[node][1], node, side)
                for node, pair in children.items() if node in parent_hist
                for side, child in enumerate(pair)
            }
        return splits

    def _level_histogram(self, cipher: Any, payload: Any, slot: np.ndarray, weights: np.ndarray, mask: np.ndarray,
                         to_split: List[int], parent_info: Dict[int, tuple], max_bins: int) -> tuple:
        """Encrypted (slot, selected feature, bin) cells of this level, and what the next level may reuse.

        When all nodes try every feature of the tree (no per-node sampling), a node whose sibling
        is also split gets sibling = parent - child instead of a second scatter-add.
        """
        bins = self.bins.bins
        selected = [np.flatnonzero(mask[k]) for k in range(len(to_split))]
        same_features = all(np.array_equal(selected[0], f) for f in selected)
        direct = list(range(len(to_split)))
        derived: Dict[int, tuple] = {}
        if same_features:
            direct, derived = self._plan_subtraction(to_split, parent_info, slot, weights, selected[0])
        parts: Dict[int, Any] = {}
        if direct:
            in_direct = np.isin(slot, direct) & (weights > 0)
            rows = np.flatnonzero(in_direct)
            local_of_slot = np.full(len(to_split), -1, dtype=np.int64)
            local_of_slot[direct] = np.arange(len(direct))
            per_slot_feats = [selected[k] for k in direct]
            offsets = np.cumsum([0, *[len(f) for f in per_slot_feats]])
            rank_of = np.full((len(direct), bins.shape[1]), -1, dtype=np.int64)
            for i, feats in enumerate(per_slot_feats):
                rank_of[i, feats] = np.arange(len(feats))
            row_local = local_of_slot[slot[rows]]
            row_ranks = rank_of[row_local]  # (rows, features): rank or -1
            r_idx, f_idx = np.nonzero(row_ranks >= 0)
            cells = (offsets[row_local[r_idx]] + row_ranks[r_idx, f_idx]) * max_bins + bins[rows[r_idx], f_idx]
            pair_rows = rows[r_idx]
            reps = weights[pair_rows]
            hist = cipher.histogram(payload, np.repeat(pair_rows, reps), np.repeat(cells, reps),
                                    int(offsets[-1] * max_bins))
            for i, k in enumerate(direct):
                start, size = int(offsets[i] * max_bins), int(len(per_slot_feats[i]) * max_bins)
                parts[k] = _slice(cipher, hist, start, size)
        for k, (parent_cells, sibling_slot) in derived.items():
            parts[k] = cipher.subtract(parent_cells, parts[sibling_slot])
        keep = {to_split[k]: (parts[k], selected[k]) for k in range(len(to_split))} if same_features else {}
        return cipher.concat([parts[k] for k in range(len(to_split))]), selected, keep

    def _occupied_cells(self, slot: np.ndarray, weights: np.ndarray, selected: List[np.ndarray],
                        max_bins: int) -> np.ndarray:
        """Sorted indices of the level's (slot, selected feature, bin) cells that hold a sample."""
        bins = self.bins.bins
        rows = np.flatnonzero((slot >= 0) & (weights > 0))
        offsets = np.cumsum([0, *[len(f) for f in selected]])
        rank_of = np.full((len(selected), bins.shape[1]), -1, dtype=np.int64)
        for k, feats in enumerate(selected):
            rank_of[k, feats] = np.arange(len(feats))
        ranks = rank_of[slot[rows]]
        r_idx, f_idx = np.nonzero(ranks >= 0)
        cells = (offsets[slot[rows][r_idx]] + ranks[r_idx, f_idx]) * max_bins + bins[rows[r_idx], f_idx]
        return np.unique(cells)

    def _plan_subtraction(self, to_split: List[int], parent_info: Dict[int, tuple], slot: np.ndarray,
                          weights: np.ndarray, features: np.ndarray) -> tuple:
        """Which slots to build directly and which to derive as parent - sibling."""
        slot_of = {node: k for k, node in enumerate(to_split)}
        weight_of = np.bincount(slot[slot >= 0], weights=weights[slot >= 0], minlength=len(to_split))
        derived: Dict[int, tuple] = {}
        by_parent: Dict[int, List[int]] = {}
        for node in to_split:
            info = parent_info.get(node)
            if info is not None and np.array_equal(info[1], features):
                by_parent.setdefault(info[2], []).append(node)
        for parent, kids in by_parent.items():
            if len(kids) == 2:
                a, b = slot_of[kids[0]], slot_of[kids[1]]
                heavy, light = (a, b) if weight_of[a] >= weight_of[b] else (b, a)
                derived[heavy] = (parent_info[kids[0]][0], light)
        direct = [k for k in range(len(to_split)) if k not in derived]
        return direct, derived

    def predict(self, ctx: Any, table: PartyTable) -> None:
        """Send, per tree, this host's decision at each of its split nodes for every row."""
        _check_alignment(ctx.sub_ctx("setup"), table, "host")
        bins = apply_bins(table.features, self.bins.edges)
        for t, tree_ctx in ctx.on_iterations.ctxs_range(len(self.splits)):
            nodes = sorted(self.splits[t])
            if nodes:
                decisions = np.stack([bins[:, self.splits[t][n][0]] <= self.splits[t][n][1] for n in nodes])
                packed = np.packbits(decisions, axis=1)
            else:
                packed = np.zeros((0, (table.n_rows + 7) // 8), dtype=np.uint8)
            tree_ctx.guest.put("host_decisions", {"nodes": nodes, "packed": packed})

    def to_model(self) -> Dict[str, Any]:
        return {
            "role": "host",
            "settings": settings_to_dict(self.settings),
            "columns": self.bins.columns,
            "bin_edges": [e.tolist() for e in self.bins.edges],
            "splits": [{str(n): [int(f), int(b)] for n, (f, b) in tree.items()} for tree in self.splits],
            "thresholds": [
                {str(n): [self.bins.columns[f], float(self.bins.edges[f][b])] for n, (f, b) in tree.items()}
                for tree in self.splits
            ],
            "feature_importance": self.importance,
        }

    @classmethod
    def from_model(cls, model: Dict[str, Any]) -> HostForest:
        forest = cls(settings_from_dict(model["settings"]))
        forest.bins = PartyBins.from_model(model)
        forest.splits = [{int(n): (int(v[0]), int(v[1])) for n, v in tree.items()} for tree in model["splits"]]
        forest.importance = dict(model.get("feature_importance", {}))
        return forest


def _slice(cipher: Any, hist: Any, start: int, size: int) -> Any:
    if isinstance(hist, np.ndarray):
        return hist[start:start + size]
    return cipher.evaluator.slice(hist, start, size)


# --------------------------------------------------------------------------------- arbiter
class ArbiterForest:
    """Party C: holds the secret key, scores the hosts' candidates, picks every node's winner."""

    def __init__(self, settings: ForestSettings) -> None:
        self.settings = settings
        self.times = TrainingTimes()
        self.decrypted_cells = 0
        self.weight_scale = 1

    def fit(self, ctx: Any) -> None:
        started = time.perf_counter()
        s, p = self.settings, self.settings.params
        validate_he_param(s.he_kind, s.key_length)
        setup = ctx.sub_ctx("setup")
        meta = setup.guest.get("forest_meta")
        n_classes, field_bits = int(meta["n_classes"]), int(meta["field_bits"])
        self.weight_scale = int(meta.get("weight_scale", 1))
        if s.he_kind == "mock":
            logger.warning(MOCK_WARNING)
            cipher: Any = PlainLabelCipher(n_classes, field_bits)
        else:
            kit = ctx.cipher.phe.setup(options={"kind": s.he_kind, "key_length": s.key_length})
            cipher = PheLabelCipher.from_kit(kit, s.key_length, n_classes, field_bits)
        setup.guest.put("label_cipher", cipher.public_spec())
        setup.hosts.put("label_cipher", cipher.public_spec())
        for t, tree_ctx in ctx.on_iterations.ctxs_range(p.n_trees):
            for depth in range(p.max_depth + 1):
                level_ctx = tree_ctx.sub_ctx(f"level_{depth}")
                n_nodes = int(level_ctx.guest.get("level_plan")["n_nodes"])
                if n_nodes == 0:
                    break
                self._choose_winners(level_ctx, cipher, n_nodes, n_classes)
        self.times.total_s = time.perf_counter() - started

    def _choose_winners(self, level_ctx: Any, cipher: Any, n_nodes: int, n_classes: int) -> None:
        p = self.settings.params
        party_gains = [np.asarray(level_ctx.guest.get("guest_gains"), dtype=np.float64)]
        host_best = []
        for message in level_ctx.hosts.get("host_histogram"):
            t0 = time.perf_counter()
            cells = cipher.from_wire(message["cells"])
            occupied = np.asarray(message["occupied"], dtype=np.int64)
            counts = np.zeros((message["n_cells"], n_classes))
            # class-weighted counts travel as integers in units of 1/weight_scale
            counts[occupied] = cipher.decrypt_counts(cells, message["cells_per_ciphertext"], len(occupied)) / self.weight_scale
            self.times.decrypt_s += time.perf_counter() - t0
            self.decrypted_cells += len(occupied)
            n_bins, max_bins = message["n_bins"], message["max_bins"]
            hist = np.zeros((n_nodes, n_bins.shape[1], max_bins, n_classes))
            selected = (n_bins > 0).sum(axis=1)
            offsets = np.cumsum([0, *selected])
            for k in range(n_nodes):
                block = counts[offsets[k] * max_bins: offsets[k + 1] * max_bins]
                hist[k, : selected[k]] = block.reshape(selected[k], max_bins, n_classes)
            gains = split_gains(hist, n_bins, p.min_samples_leaf)
            best = best_splits(gains)
            party_gains.append(best.gain)
            host_best.append(best)
        table = np.stack(party_gains, axis=1)  # (nodes, parties): guest first, then hosts
        winners = np.argmax(table, axis=1)  # ties: guest, then the lower host
        winners = np.where(table[np.arange(n_nodes), winners] > 0, winners, NO_WINNER)
        level_ctx.guest.put("winners", winners)
        for h, best in enumerate(host_best):
            won = {int(k): (int(best.feature[k]), int(best.bin[k])) for k in np.flatnonzero(winners == h + 1)}
            level_ctx.hosts[h].put("host_splits", won)


def settings_to_dict(settings: ForestSettings) -> Dict[str, Any]:
    p = settings.params
    return {
        "n_trees": p.n_trees, "max_depth": p.max_depth, "min_samples_split": p.min_samples_split,
        "min_samples_leaf": p.min_samples_leaf, "tree_feature_fraction": p.tree_feature_fraction,
        "node_max_features": p.node_max_features, "bootstrap": p.bootstrap, "seed": p.seed,
        "class_weight": p.class_weight, "max_bin": settings.max_bin, "n_classes": settings.n_classes, "he_kind": settings.he_kind,
        "key_length": settings.key_length, "hard_vote": settings.hard_vote,
    }


def settings_from_dict(d: Dict[str, Any]) -> ForestSettings:
    params = ForestParams(
        n_trees=d["n_trees"], max_depth=d["max_depth"], min_samples_split=d["min_samples_split"],
        min_samples_leaf=d["min_samples_leaf"], tree_feature_fraction=d["tree_feature_fraction"],
        node_max_features=d["node_max_features"], bootstrap=d["bootstrap"], seed=d["seed"],
        class_weight=d.get("class_weight", "none"),  # models saved before class weights existed
    )
    return ForestSettings(params, d["max_bin"], d["n_classes"], d["he_kind"], d["key_length"], d["hard_vote"])
