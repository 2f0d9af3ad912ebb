"""pytest-benchmark suite over the workloads of compare.py (the paper's net, a smaller N).

    pytest benchmarks/test_bench_jet.py --benchmark-group-by=param:width

and over the batched-networks workloads (B SIRENs of a hypernetwork, at fewer and narrower networks).
"""

from __future__ import annotations

import argparse

import pytest
import torch

import batched_networks
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


BATCHED_WORKLOADS = list(batched_networks.workloads(*batched_networks.build(argparse.Namespace(
    in_features=2, hidden=8, layers=1, batched_out_features=3, networks=2, batched_n=4, dtype="float32"))).keys())


@pytest.fixture(scope="module")
def batched_setup():
    """16 networks 2->64x3->3 at 1,024 points: the paper's hypernetwork setting, narrower and fewer."""
    torch.set_num_threads(2)
    args = argparse.Namespace(in_features=2, hidden=64, layers=3, batched_out_features=3, networks=16,
                              batched_n=1024, dtype="float32")
    return batched_networks.workloads(*batched_networks.build(args))


@pytest.mark.parametrize("workload", BATCHED_WORKLOADS)
def test_batched_workload(benchmark, batched_setup, workload):
    benchmark(batched_setup[workload])
