#!/usr/bin/env bash
# The image results in benchmarks/RESULTS.md (image section): cameraman 256x256, the paper's Siren(2, 256, 3, 1) and
# baselines of the same size, on a shared 2-core CPU. Steps are far below the paper's 10k (CPU time budget).
set -euo pipefail
OUT=${OUT:-outputs/cameraman256}
PAPER_NET="--image camera --size 256 --hidden 256 --layers 3 --lr 1e-4"
python -m siren_fused demo --out "$OUT"
python -m siren_fused fit-image $PAPER_NET --steps 300 --batch 8192 --out "$OUT"
python -m siren_fused poisson --target grad $PAPER_NET --steps 300 --batch 4096 --out "$OUT"
python -m siren_fused poisson --target laplacian $PAPER_NET --steps 200 --batch 4096 --out "$OUT"
python -m siren_fused compose --out "$OUT"
