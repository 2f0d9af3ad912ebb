"""``siren-fused fit-ddp``: fit one SIREN to an image split across processes with DistributedDataParallel.

Each process takes an equal-size shard of the pixels and runs the shared :func:`train_step`
(value + Laplacian loss through the fused jet); DDP averages the gradients, which for equal
shards and mean losses is exactly the full-image gradient. gloo on CPU, NCCL on CUDA.

Launch either way:

* ``siren-fused fit-ddp --nproc 2``: spawns the processes itself on this machine (127.0.0.1, a free port);
* ``torchrun --nproc-per-node 2 -m siren_fused fit-ddp``: detected from torchrun's environment
  (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``), which then decides the process count.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import socket
from typing import Dict, NamedTuple

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from ...modules import Siren
from ..baselines import SettingsError, check_settings
from ..command_options import add_option, count, real
from ..command_parser import add_command
from ..images.data import load_image
from ..training_loop import FixedBatch, train
from .jet_fit import ValueAndLaplacian, train_step
from .signal import ImageJetSignal, image_jet_signal

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """What to fit and how; every process builds the same net and data from it."""

    side: int = 64
    hidden_features: int = 64
    hidden_layers: int = 2
    steps: int = 300
    lr: float = 1e-4
    # Relative to the target Laplacian's mean square, so the two loss terms start comparable
    # whatever the image size (finite-difference Laplacians grow with the squared resolution).
    laplacian_weight: float = 0.1
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    output: str = "siren_ddp.pt"

    def __post_init__(self) -> None:
        check_settings(self, {"steps": 1})
        if not 2 <= self.side <= 512:
            raise SettingsError(f"side must be in [2, 512] (the cameraman's 512 pixels at most), got {self.side}")


class FitSetup(NamedTuple):
    """A freshly initialised model with its optimiser, the full signal and the absolute Laplacian weight."""

    model: ValueAndLaplacian
    optimizer: torch.optim.Optimizer
    signal: ImageJetSignal
    laplacian_weight: float


def build_fit(config: FitConfig, device: torch.device) -> FitSetup:
    """The model (seeded, so every process starts from the same weights), its Adam optimiser and the data."""
    dtype = getattr(torch, config.dtype)
    torch.manual_seed(config.seed)
    siren = Siren(2, config.hidden_features, config.hidden_layers, 1).to(device=device, dtype=dtype)
    model = ValueAndLaplacian(siren)
    signal = image_jet_signal(load_image("camera", config.side), dtype)
    signal = ImageJetSignal(signal.coords.to(device), signal.targets.to(device))
    laplacian_weight = config.laplacian_weight / torch.mean(signal.targets[:, 1] ** 2).item()
    return FitSetup(model, torch.optim.Adam(model.parameters(), lr=config.lr), signal, laplacian_weight)


def shard_indices(num_points: int, rank: int, world_size: int) -> torch.Tensor:
    """Every ``world_size``-th point from ``rank``, all shards the same size (the remainder is dropped).

    Equal sizes keep the average of the shards' mean losses equal to the full mean loss;
    striding spreads each shard over the whole image.
    """
    used = num_points - num_points % world_size
    return torch.arange(rank, used, world_size)


def peak_signal_to_noise(value_mse: float) -> float:
    """PSNR in dB for values in [-1, 1] (peak-to-peak 2)."""
    return 10.0 * math.log10(4.0 / value_mse) if value_mse > 0 else math.inf


def run_rank(rank: int, world_size: int, local_rank: int, init_method: str, config: FitConfig) -> None:
    """One process of the fit: join the group, train on this rank's shard, rank 0 reports and saves."""
    on_cuda = config.device == "cuda"
    dist.init_process_group("nccl" if on_cuda else "gloo", init_method=init_method, rank=rank,
                            world_size=world_size)
    try:
        if on_cuda:
            torch.cuda.set_device(local_rank)
            device = torch.device("cuda", local_rank)
        else:
            # The processes share this machine's cores; oversubscribing them slows every rank.
            local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
            torch.set_num_threads(max(1, torch.get_num_threads() // local_world_size))
            device = torch.device("cpu")
        setup = build_fit(config, device)
        points = setup.signal.coords.shape[0]
        shard = setup.signal.subset(shard_indices(points, rank, world_size).to(device))
        if rank == 0 and points % world_size:
            print(f"fit-ddp: dropping {points % world_size} of {points} pixels so the {world_size} shards are equal")
        model = DistributedDataParallel(setup.model, device_ids=[local_rank] if on_cuda else None)

        def step(batch: ImageJetSignal) -> Dict[str, float]:
            loss = torch.stack(train_step(model, batch.coords, batch.targets, setup.optimizer,
                                          setup.laplacian_weight))
            # Shards are equal, so the mean of the shards' mean losses is the loss over all their pixels.
            dist.all_reduce(loss)
            total, value_mse, _ = (loss / world_size).tolist()
            return {"loss": total, "psnr_db": peak_signal_to_noise(value_mse)}

        run = train(step, FixedBatch(shard), config.steps, label=f"fit-ddp x{world_size}", progress=rank == 0)
        if rank == 0:
            state = {name: tensor.cpu() for name, tensor in setup.model.siren.state_dict().items()}
            torch.save(state, config.output)
            print(f"fit-ddp: loss {run.losses['loss']:.4e}, PSNR {run.losses['psnr_db']:.2f} dB; "
                  f"saved {config.output}")
        # Tear down together: a rank that closes its gloo connections while rank 0 is still saving
        # can make rank 0's transport threads abort the process (seen once in CI).
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _spawned_rank(rank: int, world_size: int, init_method: str, config: FitConfig) -> None:
    """Entry point of a process started by :func:`torch.multiprocessing.spawn` (one per local device)."""
    run_rank(rank, world_size, rank, init_method, config)


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fit_ddp(config: FitConfig, nproc: int) -> None:
    """Run the fit under torchrun when its environment is set, else spawn ``nproc`` local processes."""
    if all(name in os.environ for name in TORCHRUN_VARIABLES):
        run_rank(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]),
                 "env://", config)
        return
    if nproc < 1:
        raise ValueError(f"nproc must be >= 1, got {nproc}")
    if config.device == "cuda" and nproc > torch.cuda.device_count():
        raise SettingsError(f"--nproc {nproc} needs as many GPUs, found {torch.cuda.device_count()}")
    init_method = f"tcp://127.0.0.1:{_free_loopback_port()}"
    mp.spawn(_spawned_rank, args=(nproc, init_method, config), nprocs=nproc, join=True)


