"""How a directional jet computes constant-coefficient linear operators of orders up to 4.

A linear operator ``sum_alpha c_alpha d^alpha u`` (``|alpha| <= 4``) is split by degree
``k = |alpha|``. The k-th derivative of u along a direction v is
``D_v^k u = sum_{|alpha| = k} k!/alpha! v^alpha d^alpha u``, so a degree-k part is a weighted sum of
k-th directional derivatives over any set of directions whose ``v^(k)`` span it (polarization).
The fused kernels carry, for R directions, every derivative below the jet's order K, and collapse the
order-K ones into one component per operator (csrc/taylor_jet.h): the sine's K-th Taylor coefficient
is linear in the pre-activation's, so a weighted sum of them goes through the network as one
component. A jet of order K with R directions and M operators of order K costs
``1 + (K - 1) R + M`` components (GEMM rows a point); the lower degrees, and the gradient, are fixed
combinations of the carried components, formed after the kernel.

The directions are chosen to make R small: greedily from two ordered pools (the axes, then e_i +- e_j,
then wider integer vectors; and the same after a spherical 4-design, whose directions weight an
isotropic operator such as the biharmonic equally: 3 directions in 2-D, the 6 axes of the
icosahedron in 3-D), keeping a direction only while it brings a needed operator closer, then dropping
any direction the others make redundant; the smaller set wins. The biharmonic of a 2-D net then takes
3 directions (11 components), of a 3-D one 6 (20 components); u_xxxx alone takes the x axis plus
what the gradient needs (D directions).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

MultiIndex = Tuple[int, ...]
Operator = Mapping[MultiIndex, float]

# The kernels' bounds on a directional jet (csrc/taylor_jet.h): its order, directions and collapsed fields.
MAX_ORDER = 4
MAX_DIRECTIONS = 32
MAX_TOP_FIELDS = 16

# Relative residual below which a set of directions counts as spanning an operator's part: the
# weights are exact up to float64 rounding of the least-squares solve.
_EXACT = 1e-10


def monomials(in_dims: int, degree: int) -> List[MultiIndex]:
    """Every multi-index alpha of D entries with |alpha| = degree, in lexicographic order."""
    return sorted((a for a in itertools.product(range(degree + 1), repeat=in_dims) if sum(a) == degree),
                  reverse=True)


def directional_row(direction: Sequence[float], degree: int, in_dims: int) -> np.ndarray:
    """The coefficients of D_v^k u on the degree-k partials: k!/alpha! v^alpha for each alpha."""
    return np.array([math.factorial(degree) / math.prod(math.factorial(a) for a in alpha)
                     * math.prod(v ** a for v, a in zip(direction, alpha)) for alpha in monomials(in_dims, degree)])


def design_directions(in_dims: int) -> List[Tuple[float, ...]]:
    """Directions that average every 4th-degree form isotropically (spherical 4-designs up to sign)."""
    if in_dims == 2:
        return [(math.cos(a), math.sin(a)) for a in (0.0, math.pi / 3, 2 * math.pi / 3)]
    if in_dims == 3:
        phi = (1 + math.sqrt(5)) / 2
        return [(0.0, 1.0, phi), (0.0, -1.0, phi), (1.0, phi, 0.0), (-1.0, phi, 0.0), (phi, 0.0, 1.0),
                (phi, 0.0, -1.0)]
    return []


def lattice_directions(in_dims: int) -> List[Tuple[float, ...]]:
    """Integer directions with entries in -2..2, one of each +-v pair: the axes first, then by the sum
    of absolute entries."""
    vectors = [v for v in itertools.product(range(-2, 3), repeat=in_dims)
               if any(v) and next(a for a in v if a != 0) > 0]
    vectors.sort(key=lambda v: (sum(map(abs, v)), max(map(abs, v)), [-abs(a) for a in v], [-a for a in v]))
    return [tuple(float(a) for a in v) for v in vectors]


def degree_parts(operator: Operator, in_dims: int) -> Dict[int, np.ndarray]:
    """The operator's nonzero coefficients by degree: {k: c over monomials(D, k)}."""
    parts: Dict[int, np.ndarray] = {}
    for alpha, coefficient in operator.items():
        k = sum(alpha)
        part = parts.setdefault(k, np.zeros(len(monomials(in_dims, k))))
        part[monomials(in_dims, k).index(tuple(alpha))] += coefficient
    return {k: c for k, c in parts.items() if np.any(c != 0)}


