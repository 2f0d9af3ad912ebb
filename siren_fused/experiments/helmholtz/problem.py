"""The paper's 2-D Helmholtz problem (Sec. 4.3) as its code release sets it up, and its analytic solution.

On [-1, 1]^2, the complex field u = u_re + i u_im solves

    div(A_stretch grad u) + C q k^2 u = f,    f = s g_sigma(x - x_0)

with wavenumber k = 20, squared slowness q (1 in the uniform medium), and a source f of amplitude s = 1 + i
times a narrow Gaussian of unit mass and variance sigma = 1e-4 at x_0. A perfectly matched layer (PML) fills
the outer 0.5 of every side: complex coordinate stretching e_x = 1 - i a_0 (d_x / L)^2 (d_x the depth into the
layer along x, L = 0.5, a_0 = 5), likewise e_y, gives A_stretch = diag(e_y / e_x, e_x / e_y) and C = e_x e_y,
so outgoing waves decay in the layer instead of reflecting. Outside the layer A_stretch and C are 1 and the
equation is Delta u + q k^2 u = f.

With e_x = 1 - i ..., outgoing waves are e^{-ikr}: the free-space solution is u = s (i / 4) H0^(2)(k r), the
Hankel function of the second kind, which (Delta + k^2) maps to s delta. The release's reference field carries an
extra factor of its grid cell's area (hx * hy); the unit-mass source implies none.

Batches follow the release's ``SingleHelmholtzSource``: points uniform in the square, the last 100 of them
drawn in a disc of radius 0.05 around the source so that the narrow source is always sampled. One departure,
for CPU-sized runs: a fraction of the uniform points (by default half, ``INNER_FRACTION``) is drawn inside the
layer's inner edge (|x|, |y| < 0.5, a quarter of the square) instead of over the whole square. The loss sums
over points, so this weighs the residual there three times as much as in the layer (uniform sampling puts
three quarters of the points in the layer). In short runs it is what lets the field's rings spread out from the
source instead of settling on a blob around it and u = 0 beyond (measured in benchmarks/RESULTS.md).

A curriculum on the medium (our addition, off unless asked for): the batches may carry an absorption eps that
turns k^2 into k^2 (1 - i eps) and falls linearly to 0 over the first batches. Inside the layer nothing but the
layer's far-away stretching tells the outgoing solution from a standing wave (both solve Delta u + k^2 u = f
there), and a network trained on the lossless equation settles on the standing wave. In an absorbing medium
the two differ where the network is trained: the outgoing wave decays away from the source and a standing
wave's incoming half grows towards the boundary. The outgoing solution is the limit of the absorbing ones as
eps -> 0 (the limiting absorption principle), so lowering eps to 0 leads the network to it, and from then on it
trains on the release's lossless problem.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch

from ..training_loop import ScheduledBatches

WAVENUMBER = 20.0
SOURCE_AMPLITUDE = complex(1.0, 1.0)
SOURCE_VARIANCE = 1e-4
SOURCE_SAMPLES = 100
SOURCE_SAMPLE_RADIUS = 0.05  # the release's 5e2 * sigma
SOURCE_CUTOFF = 1e-5  # source values below this count as "no source here" (the release's encoding)
PML_THICKNESS = 0.5
PML_STRENGTH = 5.0  # a_0
INNER_FRACTION = 0.5  # of the uniform points, drawn inside the layer (|x|, |y| < 1 - PML_THICKNESS)
# The velocity variants: a slower square (|x|, |y| < 0.3) or disc (r < 0.1) in which the speed halves
# (q = 1/4); the release moves the source off-centre to (-0.35, 0) for both.
VELOCITIES = ("uniform", "square", "circle")
PERTURBED_SQUARED_SLOWNESS = 0.25


def source_position(velocity: str) -> Tuple[float, float]:
    if velocity not in VELOCITIES:
        raise ValueError(f"velocity must be one of {VELOCITIES}, got {velocity!r}")
    return (0.0, 0.0) if velocity == "uniform" else (-0.35, 0.0)


def squared_slowness(points: torch.Tensor, velocity: str) -> torch.Tensor:
    """q = 1 / c^2 at ``points`` [N, 2]: [N]."""
    source_position(velocity)  # checks the name
    slowness = torch.ones(points.shape[0], dtype=points.dtype)
    if velocity == "square":
        inside = (points.abs() < 0.3).all(dim=1)
    elif velocity == "circle":
        inside = points.norm(dim=1) < 0.1
    else:
        return slowness
    return torch.where(inside, torch.full_like(slowness, PERTURBED_SQUARED_SLOWNESS), slowness)


def source_term(points: torch.Tensor, position: Tuple[float, float]) -> torch.Tensor:
    """f = s g_sigma(x - x_0) at ``points`` [N, 2], complex [N]; zero where |g| is below the cutoff."""
    squared_distance = ((points - points.new_tensor(position)) ** 2).sum(dim=1)
    gaussian = torch.exp(-0.5 * squared_distance / SOURCE_VARIANCE) / (2 * math.pi * SOURCE_VARIANCE)
    gaussian = torch.where(gaussian < SOURCE_CUTOFF, torch.zeros_like(gaussian), gaussian)
    return gaussian * SOURCE_AMPLITUDE


@dataclass(frozen=True)
class PmlCoefficients:
    """The stretched operator's coefficients at N points, complex [N] each: div(A grad u) + C q k^2 u =
    A_x u_xx + dA_x/dx u_x + A_y u_yy + dA_y/dy u_y + C q k^2 u."""

    a_x: torch.Tensor
    da_x_dx: torch.Tensor
    a_y: torch.Tensor
    da_y_dy: torch.Tensor
    c: torch.Tensor


def _stretch(coordinate: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """e = 1 - i a_0 (d / L)^2 and de/dcoordinate, d the depth into the layer along that coordinate."""
    inner = 1.0 - PML_THICKNESS
    depth = (coordinate.abs() - inner).clamp(min=0.0)
    stretch = torch.complex(torch.ones_like(coordinate), -PML_STRENGTH * (depth / PML_THICKNESS) ** 2)
    derivative = torch.complex(torch.zeros_like(coordinate),
                               -2.0 * PML_STRENGTH * depth * torch.sign(coordinate) / PML_THICKNESS ** 2)
    return stretch, derivative


def pml_coefficients(points: torch.Tensor) -> PmlCoefficients:
    e_x, de_x = _stretch(points[:, 0])
    e_y, de_y = _stretch(points[:, 1])
    # A_x = e_y / e_x depends on x through e_x only, A_y = e_x / e_y on y through e_y only.
    return PmlCoefficients(a_x=e_y / e_x, da_x_dx=-e_y * de_x / e_x ** 2, a_y=e_x / e_y,
                           da_y_dy=-e_x * de_y / e_y ** 2, c=e_x * e_y)


def helmholtz_operator(value: torch.Tensor, grad: torch.Tensor, hessian: torch.Tensor, pml: PmlCoefficients,
                       slowness: torch.Tensor, absorption: float = 0.0) -> torch.Tensor:
    """div(A grad u) + C q k^2 (1 - i absorption) u, complex [N], from a network's jet: value [N, 2] (real and
    imaginary part), grad [N, 2, 2] and Hessian [N, 2, 2, 2] (output, then the input dimensions)."""
    def complex_of(real_and_imaginary: torch.Tensor) -> torch.Tensor:
        return torch.complex(real_and_imaginary[:, 0], real_and_imaginary[:, 1])

    u = complex_of(value)
    u_x, u_y = complex_of(grad[..., 0]), complex_of(grad[..., 1])
    u_xx, u_yy = complex_of(hessian[..., 0, 0]), complex_of(hessian[..., 1, 1])
    return (pml.a_x * u_xx + pml.da_x_dx * u_x + pml.a_y * u_yy + pml.da_y_dy * u_y
            + pml.c * slowness * (WAVENUMBER ** 2 * complex(1.0, -absorption)) * u)


@dataclass
class HelmholtzBatch:
    """Training points [N, 2] with what the loss needs there: the source f (complex [N]), the squared
    slowness q [N], the PML's coefficients, and the medium's absorption for this batch (0: the release's)."""

    points: torch.Tensor
    source: torch.Tensor
    slowness: torch.Tensor
    pml: PmlCoefficients
    absorption: float = 0.0


def make_batch(points: torch.Tensor, velocity: str, absorption: float = 0.0) -> HelmholtzBatch:
    return HelmholtzBatch(points, source_term(points, source_position(velocity)),
                          squared_slowness(points, velocity), pml_coefficients(points), absorption)


class HelmholtzBatches(ScheduledBatches):
    """``points`` per batch: the last SOURCE_SAMPLES of them in the disc around the source, of the others the
    first ``inner_fraction`` uniform inside the layer's inner edge and the rest uniform in [-1, 1]^2. The
    batches' absorption starts at ``absorption`` and falls linearly to 0 at batch ``absorption_batches``; the
    state is the generator and the batches drawn."""

    def __init__(self, points: int, velocity: str, seed: int = 0, dtype: torch.dtype = torch.float32,
                 inner_fraction: float = INNER_FRACTION, absorption: float = 0.0, absorption_batches: int = 0) -> None:
        super().__init__(seed)
        if points <= SOURCE_SAMPLES:
            raise ValueError(f"points must be more than the {SOURCE_SAMPLES} source samples, got {points}")
        if not 0 <= inner_fraction <= 1:
            raise ValueError(f"inner_fraction must be in [0, 1], got {inner_fraction}")
        if absorption < 0 or absorption_batches < 0:
            raise ValueError(f"absorption and absorption_batches must be >= 0, got {absorption} and "
                             f"{absorption_batches}")
        self.points = points
        self.velocity = velocity
        self.position = source_position(velocity)
        self.dtype = dtype
        self.inner = round(inner_fraction * (points - SOURCE_SAMPLES))
        self.initial_absorption = absorption
        self.absorption_batches = absorption_batches

    def absorption(self) -> float:
        """The absorption of the next batch."""
        if self.drawn >= self.absorption_batches:
            return 0.0
        return self.initial_absorption * (1 - self.drawn / self.absorption_batches)

    def next(self) -> HelmholtzBatch:
        points = torch.rand(self.points, 2, generator=self.generator, dtype=torch.float64) * 2 - 1
        points[:self.inner] *= 1 - PML_THICKNESS
        radius = SOURCE_SAMPLE_RADIUS * torch.rand(SOURCE_SAMPLES, generator=self.generator, dtype=torch.float64).sqrt()
        angle = 2 * math.pi * torch.rand(SOURCE_SAMPLES, generator=self.generator, dtype=torch.float64)
        points[-SOURCE_SAMPLES:, 0] = radius * torch.cos(angle) + self.position[0]
        points[-SOURCE_SAMPLES:, 1] = radius * torch.sin(angle) + self.position[1]
        batch = make_batch(points.to(self.dtype), self.velocity, self.absorption())
        self.drawn += 1
        return batch



def analytic_solution(points: np.ndarray, position: Tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """u = s (i / 4) H0^(2)(k r) exp(-k^2 sigma / 2) in the uniform medium without the layer, complex at
    ``points`` [N, 2] away from the source (r >> sqrt(sigma)).

    The factor is the Gaussian source's own: by Graf's addition theorem the Green's function convolved with a
    radially symmetric source is, outside it, H0^(2)(k r) times the source's 2-D Fourier transform at |xi| = k,
    here exp(-k^2 sigma / 2) = 0.98 (the point source's field would be 2% too strong)."""
    from scipy.special import hankel2

    distance = np.linalg.norm(points - np.asarray(position), axis=1)
    width_factor = math.exp(-0.5 * WAVENUMBER ** 2 * SOURCE_VARIANCE)
    return SOURCE_AMPLITUDE * 0.25j * hankel2(0, WAVENUMBER * distance) * width_factor
