"""Two-process DistributedDataParallel training (gloo, loopback) matches single-process training.

With equal shards and mean losses, DDP's averaged gradient is the full-batch gradient, so after
a few Adam steps the parameters agree with one process on all the pixels up to float64 rounding.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

pytest.importorskip("skimage", reason="the fit uses skimage's cameraman (pip install siren_fused[experiments])")
pytest.importorskip("scipy", reason="the Laplacian targets use scipy.ndimage")
pytest.importorskip("tqdm", reason="fit-ddp reports progress with tqdm")

from siren_fused.experiments.distributed.commands import FitConfig, build_fit, fit_ddp  # noqa: E402
from siren_fused.experiments.distributed.jet_fit import train_step  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is unavailable"
)


def test_two_gloo_processes_match_single_process_training(tmp_path, capfd):
    # 8 x 8 pixels split in two shards of 32; float64 so agreement is limited by rounding only.
    config = FitConfig(side=8, hidden_features=16, hidden_layers=1, steps=4, lr=1e-3, dtype="float64",
                       output=str(tmp_path / "ddp.pt"))
    fit_ddp(config, nproc=2)
    distributed_state = torch.load(config.output)
    # The spawned processes write to the file descriptors capfd captures: rank 0's closing line proves it.
    printed = capfd.readouterr()
    assert "fit-ddp: loss" in printed.out
    # DDP warns when a gradient's strides differ from its parameter's (then copies it every step).
    assert "Grad strides do not match" not in printed.err, printed.err

    single = build_fit(config, torch.device("cpu"))
    initial_state = {name: tensor.clone() for name, tensor in single.model.siren.state_dict().items()}
    for _ in range(config.steps):
        train_step(single.model, single.signal.coords, single.signal.targets, single.optimizer,
                   single.laplacian_weight)

    for name, expected in single.model.siren.state_dict().items():
        assert not torch.equal(expected, initial_state[name]), f"{name} did not train"
        torch.testing.assert_close(distributed_state[name], expected, rtol=1e-10, atol=1e-12, msg=name)
