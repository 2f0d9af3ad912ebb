"""The SIREN paper's SDF loss (``loss_functions.sdf`` in its code), on a batch with known gradients.

Terms and weights as in the paper's code; each term is a mean over the whole batch (on- and
off-surface rows), with zeros where a term does not apply:

* on-surface ``|f|`` (weight 3e3);
* off-surface ``exp(-100 |f|)``, which keeps the zero level set away from empty space (weight 1e2);
* on-surface normal alignment ``1 - cos(grad f, n)`` (weight 1e2);
* Eikonal ``| |grad f| - 1 |`` everywhere (weight 5e1).
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F

SDF_WEIGHT = 3e3
OFF_SURFACE_WEIGHT = 1e2
NORMAL_WEIGHT = 1e2
EIKONAL_WEIGHT = 5e1
OFF_SURFACE_SHARPNESS = 1e2


def sdf_loss_terms(value: torch.Tensor, grad: torch.Tensor, normals: torch.Tensor,
                   on_surface: int) -> Dict[str, torch.Tensor]:
    """The four weighted loss terms.

    Args:
        value: f at the batch, ``[B, 1]``; rows ``< on_surface`` lie on the surface.
        grad: grad f at the batch, ``[B, 3]``.
        normals: unit surface normals of the on-surface rows, ``[on_surface, 3]``.
        on_surface: number of on-surface rows.

    Returns:
        ``{"sdf", "off_surface", "normal", "eikonal"}``, each a weighted scalar; their sum is the loss.
    """
    batch = value.shape[0]
    on_value, off_value = value[:on_surface], value[on_surface:]
    cosine = F.cosine_similarity(grad[:on_surface], normals, dim=-1)
    # Sums over the applicable rows divided by the full batch size: the paper's torch.where(...).mean().
    return {
        "sdf": SDF_WEIGHT * on_value.abs().sum() / batch,
        "off_surface": OFF_SURFACE_WEIGHT * torch.exp(-OFF_SURFACE_SHARPNESS * off_value.abs()).sum() / batch,
        "normal": NORMAL_WEIGHT * (1 - cosine).sum() / batch,
        "eikonal": EIKONAL_WEIGHT * (grad.norm(dim=-1) - 1).abs().mean(),
    }
