"""The higher-order PDE commands (``siren-fused kdv`` and ``siren-fused plate``): each problem's loss vanishes on
its exact solution (so its chain-rule scalings and operators are right), training resumes an interrupted run
exactly, each command trains both models at a tiny size and scores them against the exact solution, and the tanh
baseline's Taylor-mode operators equal nested torch.func's."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from torch import nn

from siren_fused import cli, reference
from siren_fused.experiments import operator_pde
from siren_fused.experiments.baselines import MODELS
from siren_fused.experiments.kdv.problem import KdvProblem, soliton, to_physical
from siren_fused.experiments.operator_pde import OperatorFitConfig, train_model
from siren_fused.experiments.plate.problem import LOAD_PEAK, PlateProblem, exact
from siren_fused.experiments.tanh_taylor_jet import tanh_operator_jet
from siren_fused.operator_plan import biharmonic

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class ExactKdv(nn.Module):
    """The soliton as a function of the network's inputs."""

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return soliton(*to_physical(points)).unsqueeze(-1)


class ExactPlate(nn.Module):
    """The plate's solution as a function of the network's inputs."""

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return exact((points[:, 0] + 1) / 2, (points[:, 1] + 1) / 2).unsqueeze(-1)


@pytest.mark.parametrize("problem,solution", [(KdvProblem(), ExactKdv()), (PlateProblem(), ExactPlate())],
                         ids=["kdv", "plate"])
def test_loss_vanishes_on_the_exact_solution_and_not_on_a_perturbed_one(problem, solution):
    batch = problem.batches(64, seed=3).next()
    points = batch.points.double()
    terms = problem.loss_terms(reference.operator_jet(solution, points, problem.operators), batch)
    assert all(term.item() < 1e-12 for term in terms.values()), terms  # the targets are float32
    perturbed = problem.loss_terms(reference.operator_jet(solution, points * 1.01, problem.operators), batch)
    assert sum(perturbed.values()).item() > 1e-6


def test_plate_load_is_the_biharmonic_of_the_solution():
    batch = PlateProblem().batches(16, seed=1).next()
    interior = batch.points[: -batch.edges]
    x, y = (interior[:, 0] + 1) / 2, (interior[:, 1] + 1) / 2
    torch.testing.assert_close(batch.load, LOAD_PEAK * torch.sin(math.pi * x) * torch.sin(2 * math.pi * y))


# The commands' operators, and a 3-D mix of every order with mixed partials and a constant term.
TANH_CASES = [(KdvProblem().operators, 2), (PlateProblem().operators, 2),
              ({"bih": biharmonic(3), "mixed": {(1, 2, 1): 0.7, (0, 0, 3): -1.3, (1, 1, 0): 2.0, (0, 0, 0): 0.5}}, 3)]


@pytest.mark.parametrize("operators,in_dims", TANH_CASES, ids=["kdv", "plate", "3d-mixed"])
def test_tanh_taylor_operators_and_their_gradients_equal_nested_torch_func(operators, in_dims):
    torch.manual_seed(4)
    net = MODELS["tanh"](in_dims, 16, 2, 2).double()
    x = (torch.rand(20, in_dims, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    taylor, nested = tanh_operator_jet(net, x, operators), reference.operator_jet(net, x, operators)
    torch.testing.assert_close(taylor.value, nested.value, rtol=1e-10, atol=0)
    torch.testing.assert_close(taylor.grad, nested.grad, rtol=1e-10, atol=1e-12)
    for name in operators:
        torch.testing.assert_close(taylor.fields[name], nested.fields[name], rtol=1e-9, atol=1e-10, msg=name)
    leaves = [x, *net.parameters()]
    weights = torch.randn(len(operators), 20, 2, dtype=torch.float64)

    def loss(jet):  # the value too: the fields alone do not depend on the last bias
        return sum((w * jet.fields[name] ** 2).sum() for w, name in zip(weights, operators)) + jet.value.sum()

    for a, b in zip(torch.autograd.grad(loss(taylor), leaves), torch.autograd.grad(loss(nested), leaves)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * b.abs().max().item())


def test_tanh_taylor_baseline_names_a_layer_it_cannot_take():
    with pytest.raises(TypeError, match="Linear and Tanh layers, got ReLU"):
        tanh_operator_jet(MODELS["relu"](2, 8, 1, 1), torch.rand(4, 2), KdvProblem().operators)


def interrupted_at(call: int, step):
    """``step``, but its call-th call raises KeyboardInterrupt, as Ctrl-C would."""
    calls = itertools.count(1)

    def wrapped(*args):
        if next(calls) == call:
            raise KeyboardInterrupt
        return step(*args)
    return wrapped


@pytest.mark.parametrize("problem", [KdvProblem(), PlateProblem()], ids=["kdv", "plate"])
def test_resume_after_interruption_continues_the_same_run(problem, tmp_path, monkeypatch):
    config = OperatorFitConfig(hidden_features=8, hidden_layers=1, points=32, steps=6, checkpoint_every=2)
    uninterrupted = train_model(problem, config, 2, tmp_path / "once.pt", resume=False, progress=False).net
    with monkeypatch.context() as patch:
        patch.setattr(operator_pde, "training_step", interrupted_at(5, operator_pde.training_step))
        with pytest.raises(KeyboardInterrupt):
            train_model(problem, config, 2, tmp_path / "checkpoint.pt", resume=False, progress=False)
    resumed = train_model(problem, config, 2, tmp_path / "checkpoint.pt", resume=True, progress=False)
    assert resumed.step == 6 and len(resumed.step_seconds) == 2
    for name, parameter in uninterrupted.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[name], parameter, msg=name)


@pytest.mark.parametrize("command,fields", [("kdv", {"u"}), ("plate", {"u", "Laplacian of u"})])
def test_command_trains_both_models_and_scores_them_against_the_exact_solution(tmp_path, command, fields):
    pytest.importorskip("matplotlib")
    pytest.importorskip("tqdm")
    out = tmp_path / "out"
    argv = [command, "--out", str(out), "--hidden-features", "8", "--hidden-layers", "1", "--points", "32",
            "--steps", "3", "--time-backends", "1"]
    assert cli.main(argv) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert set(summary["models"]) == {"siren", "tanh"}
    for model in summary["models"].values():
        assert model["step"] == 3 and set(model["relative_l2_error"]) == fields
        assert all(math.isfinite(e) and e > 0 for e in model["relative_l2_error"].values())
    assert set(summary["step_time"]) == {"fused", "reference"}
    assert 0 < (out / f"{command}.png").stat().st_size < 300_000
    assert cli.main(argv + ["--resume", "--steps", "4"]) == 0
    assert json.loads((out / "metrics.json").read_text())["models"]["siren"]["step"] == 4
