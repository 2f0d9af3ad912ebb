"""Shared test helpers: random SIRENs, inputs, the float32 error bound, and where the CUDA kernels run."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Iterator, Optional

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import siren_fused
from siren_fused import Jet, _extension
from siren_fused.jet import fused_supports


def fused_available(device: str, dtype: torch.dtype = torch.float32) -> bool:
    """Whether backend="fused" takes tensors of this device and dtype in this build."""
    return fused_supports(torch.empty(0, dtype=dtype, device=device))


def random_siren(in_features: int, hidden: int, hidden_layers: int, out_features: int, seed: int,
                 first_omega_0: float = 30.0, hidden_omega_0: float = 30.0, outermost_linear: bool = True,
                 dtype: torch.dtype = torch.float64, device: str = "cpu") -> siren_fused.Siren:
    torch.manual_seed(seed)
    net = siren_fused.Siren(in_features, hidden, hidden_layers, out_features, first_omega_0, hidden_omega_0,
                            outermost_linear)
    return net.to(dtype=dtype, device=device)


def random_points(n: int, in_features: int, seed: int, scale: float = 3.0, dtype=torch.float64,
                  device: str = "cpu") -> torch.Tensor:
    """Points in [-scale, scale]: well outside the usual [-1, 1] so large arguments are covered."""
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(n, in_features, generator=g, dtype=torch.float64) * 2 - 1) * scale).to(dtype=dtype,
                                                                                                 device=device)


def jet_fields(j: Jet) -> Iterator[tuple[str, torch.Tensor]]:
    for name in j._fields:
        value = getattr(j, name)
        if value is not None:
            yield name, value


def random_linear_loss(j: Jet, seed: int) -> torch.Tensor:
    """sum over the jet's fields of <field, fixed random weights>: every output gets a gradient."""
    g = torch.Generator().manual_seed(seed)
    total = 0
    for _, value in jet_fields(j):
        w = torch.randn(value.shape, generator=g, dtype=torch.float64).to(value)
        total = total + (value * w).sum()
    return total


def parameter_grads(net, x: torch.Tensor, j: Jet, seed: int):
    """Gradients of random_linear_loss(j, seed) with respect to x and every parameter of net."""
    return torch.autograd.grad(random_linear_loss(j, seed), [x] + list(net.parameters()))


def trained_copies(net, x: torch.Tensor, loss_fns, steps: int = 3) -> list:
    """A copy of net per loss function, each trained ``steps`` Adam steps on loss_fn(copy, x)."""
    trained = []
    for loss_fn in loss_fns:
        model = copy.deepcopy(net)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(steps):
            optimizer.zero_grad()
            loss_fn(model, x).backward()
            optimizer.step()
        trained.append(model)
    return trained


def op_arguments(net, x: torch.Tensor, requires_grad: bool):
    """(x, weights, biases, omegas) for calling the ops directly: detached copies, each leaf
    requiring grad or not."""
    from siren_fused.jet import network_arguments

    weights, biases, omegas = network_arguments(net)
    weights = [w.detach().clone().requires_grad_(requires_grad) for w in weights]
    biases = [b.detach().clone().requires_grad_(requires_grad) for b in biases]
    return x.detach().clone().requires_grad_(requires_grad), weights, biases, omegas


def relative_error(a: torch.Tensor, ref: torch.Tensor, along: int = 0) -> float:
    """The largest, over every entry of the other dimensions, of max |a - ref| / max |ref| along ``along``.

    ``along`` runs over the points for a jet's fields, so each output channel, gradient axis and Hessian
    entry is measured against its own scale: an error confined to a small channel or to one Hessian entry
    cannot hide behind a larger one (fields differ by 1e4 in magnitude). For parameter gradients, see
    :func:`gradient_axis`. An entry whose reference is zero all along is measured against the whole
    tensor's scale.
    """
    if ref.numel() == 0:
        return 0.0
    a, ref = a.double(), ref.double()
    if ref.dim() < 2:  # one scale for the whole tensor
        a, ref, along = a.reshape(-1, 1), ref.reshape(-1, 1), 0
    error = (a - ref).abs().amax(dim=along)
    scale = ref.abs().amax(dim=along)
    whole = ref.abs().max()
    scale = torch.where(scale > 0, scale, whole if whole > 0 else torch.ones_like(whole))
    return (error / scale).max().item()


def gradient_axis(index: int) -> int:
    """``along`` for :func:`relative_error` of gradient ``index`` of :func:`parameter_grads`: x's along the
    points (each input axis at its own scale); a weight's along its inputs (each output unit at its own
    scale: a weight gradient's entries are sums over points, whose own magnitudes cancellation can make
    arbitrarily small); a bias's as a whole."""
    return 0 if index == 0 else -1


