"""Encrypted class-indicator vectors and the histograms built from them.

The guest encrypts, once per forest, every sample's one-hot class vector packed into ONE
plaintext (class c in bits [c*w, (c+1)*w) for a field width w that no count can overflow);
with class weights (rf_component/class_weights.py) the class's field holds its integer weight
instead of 1.
Hosts add these ciphertexts into (node, feature, bin) cells with FATE's native scatter-add,
fold several cells into one ciphertext (Paillier's pack_squeeze) and send them to the
arbiter, the only party with the secret key, which decrypts class counts per cell.

``PlainLabelCipher`` ("mock") runs the same steps on plaintext numpy arrays, for fast tests
only. It does not use FATE's own mock cipher (FATE's config forbids it by default,
``safety.phe.mock.allow``); it is FedIDS's own no-encryption mode and says so loudly.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

logger = logging.getLogger(__name__)

HE_KINDS = ("paillier", "ou", "mock")
MIN_KEY_LENGTH = 1024
MOCK_WARNING = (
    "!!! hetero_random_forest runs with he kind 'mock': class labels travel UNENCRYPTED between parties. "
    "Use it for fast tests only; models trained with it are marked cipher=mock. !!!"
)


def field_bits_for(max_count: int) -> int:
    """Bits per class field so that no cell count (at most ``max_count``) overflows into the next."""
    return int(max_count).bit_length() + 1


def plaintext_capacity_bits(kind: str, key_length: int) -> int:
    """Usable plaintext bits of one ciphertext: Paillier's space is n; OU's is a prime of ~n/3 bits."""
    if kind == "ou":
        return key_length // 3 - 2
    return key_length - 2


def validate_he_param(kind: str, key_length: int) -> None:
    """Clear errors for an unknown kind or a weak key, before any key is made."""
    if kind not in HE_KINDS:
        raise ValueError(f"he_param.kind '{kind}' is not supported; choose one of {', '.join(HE_KINDS)}")
    if kind != "mock" and key_length < MIN_KEY_LENGTH:
        raise ValueError(
            f"he_param.key_length {key_length} is too short: at least {MIN_KEY_LENGTH} bits "
            "(1024 default, 2048 for long-term security)"
        )


def class_vectors(labels: np.ndarray, n_classes: int, units: Optional[np.ndarray] = None,
                  row_weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Every sample's class vector (float64): its class's integer weight (1 without ``units``) times
    its own integer sample weight (1 without ``row_weights``), zeros elsewhere."""
    units = np.ones(n_classes) if units is None else np.asarray(units, dtype=np.float64)
    vectors = np.eye(n_classes, dtype=np.float64)[labels.astype(np.int64)] * units[None, :]
    return vectors if row_weights is None else vectors * np.asarray(row_weights, dtype=np.float64)[:, None]


def cells_of_rows(rows: np.ndarray, cells: np.ndarray, n_rows: int) -> List[List[int]]:
    """Positions for FATE's i_update: for every row, the list of histogram cells it adds into.

    ``rows``/``cells`` are parallel arrays of (row, cell) pairs, repeated once per bootstrap
    draw, so a row drawn twice adds its ciphertext twice without re-encryption.
    """
    order = np.argsort(rows, kind="stable")
    rows, cells = rows[order], cells[order]
    bounds = np.searchsorted(rows, np.arange(n_rows + 1))
    flat = cells.tolist()
    return [flat[bounds[i]:bounds[i + 1]] for i in range(n_rows)]


