"""Reading another implementation's live SIREN module: its sizes, omegas, biases and last layer's kind.

:meth:`siren_fused.Siren.from_module` builds its equivalent from what :func:`read_siren_layout` finds here.
The sources are the paper's code release (``SingleBVPNet`` with ``type='sine'``, ``mode='mlp'``, and its
``FCBlock``), the paper's notebook (``Siren`` and ``SineLayer``), siren-pytorch (``SirenNet`` and its
``Siren`` layers), ``siren_fused.Siren`` itself, and plain ``nn.Sequential`` stacks of ``nn.Linear`` layers
and sine activations. The paper's and the notebook's classes live in users' own code, not in a package, so
they are recognised by their class names and structure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Union

import torch
from torch import nn

from .modules import Siren, SineLayer

SUPPORTED = ("the code release's SingleBVPNet (type='sine', mode='mlp') or FCBlock, the notebook's Siren or "
             "SineLayer, siren-pytorch's SirenNet, a siren_fused.Siren, or an nn.Sequential of nn.Linear layers and "
             "sine activations")


@dataclass(frozen=True)
class LinearStep:
    """``W x + b`` (no bias: ``b`` None), at ``name`` in the source module."""

    name: str
    weight: torch.Tensor
    bias: Optional[torch.Tensor]


@dataclass(frozen=True)
class SineStep:
    """``sin(omega x)`` elementwise, at ``name`` in the source module."""

    name: str
    omega: float


Step = Union[LinearStep, SineStep]


@dataclass
class SourceLayer:
    """One linear layer of the source and the omega of the sine after it (None: no sine, a linear layer)."""

    linear: LinearStep
    omega: Optional[float] = None


@dataclass(frozen=True)
class SirenLayout:
    """What ``siren_fused.Siren``'s constructor needs to rebuild a source module, and the tensors to copy."""

    in_features: int
    hidden_features: int
    hidden_layers: int
    out_features: int
    first_omega_0: float
    hidden_omega_0: Optional[float]  # None: no sine after the first layer's, so the constructor's default
    outermost_linear: bool
    layers: List[LinearStep]


def read_siren_layout(module: nn.Module) -> SirenLayout:
    """The layout of a SIREN module of a supported kind (see the module docstring), or an error naming the
    layer or setting that ``siren_fused.Siren`` cannot represent."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return layout_of(source_layers(steps_of(module, "")))


def describe(name: str, module: nn.Module) -> str:
    """A layer for an error message: its path in the source module and its class."""
    return f"{name or 'the module'} ({type(module).__name__})"


def child_path(name: str, child: str) -> str:
    return f"{name}.{child}" if name else child


def steps_of(module: nn.Module, name: str) -> List[Step]:
    """The linear layers and sine activations ``module`` applies, in order; ``name`` is its path."""
    kind = type(module).__name__
    if isinstance(module, SineLayer):
        linear = linear_step(child_path(name, "linear"), module.linear)
        return [linear] if module.is_linear else [linear, SineStep(name, module.omega_0)]
    if isinstance(module, Siren):
        return steps_of(module.net, child_path(name, "net"))
    if isinstance(module, nn.Linear):
        return [linear_step(name, module)]
    if isinstance(module, nn.Sequential):
        return [step for child, layer in module.named_children() for step in steps_of(layer, child_path(name, child))]
    if isinstance(module, nn.Identity):
        return []
    if isinstance(module, nn.Dropout):
        if module.p != 0:
            raise ValueError(f"{describe(name, module)} has p={module.p}: siren_fused.Siren has no dropout; build the "
                             "source with dropout 0")
        return []
    if kind == "SingleBVPNet":
        return single_bvp_net_steps(module, name)
    if kind in ("FCBlock", "Siren") and isinstance(getattr(module, "net", None), nn.Sequential):
        # The release's FCBlock and the notebook's Siren: forward is self.net(coords).
        return steps_of(module.net, child_path(name, "net"))
    if kind == "SineLayer" and isinstance(getattr(module, "linear", None), nn.Linear):
        # The notebook's SineLayer: sin(omega_0 * linear(x)).
        return [linear_step(child_path(name, "linear"), module.linear),
                SineStep(name, checked_omega(name, module, getattr(module, "omega_0", None)))]
    if kind == "SirenNet" and hasattr(module, "layers") and hasattr(module, "last_layer"):
        # siren-pytorch: its hidden layers, then its last layer (forward's mods are an input, not a setting).
        return ([step for index, layer in enumerate(module.layers)
                 for step in steps_of(layer, child_path(name, f"layers.{index}"))]
                + steps_of(module.last_layer, child_path(name, "last_layer")))
    if kind == "Siren" and isinstance(getattr(module, "weight", None), torch.Tensor):
        # siren-pytorch's layer: dropout(activation(F.linear(x, weight, bias))); a copy without dropout lacks it.
        dropout = getattr(module, "dropout", nn.Identity())
        return ([LinearStep(name, module.weight, module.bias)]
                + steps_of(module.activation, child_path(name, "activation"))
                + steps_of(dropout, child_path(name, "dropout")))
    if next(module.children(), None) is None and next(module.parameters(), None) is None \
            and next(module.buffers(), None) is None:
        return [SineStep(name, sine_omega(name, module))]
    raise TypeError(f"{describe(name, module)} is not supported: from_module takes {SUPPORTED}")


def linear_step(name: str, linear: nn.Linear) -> LinearStep:
    return LinearStep(name, linear.weight, linear.bias)


def single_bvp_net_steps(module: nn.Module, name: str) -> List[Step]:
    """The release's SingleBVPNet: its FCBlock, once its input processing is known to be the identity."""
    mode = getattr(module, "mode", "mlp")
    if mode != "mlp":
        raise ValueError(f"{describe(name, module)} has mode={mode!r}: only mode='mlp' is a plain SIREN (the other "
                         "modes encode the coordinates first)")
    downsampling = getattr(module, "image_downsampling", None)
    if getattr(downsampling, "downsample", False):
        raise ValueError(f"{describe(name, module)} has downsample=True: siren_fused.Siren takes the coordinates "
                         "as they are")
    return steps_of(module.net, child_path(name, "net"))


