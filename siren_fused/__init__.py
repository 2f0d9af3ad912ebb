"""siren_fused: SIREN networks with their derivatives computed forward, in fused kernels.

>>> import torch, siren_fused
>>> net = siren_fused.Siren(2, 64, 2, 1)
>>> j = siren_fused.jet(net, torch.rand(10, 2) * 2 - 1, order=2)
>>> j.value.shape, j.grad.shape, j.laplacian.shape
(torch.Size([10, 1]), torch.Size([10, 1, 2]), torch.Size([10, 1]))
"""

from . import reference
from .chunked import Grid, evaluate_in_chunks, jet_chunked
from .film import Modulation
from .functa_params import from_functa_params
from .jet import empty_cache, jet
from .jet_types import Jet, OperatorJet
from .modulation import modulated_params
from .modules import Siren, SineLayer
from .operator_jet import operator_jet
from .operator_plan import biharmonic, hessian_diagonal
from .operator_plan import laplacian as laplacian_operator

__all__ = ["Grid", "Jet", "Modulation", "OperatorJet", "Siren", "SineLayer", "biharmonic", "empty_cache",
           "evaluate_in_chunks", "from_functa_params", "hessian_diagonal", "jet", "jet_chunked", "laplacian_operator",
           "modulated_params", "operator_jet", "reference"]
__version__ = "0.1.0"