def polarization_weights(directions: Sequence[Sequence[float]], target: np.ndarray, degree: int,
                         in_dims: int) -> Tuple[np.ndarray, float]:
    """Weights w with sum_r w_r D_{v_r}^k u equal to the degree-k part ``target``, and the relative
    residual of that least-squares solve (0 when the directions span the part)."""
    rows = np.array([directional_row(v, degree, in_dims) for v in directions]).reshape(len(directions), -1)
    weights = np.linalg.lstsq(rows.T, target, rcond=None)[0]
    # Rounding leaves ~1e-17 where a weight is 0; an exact 0 lets the kernels skip the direction.
    weights[np.abs(weights) < 1e-13 * np.abs(weights).max(initial=0.0)] = 0.0
    residual = np.linalg.norm(rows.T @ weights - target) / max(np.linalg.norm(target), 1e-300)
    return weights, float(residual)


def _total_residual(directions: List[Tuple[float, ...]], targets: List[Tuple[int, np.ndarray]], in_dims: int) -> float:
    if not directions:
        return float(len(targets))
    return sum(polarization_weights(directions, c, k, in_dims)[1] for k, c in targets)


def choose_directions(targets: List[Tuple[int, np.ndarray]], in_dims: int,
                      pool: List[Tuple[float, ...]]) -> List[Tuple[float, ...]]:
    """A small set of directions from ``pool`` spanning every (degree, part) target: greedy in the
    pool's order, then without any direction the others make redundant (empty if the pool cannot)."""
    chosen: List[Tuple[float, ...]] = []
    residual = _total_residual(chosen, targets, in_dims)
    for v in pool:
        if residual < _EXACT:
            break
        trial = _total_residual(chosen + [v], targets, in_dims)
        if trial < residual - _EXACT:
            chosen, residual = chosen + [v], trial
    if residual >= _EXACT:
        return []
    for v in list(reversed(chosen)):
        rest = [u for u in chosen if u != v]
        if rest and _total_residual(rest, targets, in_dims) < _EXACT:
            chosen = rest
    return chosen


@dataclass(frozen=True)
class OperatorPlan:
    """A directional jet for a set of operators, and how its components make the fields.

    order: the jet's order K (the highest degree asked for, 2 to 4).
    directions: [R, D]; top_weights: [M, R], each row one operator's degree-K weights.
    field_matrix: [fields, components]: each field (in the operators' order) as a combination of the
    packed jet's components; gradient_matrix: [D, components], the gradient's (empty when not asked for).
    Matrices are nested tuples of floats: constants that torch.compile can hold in a graph.
    """

    names: Tuple[str, ...]
    in_dims: int
    order: int
    directions: Tuple[Tuple[float, ...], ...]
    top_weights: Tuple[Tuple[float, ...], ...]
    field_matrix: Tuple[Tuple[float, ...], ...]
    gradient_matrix: Tuple[Tuple[float, ...], ...]

    @property
    def components(self) -> int:
        return len(self.field_matrix[0])


def _constant(matrix: np.ndarray) -> Tuple[Tuple[float, ...], ...]:
    return tuple(tuple(float(a) for a in row) for row in matrix)


def taylor_component(degree: int, direction: int, directions: int) -> int:
    """Where a direction's derivative of this degree (below the order) is in the packed jet."""
    return 1 + (degree - 1) * directions + direction