def assert_float32_bound(fused32: torch.Tensor, ref32: torch.Tensor, ref64: torch.Tensor, what: str,
                         along: int = 0, floor: float = 1e-6) -> None:
    """The fused float32 error is at most twice the float32 reference's own error, plus `floor`."""
    fused_err = relative_error(fused32, ref64, along)
    ref_err = relative_error(ref32, ref64, along)
    assert fused_err <= 2 * ref_err + floor, f"{what}: fused float32 error {fused_err:.3g} vs reference {ref_err:.3g}"


def assert_loss_and_gradients_match_reference(compiled_loss, loss, net, *inputs: torch.Tensor) -> None:
    """``compiled_loss(net, *inputs)`` (a float32 net on the fused backend, under torch.compile) against
    ``loss(net, *inputs, backend="reference")``: the loss and every parameter's gradient within the float32
    bound, the float64 reference being the truth."""
    net64 = copy.deepcopy(net).double()
    results = []
    for model, function, arguments in ((net, compiled_loss, inputs),
                                       (net, lambda *a: loss(*a, backend="reference"), inputs),
                                       (net64, lambda *a: loss(*a, backend="reference"), [t.double() for t in inputs])):
        value = function(model, *arguments)
        results.append([value.detach().reshape(1), *torch.autograd.grad(value, list(model.parameters()))])
    for i, (fused, ref, exact) in enumerate(zip(*results)):
        what = "loss" if i == 0 else f"gradient of parameter {i - 1}"
        assert_float32_bound(fused, ref, exact, what, gradient_axis(i))


def sample_configs(count: int, seed: int) -> list[dict]:
    """Random network configurations covering the ranges the kernels must handle."""
    rng = random.Random(seed)
    configs = []
    for i in range(count):
        configs.append(dict(
            in_features=rng.choice([1, 2, 3]),
            hidden=rng.choice([1, 3, 7, 16, 33, 64]),
            hidden_layers=rng.choice([0, 1, 2, 3, 4, 5]) if i else 0,
            out_features=rng.choice([1, 2, 3]),
            first_omega_0=rng.choice([30.0, 10.0, 1.0]),
            hidden_omega_0=rng.choice([30.0, 5.0]),
            outermost_linear=rng.random() < 0.75,
            seed=1000 + i,
        ))
    return configs


def config_id(c: dict) -> str:
    lin = "lin" if c["outermost_linear"] else "sine"
    return (f"{c['in_features']}-{c['hidden']}x{c['hidden_layers']}-{c['out_features']}"
            f"-w{c['first_omega_0']:g}_{c['hidden_omega_0']:g}-{lin}")


@dataclass(frozen=True)
class CudaKernels:
    """Where the CUDA kernels run: on a GPU, or on the CPU under the emulation (csrc/cuda/emulation)
    that builds where CUDA does not."""

    name: str
    device: str   # where their tensors live
    backend: str  # siren_fused.jet's backend that runs them
    forward_op: str
    backward_op: str
    modulated_forward_op: str
    modulated_backward_op: str


def available_cuda_kernels() -> list[CudaKernels]:
    kernels = []
    if _extension.cuda_built() and torch.cuda.is_available():
        kernels.append(CudaKernels("gpu", "cuda", "fused", "jet_forward", "jet_backward", "modulated_jet_forward",
                                   "modulated_jet_backward"))
    if _extension.cuda_emulated():
        kernels.append(CudaKernels("emulated", "cpu", "cuda_emulated", "cuda_emulated_jet_forward",
                                   "cuda_emulated_jet_backward", "cuda_emulated_modulated_jet_forward",
                                   "cuda_emulated_modulated_jet_backward"))
    return kernels


@pytest.fixture(params=available_cuda_kernels(), ids=lambda k: k.name)
def cuda_kernels(request) -> CudaKernels:
    return request.param


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test: on a shared, busy machine more threads wait on each other and run several
    times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def siren_pytorch():
    """The siren-pytorch package (the test extra installs it), or a skip of the calling test saying so."""
    return pytest.importorskip("siren_pytorch", reason="siren-pytorch is not installed: pip install siren-pytorch, "
                               "or the test extra")


def maybe(x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return None if x is None else x.detach()


class BackwardOpRecorder(TorchDispatchMode):
    """Records each siren_fused backward op called under it (autograd's formulas call them in backward): the
    parameter_grads it was given, and the weight and bias gradients it returned."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[Optional[list], list[torch.Tensor]]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.namespace == "siren_fused" and func._schema.name.endswith("_backward"):
            position = [a.name for a in func._schema.arguments].index("parameter_grads")
            asked = args[position] if position < len(args) else kwargs.get("parameter_grads")
            self.calls.append((asked, [*out[1], *out[2]]))
        return out


def matrix_products(run) -> int:
    """How many matrix products (ATen's mm, bmm, addmm, baddbmm, in place or not) run() makes, the kernels'
    own included: the CPU kernels and the emulated CUDA kernels' GEMM library call ATen, which the profiler
    records. (On a GPU, cuBLAS calls are no ATen ops: this counts nothing there.)"""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        run()
    products = {"mm", "bmm", "addmm", "baddbmm"}
    return sum(event.name.split("::")[-1].rstrip("_") in products for event in profiler.events())
