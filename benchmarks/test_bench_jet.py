"""pytest-benchmark suite over the workloads of compare.py (the paper's net, a smaller N).

    pytest benchmarks/test_bench_jet.py --benchmark-group-by=param:width
"""

from __future__ import annotations

import argparse

import pytest
import torch

import compare

WORKLOADS = list(compare.workloads(*compare.build(argparse.Namespace(
    in_features=2, hidden=8, layers=1, out_features=1, n=4, dtype="float32"))).keys())


@pytest.fixture(scope="module", params=[64, 256], ids=lambda w: f"width{w}")
def setup(request):
    torch.set_num_threads(2)
    args = argparse.Namespace(in_features=2, hidden=request.param, layers=3, out_features=1, n=4096,
                              dtype="float32")
    return compare.workloads(*compare.build(args))


@pytest.mark.parametrize("workload", WORKLOADS)
def test_workload(benchmark, setup, workload):
    benchmark(setup[workload])
