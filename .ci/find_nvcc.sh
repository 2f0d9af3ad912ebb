# Sourced by the CUDA checks: sets NVCC to nvcc's path ($NVCC if set, else on PATH, else CUDA's
# default place), or exits the check successfully, saying so, where there is none.
NVCC="${NVCC:-$(command -v nvcc || true)}"
if [[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]]; then NVCC=/usr/local/cuda/bin/nvcc; fi
if [[ -z "$NVCC" ]]; then
  echo "$(basename "$0" .sh): nvcc not found, skipping"
  exit 0
fi
# CUDA_ROOT: the toolkit nvcc belongs to (nvcc may be a wrapper script elsewhere on PATH).
CUDA_ROOT=$(readlink -f "$("$NVCC" --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ TOP=//p' | head -1)")
