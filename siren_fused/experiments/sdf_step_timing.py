"""Wall time of one SDF training step per jet backend, measured in one process on the same batches.

Each backend trains its own copy of the same initial SIREN with its own optimizer. Steps are
interleaved (backend order alternating every step) so that load from other processes on a shared
machine hits every backend alike; the median over steps discards the outliers such load causes.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass
from typing import Dict, List, Sequence

import torch

from .sdf_data import OrientedPoints, SdfBatchSampler
from .sdf_training import SdfTrainConfig, build_model, training_step


@dataclass(frozen=True)
class StepTiming:
    """Seconds per training step of one backend over the timed steps."""

    backend: str
    median_seconds: float
    mean_seconds: float
    steps: int


def time_training_steps(config: SdfTrainConfig, surface: OrientedPoints,
                        backends: Sequence[str] = ("fused", "reference"), steps: int = 20,
                        warmup_steps: int = 3) -> Dict[str, StepTiming]:
    """Median and mean step time per backend for ``config``'s SIREN and batch size (its ``backend`` is ignored)."""
    if config.model != "siren":
        raise ValueError(f"backends only differ for the siren model, got model={config.model!r}")
    if steps < 1 or warmup_steps < 0:
        raise ValueError(f"steps must be >= 1 and warmup_steps >= 0, got {steps} and {warmup_steps}")
    initial = build_model(config)
    nets = {backend: copy.deepcopy(initial) for backend in backends}
    optimizers = {backend: torch.optim.Adam(net.parameters(), lr=config.lr) for backend, net in nets.items()}
    sampler = SdfBatchSampler(surface, config.on_surface, seed=config.seed)
    seconds: Dict[str, List[float]] = {backend: [] for backend in backends}
    for step in range(warmup_steps + steps):
        batch = sampler.sample()
        order = list(backends) if step % 2 == 0 else list(reversed(backends))
        for backend in order:
            start = time.perf_counter()
            training_step(nets[backend], optimizers[backend], batch, backend)
            if step >= warmup_steps:
                seconds[backend].append(time.perf_counter() - start)
    return {backend: StepTiming(backend, statistics.median(times), statistics.fmean(times), len(times))
            for backend, times in seconds.items()}