def checked_operators(operators: Mapping[str, Operator], in_dims: int) -> Dict[str, Dict[MultiIndex, float]]:
    """``operators`` as {name: {alpha: coefficient}} with alpha tuples of D non-negative ints,
    |alpha| <= 4, finite coefficients, or a clear error naming the entry."""
    if not isinstance(operators, Mapping) or not operators:
        raise TypeError("operators must be a non-empty mapping {name: {alpha: coefficient}}, got "
                        f"{type(operators).__name__}")
    checked: Dict[str, Dict[MultiIndex, float]] = {}
    for name, operator in operators.items():
        if not isinstance(name, str):
            raise TypeError(f"operator names must be strings, got {name!r}")
        if not isinstance(operator, Mapping) or not operator:
            raise TypeError(f"operators[{name!r}] must be a non-empty mapping {{alpha: coefficient}}, got {operator!r}")
        terms: Dict[MultiIndex, float] = {}
        for alpha, coefficient in operator.items():
            if (not isinstance(alpha, tuple) or len(alpha) != in_dims
                    or not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in alpha)):
                raise ValueError(f"operators[{name!r}]: a multi-index must be a tuple of {in_dims} non-negative ints "
                                 f"(one per input dimension), got {alpha!r}")
            if sum(alpha) > MAX_ORDER:
                raise ValueError(f"operators[{name!r}]: derivatives of order at most {MAX_ORDER} are supported, got "
                                 f"{alpha!r} (order {sum(alpha)})")
            try:
                value = float(coefficient)
            except (TypeError, ValueError):
                raise TypeError(f"operators[{name!r}][{alpha!r}] must be a number, got {coefficient!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"operators[{name!r}][{alpha!r}] must be finite, got {value}")
            terms[alpha] = terms.get(alpha, 0.0) + value
        checked[name] = terms
    return checked


def plan_operators(operators: Mapping[str, Mapping[MultiIndex, float]], in_dims: int,
                   gradient: bool = True) -> OperatorPlan:
    """The directional jet of the fewest components this module's search finds for ``operators``
    (checked by :func:`checked_operators`), and for the gradient unless ``gradient`` is False (which spares
    the directions only the gradient needs: u_xxxx alone takes 5 components instead of 1 + 3 D + 1)."""
    parts = {name: degree_parts(op, in_dims) for name, op in operators.items()}
    order = max([k for p in parts.values() for k in p] + [0])
    if order < 2:
        raise ValueError("operators of order 0 or 1 need no directional jet: use siren_fused.jet(net, x, order=1)")
    gradient_targets = [(1, np.eye(in_dims)[k]) for k in range(in_dims)] if gradient else []
    targets = gradient_targets + [(k, c) for p in parts.values() for k, c in p.items()]
    # The lattice first, so that on a tie the axes win: their weights come out exact.
    candidates = [choose_directions(targets, in_dims, pool)
                  for pool in (lattice_directions(in_dims), design_directions(in_dims) + lattice_directions(in_dims))]
    directions = min((c for c in candidates if c), key=len)
    if len(directions) > MAX_DIRECTIONS:
        raise ValueError(f"these operators need {len(directions)} directions, more than the kernels' limit "
                         f"{MAX_DIRECTIONS}")
    top_names = [name for name in operators if order in parts[name]]
    if len(top_names) > MAX_TOP_FIELDS:
        raise ValueError(f"{len(top_names)} operators of order {order} exceed the kernels' limit of {MAX_TOP_FIELDS} "
                         "collapsed fields a call; split them over several calls")
    count = len(directions)
    components = 1 + (order - 1) * count + len(top_names)
    def combination(degree_parts_of: Dict[int, np.ndarray], row: np.ndarray, top: List[np.ndarray]) -> None:
        for k, c in degree_parts_of.items():
            if k == 0:
                row[0] += c[0]
                continue
            weights, _ = polarization_weights(directions, c, k, in_dims)
            if k == order:
                row[taylor_component(order, len(top), count)] = 1.0
                top.append(weights)
            else:
                for r in range(count):
                    row[taylor_component(k, r, count)] += weights[r]

    top_weights: List[np.ndarray] = []
    fields = np.zeros((len(operators), components))
    for i, name in enumerate(operators):
        combination(parts[name], fields[i], top_weights)
    gradient_rows = np.zeros((len(gradient_targets), components))
    for k, (_, c) in enumerate(gradient_targets):
        combination({1: c}, gradient_rows[k], top_weights)
    return OperatorPlan(tuple(operators), in_dims, order, _constant(np.array(directions)),
                        _constant(np.array(top_weights).reshape(len(top_weights), count)), _constant(fields),
                        _constant(gradient_rows))


def biharmonic(in_dims: int) -> Dict[MultiIndex, float]:
    """Delta^2 u = sum_{k, l} d^4 u / dx_k^2 dx_l^2 as {alpha: coefficient}."""
    operator: Dict[MultiIndex, float] = {}
    for k, l in itertools.product(range(in_dims), repeat=2):
        alpha = tuple(2 * (i == k) + 2 * (i == l) for i in range(in_dims))
        operator[alpha] = operator.get(alpha, 0.0) + 1.0
    return operator


def laplacian(in_dims: int) -> Dict[MultiIndex, float]:
    """Delta u as {alpha: coefficient}."""
    return {tuple(2 * (i == k) for i in range(in_dims)): 1.0 for k in range(in_dims)}


def hessian_diagonal(in_dims: int) -> Dict[str, Dict[MultiIndex, float]]:
    """{"d2/dx{k}^2": the k-th second derivative} for k < D: each of u_xx, u_yy, ... apart, at
    1 + 2 D components (the full Hessian's jet has 1 + D + D (D + 1) / 2)."""
    return {f"d2/dx{k}^2": {tuple(2 * (i == k) for i in range(in_dims)): 1.0} for k in range(in_dims)}