def checked_omega(name: str, module: nn.Module, omega: object) -> float:
    if isinstance(omega, bool) or not isinstance(omega, (int, float)) or not math.isfinite(omega):
        raise ValueError(f"{describe(name, module)} has omega_0={omega!r}: expected a finite number")
    return float(omega)


def sine_omega(name: str, activation: nn.Module) -> float:
    """omega of an activation that computes ``sin(omega x)``, read off the activation itself: its slope at 0
    (exactly omega), then checked against ``sin(omega x)`` at points in [-1, 1]. The release's ``Sine``
    keeps its 30 in its forward, not in an attribute, so the slope is what can be read from every kind."""
    not_sine = f"{describe(name, activation)} is not a sine activation sin(omega x)"
    zero = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    probe = torch.linspace(-1.0, 1.0, 41, dtype=torch.float64)
    try:
        with torch.enable_grad():
            (slope,) = torch.autograd.grad(activation(zero).sum(), zero)
        with torch.no_grad():
            values = activation(probe)
    except (RuntimeError, TypeError, ValueError) as error:
        raise TypeError(f"{not_sine}: calling it on a float64 tensor failed ({error})") from error
    omega = slope.item()
    expected = torch.sin(omega * probe)
    if not (isinstance(values, torch.Tensor) and values.shape == probe.shape
            and torch.allclose(values.double(), expected, rtol=0.0, atol=1e-9)):
        raise TypeError(f"{not_sine}: siren_fused.Siren has a sine after every layer but the last, and the last "
                        "layer's output as it is or through a sine")
    return omega


def source_layers(steps: List[Step]) -> List[SourceLayer]:
    """The steps grouped into linear layers, each with the sine after it, checked to alternate."""
    layers: List[SourceLayer] = []
    for step in steps:
        if isinstance(step, LinearStep):
            if layers and layers[-1].omega is None:
                raise ValueError(f"{layers[-1].linear.name} is a linear layer with no sine after it but is not the "
                                 "last layer: siren_fused.Siren has a sine after every layer but the last")
            layers.append(SourceLayer(step))
        elif not layers:
            raise ValueError(f"{step.name} is a sine before any linear layer: a SIREN starts with a linear layer")
        elif layers[-1].omega is not None:
            raise ValueError(f"{step.name} is a second sine after {layers[-1].linear.name}: siren_fused.Siren has one "
                             "sine after each layer")
        else:
            layers[-1].omega = step.omega
    if len(layers) < 2:
        raise ValueError(f"the module has {len(layers)} linear layer(s): siren_fused.Siren has at least two")
    return layers


def layout_of(layers: List[SourceLayer]) -> SirenLayout:
    """The Siren layout of alternating layers: one hidden width, one omega after the first layer, one dtype and
    device (an error naming the first layer that breaks one)."""
    first, last = layers[0].linear, layers[-1].linear
    hidden_features = first.weight.shape[0]
    for previous, layer in zip(layers, layers[1:]):
        step = layer.linear
        if step.weight.shape[1] != previous.linear.weight.shape[0]:
            raise ValueError(f"{step.name} takes {step.weight.shape[1]} inputs but {previous.linear.name} gives "
                             f"{previous.linear.weight.shape[0]}")
        if layer is not layers[-1] and step.weight.shape[0] != hidden_features:
            raise ValueError(f"{step.name} has {step.weight.shape[0]} outputs but {first.name} has {hidden_features}: "
                             "siren_fused.Siren has one hidden width")
    for layer in layers:
        for tensor in (layer.linear.weight, layer.linear.bias):
            if tensor is not None and (tensor.dtype, tensor.device) != (first.weight.dtype, first.weight.device):
                raise ValueError(f"{layer.linear.name} is {tensor.dtype} on {tensor.device} but {first.name} is "
                                 f"{first.weight.dtype} on {first.weight.device}: expected one dtype and device")
    later = [layer for layer in layers[1:] if layer.omega is not None]
    for layer in later:
        if layer.omega != later[0].omega:
            raise ValueError(f"the sine after {layer.linear.name} has omega {layer.omega} but the one after "
                             f"{later[0].linear.name} has {later[0].omega}: siren_fused.Siren has one omega for "
                             "every layer after the first")
    return SirenLayout(
        in_features=first.weight.shape[1],
        hidden_features=hidden_features,
        hidden_layers=len(layers) - 2,
        out_features=last.weight.shape[0],
        first_omega_0=layers[0].omega,
        hidden_omega_0=later[0].omega if later else None,
        outermost_linear=layers[-1].omega is None,
        layers=[layer.linear for layer in layers],
    )