class PlainLabelCipher:
    """No encryption: the protocol's data flow on plaintext counts (kind 'mock')."""

    kind = "mock"
    encrypted = False

    def __init__(self, n_classes: int, field_bits: int) -> None:
        self.n_classes = n_classes
        self.field_bits = field_bits

    def public_spec(self) -> Dict[str, Any]:
        return {"kind": "mock", "n_classes": self.n_classes, "field_bits": self.field_bits}

    def encrypt_labels(self, labels: np.ndarray, units: Optional[np.ndarray] = None,
                       row_weights: Optional[np.ndarray] = None) -> np.ndarray:
        logger.warning(MOCK_WARNING)
        return class_vectors(labels, self.n_classes, units, row_weights).astype(np.int64)

    def histogram(self, payload: np.ndarray, rows: np.ndarray, cells: np.ndarray, n_cells: int) -> np.ndarray:
        hist = np.zeros((n_cells, self.n_classes), dtype=np.int64)
        np.add.at(hist, cells, payload[rows])
        return hist

    def subtract(self, parent: np.ndarray, child: np.ndarray) -> np.ndarray:
        return parent - child

    def concat(self, parts: List[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros((0, self.n_classes), dtype=np.int64)

    def squeeze(self, hist: np.ndarray) -> Tuple[np.ndarray, int]:
        return hist, 1

    def take(self, hist: np.ndarray, cells: np.ndarray) -> np.ndarray:
        return hist[cells]

    def to_wire(self, payload: np.ndarray) -> np.ndarray:
        return payload

    def from_wire(self, message: np.ndarray) -> np.ndarray:
        return message

    def decrypt_counts(self, squeezed: np.ndarray, cells_per_ciphertext: int, n_cells: int) -> np.ndarray:
        return np.asarray(squeezed, dtype=np.float64).reshape(n_cells, self.n_classes)


class PheLabelCipher:
    """Paillier (default) or OU from FATE's cipher kit; the secret key exists only at the arbiter."""

    encrypted = True

    def __init__(
        self,
        kind: str,
        key_length: int,
        pk: Any,
        coder: Any,
        evaluator: Any,
        n_classes: int,
        field_bits: int,
        sk: Optional[Any] = None,
    ) -> None:
        self.kind = kind
        self.key_length = key_length
        self.pk = pk
        self.coder = coder
        self.evaluator = evaluator
        self.n_classes = n_classes
        self.field_bits = field_bits
        self._sk = sk
        self.cell_bits = n_classes * field_bits
        capacity = plaintext_capacity_bits(kind, key_length)
        if self.cell_bits > capacity:
            raise ValueError(
                f"{n_classes} classes x {field_bits} bits do not fit one {kind}-{key_length} plaintext "
                f"({capacity} bits); use a longer key"
            )
        # Paillier can fold several cells into one ciphertext before decryption; OU cannot.
        self.cells_per_ciphertext = capacity // self.cell_bits if kind == "paillier" else 1

    @classmethod
    def from_kit(cls, kit: Any, key_length: int, n_classes: int, field_bits: int) -> PheLabelCipher:
        return cls(kit.kind, key_length, kit.pk, kit.coder, kit.evaluator, n_classes, field_bits, sk=kit.sk)

    def public_spec(self) -> Dict[str, Any]:
        """What the arbiter sends to guest and hosts: FATE's public key and coder, never the secret key.

        Plain values and FATE's own classes only: FATE's federation refuses to unpickle others.
        """
        return {"kind": self.kind, "key_length": self.key_length, "pk": self.pk, "coder": self.coder,
                "n_classes": self.n_classes, "field_bits": self.field_bits}

    def encrypt_labels(self, labels: np.ndarray, units: Optional[np.ndarray] = None,
                       row_weights: Optional[np.ndarray] = None) -> Any:
        import torch

        vectors = class_vectors(labels, self.n_classes, units, row_weights).ravel()
        packed = self.coder.pack_floats(torch.from_numpy(vectors), self.field_bits, self.n_classes, 0)
        return self.pk.encrypt_encoded(packed, obfuscate=True)

    def histogram(self, payload: Any, rows: np.ndarray, cells: np.ndarray, n_cells: int) -> Any:
        hist = self.evaluator.zeros(n_cells, None)
        if len(rows):
            # i_update wants one position list per ciphertext it is given: give it only the rows of
            # this level's splittable nodes (deep levels hold few), not an empty list for every other row
            involved, local = np.unique(rows, return_inverse=True)
            if len(involved) < len(payload):
                payload = payload.slice_indexes(involved.tolist())
            self.evaluator.i_update(self.pk, hist, payload, cells_of_rows(local, cells, len(involved)), 1)
        return hist

    def subtract(self, parent: Any, child: Any) -> Any:
        return self.evaluator.sub(parent, child, self.pk)

    def concat(self, parts: List[Any]) -> Any:
        return self.evaluator.cat(parts)

    def squeeze(self, hist: Any) -> Tuple[Any, int]:
        if self.cells_per_ciphertext <= 1:
            return hist, 1
        return self.evaluator.pack_squeeze(hist, self.cells_per_ciphertext, self.cell_bits, self.pk), self.cells_per_ciphertext

    def take(self, hist: Any, cells: np.ndarray) -> Any:
        return hist.slice_indexes(cells.tolist())

    def to_wire(self, ciphertexts: Any) -> bytes:
        """Ciphertexts as raw bytes: pickling FATE's ciphertext vector object by object costs
        12-32 s for 25k ciphertexts here, its serialised state about 0.5 s."""
        return bytes(ciphertexts.__getstate__())

    def from_wire(self, message: bytes) -> Any:
        if self.kind == "paillier":
            from fate_utils.paillier import CiphertextVector
        else:
            from fate_utils.ou import CiphertextVector
        vector = CiphertextVector.__new__(CiphertextVector)
        vector.__setstate__(message)
        return vector

    def decrypt_counts(self, squeezed: Any, cells_per_ciphertext: int, n_cells: int) -> np.ndarray:
        if self._sk is None:
            raise RuntimeError("only the arbiter holds the secret key")
        if n_cells == 0:
            return np.zeros((0, self.n_classes))
        encoded = self._sk.decrypt_to_encoded(squeezed)
        # fate_utils' own unpack returns Python floats (exact below 2**53); FATE's wrapper
        # turns them into a float32 tensor, which is exact only below 2**24
        values = self.coder.coder.unpack_floats(
            encoded, self.field_bits, self.n_classes * cells_per_ciphertext, 0, n_cells * self.n_classes
        )
        return np.rint(np.asarray(values, dtype=np.float64)).reshape(n_cells, self.n_classes)


def label_cipher_from_spec(spec: Dict[str, Any]) -> Any:
    """The guest's and hosts' side of the label cipher, rebuilt from the arbiter's public spec."""
    if spec["kind"] == "mock":
        return PlainLabelCipher(int(spec["n_classes"]), int(spec["field_bits"]))
    if spec["kind"] == "paillier":
        from fate.arch.protocol.phe.paillier import evaluator
    elif spec["kind"] == "ou":
        from fate.arch.protocol.phe.ou import evaluator
    else:
        raise ValueError(f"unknown label cipher kind {spec['kind']!r}")
    return PheLabelCipher(spec["kind"], int(spec["key_length"]), spec["pk"], spec["coder"], evaluator,
                          int(spec["n_classes"]), int(spec["field_bits"]))
