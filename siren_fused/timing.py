"""Wall-clock timing shared by the benchmarks and the experiments' speed reports."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict


def median_time(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``function()`` in seconds over ``repeats`` calls, after ``warmup`` untimed calls."""
    return interleaved_median_times({"function": function}, repeats, warmup)["function"]


def interleaved_median_times(functions: Dict[str, Callable[[], object]], rounds: int,
                             warmup: int = 1) -> Dict[str, float]:
    """Median wall time of each function in seconds, calling every function once per round.

    On a shared machine the load drifts over seconds; timing each function in turn lets that drift
    favour whichever ran in a quiet spell. Interleaving exposes every function to the same drift,
    so ratios between them stay stable from run to run.
    """
    for _ in range(warmup):
        for function in functions.values():
            function()
    samples: Dict[str, list] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}
