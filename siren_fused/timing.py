"""Wall-clock timing shared by the benchmarks and the experiments' speed reports."""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List, Tuple


def median_time(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``function()`` in seconds over ``repeats`` calls, after ``warmup`` untimed calls."""
    return interleaved_median_times({"function": function}, repeats, warmup)["function"]


def interleaved_median_times(functions: Dict[str, Callable[[], object]], rounds: int,
                             warmup: int = 1) -> Dict[str, float]:
    """Median wall time of each function in seconds over ``rounds`` interleaved rounds (see
    :func:`interleaved_samples`)."""
    samples = interleaved_samples(functions, rounds, warmup)
    return {name: statistics.median(times) for name, times in samples.items()}


def interleaved_samples(functions: Dict[str, Callable[..., object]], rounds: int, warmup: int = 1,
                        round_arguments: Callable[[], Tuple] = tuple) -> Dict[str, List[float]]:
    """Wall times in seconds of each function, one call per function per round, after ``warmup`` untimed rounds.

    On a shared machine the load drifts over seconds; timing each function in turn lets that drift
    favour whichever ran in a quiet spell. Interleaving exposes every function to the same drift,
    so ratios between them stay stable from run to run. The order reverses every round so that no
    function always runs right after the same other one (and inherits its caches or its page faults).
    Every function of a round gets the same arguments, ``round_arguments()`` drawn once per round
    (the same batch for every training step being compared).
    """
    if rounds < 1 or warmup < 0:
        raise ValueError(f"rounds must be >= 1 and warmup >= 0, got {rounds} and {warmup}")
    samples: Dict[str, List[float]] = {name: [] for name in functions}
    for round_index in range(warmup + rounds):
        arguments = round_arguments()
        names = list(functions) if round_index % 2 == 0 else list(reversed(functions))
        for name in names:
            start = time.perf_counter()
            functions[name](*arguments)
            if round_index >= warmup:
                samples[name].append(time.perf_counter() - start)
    return samples
