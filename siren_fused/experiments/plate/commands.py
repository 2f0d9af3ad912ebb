"""``siren-fused plate``: a SIREN and a tanh MLP of the same size trained on the Kirchhoff plate equation Delta^2 u
= f, simply supported on the unit square (the biharmonic and the Laplacian from one fused directional jet for the
SIREN, the same directional derivatives by Taylor mode in plain PyTorch for tanh), scored by the relative L2 errors
of u and of Delta u against the manufactured solution u = sin(pi x) sin(2 pi y); ``<out>/metrics.json`` and
``<out>/plate.png``. ``--time-backends N`` times N SIREN training steps, fused against the reference.

The defaults finish in a few CPU minutes. Paper-scale settings (PINN benchmarks of plates train larger nets for
longer): ``--hidden-features 256 --hidden-layers 3 --points 8192 --steps 20000 --lr 1e-4``.
"""

from ..operator_pde import problem_command
from .problem import PlateProblem

register = problem_command(PlateProblem(), 2, __doc__)
