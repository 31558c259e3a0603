"""FedProx's proximal term (Li et al., 2020), independent of FATE.

Each client minimises  loss(w) + mu/2 * ||w - w_global||^2  where w_global is the model the
arbiter sent at the start of the round. The gradient of the extra term is mu * (w - w_global):
it pulls the local model back towards the global one, which limits client drift on
non-IID data. At w = w_global the term and its gradient are zero; with mu = 0 the trainer
skips it altogether, so FedProx(mu=0) runs exactly the FedAvg computation.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence

import torch
from torch import nn


def trainable_parameters(model: nn.Module) -> List[nn.Parameter]:
    """The parameters FATE's aggregator averages (those that require a gradient), in order."""
    return [p for p in model.parameters() if p.requires_grad]


def snapshot(model: nn.Module) -> List[torch.Tensor]:
    """A detached copy of the model's trainable parameters: w_global for the next round."""
    return [p.detach().clone() for p in trainable_parameters(model)]


def proximal_term(params: Iterable[torch.Tensor], global_params: Sequence[torch.Tensor], mu: float) -> torch.Tensor:
    """mu/2 * sum ||w - w_global||^2 over the parameter tensors (differentiable in ``params``)."""
    params = list(params)
    if len(params) != len(global_params):
        raise ValueError(f"{len(params)} parameter tensors but {len(global_params)} in the global snapshot")
    total = params[0].new_zeros(())
    for w, g in zip(params, global_params):
        if w.shape != g.shape:
            raise ValueError(f"parameter shape {tuple(w.shape)} differs from the snapshot's {tuple(g.shape)}")
        total = total + (w - g.detach()).pow(2).sum()
    return 0.5 * mu * total


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars: what each client uploads per aggregation round."""
    return int(sum(p.numel() for p in trainable_parameters(model)))
