"""One training step on a user's own siren-pytorch SirenNet: its own autograd against the fused Siren that
``siren_fused.Siren.from_module`` builds from it (the README's "Bring your own SIREN" timing).

Both sides take the same Laplacian loss (``compare.laplacian_loss``: the mean squared Laplacian error against a
random target plus the mean squared value) and an Adam step, on the same fresh batch each round; the autograd side
computes the Laplacian as the paper's code does (gradient, then divergence, by nested ``torch.autograd.grad``).
Rounds are interleaved (``siren_fused.timing``), and the step times are medians. Needs siren-pytorch (in the
test extra).

    python benchmarks/bring_your_own.py                  # SirenNet(2, 256, 1, num_layers=4), N = 16384, 2 threads
    python benchmarks/bring_your_own.py --n 4096 --rounds 20
"""

from __future__ import annotations

import argparse
import os
import statistics

import torch
from siren_pytorch import SirenNet

import siren_fused
from compare import laplacian_loss
from siren_fused.timing import interleaved_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=256, help="SirenNet's dim_hidden")
    parser.add_argument("--layers", type=int, default=4, help="SirenNet's num_layers (sine layers)")
    parser.add_argument("--n", type=int, default=16384, help="points a batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    theirs = SirenNet(2, args.hidden, 1, num_layers=args.layers)  # siren-pytorch's defaults: w0 1, w0_initial 30
    ours = siren_fused.Siren.from_module(theirs)
    theirs_optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-4)
    ours_optimizer = torch.optim.Adam(ours.parameters(), lr=1e-4)
    losses = {}

    def autograd_step(x: torch.Tensor, target: torch.Tensor) -> None:
        theirs_optimizer.zero_grad(set_to_none=True)
        coords = x.clone().requires_grad_()
        value = theirs(coords)
        loss = laplacian_loss(value, siren_fused.reference.laplacian(value, coords), target)
        loss.backward()
        theirs_optimizer.step()
        losses.setdefault("autograd", loss.item())

    def fused_step(x: torch.Tensor, target: torch.Tensor) -> None:
        ours_optimizer.zero_grad(set_to_none=True)
        j = siren_fused.jet(ours, x, order=2)
        loss = laplacian_loss(j.value, j.laplacian, target)
        loss.backward()
        ours_optimizer.step()
        losses.setdefault("fused", loss.item())

    def batch() -> tuple:
        return torch.rand(args.n, 2) * 2 - 1, torch.randn(args.n, 1)

    samples = interleaved_samples({"SirenNet, its own autograd": autograd_step, "fused Siren.from_module": fused_step},
                                  args.rounds, args.warmup, batch)
    seconds = {name: statistics.median(times) for name, times in samples.items()}
    print(f"SirenNet(2, {args.hidden}, 1, num_layers={args.layers}), N={args.n}, float32, {args.threads} threads, "
          f"torch {torch.__version__}, {args.rounds} interleaved rounds after {args.warmup} warm-up, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"first-step losses (the same network): autograd {losses['autograd']:.6g}, fused {losses['fused']:.6g}")
    for name, value in seconds.items():
        print(f"{name:32s} {1000 * value:9.1f} ms a step")
    autograd, fused = seconds.values()
    print(f"speed-up {autograd / fused:.2f}x")


if __name__ == "__main__":
    main()
