"""Peak memory and time of a SIREN's chunked jet over a whole video grid (default: the full-resolution bikes clip,
250 x 272 x 640 = 43.5 M points, order 1), without autograd.

Peak memory is the process's resident high-water mark (VmHWM in /proc/self/status, Linux), which counts what
torch's allocator and the kernels' buffers take, less the resident size before the evaluation. The claim
checked: it stays within the outputs' own size plus 2 GB. Prints one JSON record.

    python benchmarks/chunked_memory.py --hidden 64 --threads 2
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import torch

import siren_fused

ALLOWANCE_BYTES = 2 * 10 ** 9  # the 2 GB above the outputs' size


def resident_bytes(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (the peak so far) of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status (this measurement needs Linux)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs="+", default=[250, 272, 640], help="grid (frames, rows, columns)")
    parser.add_argument("--hidden", type=int, default=64, help="SIREN width (the paper's video net: 1024)")
    parser.add_argument("--layers", type=int, default=3, help="hidden layers")
    parser.add_argument("--order", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--chunk-size", type=int, default=None, help="default: siren_fused's, from the width")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = siren_fused.Siren(len(args.shape), args.hidden, args.layers, 3)
    grid = siren_fused.Grid(args.shape)
    before = resident_bytes("VmRSS")
    start = time.perf_counter()
    with torch.no_grad():
        result = siren_fused.jet_chunked(net, grid, order=args.order, backend=args.backend,
                                         chunk_size=args.chunk_size, progress=args.progress)
    seconds = time.perf_counter() - start
    peak_above_start = resident_bytes("VmHWM") - before
    output_bytes = sum(field.numel() * field.element_size() for field in result if field is not None)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    record = {"shape": args.shape, "points": len(grid), "net": f"{len(args.shape)}->{args.hidden}x{args.layers}->3",
              "order": args.order, "chunk_size": args.chunk_size or siren_fused.chunked.default_chunk_size(
                  net, args.order), "threads": torch.get_num_threads(), "seconds": round(seconds, 1),
              "output_gb": round(output_bytes / 1e9, 3), "peak_above_start_gb": round(peak_above_start / 1e9, 3),
              "extra_over_output_gb": round((peak_above_start - output_bytes) / 1e9, 3),
              "within_output_plus_2gb": peak_above_start <= output_bytes + ALLOWANCE_BYTES,
              "rss_before_gb": round(before / 1e9, 3), "machine": platform.processor() or platform.machine(),
              "commit": commit}
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
