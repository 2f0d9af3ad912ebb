"""``siren-fused kdv``: a SIREN and a tanh MLP of the same size trained on the Korteweg-de Vries residual u_t + 6 u
u_x + u_xxx (a third-order operator from one fused directional jet for the SIREN, the same directional derivatives
by Taylor mode in plain PyTorch for tanh), scored by the relative L2 error over (x, t) against the single-soliton
solution; ``<out>/metrics.json`` and ``<out>/kdv.png``. ``--time-backends N`` times N SIREN training steps, fused
against the reference.

The defaults finish in a few CPU minutes. Paper-scale settings (PINN benchmarks of KdV train larger nets for
longer): ``--hidden-features 256 --hidden-layers 4 --points 8192 --steps 20000 --lr 1e-4``.
"""

from ..operator_pde import problem_command
from .problem import KdvProblem

register = problem_command(KdvProblem(), 2, __doc__)
