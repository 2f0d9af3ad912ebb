"""Loading DeepMind functa's LatentModulatedSiren parameters (siren_fused.functa_params): a dict in functa's Haiku
layout, drawn at random, gives the same images through siren_fused.jet as functa's forward written out in plain
torch from its definition (function_reps.py), and the loader refuses layouts it cannot map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import siren_fused
from siren_fused.functa_params import from_functa_params

WIDTH, DEPTH, LATENT, IN_FEATURES, OUT_CHANNELS, W0 = 16, 4, 8, 2, 3, 30.0


def functa_layout(layer_sizes, per_unit: int, seed: int, meta_sgd: bool = False) -> dict:
    """Random parameters named and shaped as Haiku names and shapes a functa LatentModulatedSiren's (hk.Linear's w
    is [in, out]), float64 NumPy arrays."""
    rng = np.random.default_rng(seed)

    def linear(fan_in, fan_out, scale):
        return {"w": rng.uniform(-scale, scale, (fan_in, fan_out)), "b": rng.uniform(-scale, scale, fan_out)}

    params = {"latent_modulated_siren/~/latent_vector": {"latent_vector": rng.normal(0, 0.5, LATENT)}}
    sizes = [LATENT, *layer_sizes, (DEPTH - 1) * WIDTH * per_unit]
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"latent_modulated_siren/~/latent_to_modulation/~/mlp/~/linear_{k}"] = linear(fan_in, fan_out, 0.3)
    widths = [IN_FEATURES] + [WIDTH] * (DEPTH - 1) + [OUT_CHANNELS]
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        suffix = f"_{i}" if i else ""
        scale = 1 / fan_in if i == 0 else np.sqrt(6 / fan_in) / W0
        params[f"latent_modulated_siren/modulated_siren_layer{suffix}/linear"] = linear(fan_in, fan_out, scale)
    if meta_sgd:
        params["latent_modulated_siren/~/meta_sgd_lrs"] = {"meta_sgd_lrs": rng.uniform(0.005, 0.1, LATENT)}
    return params


def functa_forward(params: dict, coords: torch.Tensor, modulate_scale: bool, modulate_shift: bool) -> torch.Tensor:
    """functa's LatentModulatedSiren.__call__ in plain torch: the latent through LatentToModulation's MLP (ReLU
    between layers), its output split layer by layer into scales (+ 1) and shifts, then each hidden layer
    sin(w0 * (scale * (x @ w + b) + shift)) and the last x @ w + b + 0.5."""
    def tensor(module, name):
        return torch.as_tensor(params[f"latent_modulated_siren/{module}"][name])

    m = tensor("~/latent_vector", "latent_vector")
    mlp = sorted(k for k in params if "/mlp/~/linear_" in k)
    for k, name in enumerate(mlp):
        m = m @ torch.as_tensor(params[name]["w"]) + torch.as_tensor(params[name]["b"])
        m = torch.relu(m) if k < len(mlp) - 1 else m
    x = coords
    for i in range(DEPTH):
        layer = f"modulated_siren_layer{f'_{i}' if i else ''}/linear"
        x = x @ tensor(layer, "w") + tensor(layer, "b")
        if i == DEPTH - 1:
            return x + 0.5
        if modulate_scale and modulate_shift:
            scale, shift = m[2 * WIDTH * i : 2 * WIDTH * i + WIDTH] + 1, m[2 * WIDTH * i + WIDTH : 2 * WIDTH * (i + 1)]
        elif modulate_scale:
            scale, shift = m[WIDTH * i : WIDTH * (i + 1)] + 1, 0.0
        else:
            scale, shift = 1.0, m[WIDTH * i : WIDTH * (i + 1)]
        x = torch.sin(W0 * (scale * x + shift))


@pytest.mark.parametrize("layer_sizes", [(), (12, 20)], ids=["linear-map", "mlp"])
@pytest.mark.parametrize("modulate_scale,modulate_shift", [(False, True), (True, True), (True, False)],
                         ids=["shifts", "scales+shifts", "scales"])
def test_loaded_jet_value_is_functas_forward(modulate_scale, modulate_shift, layer_sizes):
    params = functa_layout(layer_sizes, int(modulate_scale) + int(modulate_shift), seed=1)
    model = from_functa_params(params, w0=W0, modulate_scale=modulate_scale, dtype=torch.float64)
    coords = torch.rand(50, IN_FEATURES, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    expected = functa_forward(params, coords, modulate_scale, modulate_shift)
    value = siren_fused.jet(model.siren, coords, 0, modulation=model.modulation()).value
    assert value.shape == (1, 50, OUT_CHANNELS)
    torch.testing.assert_close(value[0], expected, rtol=1e-10, atol=1e-12)


def test_latents_batch_and_meta_sgd_rates_load():
    params = functa_layout((), 1, seed=2, meta_sgd=True)
    model = from_functa_params(params, dtype=torch.float64)
    latents = torch.randn(5, LATENT, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    coords = torch.rand(20, IN_FEATURES, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    batched = siren_fused.jet(model.siren, coords, 0, modulation=model.modulation(latents)).value
    for b in range(5):
        one = dict(params, **{"latent_modulated_siren/~/latent_vector": {"latent_vector": latents[b].numpy()}})
        torch.testing.assert_close(batched[b], functa_forward(one, coords, False, True), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(model.meta_sgd_lrs,
                               torch.as_tensor(params["latent_modulated_siren/~/meta_sgd_lrs"]["meta_sgd_lrs"]))


@pytest.mark.parametrize("change,message", [
    (lambda p: dict(p, **{"modulated_siren/~/fi_lm": {"shift": np.zeros(WIDTH)}}), "unknown modules"),
    (lambda p: {k: v for k, v in p.items() if not k.endswith("modulated_siren_layer_1/linear")}, "without gaps"),
    (lambda p: {k: v for k, v in p.items() if "latent_vector" not in k}, "latent_vector"),
])
def test_other_layouts_are_refused_by_name(change, message):
    with pytest.raises((ValueError, KeyError), match=message):
        from_functa_params(change(functa_layout((), 1, seed=3)))