def _fit_ddp_command(args: argparse.Namespace) -> int:
    names = {field.name for field in dataclasses.fields(FitConfig)}
    fit_ddp(FitConfig(**{name: value for name, value in vars(args).items() if name in names}), args.nproc)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``fit-ddp`` subcommand."""
    defaults = FitConfig()
    parser = add_command(subparsers, "fit-ddp", "fit one SIREN to an image across processes (DDP)", __doc__,
                         _fit_ddp_command, ("tqdm", "skimage", "scipy"))
    parser.add_argument("--nproc", type=count(1), default=2, help="processes to spawn (ignored under torchrun)")
    add_option(parser, "size", defaults.side, dest="side", help="the cameraman downsampled to SIZE x SIZE pixels, "
               "at most 512")
    add_option(parser, "hidden_features", defaults.hidden_features)
    add_option(parser, "hidden_layers", defaults.hidden_layers)
    add_option(parser, "steps", defaults.steps, help="full-batch training steps (fit-ddp keeps no checkpoint)")
    add_option(parser, "lr", defaults.lr)
    parser.add_argument("--laplacian-weight", type=real(at_least=0), default=defaults.laplacian_weight,
                        help="weight of the Laplacian MSE relative to the target Laplacian's mean square")
    add_option(parser, "seed", defaults.seed)
    parser.add_argument("--dtype", choices=("float32", "float64"), default=defaults.dtype,
                        help="the network's and the data's floating-point type")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=defaults.device,
                        help="cpu: gloo; cuda: NCCL, one GPU per process")
    add_option(parser, "out", defaults.output, dest="output", help="file where rank 0 saves the SIREN's state dict")
